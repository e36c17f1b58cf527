"""Pulls into the lake end to end (the flows' own functions, without Prefect's overhead):
idempotency, late data, the backfill ledger and its modes, a failing partition among good ones,
and a 10 % fault rate. The simulator runs in-process or over loopback HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import FAST_RUN_TOML, lake_snapshot, query

from bess_etl import pipeline
from bess_etl.cli import main
from bess_etl.errors import SourceError
from bess_etl.ingest import parse_modes
from bess_etl.simulator import serve_in_thread
from bess_etl.timeutil import utc_day_bounds_ms
from flows.jobs import run_backfill, run_daily

BESS_3_5 = 303_721_690
BESS_10 = 303_721_691


def _toml(extra: str = "", macs=(BESS_3_5,), url: str = "") -> str:
    """FAST_RUN_TOML with a MAC list, an API URL and more keys merged into its tables."""
    text = FAST_RUN_TOML.replace("[ingest]\n", f"[ingest]\nmacs = {list(macs)}\n")
    if url:
        text = text.replace("[api]\n", f'[api]\nurl = "{url}"\n')
    return text + extra


def backfill(settings, start="2026-10-01", end=None, mode="missing,failed", dry_run=False):
    return run_backfill(
        start, end or start, [], mode, dry_run, settings.config_path, settings.data_dir, 0
    )


def ledger(settings) -> dict:
    rows = query(settings, "select mac, date, state, pulls from partition_ledger order by all")
    return {(m, d): (s, n) for m, d, s, n in rows}


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("BESS_ETL_API_USERNAME", "demo")
    monkeypatch.setenv("BESS_ETL_API_PASSWORD", "demo")


# ---------------------------------------------------------------------- idempotency


def test_dry_run_then_the_same_window_twice_leaves_the_same_lake(make_settings, capsys):
    settings = make_settings(_toml())
    data = Path(settings.data_dir)
    args = ["backfill", "--start", "2026-10-01", "--end", "2026-10-02", "--dry-run"]
    args += ["--config", settings.config_path, "--data-dir", settings.data_dir]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["mac", "date", "state", "action"]
    assert [line.split() for line in out[1:-1]] == [
        [str(BESS_3_5), f"2026-10-0{d}", "missing", "pull"] for d in (1, 2, 3)
    ]
    assert out[-1] == "3 of 3 partitions would be pulled (UTC days of the lake)"
    assert not data.exists()  # a dry run writes nothing

    first = backfill(settings)
    lake1 = lake_snapshot(settings)
    quarantine1 = lake_snapshot(settings, "quarantine")
    # local day 2026-10-01 in Vancouver (UTC-7) touches two UTC partitions
    assert first["partitions_ok"] == first["partitions_changed"] == 2
    assert first["rows_new"] == lake1.num_rows > 1500
    assert first["days_recomputed"] >= 1 and first["energy"]

    before = sorted((str(p), p.stat().st_mtime_ns) for p in data.rglob("*"))
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[2:] for line in out[1:-1]] == [
        ["complete", "skip"],
        ["complete", "skip"],
        ["missing", "pull"],
    ]
    assert out[-1] == "1 of 3 partitions would be pulled (UTC days of the lake)"
    assert sorted((str(p), p.stat().st_mtime_ns) for p in data.rglob("*")) == before

    again = backfill(settings, mode="all")
    assert again["partitions_ok"] == 2 and again["rows_pulled"] == first["rows_pulled"]
    assert again["rows_new"] == again["partitions_changed"] == again["duplicates"] == 0
    assert lake_snapshot(settings).equals(lake1)
    assert lake_snapshot(settings, "quarantine") == quarantine1
    # unique on (mac, type, ts), every reading inside its partition's UTC day
    assert query(
        settings,
        "select count(*), count(distinct (mac, type, ts)), count(*) filter "
        "(where ts::date <> date) from read_parquet($g, hive_partitioning = true, "
        "hive_types = {'mac': 'BIGINT', 'date': 'DATE'})",
        {"g": f"{settings.lake_dir}/readings/*/*/*.parquet"},
    ) == [(lake1.num_rows, lake1.num_rows, 0)]
    # the ledger: both partitions complete, pulled twice; data_quality counted once
    assert ledger(settings) == {
        (BESS_3_5, dt.date(2026, 10, 1)): ("complete", 2),
        (BESS_3_5, dt.date(2026, 10, 2)): ("complete", 2),
    }
    (dups,) = query(settings, "select sum(duplicates) from data_quality")[0]
    assert dups == first["duplicates"] > 0


# ---------------------------------------------------------------------- late data


def test_late_readings_are_merged_not_duplicated(make_settings, tmp_path, api_env):
    """The API lags: a first daily run sees readings only up to an hour before its end; the
    next run's lookback re-pulls that hour. The lake then equals one clean pull."""
    day0, _ = utc_day_bounds_ms(dt.date(2026, 10, 1))
    t1 = day0 + 20 * 3_600_000  # the first run ends at 20:00 UTC ...
    t2 = day0 + 30 * 3_600_000  # ... the second at 06:00 UTC the next day
    clock = [t1 - 3_600_000]  # at first the API has readings only up to 19:00

    with serve_in_thread(make_settings(_toml()), clock=lambda: clock[0]) as url:
        settings = make_settings(_toml(url=url))
        first = run_daily([], settings.config_path, settings.data_dir, 0, until_ms=t1)
        rows_first = lake_snapshot(settings).num_rows
        clock[0] = t2
        second = run_daily([], settings.config_path, settings.data_dir, 0, until_ms=t2)
        # the reference: one run over the same span (from 2 days before t2) with no lag
        clean = make_settings(
            _toml(url=url).replace("initial_days = 1", "initial_days = 2"),
            data_dir=tmp_path / "on-time",
        )
        run_daily([], clean.config_path, clean.data_dir, 0, until_ms=t2)
    late, reference = lake_snapshot(settings), lake_snapshot(clean)

    assert first["partitions_ok"] == 2 and second["partitions_ok"] == 2
    assert late.equals(reference)
    # the second run's window reached back over the late hour (lookback 6 h), and the rows it
    # already had were recognised, not added again
    assert second["rows_new"] == late.num_rows - rows_first > 0
    assert second["rows_pulled"] > second["rows_new"]
    marks = query(settings, "select mac, epoch_ms(watermark) from ingest_state")
    assert marks == [(BESS_3_5, t2)]
    (dups,) = query(settings, "select sum(duplicates) from data_quality")[0]
    (clean_dups,) = query(clean, "select sum(duplicates) from data_quality")[0]
    assert dups == clean_dups


