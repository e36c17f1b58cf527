"""The steps the flows put in order: begin a run, pull and record, recompute, summarise.

Plain functions over Settings and short-lived warehouse connections: the flows in flows/ call
them (tracked by Prefect or not), and the CLI calls the flows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bess_etl import ingest, lake, progress, sqlfiles, warehouse
from bess_etl.config import Settings
from bess_etl.ingest import ChunkResult, Window
from bess_etl.orchestration import in_flow_run, map_tasks
from bess_etl.timeutil import utc_day_bounds_ms

RECORD_EVERY_S = 2.0  # how often a pull records finished tasks in the warehouse


@dataclass
class RunSummary:
    run_id: str
    flow: str
    macs: list[int]
    partitions_planned: int = 0
    partitions_ok: int = 0
    partitions_failed: int = 0
    partitions_changed: int = 0
    rows_pulled: int = 0
    rows_new: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    invalid: int = 0
    requests: int = 0
    retries: int = 0
    days_recomputed: int = 0
    failures: list[str] = field(default_factory=list)
    energy: list[dict] = field(default_factory=list)  # per MAC over the recomputed days
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def new_run_id(flow: str) -> str:
    if in_flow_run():
        from prefect.context import FlowRunContext

        return str(FlowRunContext.get().flow_run.id)
    return f"{flow}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def connection(settings: Settings, read_only: bool = False):
    con = warehouse.connect(settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def prepare(settings: Settings, fleet: ingest.Fleet) -> None:
    """Bring the warehouse schema up to date and record the account's devices. Runs under the
    run lock, so any temp file in the lake is a killed writer's leftover: remove them."""
    lake.remove_stale_temp_files(settings.lake_dir)
    with connection(settings) as con:
        warehouse.build_schema(con, settings)
        ingest.store_devices(con, fleet)


def backfill_windows(
    settings: Settings,
    d0: dt.date,
    d1: dt.date,
    macs: Sequence[int],
    modes: frozenset[str],
    read_only: bool = False,
) -> list[tuple[Window, bool]]:
    """Every partition covering local days d0..d1 with whether this backfill pulls it.
    Read-only (for --dry-run) when asked: a missing warehouse means an empty ledger."""
    if read_only and not warehouse.exists(settings):
        ledger = {}
    else:
        with connection(settings, read_only=read_only) as con:
            ledger = ingest.read_ledger(con, macs)
    windows = ingest.backfill_windows(settings, d0, d1, macs, ledger)
    return [(w, ingest.selected(w, modes)) for w in windows]


def plan_rows(plan: Sequence[tuple[Window, bool]]) -> list[dict]:
    return [
        {
            "mac": w.mac,
            "date": w.date.isoformat(),
            "state": w.prior_state,
            "action": "pull" if pull else "skip",
        }
        for w, pull in plan
    ]


def daily_windows(settings: Settings, macs: Sequence[int], until_ms: int | None) -> list[Window]:
    with connection(settings) as con:
        marks = ingest.read_watermarks(con)
    return ingest.daily_windows(settings, macs, marks, until_ms)


def begin_run(settings: Settings, flow: str, macs: Sequence[int]) -> RunSummary:
    summary = RunSummary(new_run_id(flow), flow, list(macs))
    with connection(settings) as con:
        con.execute(
            sqlfiles.load("state/start_run"),
            {"run_id": summary.run_id, "flow": flow, "macs": list(macs)},
        )
    return summary


def pull_and_record(
    settings: Settings, windows: Sequence[Window], summary: RunSummary, pull_task
) -> None:
    """Pull every window (chunked per MAC into tasks) and record the tasks' results in the
    warehouse as they complete, so an interrupted run keeps what it finished. Results are
    recorded at most every RECORD_EVERY_S (and at the end): each warehouse open and close
    (with its checkpoint) costs ~0.1 s, which per task would dominate a fleet's backfill."""
    chunks = ingest.chunk_windows(windows, settings.ingest.days_per_task)
    summary.partitions_planned = len(windows)
    bar = progress.reporter()
    bar.start(len(windows), f"{summary.flow}: partitions")
    unrecorded: list[ingest.WindowResult] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if unrecorded:
            with connection(settings) as con:
                ingest.record_results(con, summary.run_id, summary.flow, unrecorded)
            unrecorded.clear()
        last_flush = time.monotonic()

    def on_result(result: ChunkResult) -> None:
        unrecorded.extend(result.results)
        _tally(summary, result)
        bar.advance(len(result.results), f"{summary.rows_pulled:,} readings")
        if time.monotonic() - last_flush >= RECORD_EVERY_S:
            flush()

    try:
        map_tasks(
            pull_task,
            chunks,
            on_result,
            max_workers=settings.ingest.parallel_tasks,
            settings=settings,
        )
    finally:
        try:
            flush()
        finally:
            bar.finish()


