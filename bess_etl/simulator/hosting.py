"""Ways to serve the simulated API: in-process through httpx's ASGI transport, or over HTTP
with uvicorn (blocking, for `bess-etl simulator serve`, or in a background thread for tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn

from bess_etl.config import Settings
from bess_etl.simulator.server import BASE_PATH, SimulatorApp
from bess_etl.timeutil import now_ms


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], int] = now_ms,
    stall_s: float | None = None,
    retry_after_s: int = 1,
    cache_days: int = 128,
) -> SimulatorApp:
    """The simulated API as an ASGI app (base path /rest/). Test knobs: `clock` (epoch ms;
    nothing later is ever served), `stall_s` (how long a "timeout" fault holds a request),
    `retry_after_s` (the Retry-After of a 429), `cache_days` (device-days of readings kept)."""
    return SimulatorApp(
        settings, clock=clock, stall_s=stall_s, retry_after_s=retry_after_s, cache_days=cache_days
    )


class SimulatorTransport(httpx.ASGITransport):
    """httpx's in-process ASGI transport, plus the read timeout a socket would enforce: a
    request that takes longer than the client's read timeout raises httpx.ReadTimeout (plain
    ASGITransport would simply wait), so a "timeout" fault behaves as it does over HTTP."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout_s = (request.extensions.get("timeout") or {}).get("read")
        if timeout_s is None:
            return await super().handle_async_request(request)
        try:
            return await asyncio.wait_for(super().handle_async_request(request), timeout_s)
        except TimeoutError:
            message = "the simulator did not answer in time"
            raise httpx.ReadTimeout(message, request=request) from None


def asgi_transport(settings: Settings, **knobs: Any) -> SimulatorTransport:
    """An in-process transport to a fresh simulator: AretasClient(..., transport=...) or
    httpx.AsyncClient(transport=..., base_url="http://simulator/rest/"). Knobs: create_app's."""
    return SimulatorTransport(app=create_app(settings, **knobs))


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080, **knobs: Any) -> None:
    """Serve the simulated API over HTTP until interrupted (base URL http://HOST:PORT/rest/)."""
    uvicorn.run(create_app(settings, **knobs), host=host, port=port, log_level="warning")


@contextlib.contextmanager
def serve_in_thread(
    settings: Settings, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> Iterator[str]:
    """Run the simulated API with uvicorn in a background thread (port 0: a free port) and
    yield its base URL, "http://127.0.0.1:PORT/rest/"; shut it down on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, **knobs),
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bess-etl-simulator", daemon=True
    )
    thread.start()
    try:
        for _ in range(1000):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the simulator's HTTP server did not start")
        yield f"http://{host}:{bound_port}{BASE_PATH}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
