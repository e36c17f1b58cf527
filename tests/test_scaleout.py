"""Scale-out: a backfill whose per-MAC pull tasks run on a Dask LocalCluster of 2 worker
processes (prefect-dask's DaskTaskRunner, chosen by [prefect] task_runner = "dask") writes the
same lake, file for file and row for row, as the single-process run. Each task gets only
picklable arguments (Settings, Window lists) and opens its own client, simulator and files in
the worker; nothing like a DuckDB connection crosses the task boundary."""

from __future__ import annotations

import datetime as dt
import os
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bess_etl import ingest
from bess_etl.config import load_settings
from bess_etl.orchestration import run_flow

# 3 BESS (the account's two and one extra), a reading every 2 minutes, one partition per task:
# one local day is 6 UTC partitions in 6 tasks, enough to spread over two workers.
TOML = """
[simulator]
cadence_s = 120.0
extra_bess = 1

[integration]
max_gap_s = 600

[ingest]
macs = [303721690, 303721691, 900000001]
days_per_task = 1
parallel_tasks = 2

[prefect]
task_runner = "{runner}"
dask_workers = 2
"""
DAY = "2026-10-01"


def _config(tmp_path: Path, runner: str, url: str = "") -> Path:
    path = tmp_path / f"{runner}.toml"
    path.write_text(f'[api]\nurl = "{url}"\n' + TOML.format(runner=runner))
    return path


@pytest.fixture
def fleet_url(make_settings, monkeypatch):
    """The simulator of the 3-BESS fleet over loopback HTTP (a thread of this process), so
    the Dask workers only run the client and the lake writes, not the battery model."""
    from bess_etl.simulator import serve_in_thread

    monkeypatch.setenv("BESS_ETL_API_USERNAME", "demo")
    monkeypatch.setenv("BESS_ETL_API_PASSWORD", "demo")
    with serve_in_thread(make_settings(TOML.format(runner="threads"))) as url:
        yield url


def _lake(data_dir: Path) -> dict[str, object]:
    """Every lake file (readings and quarantine) by relative path -> its table."""
    root = data_dir / "lake"
    return {
        str(p.relative_to(root)): pq.read_table(p)
        for p in sorted(root.rglob("*.parquet"))
        if not p.name.startswith(".")
    }


def _backfill(tmp_path: Path, runner: str, prefect: bool, url: str) -> tuple[dict, Path]:
    cfg = _config(tmp_path, runner, url)
    data_dir = tmp_path / runner
    settings = load_settings(cfg, data_dir=data_dir)
    from flows.jobs import run_backfill

    summary = run_flow(
        "flows.backfill:backfill",
        run_backfill,
        settings,
        prefect=prefect,
        start=DAY,
        end=DAY,
        config=str(cfg),
        data_dir=str(data_dir),
    )
    return summary, data_dir


def test_task_arguments_and_results_are_picklable(make_settings):
    """What a Dask worker receives and sends back survives pickling (no connections, locks or
    clients inside)."""
    settings = make_settings(TOML.format(runner="dask"))
    day = dt.date.fromisoformat(DAY)
    windows = ingest.backfill_windows(settings, day, day, [303721690], {})
    chunk = ingest.chunk_windows(windows, 1)[0]
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert pickle.loads(pickle.dumps(chunk)) == chunk
    result = ingest.pull_chunk(settings, chunk)
    back = pickle.loads(pickle.dumps(result))
    assert [r.state for r in back.results] == ["ok"]
    assert back.results[0].write.rows_new == result.results[0].write.rows_new > 0


@pytest.mark.timeout(420)  # the Prefect harness alone takes 7 s (minutes on a loaded box)
def test_backfill_on_a_dask_local_cluster_gives_the_same_lake(
    tmp_path, fleet_url, prefect_harness, monkeypatch
):
    pytest.importorskip("prefect_dask")
    from bess_etl import orchestration

    runners = []  # the task runners the Prefect run was given
    make_runner = orchestration.task_runner

    def recorded(settings):
        runners.append(make_runner(settings))
        return runners[-1]

    monkeypatch.setattr(orchestration, "task_runner", recorded)
    single, single_dir = _backfill(tmp_path, "threads", False, fleet_url)
    spread, dask_dir = _backfill(tmp_path, "dask", True, fleet_url)
    assert [type(r).__name__ for r in runners] == ["DaskTaskRunner"]
    for s in (single, spread):
        assert s["partitions_failed"] == 0
        assert s["partitions_ok"] == 6
        assert sorted(s["macs"]) == [303721690, 303721691, 900000001]
    assert spread["rows_pulled"] == single["rows_pulled"] > 0
    assert spread["rows_new"] == single["rows_new"]
    assert spread["days_recomputed"] == single["days_recomputed"]
    a, b = _lake(single_dir), _lake(dask_dir)
    assert list(a) == list(b)
    assert any(k.startswith("readings/mac=900000001/") for k in a)
    for path in a:
        assert a[path].equals(b[path]), path
    assert os.path.exists(dask_dir / "warehouse.duckdb")
