"""The simulated Aretas REST API: a raw ASGI app under `/rest/` (hosting.py serves it).

Endpoints (DESIGN.md, "Source: the Aretas REST API"):
    GET  authentication/g?username=U&password=P   -> token (text/plain); wrong: 401
    POST authentication/j  {"username","password"} -> token (text/plain); wrong: 401
    GET  greetings/isloggedin                      -> 200 with a valid bearer token, else 401
    GET  client/locationview                       -> the account's locations and devices
    GET  sensortype/list                           -> [{type, label, units}]
    GET  sensordata/byrange?mac&begin&end&limit&offsetData[&types...]
         -> readings with begin <= timestamp <= end (epoch ms, both inclusive), at most `limit`
            (the earliest), capped at now. A MAC that is not in the account: 404.
            Missing begin/end/mac or a non-numeric one: 400. `offsetData` is accepted and
            ignored. An X-AIR-Token header, when present, must name the MAC (else 403).
Every endpoint but login needs `Authorization: Bearer TOKEN` (401 without).

Faults (`simulator.faults`, each data request draws one with probability `fault_rate` from a
per-app RNG seeded by the seed; only on sensordata/byrange; the readings of a successful
response never change):
    5xx        503 Service Unavailable
    429        429 Too Many Requests with Retry-After (seconds)
    timeout    the response is held `stall_s` (default api.timeout_s + 5 s, so a client with the
               configured timeout gives up), then sent if the client is still there
    truncated  200 with the JSON body cut short
    expiry     the token, if it has served EXPIRY_MIN_REQUESTS data requests, is revoked:
               this and later requests with it get 401 (a token never dies young, so a client
               that logs in again once and retries always gets through, as with the real API)
`simulator.token_expiry_requests` = N > 0: a token serves N data requests; the next one is 401
(keep N above api.concurrency: requests in flight share a token).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from bess_etl.config import Settings
from bess_etl.simulator import rng
from bess_etl.simulator.fleet import CLIENT_ID, sensor_types
from bess_etl.simulator.service import Simulator
from bess_etl.timeutil import now_ms

BASE_PATH = "/rest/"
EXPIRY_MIN_REQUESTS = 10
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class SimulatorApp:
    """ASGI application of the simulated API. Build it with create_app()."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], int] = now_ms,
        stall_s: float | None = None,
        retry_after_s: int = 1,
        cache_days: int = 128,
    ):
        self.settings = settings
        self.simulator = Simulator(settings, clock=clock, cache_days=cache_days)
        sim = settings.simulator
        self.fault_kinds = sim.fault_kinds
        self.fault_rate = sim.fault_rate
        self.token_expiry_requests = sim.token_expiry_requests
        self.stall_s = stall_s if stall_s is not None else settings.api.timeout_s + 5.0
        self.retry_after_s = retry_after_s
        self._fault_rng = random.Random(rng.key(sim.seed, "http-faults"))
        self._tokens: dict[str, int] = {}  # token -> data requests served
        self._lock = threading.Lock()
        self.faults_injected: dict[str, int] = {}
        self.data_requests = 0

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._route(scope, receive, send)
        except _HttpError as exc:
            body = json.dumps({"status": exc.status, "message": str(exc)}).encode()
            await _respond(send, exc.status, body, "application/json", exc.headers)

    async def _route(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path = scope["path"]
        if not path.startswith(BASE_PATH):
            raise _HttpError(404, f"no such endpoint: {path}")
        route = path[len(BASE_PATH) :].strip("/")
        method = scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if route == "authentication/g" and method == "GET":
            token = self._login(_one(query, "username", ""), _one(query, "password", ""))
            await _respond(send, 200, token.encode(), "text/plain")
        elif route == "authentication/j" and method == "POST":
            try:
                creds = json.loads(await _read_body(receive) or b"{}")
                user, password = str(creds.get("username", "")), str(creds.get("password", ""))
            except (ValueError, AttributeError):
                raise _HttpError(400, "authentication/j takes a JSON object") from None
            await _respond(send, 200, self._login(user, password).encode(), "text/plain")
        elif route == "greetings/isloggedin" and method == "GET":
            self._check_token(headers)
            await _respond(send, 200, b"true", "application/json")
        elif route == "client/locationview" and method == "GET":
            self._check_token(headers)
            await _respond_json(send, self.location_view())
        elif route == "sensortype/list" and method == "GET":
            self._check_token(headers)
            await _respond_json(send, sensor_types(self.settings))
        elif route == "sensordata/byrange" and method == "GET":
            await self._byrange(query, headers, receive, send)
        elif route in _ROUTES:
            raise _HttpError(405, f"{method} is not allowed on {route}")
        else:
            raise _HttpError(404, f"no such endpoint: {route}")

    # ------------------------------------------------------------------ auth

    def _login(self, username: str, password: str) -> str:
        sim = self.settings.simulator
        ok_user = hmac.compare_digest(username.encode(), sim.username.encode())
        ok_password = hmac.compare_digest(password.encode(), sim.password.encode())
        if not (ok_user and ok_password):
            raise _HttpError(401, "bad username or password")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = 0
        return token

    def _check_token(self, headers: dict[str, str], data_request: bool = False) -> str:
        """The request's bearer token, counting a data request against it; 401 if unknown."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            if scheme.lower() != "bearer" or token not in self._tokens:
                raise _HttpError(401, "missing, invalid or expired token")
            if data_request:
                used = self._tokens[token] = self._tokens[token] + 1
                if 0 < self.token_expiry_requests < used:
                    del self._tokens[token]
                    raise _HttpError(401, "token expired")
        return token

    # ------------------------------------------------------------------ data

    def _draw_fault(self) -> str | None:
        with self._lock:
            self.data_requests += 1
            if not self.fault_kinds or self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choice(self.fault_kinds)
            self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1
            return kind

    async def _byrange(
        self, query: dict[str, list[str]], headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        token = self._check_token(headers, data_request=True)
        mac = _int_param(query, "mac")
        begin, end = _int_param(query, "begin"), _int_param(query, "end")
        limit = _int_param(query, "limit", default=100_000)
        types = [_int(t, "types") for t in query.get("types", [])]
        air = headers.get("x-air-token")
        if air is not None and air.strip() != str(mac):
            raise _HttpError(403, "X-AIR-Token does not name the requested MAC")
        if mac not in self.simulator.devices:
            raise _HttpError(404, f"MAC {mac} is not a device of this account")
        if limit < 0:
            raise _HttpError(400, "limit must be >= 0")

        fault = self._draw_fault()
        if fault == "5xx":
            raise _HttpError(503, "service unavailable (simulated)")
        if fault == "429":
            raise _HttpError(
                429, "too many requests (simulated)", {"Retry-After": str(self.retry_after_s)}
            )
        if fault == "expiry":
            with self._lock:
                if self._tokens.get(token, 0) >= EXPIRY_MIN_REQUESTS:
                    del self._tokens[token]
                    raise _HttpError(401, "token expired (simulated)")
        if fault == "timeout" and not await _stall(receive, self.stall_s):
            return  # the client hung up
        body = await asyncio.to_thread(self.simulator.body, mac, begin, end, types, limit)
        if fault == "truncated":
            with self._lock:
                cut = self._fault_rng.randint(1, max(1, len(body) - 1))
            body = body[:cut]
        await _respond(send, 200, body, "application/json")

    def location_view(self) -> dict[str, Any]:
        """client/locationview: one view per location, devices in fleet order."""
        views: dict[int, dict[str, Any]] = {}
        for device in self.simulator.devices.values():
            loc = device.location
            view = views.setdefault(
                loc.id,
                {
                    "location": {
                        "id": loc.id,
                        "description": loc.description,
                        "country": loc.country,
                        "state": loc.state,
                        "city": loc.city,
                        "lat": loc.site.lat_deg,
                        "lon": loc.site.lon_deg,
                    },
                    "sensorList": [],
                    "lastSensorReportTime": None,
                    "buildingMapList": [],
                },
            )
            last = self.simulator.last_report_ms(device.mac)
            view["sensorList"].append(
                {
                    "id": device.id,
                    "mac": device.mac,
                    "description": device.description,
                    "lat": loc.site.lat_deg,
                    "lon": loc.site.lon_deg,
                    "lastReportTime": last,
                }
            )
            if last is not None:
                view["lastSensorReportTime"] = max(view["lastSensorReportTime"] or 0, last)
        return {
            "id": CLIENT_ID,
            "allMacs": list(self.simulator.devices),
            "locationSensorViews": list(views.values()),
        }


_ROUTES = {
    "authentication/g",
    "authentication/j",
    "greetings/isloggedin",
    "client/locationview",
    "sensortype/list",
    "sensordata/byrange",
}


def _one(query: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = query.get(name)
    if not values:
        if default is None:
            raise _HttpError(400, f"missing query parameter {name!r}")
        return default
    return values[-1]


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _HttpError(400, f"query parameter {name!r} must be an integer") from None


def _int_param(query: dict[str, list[str]], name: str, default: int | None = None) -> int:
    if default is not None and name not in query:
        return default
    return _int(_one(query, name), name)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _stall(receive: Receive, seconds: float) -> bool:
    """Hold the request for `seconds`; False if the client disconnects first."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), seconds)
    except TimeoutError:
        return True
    return False


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, payload: Any) -> None:
    await _respond(send, 200, json.dumps(payload).encode(), "application/json")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
