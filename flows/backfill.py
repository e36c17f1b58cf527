"""Backfill: pull any range of site-local days for some or all BESS, then recompute."""

from __future__ import annotations

import asyncio

from prefect import flow

from flows.jobs import run_backfill


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
        run_backfill, start, end, macs, mode, dry_run, config, data_dir, wait_s
    )