def _tally(summary: RunSummary, result: ChunkResult) -> None:
    summary.requests += result.requests
    summary.retries += result.retries
    for r in result.results:
        if r.state != "ok":
            summary.partitions_failed += 1
            summary.failures.append(f"MAC {r.window.mac} {r.window.date}: {r.error}")
            continue
        summary.partitions_ok += 1
        summary.rows_pulled += r.rows_received
        if r.write:
            summary.rows_new += r.write.rows_new
            summary.duplicates += r.write.duplicates
            summary.out_of_order += r.write.out_of_order
            summary.invalid += r.write.invalid_total
            summary.partitions_changed += int(r.write.changed)


def import_files(settings: Settings, paths: Sequence[str], wait_s: float = 0.0) -> RunSummary:
    """`bess-etl import`: every file is read and checked before anything is written."""
    from bess_etl.importer import read_export
    from bess_etl.locking import run_lock
    from bess_etl.store import store_readings

    started = time.monotonic()
    tables = [read_export(p) for p in paths]
    macs = sorted({m for t in tables for m in t.column("mac").unique().to_pylist()})
    with run_lock(settings, "import", wait_s):
        with connection(settings) as con:
            warehouse.build_schema(con, settings)
        summary = begin_run(settings, "import", macs)
        for table in tables:
            t0 = time.time()
            writes = store_readings(settings, table)
            results = [
                ingest.WindowResult(
                    Window(w.mac, w.date, *utc_day_bounds_ms(w.date)),
                    "ok",
                    w.rows_valid + w.invalid_total,
                    w,
                    None,
                    t0,
                    time.time(),
                )
                for w in writes.values()
            ]
            with connection(settings) as con:
                ingest.record_results(con, summary.run_id, "import", results)
            _tally(summary, ingest.ChunkResult(results))
        summary.partitions_planned = summary.partitions_ok
        recomputed = recompute_pending(settings)
        finish_run(settings, summary, recomputed, started)
    return summary


def rebuild(
    settings: Settings,
    d0: dt.date | None,
    d1: dt.date | None,
    macs: Sequence[int],
    started: float,
) -> RunSummary:
    """Derived tables from the lake for local days d0..d1 (or everything), no API calls."""
    summary = begin_run(settings, "rebuild", macs)
    with connection(settings) as con:
        warehouse.build_schema(con, settings)
        result = warehouse.rebuild(con, settings, d0, d1, list(macs) or None)
        if d0 is None and not macs:
            ingest.clear_pending(con, ingest.pending_partitions(con))
    finish_run(settings, summary, {"days": result.get("days", [])}, started)
    return summary


# Partitions (mac, UTC day) per recompute transaction: a backfill of a year holds a month of
# readings in DuckDB at a time, not the year (peak RSS stays under 1 GB per BESS-year).
RECOMPUTE_BATCH_PARTITIONS = 31


