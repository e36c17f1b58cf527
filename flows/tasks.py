"""The flows' tasks: each a few lines over a plain function in bess_etl, with its retries (a
Prefect task inside a flow run, the plain function otherwise: bess_etl.orchestration)."""

from __future__ import annotations

from bess_etl import ingest, pipeline
from bess_etl.config import Settings
from bess_etl.ingest import ChunkResult, Fleet, Window
from bess_etl.orchestration import task


@task(name="discover-devices", retries=2, retry_delay_seconds=5)
def discover_devices(settings: Settings, macs: list[int]) -> Fleet:
    return ingest.discover(settings, macs)


@task(
    name="pull-partitions",
    retries=2,
    retry_delay_seconds=[5, 30],
    task_run_name="pull {windows[0].mac} from {windows[0].date}",
)
def pull_partitions(windows: list[Window], settings: Settings) -> ChunkResult:
    """One MAC's chunk of partitions. Windows that fail after the client's own retries come
    back as failed results; the task itself fails (and is retried) only on a crash."""
    return ingest.pull_chunk(settings, windows)


@task(name="recompute-derived", retries=1, retry_delay_seconds=5)
def recompute_derived(settings: Settings) -> dict:
    return pipeline.recompute_pending(settings)
