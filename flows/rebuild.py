"""Rebuild derived tables from the lake (no API calls), for a range of local days or all."""

from __future__ import annotations

import asyncio
import time

from prefect import flow

from bess_etl import pipeline
from bess_etl.config import load_settings
from bess_etl.locking import run_lock
from bess_etl.timeutil import parse_range


@flow(name="bess-rebuild", description="Recompute derived tables from the lake; no API calls.")
async def rebuild(
    start: str | None = None,
    end: str | None = None,
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_rebuild, start, end, macs or [], config, data_dir, wait_s)


def run_rebuild(start, end, macs, config, data_dir, wait_s) -> dict:
    started = time.monotonic()
    settings = load_settings(config, data_dir)
    d0, d1 = parse_range(start, end) if start or end else (None, None)
    with run_lock(settings, "rebuild", wait_s):
        summary = pipeline.rebuild(settings, d0, d1, macs, started)
    pipeline.publish_artifact(summary)
    return summary.as_dict()
