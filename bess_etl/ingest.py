"""Incremental pulls from the API into the lake, and the ledger that makes them resumable.

The unit of work is a lake partition: one MAC's readings for one UTC day. A pull asks the API for
the partition's window (the whole day for backfills; from the watermark minus the lookback up to
now for daily runs), checks the readings and merges them into the partition file. Each pulled
window gets an `ingest_log` row; changed partitions are queued in `pending_recompute` in the
same transaction, so derived tables catch up even after a run is killed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from bess_etl import sqlfiles
from bess_etl.aretas import AretasClient, RetryPolicy
from bess_etl.config import Settings
from bess_etl.errors import AuthError, ConfigError, SourceError, UsageError
from bess_etl.redaction import redact
from bess_etl.store import PartitionWrite, store_readings
from bess_etl.timeutil import (
    MS_PER_DAY,
    local_range_bounds_ms,
    now_ms,
    utc_dates_between,
    utc_day_bounds_ms,
)

BACKFILL_MODES = ("missing", "failed", "all")


# ---------------------------------------------------------------------- the client


def make_client(settings: Settings, **overrides) -> AretasClient:
    """A client for the configured API, or for the built-in simulator (in-process ASGI)."""
    api = settings.api
    kwargs = dict(
        login_method=api.login,
        limit=api.limit,
        concurrency=api.concurrency,
        timeout_s=api.timeout_s,
        retry=RetryPolicy(api.max_attempts, api.backoff_initial_s, api.backoff_max_s),
    )
    kwargs.update(overrides)
    if settings.use_simulator:
        from bess_etl.simulator import asgi_transport

        user = api.username or settings.simulator.username
        password = api.password or settings.simulator.password
        transport = kwargs.pop("transport", None) or asgi_transport(settings)
        return AretasClient("http://simulator/rest/", user, password, transport=transport, **kwargs)
    if not (api.username and api.password):
        raise ConfigError(
            f"api.url is {redact(api.url)}; set BESS_ETL_API_USERNAME and BESS_ETL_API_PASSWORD"
        )
    return AretasClient(api.url, api.username, api.password, **kwargs)


# ---------------------------------------------------------------------- devices


@dataclass(frozen=True)
class Fleet:
    devices: list[dict]  # rows for the `devices` table
    sensor_types: list[dict]
    bess_macs: list[int]


def discover(settings: Settings, macs: Sequence[int] = ()) -> Fleet:
    """List the account's devices and decide which are batteries: a device is a BESS when its
    recent readings carry the voltage channel and the current or power channel (or when it is
    named in ingest.macs). Unknown MACs asked for by the user are a usage error."""
    return asyncio.run(_discover(settings, tuple(macs)))


async def _discover(settings: Settings, macs: tuple[int, ...]) -> Fleet:
    async with make_client(settings) as client:
        await client.login()
        devices, types = await asyncio.gather(client.devices(), client.sensor_types())
        if not devices:
            raise SourceError("the API lists no devices for this account (client/locationview)")
        known = {d["mac"] for d in devices}
        wanted = macs or settings.ingest.macs
        unknown = [m for m in wanted if m not in known]
        if unknown:
            raise UsageError(f"MAC {unknown[0]} is not a device of this account")
        ch = settings.channels
        probe = [t for t in (ch.voltage, ch.current, ch.power) if t]
        until = now_ms()
        since = until - int(settings.ingest.probe_hours * 3_600_000)

        async def channels_seen(mac: int) -> set[int]:
            sample = await client.sample(mac, since, until, probe, limit=200)
            return set(pc.unique(sample.column("type")).to_pylist())

        seen = await asyncio.gather(*(channels_seen(d["mac"]) for d in devices))
    flags = [ch.voltage in s and bool({ch.current, ch.power} & s - {0}) for s in seen]
    # A MAC asked for on the command line that reported lately, but not the battery channels,
    # is another kind of device (an environment sensor): pulling it gives empty energy. One
    # silent lately may be a BESS that was offline: its history can still be backfilled.
    for d, s, is_bess in zip(devices, seen, flags, strict=True):
        if d["mac"] in macs and s and not is_bess:
            raise UsageError(
                f"MAC {d['mac']} is not a BESS: its recent readings carry no voltage with "
                "current or power (name it in ingest.macs to pull it anyway)"
            )
    rows = []
    for d, is_bess in zip(devices, flags, strict=True):
        row = {k: v for k, v in d.items() if k != "last_report_ms"}
        row["last_report_time"] = (
            dt.datetime.fromtimestamp(d["last_report_ms"] / 1000, dt.UTC)
            if d["last_report_ms"] is not None
            else None
        )
        row["is_bess"] = bool(is_bess) or d["mac"] in settings.ingest.macs
        rows.append(row)
    bess = sorted(wanted) if wanted else sorted(r["mac"] for r in rows if r["is_bess"])
    return Fleet(rows, types, bess)


# ---------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Window:
    """A pull: [start_ms, end_ms) inside the UTC day `date` of one MAC."""

    mac: int
    date: dt.date
    start_ms: int
    end_ms: int
    prior_state: str = "missing"  # the ledger's state before this run


def backfill_windows(
    settings: Settings,
    start: dt.date,
    end: dt.date,
    macs: Sequence[int],
    ledger: Mapping[tuple[int, dt.date], str],
    until_ms: int | None = None,
) -> list[Window]:
    """Whole-UTC-day windows (clipped at now) for every partition covering local days
    start..end, each with the ledger's state."""
    until = now_ms() if until_ms is None else until_ms
    t0, t1 = local_range_bounds_ms(start, end, settings.tz)
    t1 = min(t1, until)
    if t1 <= t0:
        raise UsageError(f"--start {start} is in the future")
    windows = []
    for mac in macs:
        for date in utc_dates_between(t0, t1):
            d0, d1 = utc_day_bounds_ms(date)
            windows.append(
                Window(mac, date, d0, min(d1, until), ledger.get((mac, date), "missing"))
            )
    return windows


