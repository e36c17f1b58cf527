"""The flows as real Prefect flow runs (one session-wide prefect_test_harness): backfill, daily,
rebuild and import end to end, their mapped tasks, and the artifact each run leaves."""

from __future__ import annotations

import uuid

import pytest
from conftest import (
    FAST_RUN_TOML,
    REAL_CYCLER,
    assert_same_rows,
    derived_snapshot,
    lake_snapshot,
    query,
)

from bess_etl.orchestration import run_flow
from flows.jobs import run_backfill, run_daily, run_import, run_rebuild

# (the flow, "module:name", imported by run_flow; the job a direct run calls)
backfill = ("flows.backfill:backfill", run_backfill)
daily = ("flows.daily:daily", run_daily)
import_files = ("flows.import_files:import_files", run_import)
rebuild = ("flows.rebuild:rebuild", run_rebuild)

BESS_3_5 = 303_721_690
ONE_BESS = FAST_RUN_TOML.replace("[ingest]\n", f"[ingest]\nmacs = [{BESS_3_5}]\n")


@pytest.fixture
def prefect_client(prefect_harness):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        yield client


def flow_run_facts(client, run_id: str) -> tuple[str, dict[str, int], list]:
    """(final state, task runs by task name, artifacts) of one flow run."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    flow_run_id = uuid.UUID(run_id)
    state = client.read_flow_run(flow_run_id).state.type.value
    tasks: dict[str, int] = {}
    for t in client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    ):
        name = "pull-partitions" if t.name.startswith("pull ") else t.name.rsplit("-", 1)[0]
        tasks[name] = tasks.get(name, 0) + 1
        assert t.state.type.value == "COMPLETED", t.name
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    return state, tasks, artifacts


def test_backfill_then_rebuild_as_prefect_flow_runs(make_settings, prefect_client):
    settings = make_settings(ONE_BESS)
    params = {"config": settings.config_path, "data_dir": settings.data_dir}
    summary = run_flow(
        *backfill, settings, prefect=True, start="2026-10-01", end="2026-10-01", **params
    )
    # local day 10-01 in Vancouver covers UTC dates 10-01..10-02: two partitions
    assert summary["partitions_planned"] == summary["partitions_ok"] == 2
    assert summary["rows_new"] == lake_snapshot(settings).num_rows > 0
    state, tasks, artifacts = flow_run_facts(prefect_client, summary["run_id"])
    assert state == "COMPLETED"
    # one mapped pull task per partition (days_per_task = 1), with discovery and recompute
    assert tasks == {"discover-devices": 1, "pull-partitions": 2, "recompute-derived": 1}, tasks
    (artifact,) = artifacts
    assert artifact.key == "bess-backfill-summary"
    assert f"{summary['rows_pulled']:,} received" in artifact.data
    assert "partitions: 2 pulled, 0 failed, 2 changed" in artifact.data
    assert f"| {BESS_3_5} |" in artifact.data  # the energy table
    (run_state,) = query(
        settings, "select state from runs where run_id = $r", {"r": summary["run_id"]}
    )[0]
    assert run_state == "completed"

    incremental = derived_snapshot(settings)
    assert incremental["daily_energy"]
    summary = run_flow(*rebuild, settings, prefect=True, **params)
    state, tasks, artifacts = flow_run_facts(prefect_client, summary["run_id"])
    assert state == "COMPLETED" and summary["rows_pulled"] == 0
    (artifact,) = artifacts
    assert artifact.key == "bess-rebuild-summary" and "days recomputed" in artifact.data
    # the derived tables the pulls maintained incrementally equal a full rebuild
    assert_same_rows(derived_snapshot(settings), incremental)


def test_daily_as_a_prefect_flow_run(make_settings, prefect_client):
    settings = make_settings(ONE_BESS)
    params = {"config": settings.config_path, "data_dir": settings.data_dir}
    summary = run_flow(*daily, settings, prefect=True, **params)
    # initial_days = 1: yesterday (UTC) whole and today up to now
    assert summary["partitions_ok"] == 2 and summary["rows_new"] > 0
    state, tasks, artifacts = flow_run_facts(prefect_client, summary["run_id"])
    assert state == "COMPLETED" and tasks["pull-partitions"] == 2
    (artifact,) = artifacts
    assert artifact.key == "bess-daily-summary"
    (mark,) = query(settings, "select mac from ingest_state")
    assert mark == (BESS_3_5,)


def test_import_as_a_prefect_flow_run(make_settings, prefect_client):
    settings = make_settings(ONE_BESS)
    path = sorted((REAL_CYCLER / "readings").glob("*.csv.gz"))[0]
    summary = run_flow(
        *import_files,
        settings,
        prefect=True,
        files=[str(path)],
        config=settings.config_path,
        data_dir=settings.data_dir,
    )
    lake = lake_snapshot(settings)
    assert summary["rows_new"] == lake.num_rows > 0
    state, _, artifacts = flow_run_facts(prefect_client, summary["run_id"])
    assert state == "COMPLETED"
    (artifact,) = artifacts
    assert artifact.key == "bess-import-summary"
    assert f"{summary['rows_new']:,} new" in artifact.data
