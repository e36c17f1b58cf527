"""Client for the Aretas REST API (as the public Aretas Python client uses it), over httpx.

- One connection pool; at most `concurrency` requests in flight.
- Logs in once and reuses the token; a 401 mid-run logs in again once and retries that request.
- Retries 429/5xx/timeouts/connection errors/undecodable bodies with exponential backoff and full
  jitter, honouring Retry-After; after `max_attempts` one error names the MAC and window.
- Every request has a total deadline (`timeout_s`, the whole answer read), not only httpx's
  per-read timeouts: a server trickling its answer cannot hold a run.
- A window whose response holds `limit` rows is split in two and re-fetched until no part is
  full, so the result equals one unlimited call. Nothing is truncated silently.
- The password never reaches a log line, an exception message or a printed URL.
- Responses decode straight into Arrow columns.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import io
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from bess_etl.errors import AuthError, SourceError
from bess_etl.lake import READINGS_SCHEMA, TS_TYPE
from bess_etl.redaction import install_redaction, redact
from bess_etl.timeutil import ms_to_iso

log = logging.getLogger("bess_etl.aretas")

RETRY_STATUS = {429, 500, 502, 503, 504}
_WIRE_SCHEMA = pa.schema(
    [("mac", pa.int64()), ("type", pa.int32()), ("timestamp", pa.int64()), ("data", pa.float64())]
)


class _Retryable(Exception):
    """A failure worth another attempt (status, transport, or an undecodable body)."""

    def __init__(self, reason: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def delay_s(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Full jitter on an exponential ceiling; a server's Retry-After is a floor."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (attempt - 1))
        delay = rng.uniform(0, ceiling)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.backoff_max_s))
        return delay


class AretasClient:
    """Async client. Use as `async with AretasClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        login_method: str = "j",
        limit: int = 100_000,
        concurrency: int = 4,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int | None = None,
    ):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.limit = limit
        self._username = username
        self._password = password
        self._login_method = login_method
        self._retry = retry or RetryPolicy()
        self._deadline_s = timeout_s
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._sem = asyncio.Semaphore(concurrency)
        self._login_lock = asyncio.Lock()
        self._token: str | None = None
        self._token_generation = 0
        self._proven_generation = 0  # the newest token generation that served a request
        self.requests_sent = 0
        self.retries = 0
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            verify=_ssl_context() if transport is None else True,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        install_redaction(password)

    async def __aenter__(self) -> AretasClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ auth

    async def login(self) -> None:
        """Get a bearer token. Wrong credentials raise AuthError (no retry)."""
        if self._login_method == "j":
            request = {
                "method": "POST",
                "url": "authentication/j",
                "json": {"username": self._username, "password": self._password},
            }
        else:
            request = {
                "method": "GET",
                "url": "authentication/g",
                "params": {"username": self._username, "password": self._password},
            }

        def accept(resp: httpx.Response) -> str:
            if resp.status_code in (401, 403):
                raise AuthError(
                    f"the Aretas API refused the login for user {self._username!r} "
                    f"({resp.status_code}); check BESS_ETL_API_USERNAME / BESS_ETL_API_PASSWORD"
                )
            _raise_for_status(resp, "login")
            token = resp.text.strip().strip('"')
            if not token:
                raise _Retryable("empty token")
            return token

        self._token = await self._attempts("login", request, accept, authed=False)
        self._token_generation += 1

    async def is_logged_in(self) -> bool:
        if self._token is None:
            return False
        resp = await self._http.get("greetings/isloggedin", headers=self._auth_headers())
        return resp.status_code == 200

    def _auth_headers(self, mac: int | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}"}
        if mac is not None:
            headers["X-AIR-Token"] = str(mac)
        return headers

    # ------------------------------------------------------------------ metadata

    async def location_view(self) -> dict[str, Any]:
        return await self._get_json("client/locationview", what="location view")

    async def devices(self) -> list[dict[str, Any]]:
        """Every device of the account with its location (one dict per device)."""
        return parse_location_view(await self.location_view())

    async def sensor_types(self) -> list[dict[str, Any]]:
        rows = await self._get_json("sensortype/list", what="sensor types")
        return [
            {"type": int(r["type"]), "label": r.get("label"), "units": r.get("units")}
            for r in rows
            if isinstance(r, dict) and "type" in r
        ]

    async def _get_json(self, path: str, what: str) -> Any:
        def accept(resp: httpx.Response) -> Any:
            _raise_for_status(resp, what)
            try:
                return json.loads(resp.content)
            except ValueError:
                raise _Retryable(f"undecodable {what} body") from None

        return await self._attempts(what, {"method": "GET", "url": path}, accept)

    # ------------------------------------------------------------------ readings

    async def readings(
        self, mac: int, start_ms: int, end_ms: int, types: Iterable[int] | None = None
    ) -> pa.Table:
        """Every reading of `mac` with start_ms <= ts < end_ms (READINGS_SCHEMA, value nullable),
        in the order the API sent them. Full pages are split until none is full."""
        types = tuple(types or ())
        raw, table = await self._readings_page(mac, start_ms, end_ms, types, self.limit)
        if raw < self.limit:
            return table
        if end_ms - start_ms <= 1:
            raise SourceError(
                f"MAC {mac}: more than {self.limit} readings at {ms_to_iso(start_ms)}; "
                "raise api.limit"
            )
        mid = (start_ms + end_ms) // 2
        left, right = await asyncio.gather(
            self.readings(mac, start_ms, mid, types), self.readings(mac, mid, end_ms, types)
        )
        return pa.concat_tables([left, right])

    async def sample(
        self, mac: int, start_ms: int, end_ms: int, types: Iterable[int], limit: int
    ) -> pa.Table:
        """At most `limit` readings of the window, unsplit: for probing what a device reports."""
        return (await self._readings_page(mac, start_ms, end_ms, tuple(types), limit))[1]

    async def _readings_page(
        self, mac: int, start_ms: int, end_ms: int, types: tuple[int, ...], limit: int
    ) -> tuple[int, pa.Table]:
        # Ask for [start, end] and keep [start, end): correct whether the API's end is
        # inclusive or exclusive, and halves of a split never overlap.
        params: list[tuple[str, str | int]] = [
            ("mac", mac),
            ("begin", start_ms),
            ("end", end_ms),
            ("limit", limit),
            ("offsetData", "false"),
        ]
        params += [("types", t) for t in types]
        what = f"readings of MAC {mac} for [{ms_to_iso(start_ms)}, {ms_to_iso(end_ms)})"

        async def accept(resp: httpx.Response) -> tuple[int, pa.Table]:
            _raise_for_status(resp, what)
            # decoding a day's body takes ~0.1 s of CPU (Arrow's parser releases the GIL): off
            # the event loop, so the other requests in flight keep streaming meanwhile
            table = await asyncio.to_thread(decode_readings, resp.content)
            return table.num_rows, _window(table, start_ms, end_ms)

        request = {"method": "GET", "url": "sensordata/byrange", "params": params}
        return await self._attempts(what, request, accept, mac=mac)

    # ------------------------------------------------------------------ the retry loop

    async def _attempts(
        self,
        what: str,
        request: dict[str, Any],
        accept: Callable[[httpx.Response], Any],
        *,
        authed: bool = True,
        mac: int | None = None,
    ) -> Any:
        relogins = 0
        attempt = 0
        while True:
            attempt += 1
            if authed and self._token is None:
                await self._relogin(self._token_generation)
            generation = self._token_generation
            headers = self._auth_headers(mac) if authed else {}
            try:
                async with self._sem:
                    self.requests_sent += 1
                    resp = await self._request(request, headers)
                if authed and resp.status_code == 401:
                    # A token that served a request has expired: log in again and retry. One
                    # refused before serving anything is a refusal, after one fresh login.
                    # (Other requests in flight may use up a fresh token before this retry
                    # gets its turn, so "once" counts per token, not per request.)
                    fresh = self._proven_generation < generation
                    if (relogins and fresh) or relogins > self._retry.max_attempts:
                        raise AuthError(f"{what}: the API refused a fresh token (401)")
                    relogins += 1
                    await self._relogin(generation)
                    attempt -= 1  # a token expiring is not a failed attempt
                    continue
                if authed:
                    self._proven_generation = max(self._proven_generation, generation)
                if resp.status_code in RETRY_STATUS:
                    raise _Retryable(
                        f"HTTP {resp.status_code}", _retry_after_s(resp.headers.get("Retry-After"))
                    )
                result = accept(resp)
                return await result if inspect.isawaitable(result) else result
            except _Retryable as exc:
                reason, retry_after = str(exc), exc.retry_after_s
            except httpx.TimeoutException as exc:
                reason, retry_after = f"timeout ({type(exc).__name__})", None
            except httpx.TransportError as exc:
                reason, retry_after = (
                    f"connection error: {redact(str(exc)) or type(exc).__name__}",
                    None,
                )
            if attempt >= self._retry.max_attempts:
                raise SourceError(f"{what}: gave up after {attempt} attempts; last error: {reason}")
            delay = self._retry.delay_s(attempt, retry_after, self._rng)
            self.retries += 1
            log.info("%s: %s; retry %d in %.2f s", what, reason, attempt, delay)
            await self._sleep(delay)

    async def _request(self, request: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """One request, its whole body read, within the deadline. httpx's timeouts bound each
        read, so a server that trickles a byte a second would hold a request for ever."""
        try:
            return await asyncio.wait_for(
                self._http.request(**request, headers=headers), self._deadline_s
            )
        except TimeoutError:
            raise _Retryable(f"no whole answer within {self._deadline_s:g} s") from None

    async def _relogin(self, seen_generation: int) -> None:
        """Log in again unless another request already did since `seen_generation`."""
        async with self._login_lock:
            if self._token_generation == seen_generation or self._token is None:
                await self.login()


# ---------------------------------------------------------------------- decoding


def decode_readings(body: bytes) -> pa.Table:
    """A byrange JSON array -> READINGS_SCHEMA (arrival order kept; value null for null/NaN-less
    bodies as sent). Fast path: Arrow's JSON reader over the array turned into NDJSON; bodies it
    cannot take (NaN literals, unusual spacing) go through the stdlib decoder."""
    body = body.strip()
    if body in (b"[]", b""):
        if body == b"":
            raise _Retryable("empty body")
        return READINGS_SCHEMA.empty_table()
    if not (body.startswith(b"[") and body.endswith(b"]")):
        raise _Retryable("truncated or non-array body")
    try:
        ndjson = body[1:-1].replace(b"},{", b"}\n{")
        wire = pajson.read_json(
            io.BytesIO(ndjson),
            parse_options=pajson.ParseOptions(
                explicit_schema=_WIRE_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
        if wire.num_rows != ndjson.count(b"\n") + 1:
            raise ValueError("row count mismatch")
    except (pa.ArrowInvalid, ValueError):
        wire = _decode_slow(body)
    return _wire_to_readings(wire)


def _decode_slow(body: bytes) -> pa.Table:
    try:
        rows = json.loads(body)  # accepts NaN / Infinity literals
    except ValueError:
        raise _Retryable("undecodable JSON body (truncated?)") from None
    if not isinstance(rows, list):
        raise _Retryable("JSON body is not an array")

    def number(v: Any) -> float | None:
        if v is None or isinstance(v, float | int):
            return v
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    try:
        return pa.table(
            {
                "mac": pa.array([r["mac"] for r in rows], pa.int64()),
                "type": pa.array([r["type"] for r in rows], pa.int32()),
                "timestamp": pa.array([r["timestamp"] for r in rows], pa.int64()),
                "data": pa.array([number(r.get("data")) for r in rows], pa.float64()),
            }
        )
    except (KeyError, TypeError, pa.ArrowInvalid) as exc:
        raise _Retryable(f"reading with a bad field: {exc}") from None


def _wire_to_readings(wire: pa.Table) -> pa.Table:
    if (
        wire.column("mac").null_count
        or wire.column("type").null_count
        or wire.column("timestamp").null_count
    ):
        raise _Retryable("reading without mac, type or timestamp")
    return pa.Table.from_arrays(
        [
            wire.column("mac"),
            wire.column("type"),
            pc.cast(wire.column("timestamp"), TS_TYPE),
            wire.column("data"),
        ],
        schema=READINGS_SCHEMA,
    )


def _window(table: pa.Table, start_ms: int, end_ms: int) -> pa.Table:
    ts = table.column("ts").cast(pa.int64())
    keep = pc.and_(pc.greater_equal(ts, start_ms), pc.less(ts, end_ms))
    if pc.all(keep).as_py() is not False:
        return table
    return table.filter(keep)


# ---------------------------------------------------------------------- helpers


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: building it (loading the CA
    bundle) costs ~0.1 s, which every pull task's client would otherwise pay again."""
    return httpx.create_ssl_context()


def parse_location_view(view: Any) -> list[dict[str, Any]]:
    """The account's devices from a `client/locationview` body. A body of another shape, or a
    device without a numeric MAC, is a protocol error (SourceError), named in one line."""
    where = "client/locationview"
    if not isinstance(view, dict):
        raise SourceError(f"{where}: expected an object, got {_json_kind(view)}")
    rows = []
    for lsv in _list_of_objects(view.get("locationSensorViews"), f"{where} locationSensorViews"):
        loc = lsv.get("location") or {}
        if not isinstance(loc, dict):
            raise SourceError(f"{where}: a location is {_json_kind(loc)}, not an object")
        for s in _list_of_objects(lsv.get("sensorList"), f"{where} sensorList"):
            mac = s.get("mac")
            if isinstance(mac, bool) or not isinstance(mac, int | str) or not str(mac).isdigit():
                raise SourceError(
                    f"{where}: a device ({s.get('description')!r}) has no numeric mac: {mac!r}"
                )
            last = s.get("lastReportTime")
            rows.append(
                {
                    "mac": int(mac),
                    "description": s.get("description"),
                    "location_id": loc.get("id"),
                    "location": loc.get("description"),
                    "city": loc.get("city"),
                    "state": loc.get("state"),
                    "country": loc.get("country"),
                    "lat": s.get("lat", loc.get("lat")),
                    "lon": s.get("lon", loc.get("lon")),
                    "last_report_ms": int(last) if last is not None else None,
                }
            )
    return rows


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an empty array" if not value else "an array"
    return "null" if value is None else type(value).__name__


def _list_of_objects(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SourceError(f"{what}: expected an array of objects, got {_json_kind(value)}")
    return value


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import datetime as dt

            when = parsedate_to_datetime(value)
            return max(0.0, (when - dt.datetime.now(tz=when.tzinfo)).total_seconds())
        except (TypeError, ValueError):
            return None


def _raise_for_status(resp: httpx.Response, what: str) -> None:
    if resp.status_code in RETRY_STATUS:
        raise _Retryable(f"HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise SourceError(f"{what}: HTTP {resp.status_code} {resp.reason_phrase}")