def parse_modes(mode: str) -> frozenset[str]:
    modes = frozenset(m.strip() for m in mode.split(",") if m.strip())
    if not modes or modes - set(BACKFILL_MODES):
        raise UsageError(
            f"--mode takes {', '.join(BACKFILL_MODES)} (comma-separated), not {mode!r}"
        )
    return modes


def selected(window: Window, modes: frozenset[str]) -> bool:
    """Does a backfill in these modes pull this partition? missing: never pulled whole
    (absent or partial); failed: the latest pull failed; all: everything."""
    if "all" in modes:
        return True
    if window.prior_state == "failed":
        return "failed" in modes
    return window.prior_state in ("missing", "partial") and "missing" in modes


def daily_windows(
    settings: Settings,
    macs: Sequence[int],
    watermarks_ms: Mapping[int, int],
    until_ms: int | None = None,
) -> list[Window]:
    """From each MAC's watermark minus the lookback (or initial_days ago) up to now."""
    until = now_ms() if until_ms is None else until_ms
    lookback_ms = int(settings.ingest.lookback_hours * 3_600_000)
    first_ms = (until // MS_PER_DAY - settings.ingest.initial_days) * MS_PER_DAY
    windows = []
    for mac in macs:
        since = watermarks_ms[mac] - lookback_ms if mac in watermarks_ms else first_ms
        for date in utc_dates_between(since, until):
            d0, d1 = utc_day_bounds_ms(date)
            windows.append(Window(mac, date, max(d0, since), min(d1, until)))
    return windows


def read_ledger(con, macs: Sequence[int]) -> dict[tuple[int, dt.date], str]:
    rows = con.execute(sqlfiles.load("state/ledger_for_macs"), {"macs": list(macs)}).fetchall()
    return {(m, d): s for m, d, s in rows}


def read_watermarks(con) -> dict[int, int]:
    return dict(con.execute(sqlfiles.load("state/watermarks")).fetchall())


def chunk_windows(windows: Sequence[Window], days_per_chunk: int) -> list[list[Window]]:
    """Group windows per MAC into chunks: the unit of a task (and of what a kill can lose)."""
    by_mac: dict[int, list[Window]] = {}
    for w in windows:
        by_mac.setdefault(w.mac, []).append(w)
    chunks = []
    for ws in by_mac.values():
        ws.sort(key=lambda w: (w.date, w.start_ms))
        chunks += [ws[i : i + days_per_chunk] for i in range(0, len(ws), days_per_chunk)]
    return chunks


# ---------------------------------------------------------------------- pulling


@dataclass
class WindowResult:
    window: Window
    state: str  # ok | failed
    rows_received: int = 0
    write: PartitionWrite | None = None
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class ChunkResult:
    results: list[WindowResult] = field(default_factory=list)
    requests: int = 0
    retries: int = 0


def pull_chunk(settings: Settings, windows: Sequence[Window]) -> ChunkResult:
    """Pull and store a chunk of one MAC's windows (in flight together, one connection pool).
    A window that fails after the client's retries is reported failed; the others go on.
    A refused login fails the whole chunk: nothing else could succeed."""
    return asyncio.run(_pull_chunk(settings, windows))


async def _pull_chunk(settings: Settings, windows: Sequence[Window]) -> ChunkResult:
    async with make_client(settings) as client:
        await client.login()

        async def one(w: Window) -> WindowResult:
            started = time.time()
            try:
                table = await client.readings(w.mac, w.start_ms, w.end_ms)
                table = table.filter(pc.equal(table.column("mac"), w.mac))
                writes = await asyncio.to_thread(store_readings, settings, table)
            except AuthError:
                raise
            except SourceError as exc:
                return WindowResult(
                    w, "failed", error=str(exc), started_at=started, finished_at=time.time()
                )
            write = writes.get((w.mac, w.date)) or PartitionWrite(w.mac, w.date)
            return WindowResult(w, "ok", table.num_rows, write, None, started, time.time())

        results = await asyncio.gather(*(one(w) for w in windows))
        return ChunkResult(list(results), client.requests_sent, client.retries)


# ---------------------------------------------------------------------- recording


def record_results(con, run_id: str, flow: str, results: Sequence[WindowResult]) -> None:
    """Ledger rows, data-quality counts, pending recomputes and watermarks, in one transaction.
    Imports do not move watermarks: those say how far the API has been pulled."""
    if not results:
        return
    windows = pa.Table.from_pylist([_log_row(run_id, flow, r) for r in results])
    quality = [_quality_row(r.write) for r in results if r.state == "ok" and r.write]
    # A partition this pull changed is queued for recompute; so is one the ledger did not hold
    # as complete: a run killed after writing its file but before recording it leaves the lake
    # changed and the warehouse unaware, and the re-pull then finds nothing to change.
    pending = [
        {"mac": r.window.mac, "date": r.window.date}
        for r in results
        if r.state == "ok" and r.write and (r.write.changed or r.window.prior_state != "complete")
    ]
    marks = _watermarks(results, run_id) if flow != "import" else []
    con.execute("begin transaction")
    try:
        con.register("windows_batch", windows)
        con.execute(sqlfiles.load("state/record_windows"))
        if quality:
            con.register("quality_batch", pa.Table.from_pylist(quality))
            con.execute(sqlfiles.load("state/add_data_quality"))
        if pending:
            con.register("pending_batch", pa.Table.from_pylist(pending))
            con.execute(sqlfiles.load("state/add_pending"))
        if marks:
            con.register("watermark_batch", pa.Table.from_pylist(marks))
            con.execute(sqlfiles.load("state/advance_watermark"))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for name in ("windows_batch", "quality_batch", "pending_batch", "watermark_batch"):
            con.unregister(name)


def _ts(seconds_or_ms: float, ms: bool = False) -> dt.datetime:
    value = seconds_or_ms / 1000 if ms else seconds_or_ms
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _log_row(run_id: str, flow: str, r: WindowResult) -> dict:
    w, write = r.window, r.write
    return {
        "run_id": run_id,
        "flow": flow,
        "mac": w.mac,
        "date": w.date,
        "window_start": _ts(w.start_ms, ms=True),
        "window_end": _ts(w.end_ms, ms=True),
        "state": r.state,
        "rows_received": r.rows_received,
        "rows_valid": write.rows_valid if write else None,
        "rows_new": write.rows_new if write else None,
        "duplicates": write.duplicates if write else None,
        "out_of_order": write.out_of_order if write else None,
        "invalid": write.invalid_total if write else None,
        "changed": write.changed if write else None,
        "error": r.error,
        "started_at": _ts(r.started_at),
        "finished_at": _ts(r.finished_at),
    }


def _quality_row(w: PartitionWrite) -> dict:
    return {
        "mac": w.mac,
        "date": w.date,
        "rows_valid": w.rows_valid,
        "rows_new": w.rows_new,
        "duplicates": w.duplicates,
        "out_of_order": w.out_of_order,
        "invalid_null": w.invalid.get("null", 0),
        "invalid_nan": w.invalid.get("nan", 0),
        "invalid_inf": w.invalid.get("inf", 0),
        "invalid_out_of_range": w.invalid.get("out_of_range", 0),
    }


def _watermarks(results: Sequence[WindowResult], run_id: str) -> list[dict]:
    """Per MAC, the end of the run of successful windows that starts at its earliest window:
    a failed window holds the watermark back so the next daily run retries it."""
    by_mac: dict[int, list[WindowResult]] = {}
    for r in results:
        by_mac.setdefault(r.window.mac, []).append(r)
    out = []
    for mac, rs in by_mac.items():
        rs.sort(key=lambda r: r.window.start_ms)
        mark = None
        for r in rs:
            if r.state != "ok":
                break
            mark = r.window.end_ms
        if mark is not None:
            out.append({"mac": mac, "watermark": _ts(mark, ms=True), "run_id": run_id})
    return out


def store_devices(con, fleet: Fleet) -> None:
    con.execute("begin transaction")
    try:
        if fleet.devices:
            con.register("devices_batch", pa.Table.from_pylist(fleet.devices))
            con.execute(sqlfiles.load("state/upsert_devices"))
        if fleet.sensor_types:
            con.register("sensor_types_batch", pa.Table.from_pylist(fleet.sensor_types))
            con.execute(sqlfiles.load("state/upsert_sensor_types"))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("devices_batch")
        con.unregister("sensor_types_batch")


def pending_partitions(con) -> list[tuple[int, dt.date]]:
    return [tuple(r) for r in con.execute(sqlfiles.load("state/pending")).fetchall()]


def clear_pending(con, partitions: Iterable[tuple[int, dt.date]]) -> None:
    rows = [{"mac": m, "date": d} for m, d in partitions]
    if not rows:
        return
    con.register("done_batch", pa.Table.from_pylist(rows))
    try:
        con.execute(sqlfiles.load("state/clear_pending"))
    finally:
        con.unregister("done_batch")
