"""The flows' bodies as plain functions (no Prefect import): the CLI calls these directly
unless a run is tracked by Prefect, and the flows in flows/*.py run them in a worker thread.
Those flows restate each job's parameters: a flow's signature is its deployments' parameter
schema, declared where Prefect (and a reader of prefect.yaml's entrypoints) looks for it."""

from __future__ import annotations

import time
from collections.abc import Callable

from bess_etl import ingest, lake, pipeline
from bess_etl.config import Settings, load_settings
from bess_etl.errors import UsageError
from bess_etl.ingest import Fleet, Window
from bess_etl.locking import raise_if_busy, run_lock
from bess_etl.orchestration import call_task
from bess_etl.timeutil import local_midnight_ms, now_ms, parse_range
from flows.tasks import discover_devices, pull_partitions, recompute_derived


def run_daily(
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
    until_ms: int | None = None,
) -> dict:
    """Every BESS from its watermark (minus the lookback) to now (or until_ms); recompute."""
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    if not wait_s:
        raise_if_busy(settings)
    fleet = call_task(discover_devices, settings, macs or [])

    def windows() -> list[Window]:
        return pipeline.daily_windows(settings, fleet.bess_macs, until_ms)

    return _pull_and_recompute(settings, "daily", fleet, windows, wait_s, started)


def run_backfill(
    start: str,
    end: str,
    macs: list[int] | None = None,
    mode: str = "missing,failed",
    dry_run: bool = False,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    """Site-local days start..end for some or all BESS; recompute."""
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    d0, d1 = parse_range(start, end)
    if local_midnight_ms(d0, settings.tz) >= now_ms():  # before anything is written
        raise UsageError(f"--start {d0} is in the future")
    modes = ingest.parse_modes(mode)
    if not wait_s and not dry_run:
        raise_if_busy(settings)
    fleet = call_task(discover_devices, settings, macs or [])
    if dry_run:
        plan = pipeline.backfill_windows(settings, d0, d1, fleet.bess_macs, modes, read_only=True)
        return {"plan": pipeline.plan_rows(plan)}

    def windows() -> list[Window]:
        plan = pipeline.backfill_windows(settings, d0, d1, fleet.bess_macs, modes)
        return [w for w, pull in plan if pull]

    return _pull_and_recompute(settings, "backfill", fleet, windows, wait_s, started)


def _pull_and_recompute(
    settings: Settings,
    flow: str,
    fleet: Fleet,
    windows: Callable[[], list[Window]],
    wait_s: float,
    started: float,
) -> dict:
    """Under the run lock: bring the warehouse up to date, pull `windows()` (planned only
    then: they read the ledger), recompute what changed, record the run; then its summary."""
    with run_lock(settings, flow, wait_s):
        pipeline.prepare(settings, fleet)
        pulls = windows()
        summary = pipeline.begin_run(settings, flow, fleet.bess_macs)
        pipeline.pull_and_record(settings, pulls, summary, pull_partitions)
        recomputed = call_task(recompute_derived, settings)
        pipeline.finish_run(settings, summary, recomputed, started)
    pipeline.publish_artifact(summary)
    return summary.as_dict()


def run_rebuild(
    start: str | None = None,
    end: str | None = None,
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    """Derived tables from the lake (no API), for local days start..end or everything."""
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    d0, d1 = parse_range(start, end) if start or end else (None, None)
    readings = lake.readings_root(settings.lake_dir)
    for mac in macs or []:  # before the lock: bad input writes nothing
        if next(lake.iter_partitions(readings, mac), None) is None:
            raise UsageError(f"--mac {mac}: the lake holds no readings of it; nothing to rebuild")
    with run_lock(settings, "rebuild", wait_s):
        summary = pipeline.rebuild(settings, d0, d1, macs or [], started)
    pipeline.publish_artifact(summary)
    return summary.as_dict()


def run_import(
    files: list[str],
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    """API-shaped export files into the lake; recompute."""
    settings = load_settings(config, data_dir)
    summary = pipeline.import_files(settings, list(files), wait_s)
    pipeline.publish_artifact(summary)
    return summary.as_dict()