def release_memory() -> None:
    """Hand freed memory back to the OS: Arrow's allocator and glibc's per-thread arenas (the
    pulls run on worker threads) keep freed blocks for reuse, so without this a long run's RSS
    stays at its pull-stage peak and the recompute's peak comes on top of it."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc_name = ctypes.util.find_library("c")
    if libc_name and "libc.so" in libc_name:  # glibc (Linux) only
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(libc_name).malloc_trim(0)


def recompute_pending(settings: Settings) -> dict:
    """Recompute derived tables for every partition queued by pulls (this run's, and any an
    interrupted run left), then clear the queue."""
    with connection(settings) as con:
        pending = sorted(ingest.pending_partitions(con))
        if not pending:
            return {"partitions": 0, "days": []}
        days: set = set()
        release_memory()  # what the pulls held
        for start in range(0, len(pending), RECOMPUTE_BATCH_PARTITIONS):
            batch = pending[start : start + RECOMPUTE_BATCH_PARTITIONS]
            later = pending[start + RECOMPUTE_BATCH_PARTITIONS :]
            # the lake listing and the data checks cost in proportion to everything: the
            # listing in the first batch, the checks after the last
            result = warehouse.recompute(
                con, settings, batch, deferred=later, checks=not later, scan_lake=start == 0
            )
            ingest.clear_pending(con, batch)
            days.update(tuple(d) for d in result.get("days", []))
            release_memory()
    return {"partitions": len(pending), "days": sorted(days)}


def finish_run(settings: Settings, summary: RunSummary, recomputed: dict, started: float) -> None:
    days = recomputed.get("days", [])
    summary.days_recomputed = len(days)
    summary.wall_s = round(time.monotonic() - started, 3)
    with connection(settings) as con:
        summary.energy = warehouse.energy_summary(con, days) if days else []
        con.execute(
            sqlfiles.load("state/finish_run"),
            {
                "run_id": summary.run_id,
                "state": "completed"
                if not summary.partitions_failed
                else "completed_with_failures",
                "rows_pulled": summary.rows_pulled,
                "partitions_changed": summary.partitions_changed,
                "days_recomputed": summary.days_recomputed,
                "summary": json.dumps(summary.as_dict(), default=str),
            },
        )


def publish_artifact(summary: RunSummary) -> None:
    """Leave the run's summary as a Prefect artifact (only inside a tracked flow run)."""
    if not in_flow_run():
        return
    from prefect.artifacts import create_markdown_artifact

    # The flows are async and run this in a worker thread: without _sync=True Prefect would
    # hand back the async variant's coroutine, never awaited, and no artifact would be made.
    create_markdown_artifact(
        markdown=summary_markdown(summary),
        key=f"bess-{summary.flow}-summary",
        description=f"bess-etl {summary.flow} run {summary.run_id}",
        _sync=True,
    )


def summary_markdown(s: RunSummary) -> str:
    lines = [
        f"# bess-etl {s.flow}",
        "",
        f"- run: `{s.run_id}`, {s.wall_s:.1f} s",
        f"- BESS: {', '.join(str(m) for m in s.macs) or 'none'}",
        f"- partitions: {s.partitions_ok} pulled, {s.partitions_failed} failed, "
        f"{s.partitions_changed} changed",
        f"- readings: {s.rows_pulled:,} received, {s.rows_new:,} new, {s.duplicates:,} "
        f"duplicates, {s.out_of_order:,} out of order, {s.invalid:,} invalid (quarantined)",
        f"- requests: {s.requests:,} ({s.retries:,} retried)",
        f"- days recomputed: {s.days_recomputed}",
    ]
    if s.energy:
        lines += [
            "",
            "| MAC | days | charge kWh | discharge kWh | cost | capacity Ah | SoH % |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in s.energy:
            lines.append(
                f"| {e['mac']} | {e['days']} | {_fmt(e.get('charge_kwh'))} | "
                f"{_fmt(e.get('discharge_kwh'))} | {_fmt(e.get('cost'))} | "
                f"{_fmt(e.get('capacity_ah'))} | {_fmt(e.get('soh_pct'))} |"
            )
    if s.failures:
        lines += ["", "## Failed partitions", *[f"- {f}" for f in s.failures[:50]]]
    return "\n".join(lines)


def summary_text(s: RunSummary) -> str:
    """The run's summary for a terminal."""
    lines = [
        f"{s.flow} {s.run_id}: {s.partitions_ok} partitions pulled"
        + (f", {s.partitions_failed} FAILED" if s.partitions_failed else "")
        + f", {s.partitions_changed} changed, {s.days_recomputed} days recomputed"
        + f" in {s.wall_s:.1f} s",
    ]
    if s.rows_pulled or s.rows_new:
        lines.append(
            f"readings: {s.rows_pulled:,} received, {s.rows_new:,} new, {s.duplicates:,} "
            f"duplicates, {s.out_of_order:,} out of order, {s.invalid:,} quarantined"
        )
    if s.energy:
        header = ("MAC", "days", "charge kWh", "discharge kWh", "cost", "capacity Ah", "SoH %")
        rows = [
            (
                str(e["mac"]),
                str(e["days"]),
                _fmt(e.get("charge_kwh")),
                _fmt(e.get("discharge_kwh")),
                _fmt(e.get("cost")),
                _fmt(e.get("capacity_ah")),
                _fmt(e.get("soh_pct"), 1),
            )
            for e in s.energy
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines.append("")
        lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    for f in s.failures[:20]:
        lines.append(f"failed: {f}")
    if len(s.failures) > 20:
        lines.append(f"... and {len(s.failures) - 20} more failed partitions")
    return "\n".join(lines)


def _fmt(v, digits: int = 2) -> str:
    return "" if v is None else f"{v:,.{digits}f}"