# ---------------------------------------------------------------------- ledger and modes


def test_a_failing_partition_does_not_stop_the_rest_and_modes_pick_partitions(
    make_settings, tmp_path, api_env
):
    """A loopback API that fails 30 % of data requests with 503, and a client that tries twice
    (api.max_attempts = 2): some partitions fail, the rest are pulled. One request at a time,
    so a seed fixes which ones; the first seed that fails some partitions (and not device
    discovery) is used, usually the first tried."""
    days = ("2026-10-01", "2026-10-01")  # 2 UTC partitions per BESS
    base = _toml(macs=(BESS_3_5, BESS_10)).replace(
        "[api]\n", "[api]\nconcurrency = 1\nmax_attempts = 2\n"
    )
    for seed in (7, *range(8, 30)):
        sim_toml = base.replace(
            "[simulator]\n", f'[simulator]\nseed = {seed}\nfaults = "5xx"\nfault_rate = 0.3\n'
        )
        with serve_in_thread(make_settings(sim_toml)) as url:
            settings = make_settings(
                base.replace("[api]\n", f'[api]\nurl = "{url}"\n').replace(
                    "[simulator]\n", f"[simulator]\nseed = {seed}\n"
                ),
                data_dir=tmp_path / f"seed{seed}",
            )
            try:
                run = backfill(settings, *days)
            except SourceError:  # device discovery gave up: another seed
                continue
        if 0 < run["partitions_failed"] < 4:
            break
    else:
        pytest.fail("no seed failed some partitions and not others")
    assert run["partitions_planned"] == 4
    assert run["partitions_ok"] + run["partitions_failed"] == 4
    assert all("gave up after 2 attempts; last error: HTTP 503" in f for f in run["failures"])
    states = ledger(settings)
    failed = {k for k, (s, _) in states.items() if s == "failed"}
    complete = {k for k, (s, _) in states.items() if s == "complete"}
    assert len(failed) == run["partitions_failed"] and len(complete) == run["partitions_ok"]
    (state,) = query(settings, "select state from runs")[0]
    assert state == "completed_with_failures"

    # the same seed without faults, in-process: the reference lake
    clean = make_settings(
        base.replace("[simulator]\n", f"[simulator]\nseed = {seed}\n"),
        data_dir=tmp_path / "clean",
    )
    backfill(clean, *days)
    reference = lake_snapshot(clean)
    # what was pulled is in the lake, whole; the failed partitions are absent
    got = lake_snapshot(settings)
    assert set(zip(got["mac"].to_pylist(), got["date"].to_pylist(), strict=True)) == complete
    assert got.equals(_only(reference, complete))

    # plans: missing pulls nothing now (no partition is missing), failed pulls the failed ones,
    # all pulls everything
    settings = make_settings(
        base.replace("[simulator]\n", f"[simulator]\nseed = {seed}\n"),
        data_dir=settings.data_dir,
    )
    macs = [BESS_3_5, BESS_10]
    for mode, expected in [
        ("missing", set()),
        ("failed", failed),
        ("missing,failed", failed),
        ("all", failed | complete),
    ]:
        plan = pipeline.backfill_windows(
            settings, *map(dt.date.fromisoformat, days), macs, parse_modes(mode), read_only=True
        )
        assert {(w.mac, w.date) for w, pull in plan if pull} == expected, mode
    run = backfill(settings, *days, mode="failed")
    assert run["partitions_planned"] == len(failed) == run["partitions_ok"]
    assert lake_snapshot(settings).equals(reference)
    assert {s for s, _ in ledger(settings).values()} == {"complete"}


