import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bess_etl.errors import LockBusyError
from bess_etl.locking import lock_path, raise_if_busy, run_lock


def test_second_run_exits_with_a_clear_message(settings):
    with (
        run_lock(settings, "backfill"),
        pytest.raises(LockBusyError) as err,
        run_lock(settings, "daily"),
    ):
        pass
    msg = str(err.value)
    assert f"pid {os.getpid()}" in msg and "backfill" in msg and "--wait" in msg
    assert err.value.exit_code == 75
    with run_lock(settings, "daily"):  # released on exit
        pass


def test_second_run_waits_for_the_first(settings):
    held = threading.Event()

    def hold():
        with run_lock(settings, "backfill"):
            held.set()
            time.sleep(0.6)

    t = threading.Thread(target=hold)
    t.start()
    held.wait()
    started = time.monotonic()
    with run_lock(settings, "daily", wait_s=10):
        waited = time.monotonic() - started
    t.join()
    assert 0.2 < waited < 5


def test_a_killed_holder_leaves_no_stale_lock(settings):
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockBusyError), run_lock(settings, "daily"):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with run_lock(settings, "daily", wait_s=5):
            pass
    finally:
        proc.kill()


@pytest.mark.parametrize(
    "command", [["daily"], ["backfill", "--start", "2026-10-01", "--end", "2026-10-02"]]
)
def test_a_second_run_meets_the_lock_before_it_calls_the_api(
    make_settings, tmp_path, monkeypatch, capsys, command
):
    """The API here is a closed port: reaching it would fail with another error after retries,
    so exit 75 with the holder's pid shows the run stopped at the lock first."""
    from bess_etl.cli import main

    monkeypatch.setenv("BESS_ETL_API_USERNAME", "demo")
    monkeypatch.setenv("BESS_ETL_API_PASSWORD", "demo")
    settings = make_settings('[api]\nurl = "http://127.0.0.1:1/rest/"\nmax_attempts = 1\n')
    args = [*command, "--config", settings.config_path, "--data-dir", settings.data_dir]
    with run_lock(settings, "backfill"):
        files = sorted(Path(settings.data_dir).rglob("*"))
        assert main(args) == 75
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"pid {os.getpid()}" in err
    assert sorted(Path(settings.data_dir).rglob("*")) == files  # nothing written


def test_the_lock_probe_creates_nothing(settings):
    raise_if_busy(settings)  # no lock file yet: nothing to meet
    assert not lock_path(settings).exists()
    with run_lock(settings, "daily"), pytest.raises(LockBusyError):
        raise_if_busy(settings)
    raise_if_busy(settings)  # released
