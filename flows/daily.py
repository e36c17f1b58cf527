"""The scheduled job: every BESS from its watermark (minus the lookback) to now; recompute."""

from __future__ import annotations

import asyncio
import time

from prefect import flow

from bess_etl import pipeline
from bess_etl.config import load_settings
from bess_etl.locking import raise_if_busy, run_lock
from bess_etl.orchestration import call_task
from flows.tasks import discover_devices, pull_partitions, recompute_derived


@flow(name="bess-daily", description="Pull every BESS since its watermark; recompute changes.")
async def daily(
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_daily, macs or [], config, data_dir, wait_s)


def run_daily(macs, config, data_dir, wait_s, until_ms: int | None = None) -> dict:
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    if not wait_s:
        raise_if_busy(settings)
    fleet = call_task(discover_devices, settings, macs)
    with run_lock(settings, "daily", wait_s):
        pipeline.prepare(settings, fleet)
        windows = pipeline.daily_windows(settings, fleet.bess_macs, until_ms)
        summary = pipeline.begin_run(settings, "daily", fleet.bess_macs)
        pipeline.pull_and_record(settings, windows, summary, pull_partitions)
        recomputed = call_task(recompute_derived, settings)
        pipeline.finish_run(settings, summary, recomputed, started)
    pipeline.publish_artifact(summary)
    return summary.as_dict()
