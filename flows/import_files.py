"""Import: readings exported in the API's shape (CSV, CSV.gz, JSON, Parquet) into the lake."""

from __future__ import annotations

import asyncio

from prefect import flow

from bess_etl import pipeline
from bess_etl.config import load_settings


@flow(name="bess-import", description="Load API-shaped export files into the lake; recompute.")
async def import_files(
    files: list[str],
    config: str | None = None,
    data_dir: str | None = None,
    wait_s: float = 0.0,
) -> dict:
    return await asyncio.to_thread(run_import, files, config, data_dir, wait_s)


def run_import(files, config, data_dir, wait_s) -> dict:
    settings = load_settings(config, data_dir)
    summary = pipeline.import_files(settings, list(files), wait_s)
    pipeline.publish_artifact(summary)
    return summary.as_dict()
