"""Reliability, tested: SIGKILL at several points of a CLI run, two runs at once (the lock), and a
10 % fault rate. The API is the simulator over loopback HTTP; the CLI runs in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    FAST_RUN_TOML,
    assert_same_rows,
    derived_snapshot,
    lake_files,
    lake_snapshot,
    query,
)

from bess_etl.cli import main
from bess_etl.simulator import serve_in_thread
from flows.jobs import run_backfill

BESS_3_5 = 303_721_690
BESS_CLI = str(Path(sys.executable).parent / "bess-etl")
PART_FILE = re.compile(r"^(readings|quarantine)/mac=\d+/date=\d{4}-\d\d-\d\d/part-0\.parquet$")


def _toml(url: str = "", extra_api: str = "") -> str:
    text = FAST_RUN_TOML.replace("[ingest]\n", f"[ingest]\nmacs = [{BESS_3_5}]\n")
    if url:
        text = text.replace("[api]\n", f'[api]\nurl = "{url}"\n{extra_api}')
    return text


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("BESS_ETL_API_USERNAME", "demo")
    monkeypatch.setenv("BESS_ETL_API_PASSWORD", "demo")


def _partitions(settings) -> dict:
    """{(mac, date): rows} of every visible partition in the lake."""
    table = lake_snapshot(settings)
    if table is None:
        return {}
    out: dict = {}
    for mac, date in zip(table["mac"].to_pylist(), table["date"].to_pylist(), strict=True):
        out[(mac, date)] = out.get((mac, date), 0) + 1
    return out


def _assert_readable_and_whole(settings, reference) -> None:
    """No partial or temp file a reader could see, and every visible partition whole."""
    visible = [f for f in lake_files(settings) if not Path(f).name.startswith(".")]
    assert all(PART_FILE.match(f) for f in visible), visible
    expected = _partitions_of(reference)
    for key, rows in _partitions(settings).items():
        assert rows == expected[key], key


def _partitions_of(table) -> dict:
    out: dict = {}
    for mac, date in zip(table["mac"].to_pylist(), table["date"].to_pylist(), strict=True):
        out[(mac, date)] = out.get((mac, date), 0) + 1
    return out


def _spawn(settings, start: str, end: str) -> subprocess.Popen:
    env = {**os.environ, "BESS_ETL_API_USERNAME": "demo", "BESS_ETL_API_PASSWORD": "demo"}
    args = [BESS_CLI, "backfill", "--start", start, "--end", end]
    args += ["--config", settings.config_path, "--data-dir", settings.data_dir]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _wait_until(proc: subprocess.Popen, condition, timeout_s: float = 60.0) -> bool:
    """Poll until `condition()` holds (True) or the process ends (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("the run neither reached the kill point nor ended")


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL; True if the process was still running."""
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return alive and proc.returncode == -signal.SIGKILL


def _lock_holder(settings) -> int | None:
    try:
        return json.loads((Path(settings.data_dir) / ".bess-etl.lock").read_text()).get("pid")
    except (OSError, ValueError):
        return None


DAYS = ("2026-10-01", "2026-10-03")  # 4 UTC partitions


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted backfill of DAYS: (settings, lake, quarantine, derived tables)."""
    from bess_etl.config import load_settings

    base = tmp_path_factory.mktemp("reference")
    (base / "bess-etl.toml").write_text(_toml())
    settings = load_settings(base / "bess-etl.toml", base / "data", environ={})
    run_backfill(*DAYS, [], "missing,failed", False, settings.config_path, settings.data_dir, 0)
    lake = lake_snapshot(settings)
    assert len(_partitions_of(lake)) == 4
    return settings, lake, lake_snapshot(settings, "quarantine"), derived_snapshot(settings)


def test_sigkill_at_several_points_then_rerun_equals_an_uninterrupted_run(
    make_settings, tmp_path, api_env, capsys, reference
):
    days = DAYS
    _, reference, reference_q, reference_derived = reference

    # A loopback API that holds 40 % of data requests past the client's 0.3 s timeout: the
    # run advances partition by partition, slowly enough to be killed between them.
    sim = make_settings(
        _toml().replace("[simulator]\n", '[simulator]\nfaults = "timeout"\nfault_rate = 0.4\n')
    )
    killed = []
    with serve_in_thread(sim, stall_s=1.0) as url:
        # 12 attempts: at 40 % timeouts, 6 gave up on ~3 % of device discoveries (each run
        # discovers the fleet with several requests), which made this test flaky
        api = "timeout_s = 0.3\nmax_attempts = 12\n"
        settings = make_settings(_toml(url, api), data_dir=tmp_path / "data")
        warehouse = Path(settings.warehouse_path)

        # 1. early: once the run holds the lock and has created the warehouse. Meanwhile a
        # second run exits at once with a clear message and status 75.
        proc = _spawn(settings, *days)
        _wait_until(proc, lambda: _lock_holder(settings) == proc.pid)
        capsys.readouterr()
        args = ["backfill", "--start", days[0], "--end", days[1]]
        args += ["--config", settings.config_path, "--data-dir", settings.data_dir]
        assert main(args) == 75
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"pid {proc.pid}" in err and "--wait" in err
        _wait_until(proc, warehouse.exists)
        killed.append(_kill(proc))
        _assert_readable_and_whole(settings, reference)

        # 2. after two partitions are in the lake
        proc = _spawn(settings, *days)
        _wait_until(proc, lambda: len(_partitions(settings)) >= 2)
        killed.append(_kill(proc))
        _assert_readable_and_whole(settings, reference)

        # 3. once every partition is in the lake (ledger, recompute, finish); a run started
        # meanwhile with --wait waits for the lock, which the kill frees, then finishes the job
        proc = _spawn(settings, *days)
        _wait_until(proc, lambda: _lock_holder(settings) == proc.pid)
        codes = []
        waiter = threading.Thread(target=lambda: codes.append(main([*args, "--wait", "120"])))
        waiter.start()
        _wait_until(proc, lambda: len(_partitions(settings)) >= 4)
        killed.append(_kill(proc))
        _assert_readable_and_whole(settings, reference)
        waiter.join(timeout=120)
        assert codes == [0]
        # not a terminal: progress as plain lines (partitions done of planned), then a summary
        # (when the kill came after the last partition was recorded, nothing is left to pull)
        captured = capsys.readouterr()
        pulled = re.search(r"(\d+) partitions pulled", captured.out)
        assert pulled, captured.out
        if int(pulled[1]):
            progress = re.search(r"^backfill: partitions: (\d+)/\1\b", captured.err, re.M)
            assert progress, captured.err

    assert sum(killed) >= 2, killed  # the kills landed mid-run (not after the run ended)
    assert lake_snapshot(settings).equals(reference)
    assert lake_snapshot(settings, "quarantine") == reference_q
    assert_same_rows(derived_snapshot(settings), reference_derived)
    assert query(settings, "select count(*) from pending_recompute") == [(0,)]
    assert {s for (s,) in query(settings, "select state from partition_ledger")} == {"complete"}


def test_ten_percent_faults_give_the_same_lake_as_a_clean_run(make_settings, tmp_path, api_env):
    days = ("2026-10-01", "2026-10-07")  # 7 local days: 8 UTC partitions
    clean = make_settings(_toml(), data_dir=tmp_path / "clean")
    run_backfill(*days, [], "missing,failed", False, clean.config_path, clean.data_dir, 0)

    sim = make_settings(
        _toml().replace("[simulator]\n", '[simulator]\nfaults = "all"\nfault_rate = 0.1\n')
    )
    with serve_in_thread(sim, stall_s=1.0, retry_after_s=0) as url:
        settings = make_settings(_toml(url, "timeout_s = 0.3\n"), data_dir=tmp_path / "faulty")
        summary = run_backfill(
            *days, [], "missing,failed", False, settings.config_path, settings.data_dir, 0
        )
    assert summary["partitions_ok"] == 8 and summary["partitions_failed"] == 0
    assert summary["retries"] > 0
    assert lake_snapshot(settings).equals(lake_snapshot(clean))
    assert lake_snapshot(settings, "quarantine") == lake_snapshot(clean, "quarantine")
    assert_same_rows(derived_snapshot(settings), derived_snapshot(clean))


def test_a_kill_between_writing_a_partition_and_recording_it(make_settings, tmp_path, reference):
    """The exact kill point: the lake has the partitions' files, the warehouse never heard of
    them. The re-pull changes nothing in the lake, yet the derived tables must be computed."""
    import shutil

    reference_settings, lake, _, derived = reference
    killed = make_settings(_toml(), data_dir=tmp_path / "killed")
    shutil.copytree(reference_settings.lake_dir, killed.lake_dir)
    summary = run_backfill(*DAYS, [], "missing,failed", False, killed.config_path,
                           killed.data_dir, 0)  # fmt: skip
    assert summary["partitions_ok"] == 4 and summary["partitions_changed"] == 0
    assert summary["days_recomputed"] > 0
    assert lake_snapshot(killed).equals(lake)
    assert_same_rows(derived_snapshot(killed), derived)
