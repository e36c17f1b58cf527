"""Rebuild derived tables from the lake (no API calls), for a range of local days or all."""

from __future__ import annotations

import asyncio

from prefect import flow

from flows.jobs import run_rebuild


@flow(name="bess-rebuild", description="Recompute derived tables from the lake; no API calls.")
async def rebuild(
    start: str | None = None,
    end: str | None = None,
    macs: list[int] | None = None,
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_rebuild, start, end, macs, config, data_dir, wait_s)
