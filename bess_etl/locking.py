"""One writer at a time per data directory.

An advisory `flock` on `<data_dir>/.bess-etl.lock`: the kernel drops it when the holder exits,
however it exits (SIGKILL included), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from bess_etl.config import Settings
from bess_etl.errors import LockBusyError

LOCK_NAME = ".bess-etl.lock"


def lock_path(settings: Settings) -> Path:
    base = Path(settings.warehouse_path).parent if settings.is_remote else Path(settings.data_dir)
    return base / LOCK_NAME


@contextlib.contextmanager
def run_lock(settings: Settings, what: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the data directory's lock for the duration of a run. When another run holds it,
    wait up to `wait_s` seconds, then raise LockBusyError naming the holder."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusyError(_busy_message(path, wait_s)) from None
                time.sleep(0.2)
        holder = {
            "pid": os.getpid(),
            "what": what,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def raise_if_busy(settings: Settings) -> None:
    """Fail fast, before a run talks to the API, when another run holds the lock. Creates
    nothing (bad input found after this must still leave no files); the run takes the lock
    itself later, so a run that starts in between is still kept out."""
    path = lock_path(settings)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LockBusyError(_busy_message(path, 0.0)) from None
    finally:
        os.close(fd)


def _busy_message(path: Path, waited_s: float) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    who = (
        f"a {holder.get('what', 'bess-etl')} run (pid {holder.get('pid', '?')}, "
        f"since {holder.get('since', '?')})"
        if holder
        else "another bess-etl run"
    )
    waited = f" after waiting {waited_s:g} s" if waited_s else ""
    return f"{who} holds {path}{waited}; try again when it finishes, or pass --wait SECONDS"
