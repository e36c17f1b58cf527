"""Import: readings exported in the API's shape (CSV, CSV.gz, JSON, Parquet) into the lake."""

from __future__ import annotations

import asyncio

from prefect import flow

from flows.jobs import run_import


@flow(name="bess-import", description="Load API-shaped export files into the lake; recompute.")
async def import_files(
    files: list[str],
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_import, files, config, data_dir, wait_s)