def _only(table, keys):
    pairs = zip(table["mac"].to_pylist(), table["date"].to_pylist(), strict=True)
    return table.filter(pa.array([pair in keys for pair in pairs]))


# ---------------------------------------------------------------------- batched recompute


def test_a_backfill_recomputed_in_small_batches_equals_a_full_rebuild(make_settings, monkeypatch):
    """A long backfill's recompute runs in batches of partitions (bounded memory); days at the
    batch edges, whose intervals reach into the next batch's partitions, must still come out as a
    full rebuild computes them."""
    from conftest import assert_same_rows, derived_snapshot

    from bess_etl import warehouse

    monkeypatch.setattr(pipeline, "RECOMPUTE_BATCH_PARTITIONS", 2)
    batches = []
    recompute = warehouse.recompute

    def counted(con, settings, changed, deferred=(), checks=True, scan_lake=True):
        batches.append((len(list(changed)), len(list(deferred)), checks, scan_lake))
        return recompute(con, settings, changed, deferred, checks, scan_lake)

    monkeypatch.setattr(warehouse, "recompute", counted)
    settings = make_settings(_toml(macs=(BESS_3_5, BESS_10)))
    summary = backfill(settings, "2026-10-01", "2026-10-03")
    assert summary["partitions_ok"] == 8  # 2 BESS × UTC 10-01..10-04: four batches of two
    # the lake listing runs in the first batch only, the data checks after the last
    assert batches == [
        (2, 6, False, True),
        (2, 4, False, False),
        (2, 2, False, False),
        (2, 0, True, False),
    ]
    assert query(settings, "select count(*) from pending_recompute")[0][0] == 0
    batched = derived_snapshot(settings)
    assert len(batched["daily_energy"]) >= 6
    rebuilt = pipeline.rebuild(settings, None, None, [], 0.0)
    assert rebuilt.days_recomputed == len(batched["daily_energy"])
    assert_same_rows(derived_snapshot(settings), batched)
