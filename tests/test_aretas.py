"""The Aretas client against the simulator over loopback HTTP: login and refusal, token expiry,
every injected fault kind, limit splitting, split-window determinism, redaction, bounded
attempts. Every fetch is compared with a fault-free one and with the simulator's own rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bess_etl.aretas import AretasClient, RetryPolicy
from bess_etl.config import Settings
from bess_etl.errors import AuthError, SourceError
from bess_etl.simulator import Simulator, serve_in_thread
from bess_etl.timeutil import utc_day_bounds_ms

BESS_3_5 = 303_721_690
BESS_10 = 303_721_691
BEGIN = utc_day_bounds_ms(dt.date(2025, 9, 10))[0] + 7 * 3_600_000
END = BEGIN + 2 * 3_600_000  # two hours: ~2,200 readings of six types
FAST = RetryPolicy(max_attempts=40, backoff_initial_s=0.001, backoff_max_s=60.0)


def _with(settings: Settings, **simulator) -> Settings:
    return replace(settings, simulator=replace(settings.simulator, **simulator))


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("mac", "ascending"), ("type", "ascending"), ("ts", "ascending")])


class Sleeps:
    """The client's sleep: records each backoff delay instead of spending it."""

    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fetch(url: str, mac=BESS_3_5, begin=BEGIN, end=END, password="demo", **kwargs):
    """(readings, client) of one readings() call on a fresh client."""
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("seed", 1)

    async def run():
        async with AretasClient(url, "demo", password, **kwargs) as client:
            return await client.readings(mac, begin, end), client

    return asyncio.run(run())


@pytest.fixture(scope="module")
def reference(simulator_url, simulator_settings) -> pa.Table:
    """A fault-free, unsplit fetch of the window, checked against the simulator itself."""
    table, client = fetch(simulator_url, limit=1_000_000)
    assert client.requests_sent == 2 and client.retries == 0  # login + one page
    truth = Simulator(simulator_settings).table(BESS_3_5, BEGIN, END - 1)
    assert table.num_rows == truth.num_rows > 2000
    assert _sorted(table).equals(_sorted(truth))
    return table


# ---------------------------------------------------------------------- login


@pytest.mark.parametrize("method", ["g", "j"])
def test_login_reuses_one_token(simulator_url, method):
    async def run():
        async with AretasClient(simulator_url, "demo", "demo", login_method=method) as client:
            assert not await client.is_logged_in()
            await client.login()
            assert await client.is_logged_in()
            await client.devices()
            await client.sensor_types()
            await client.readings(BESS_3_5, BEGIN, BEGIN + 60_000)
            return client

    client = asyncio.run(run())
    assert client.requests_sent == 4  # one login, three authorised calls
    assert client._token_generation == 1


def test_wrong_password_is_a_clear_auth_error_without_retries(simulator_url):
    async def run(method):
        async with AretasClient(
            simulator_url, "demo", "not-the-password", login_method=method, retry=FAST
        ) as client:
            with pytest.raises(AuthError) as err:
                await client.readings(BESS_3_5, BEGIN, END)
            return client, str(err.value)

    for method in ("g", "j"):
        client, message = asyncio.run(run(method))
        assert client.requests_sent == 1  # refused at once, never retried
        assert "refused the login for user 'demo'" in message and "(401)" in message
        assert "BESS_ETL_API_PASSWORD" in message
        assert "not-the-password" not in message


def test_token_expiry_mid_run_logs_in_again(reference, simulator_settings):
    settings = _with(simulator_settings, token_expiry_requests=6)
    with serve_in_thread(settings) as url:
        table, client = fetch(url, limit=300, concurrency=2)
    assert client._token_generation >= 3  # the token died at least twice mid-run
    assert client.retries == 0  # an expired token is not a failed attempt
    assert _sorted(table).equals(_sorted(reference))


# ---------------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["5xx", "429", "timeout", "truncated", "expiry"])
def test_the_client_recovers_from_every_fault_kind(kind, reference, simulator_settings):
    # each timeout costs the client's read timeout in real time: fewer of those
    rate = 0.2 if kind == "timeout" else 0.4
    settings = _with(simulator_settings, faults=kind, fault_rate=rate)
    sleeps = Sleeps()
    with serve_in_thread(settings, stall_s=2.0, retry_after_s=3) as url:
        table, client = fetch(url, limit=400, timeout_s=0.3, sleep=sleeps)
    assert _sorted(table).equals(_sorted(reference))
    if kind == "expiry":
        assert client._token_generation >= 2 and client.retries == 0
    else:
        assert client.retries == len(sleeps.delays) > 0
    if kind == "429":
        assert min(sleeps.delays) >= 3.0  # Retry-After is a floor for the backoff


