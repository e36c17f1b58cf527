"""The client against servers that misbehave in ways the simulator does not: one that trickles
its answer a byte at a time (each read is quick, the whole never comes), and one that asks for
a pause with a Retry-After HTTP date. Both are small raw HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from bess_etl.aretas import AretasClient, RetryPolicy, _retry_after_s
from bess_etl.errors import SourceError

TRICKLE_FOR_S = 8.0  # the server gives up after this long: a hung client would take as long


@contextmanager
def raw_server(answer: Callable[..., None]) -> Iterator[str]:
    """A loopback HTTP/1.1 server: `answer(request_line, n, conn, stop)` gets each request's
    first line, its number (from 1) and the socket, and writes the response itself."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    count = [0]

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(TRICKLE_FOR_S)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                count[0] += 1
                answer(head.split(b"\r\n")[0].decode(), count[0], conn, stop)
            except OSError:
                pass  # the client went away: what a deadline does

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/rest/"
    finally:
        stop.set()
        thread.join()
        listener.close()


def _respond(conn: socket.socket, status: str, body: bytes, headers: dict | None = None) -> None:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def _trickle(request_line: str, n: int, conn: socket.socket, stop: threading.Event) -> None:
    if "authentication" in request_line:
        _respond(conn, "200 OK", b"token")
        return
    body = b"[" + b'{"mac":1,"type":532,"timestamp":1,"data":1.0},' * 100 + b"]"
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    until = time.monotonic() + TRICKLE_FOR_S
    for byte in body:  # a byte every 0.05 s: each read is well inside the per-read timeout
        if stop.is_set() or time.monotonic() > until:
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def test_a_trickling_server_cannot_hold_a_request_past_its_deadline():
    timeout_s = 0.5
    retry = RetryPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.01)

    async def run():
        async with AretasClient(
            url, "demo", "demo", timeout_s=timeout_s, retry=retry, seed=1
        ) as client:
            await client.login()
            return await client.readings(303721690, 0, 3_600_000)

    with raw_server(_trickle) as url:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            asyncio.run(run())
        elapsed = time.monotonic() - started
    # two attempts of at most timeout_s each, plus backoff and slack; without the deadline the
    # call lasted until the server gave up (TRICKLE_FOR_S per attempt)
    assert elapsed < 2 * timeout_s + 1.5, elapsed
    message = str(err.value)
    assert "gave up after 2 attempts" in message and "no whole answer within 0.5 s" in message


class Sleeps:
    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _http_date(seconds_ahead: float) -> str:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_ahead)
    return email.utils.format_datetime(when, usegmt=True)


def test_retry_after_as_an_http_date_is_a_floor_for_the_backoff():
    """503 with `Retry-After: <HTTP date 20 s ahead>`, then 200: the client waits ~20 s (here
    recorded, not slept), not its own sub-second backoff."""

    def answer(request_line, n, conn, stop):
        if "authentication" in request_line:
            _respond(conn, "200 OK", b"token")
        elif n == 2:  # the first readings request
            _respond(conn, "503 Service Unavailable", b"busy", {"Retry-After": _http_date(20)})
        else:
            body = b'[{"mac":303721690,"type":532,"timestamp":1000,"data":52.5}]'
            _respond(conn, "200 OK", body)

    sleeps = Sleeps()
    retry = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=60.0)

    async def run():
        async with AretasClient(url, "demo", "demo", retry=retry, sleep=sleeps, seed=1) as c:
            await c.login()
            return await c.readings(303721690, 0, 3_600_000)

    with raw_server(answer) as url:
        table = asyncio.run(run())
    assert table.num_rows == 1
    (delay,) = sleeps.delays
    assert 18.0 <= delay <= 20.0  # the date's whole seconds, less the time since it was made


@pytest.mark.parametrize(
    ("value", "lo", "hi"),
    [
        ("7", 7.0, 7.0),
        ("0", 0.0, 0.0),
        (None, None, None),
        ("soon", None, None),
    ],
)
def test_retry_after_seconds_and_bad_values(value, lo, hi):
    got = _retry_after_s(value)
    assert got == lo == hi if lo is None else lo <= got <= hi


def test_retry_after_http_dates_ahead_and_past():
    assert 88.0 <= _retry_after_s(_http_date(90)) <= 90.0
    assert _retry_after_s(_http_date(-3600)) == 0.0  # a date gone by: no wait
    # the RFC 9110 example date, long past
    assert _retry_after_s("Fri, 31 Dec 1999 23:59:59 GMT") == 0.0
