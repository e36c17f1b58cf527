"""The scheduled job: every BESS from its watermark (minus the lookback) to now; recompute."""

from __future__ import annotations

import asyncio

from prefect import flow

from flows.jobs import run_daily


@flow(name="bess-daily", description="Pull every BESS since its watermark; recompute changes.")
async def daily(
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_daily, macs, config, data_dir, wait_s)