def test_retry_delays_back_off_exponentially_with_full_jitter():
    policy = RetryPolicy(max_attempts=9, backoff_initial_s=0.5, backoff_max_s=4.0)
    rng = random.Random(3)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (8, 4.0)]:
        delays = [policy.delay_s(attempt, None, rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > 0.8 * ceiling and len(set(delays)) == 200  # jittered
    assert policy.delay_s(1, 3.0, rng) >= 3.0
    assert policy.delay_s(1, 100.0, rng) == 4.0  # a huge Retry-After is capped


def test_bounded_attempts_then_one_error_naming_mac_and_window(simulator_settings):
    settings = _with(simulator_settings, faults="5xx", fault_rate=1.0)
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.01)
    with serve_in_thread(settings) as url, pytest.raises(SourceError) as err:
        fetch(url, mac=BESS_10, retry=policy, sleep=sleeps)
    message = str(err.value)
    assert message == (
        "readings of MAC 303721691 for "
        "[2025-09-10T07:00:00.000+00:00, 2025-09-10T09:00:00.000+00:00): "
        "gave up after 3 attempts; last error: HTTP 503"
    )
    assert len(sleeps.delays) == 2  # between the three attempts, none after the last


def test_unreachable_api_is_bounded_too():
    policy = RetryPolicy(max_attempts=2, backoff_initial_s=0.001, backoff_max_s=0.01)
    with pytest.raises(SourceError, match="gave up after 2 attempts; last error: connection"):
        fetch("http://127.0.0.1:9/rest/", password="pw-unreachable-1", retry=policy)


# ---------------------------------------------------------------------- limits and splitting


def test_a_small_limit_splits_until_no_page_is_full(reference, simulator_url):
    table, client = fetch(simulator_url, limit=100)
    assert table.num_rows == reference.num_rows  # nothing truncated
    assert _sorted(table).equals(_sorted(reference))
    # at least one page per 100 rows, and more for the full pages that were split
    assert client.requests_sent - 1 > reference.num_rows / 100
    # the halves never overlap: the result is unique on (type, ts) exactly like the reference
    assert table.group_by(["type", "ts"]).aggregate([]).num_rows == (
        reference.group_by(["type", "ts"]).aggregate([]).num_rows
    )


def test_a_page_of_exactly_limit_rows_is_split_not_trusted(simulator_url, reference):
    exact = reference.num_rows  # the whole window in one page of exactly `limit` rows
    table, client = fetch(simulator_url, limit=exact)
    assert client.requests_sent > 2  # the full page was split and re-fetched
    assert _sorted(table).equals(_sorted(reference))


@pytest.mark.parametrize("cut_ms", [1, 1_234_567, 3_600_000, 7_199_999])
def test_any_split_of_the_window_gives_the_same_readings(simulator_url, reference, cut_ms):
    left, _ = fetch(simulator_url, end=BEGIN + cut_ms, limit=1_000_000)
    right, _ = fetch(simulator_url, begin=BEGIN + cut_ms, limit=1_000_000)
    assert _sorted(pa.concat_tables([left, right])).equals(_sorted(reference))


def test_types_filter(simulator_url, reference):
    async def run():
        async with AretasClient(simulator_url, "demo", "demo", retry=FAST) as client:
            return await client.readings(BESS_3_5, BEGIN, END, types=[532, 531])

    table = asyncio.run(run())
    expected = reference.filter(pc.is_in(reference.column("type"), pa.array([531, 532])))
    assert table.num_rows > 0 and _sorted(table).equals(_sorted(expected))


# ---------------------------------------------------------------------- redaction

SECRET = "Tr0ub4dor&3-secret"


def test_the_password_never_reaches_logs_errors_or_urls(simulator_settings, caplog):
    settings = _with(
        simulator_settings,
        password=SECRET,
        faults="5xx,429,truncated",
        fault_rate=0.5,
    )
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "bess_etl", "bess_etl.aretas"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list[str] = []
    with serve_in_thread(settings, retry_after_s=0) as url:
        # the optional GET login: the password in the URL
        table, client = fetch(url, password=SECRET, limit=500, login_method="g")
        assert table.num_rows > 2000 and client.retries > 0
        table, client = fetch(url, password=SECRET)
        for wrong in (SECRET + "x", "x" + SECRET):
            with pytest.raises(AuthError) as err:
                fetch(url, password=wrong)
            errors.append(str(err.value))
            errors.append(repr(err.value))
    policy = RetryPolicy(max_attempts=2, backoff_initial_s=0.001, backoff_max_s=0.01)
    with pytest.raises(SourceError) as err:
        fetch("http://127.0.0.1:9/rest/", password=SECRET, retry=policy)
    errors += [str(err.value), repr(err.value)]

    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert any("authentication/g" in r.getMessage() for r in caplog.records)  # httpx logged it
    assert any("retry" in r.getMessage() for r in caplog.records)  # the client logged retries
    assert SECRET not in text
    assert SECRET not in "\n".join(errors)
    assert "password=***" in text  # the URL was logged, redacted
    assert SECRET not in repr(client) and SECRET not in str(client._http.base_url)
    assert SECRET not in repr(settings.simulator)
