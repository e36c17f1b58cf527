"""Backfill: pull any range of site-local days for some or all BESS, then recompute."""

from __future__ import annotations

import asyncio
import time

from prefect import flow

from bess_etl import ingest, pipeline
from bess_etl.config import load_settings
from bess_etl.errors import UsageError
from bess_etl.locking import raise_if_busy, run_lock
from bess_etl.orchestration import call_task
from bess_etl.timeutil import local_midnight_ms, now_ms, parse_range
from flows.tasks import discover_devices, pull_partitions, recompute_derived


@flow(name="bess-backfill", description="Pull local days start..end into the lake; recompute.")
async def backfill(
    start: str,
    end: str,
    macs: list[int] | None = None,
    mode: str = "missing,failed",
    dry_run: bool = False,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(
        run_backfill, start, end, macs or [], mode, dry_run, config, data_dir, wait_s
    )


def run_backfill(start, end, macs, mode, dry_run, config, data_dir, wait_s) -> dict:
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    d0, d1 = parse_range(start, end)
    if local_midnight_ms(d0, settings.tz) >= now_ms():  # before anything is written
        raise UsageError(f"--start {d0} is in the future")
    modes = ingest.parse_modes(mode)
    if not wait_s and not dry_run:
        raise_if_busy(settings)
    fleet = call_task(discover_devices, settings, macs)
    if dry_run:
        plan = pipeline.backfill_windows(settings, d0, d1, fleet.bess_macs, modes, read_only=True)
        return {"plan": pipeline.plan_rows(plan)}
    with run_lock(settings, "backfill", wait_s):
        pipeline.prepare(settings, fleet)
        plan = pipeline.backfill_windows(settings, d0, d1, fleet.bess_macs, modes)
        windows = [w for w, pull in plan if pull]
        summary = pipeline.begin_run(settings, "backfill", fleet.bess_macs)
        pipeline.pull_and_record(settings, windows, summary, pull_partitions)
        recomputed = call_task(recompute_derived, settings)
        pipeline.finish_run(settings, summary, recomputed, started)
    pipeline.publish_artifact(summary)
    return summary.as_dict()
