"""The simulated Aretas REST API over loopback HTTP (uvicorn) and in-process (ASGI): login,
tokens, metadata, byrange semantics, and injected HTTP faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import replace

import httpx
import pytest

from bess_etl.config import Settings
from bess_etl.simulator import Simulator, asgi_transport, create_app, serve_in_thread
from bess_etl.simulator.server import EXPIRY_MIN_REQUESTS
from bess_etl.timeutil import local_day_bounds_ms

BESS_3_5 = 303_721_690
BESS_10 = 303_721_691
DAY = dt.date(2025, 9, 10)


def _with(settings: Settings, **simulator) -> Settings:
    return replace(settings, simulator=replace(settings.simulator, **simulator))


def _login(client: httpx.Client) -> dict[str, str]:
    resp = client.get("authentication/g", params={"username": "demo", "password": "demo"})
    assert resp.status_code == 200
    return {"Authorization": f"Bearer {resp.text}"}


def _byrange(mac: int, begin: int, end: int, limit: int = 1_000_000, types=()) -> dict:
    params = {"mac": mac, "begin": begin, "end": end, "limit": limit, "offsetData": "false"}
    return {"params": [*params.items(), *(("types", t) for t in types)]}


@pytest.fixture
def client(simulator_url):
    with httpx.Client(base_url=simulator_url, timeout=30) as c:
        yield c


def test_login_with_the_configured_credentials_only(client):
    token = client.get("authentication/g", params={"username": "demo", "password": "demo"})
    assert token.status_code == 200 and token.headers["content-type"].startswith("text/plain")
    by_json = client.post("authentication/j", json={"username": "demo", "password": "demo"})
    assert by_json.status_code == 200 and by_json.text and by_json.text != token.text
    bad = {"username": "demo", "password": "nope"}
    assert client.get("authentication/g", params=bad).status_code == 401
    assert client.post("authentication/j", json=bad).status_code == 401
    assert client.post("authentication/j", json={"username": "x"}).status_code == 401
    for t in (token.text, by_json.text):
        ok = client.get("greetings/isloggedin", headers={"Authorization": f"Bearer {t}"})
        assert ok.status_code == 200
    assert client.get("greetings/isloggedin").status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert client.get("greetings/isloggedin", headers=forged).status_code == 401


def test_data_endpoints_need_a_token(client):
    begin, end = local_day_bounds_ms(DAY, dt.UTC)
    assert client.get("sensordata/byrange", **_byrange(BESS_3_5, begin, end)).status_code == 401
    forged = {"Authorization": "Bearer forged", "X-AIR-Token": str(BESS_3_5)}
    resp = client.get("sensordata/byrange", headers=forged, **_byrange(BESS_3_5, begin, end))
    assert resp.status_code == 401
    assert client.get("client/locationview").status_code == 401
    assert client.get("sensortype/list").status_code == 401


def test_location_view_and_sensor_types(client, simulator_settings):
    headers = _login(client)
    view = client.get("client/locationview", headers=headers).json()
    assert view["allMacs"] == [
        7725398, 303721690, 303721691, 3162989, 14339560, 16624087, 14302884
    ]  # fmt: skip
    by_place = {v["location"]["description"]: v for v in view["locationSensorViews"]}
    rnd = by_place["Rainhouse R&D 2"]
    assert (rnd["location"]["city"], rnd["location"]["lat"], rnd["location"]["lon"]) == (
        "Qualicum Beach", 49.32876, -124.55771
    )  # fmt: skip
    assert [s["description"] for s in rnd["sensorList"]] == ["BESS 3.5KW - ENV", "BESS 3.5KW"]
    bess10 = by_place["Rainhouse Manufacturing BESS"]["sensorList"][0]
    assert (bess10["mac"], bess10["description"]) == (BESS_10, "BESS 10KW")
    assert len(by_place["Rainhouse Manufacturing"]["sensorList"]) == 4
    now_ms = time.time() * 1000
    for v in view["locationSensorViews"]:
        assert v["buildingMapList"] == []
        for s in v["sensorList"]:
            assert now_ms - 120_000 < s["lastReportTime"] <= now_ms
    types = {t["type"]: t for t in client.get("sensortype/list", headers=headers).json()}
    assert types[532]["units"] == "V" and types[531]["units"] == "A" and types[533]["units"] == "kW"
    fleet = Simulator(simulator_settings).devices.values()
    assert {code for d in fleet for code in d.types} == set(types)


def test_byrange_over_http_equals_the_in_process_app(client, simulator_settings):
    begin, end = local_day_bounds_ms(DAY, simulator_settings.tz)
    headers = {**_login(client), "X-AIR-Token": str(BESS_10)}
    over_http = client.get("sensordata/byrange", headers=headers, **_byrange(BESS_10, begin, end))
    assert over_http.status_code == 200
    assert over_http.headers["content-type"] == "application/json"
    rows = over_http.json()
    assert rows[0].keys() == {"mac", "type", "timestamp", "data"}
    assert all(r["mac"] == BESS_10 and begin <= r["timestamp"] <= end for r in rows)

    async def in_process() -> bytes:
        transport = httpx.ASGITransport(app=create_app(simulator_settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://sim/rest/") as c:
            token = (
                await c.post("authentication/j", json={"username": "demo", "password": "demo"})
            ).text
            auth = {"Authorization": f"Bearer {token}", "X-AIR-Token": str(BESS_10)}
            resp = await c.get("sensordata/byrange", headers=auth, **_byrange(BESS_10, begin, end))
            assert resp.status_code == 200
            return resp.content

    assert asyncio.run(in_process()) == over_http.content
    # limit: exactly the earliest rows; types: only those; both ends inclusive
    page = client.get(
        "sensordata/byrange", headers=headers, **_byrange(BESS_10, begin, end, limit=777)
    ).json()
    assert len(page) == 777
    assert max(r["timestamp"] for r in page) <= sorted(r["timestamp"] for r in rows)[777]
    only = client.get(
        "sensordata/byrange", headers=headers, **_byrange(BESS_10, begin, end, types=[531, 532])
    ).json()
    assert {r["type"] for r in only} == {531, 532}
    t = rows[100]["timestamp"]
    one = client.get("sensordata/byrange", headers=headers, **_byrange(BESS_10, t, t)).json()
    assert t in [r["timestamp"] for r in one]


def test_bad_requests(client):
    headers = _login(client)
    ok = _byrange(BESS_3_5, 1_750_000_000_000, 1_750_000_060_000)
    assert client.get("sensordata/byrange", headers=headers, **ok).status_code == 200
    unknown = _byrange(123, 1_750_000_000_000, 1_750_000_060_000)
    assert client.get("sensordata/byrange", headers=headers, **unknown).status_code == 404
    wrong_air = {**headers, "X-AIR-Token": str(BESS_10)}
    assert client.get("sensordata/byrange", headers=wrong_air, **ok).status_code == 403
    junk = {"params": {"mac": "abc", "begin": 1, "end": 2}}
    assert client.get("sensordata/byrange", headers=headers, **junk).status_code == 400
    missing = {"params": {"mac": BESS_3_5}}
    assert client.get("sensordata/byrange", headers=headers, **missing).status_code == 400
    assert client.get("no/such/thing", headers=headers).status_code == 404
    assert client.post("sensordata/byrange", headers=headers).status_code == 405


# ---------------------------------------------------------------------- injected faults


def _faulty(settings: Settings, kinds: str, rate: float = 1.0, **more) -> Settings:
    return _with(settings, faults=kinds, fault_rate=rate, **more)


def _statuses(base_url: str, n: int, timeout: float = 30) -> list[httpx.Response]:
    begin, end = 1_750_000_000_000, 1_750_000_600_000
    with httpx.Client(base_url=base_url, timeout=timeout) as c:
        headers = _login(c)
        return [
            c.get("sensordata/byrange", headers=headers, **_byrange(BESS_3_5, begin, end))
            for _ in range(n)
        ]


def test_5xx_and_429_with_retry_after(simulator_settings):
    with serve_in_thread(_faulty(simulator_settings, "5xx")) as url:
        assert {r.status_code for r in _statuses(url, 3)} == {503}
    with serve_in_thread(_faulty(simulator_settings, "429"), retry_after_s=2) as url:
        for resp in _statuses(url, 2):
            assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"


def test_truncated_bodies_do_not_parse(simulator_settings):
    with serve_in_thread(_faulty(simulator_settings, "truncated")) as url:
        for resp in _statuses(url, 3):
            assert resp.status_code == 200
            assert resp.content.startswith(b"[") and not resp.content.endswith(b"]")
            with pytest.raises(json.JSONDecodeError):
                json.loads(resp.content)


def test_timeouts_stall_longer_than_the_client_waits(simulator_settings):
    with serve_in_thread(_faulty(simulator_settings, "timeout"), stall_s=3.0) as url:
        t0 = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            _statuses(url, 1, timeout=0.3)
        assert time.perf_counter() - t0 < 2.0
    # in-process, the transport enforces the read timeout the same way
    settings = _faulty(simulator_settings, "timeout")

    async def in_process() -> None:
        transport = asgi_transport(settings, stall_s=5.0)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sim/rest/", timeout=0.3
        ) as c:
            token = (
                await c.get("authentication/g", params={"username": "demo", "password": "demo"})
            ).text
            with pytest.raises(httpx.ReadTimeout):
                await c.get(
                    "sensordata/byrange",
                    headers={"Authorization": f"Bearer {token}"},
                    **_byrange(BESS_3_5, 1_750_000_000_000, 1_750_000_060_000),
                )

    t0 = time.perf_counter()
    asyncio.run(in_process())
    assert time.perf_counter() - t0 < 2.0


def test_tokens_expire_after_n_data_requests(simulator_settings):
    with serve_in_thread(_with(simulator_settings, token_expiry_requests=3)) as url:
        assert [r.status_code for r in _statuses(url, 5)] == [200, 200, 200, 401, 401]
    with (
        serve_in_thread(_faulty(simulator_settings, "expiry")) as url,
        httpx.Client(base_url=url) as c,
    ):
        headers = _login(c)
        ok = _byrange(BESS_3_5, 1_750_000_000_000, 1_750_000_060_000)
        statuses = [
            c.get("sensordata/byrange", headers=headers, **ok).status_code
            for _ in range(EXPIRY_MIN_REQUESTS + 2)
        ]
        # a token is never revoked young: it serves its first requests, then dies
        assert statuses == [200] * (EXPIRY_MIN_REQUESTS - 1) + [401, 401, 401]
        assert c.get("greetings/isloggedin", headers=headers).status_code == 401
        assert c.get("greetings/isloggedin", headers=_login(c)).status_code == 200


def test_faults_are_reproducible_and_never_change_the_readings(simulator_settings):
    settings = _faulty(simulator_settings, "all", rate=0.8)
    clean = _with(simulator_settings, faults="none")
    begin, _ = local_day_bounds_ms(DAY, simulator_settings.tz)
    end = begin + 3_600_000

    async def run(s: Settings, attempts: int) -> tuple[list[int], list[bytes]]:
        transport = asgi_transport(s, stall_s=1.0)
        statuses, bodies = [], []
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sim/rest/", timeout=0.25
        ) as c:
            auth = {"username": "demo", "password": "demo"}
            token = (await c.get("authentication/g", params=auth)).text
            for _ in range(attempts):
                try:
                    resp = await c.get(
                        "sensordata/byrange",
                        headers={"Authorization": f"Bearer {token}"},
                        **_byrange(BESS_3_5, begin, end),
                    )
                except httpx.ReadTimeout:
                    statuses.append(-1)
                    continue
                statuses.append(resp.status_code)
                if resp.status_code == 401:
                    token = (await c.get("authentication/g", params=auth)).text
                if resp.status_code == 200:
                    bodies.append(resp.content)
        return statuses, bodies

    first, bodies = asyncio.run(run(settings, 30))
    again, _ = asyncio.run(run(settings, 30))
    assert first == again
    assert {401, 429, 503, -1, 200} <= set(first)
    _, (reference,) = asyncio.run(run(clean, 1))
    complete = [b for b in bodies if b.endswith(b"]")]
    assert complete and all(b == reference for b in complete)
    assert any(not b.endswith(b"]") for b in bodies)  # and truncated ones were among them


def test_the_aretas_client_survives_every_fault_and_gets_every_reading(simulator_settings):
    """End to end over loopback: the project's client, a faulty server, and a window larger
    than the client's limit; the readings equal the simulator's own for that window."""
    from bess_etl.aretas import AretasClient, RetryPolicy

    settings = _faulty(simulator_settings, "all", rate=0.3, token_expiry_requests=20)
    begin, _ = local_day_bounds_ms(DAY, simulator_settings.tz)
    end = begin + 6 * 3_600_000
    expected = Simulator(settings).table(BESS_10, begin, end - 1)

    async def pull(url: str):
        retry = RetryPolicy(max_attempts=40, backoff_initial_s=0.01, backoff_max_s=0.05)
        async with AretasClient(
            url, "demo", "demo", limit=2000, timeout_s=0.5, retry=retry, seed=1
        ) as client:
            table = await client.readings(BESS_10, begin, end)
            return table, client.retries

    with serve_in_thread(settings, stall_s=1.0) as url:
        table, retries = asyncio.run(pull(url))
    assert retries > 0
    key = ["type", "ts", "value"]
    assert table.sort_by([(k, "ascending") for k in key]).equals(
        expected.sort_by([(k, "ascending") for k in key])
    )


def test_the_server_thread_stops_on_exit(simulator_settings):
    with serve_in_thread(simulator_settings) as url:
        assert httpx.get(url + "greetings/isloggedin").status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "greetings/isloggedin", timeout=1)
