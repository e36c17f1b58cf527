"""Progress of a run, reported by the flows and shown by whoever runs them.

The CLI installs a reporter (a bar on a terminal, log lines otherwise); a scheduled run has none
and Prefect's logs tell its story.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol

log = logging.getLogger("bess_etl.progress")


class Reporter(Protocol):
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int, note: str = "") -> None: ...
    def finish(self) -> None: ...


class _Silent:
    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, n: int, note: str = "") -> None:
        pass

    def finish(self) -> None:
        pass


class LineReporter:
    """Plain lines on a stream, at most one every `every_s` seconds (and the last)."""

    def __init__(self, stream=None, every_s: float = 2.0):
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.done = self.total = 0
        self.label = ""
        self._last = 0.0

    def start(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self._last = time.monotonic()

    def advance(self, n: int, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            extra = f" ({note})" if note else ""
            print(f"{self.label}: {self.done}/{self.total}{extra}", file=self.stream, flush=True)

    def finish(self) -> None:
        pass


class BarReporter:
    """A progress bar on a terminal (click's)."""

    def __init__(self):
        self._bar = None

    def start(self, total: int, label: str) -> None:
        import click

        self._bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
        self._bar.__enter__()

    def advance(self, n: int, note: str = "") -> None:
        if self._bar is not None:
            self._bar.update(n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


_reporter: Reporter = _Silent()


def set_reporter(reporter: Reporter | None) -> None:
    global _reporter
    _reporter = reporter or _Silent()


def reporter() -> Reporter:
    return _reporter


def for_stream(stream) -> Reporter:
    return BarReporter() if getattr(stream, "isatty", lambda: False)() else LineReporter(stream)
