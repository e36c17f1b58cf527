"""The warehouse API: connect, build_schema, recompute == rebuild, Python steps, summaries, and
the stock duckdb CLI reading the file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import assert_rows_close, utc_ms

from bess_etl import warehouse
from bess_etl.errors import BessEtlError, UsageError

MAC, MAC2, MAC3 = 303721690, 303721691, 7725398
V, A, KW = 532, 531, 533
CLI = Path(sys.executable).parent / "duckdb"


def signal(mac: int, start: str, end: str, step_s: float = 30, phase: float = 0.0) -> list:
    """Voltage, current and power every step_s from start to end (UTC ISO), the types a few
    hundred ms apart; power swings through zero every ~40 min."""
    out = []
    t, stop = utc_ms(start), utc_ms(end)
    while t <= stop:
        p = 3 * math.sin(t / 2.4e6 + phase) + 0.4
        v = 52 + math.sin(t / 7e6)
        out += [(mac, V, t, v), (mac, A, t + 250, p * 1000 / v), (mac, KW, t + 500, p * 1.01)]
        t += int(step_s * 1000)
    return out


def table_rows(con, table: str, keys: str) -> list[tuple]:
    return con.execute(f"select * from {table} order by {keys}").fetchall()


# ---------------------------------------------------------------------- connect


def test_connect_creates_a_file_the_stock_cli_reads(settings, store_rows, open_warehouse, tmp_path):
    store_rows(settings, signal(MAC, "2025-01-15T10:00:00", "2025-01-15T14:00:00"))
    con = open_warehouse(settings)
    warehouse.rebuild(con, settings)
    want = con.execute("select round(sum(charge_kwh), 9), count(*) from daily_energy").fetchall()[0]
    between = con.execute(
        "select round(charge_kwh, 9) from energy_between("
        f"{MAC}, '2025-01-15 10:00:00+00', '2025-01-15 14:00:00+00')"
    ).fetchall()[0][0]
    names = sorted(r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall())
    views = sorted(
        r[0]
        for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()
    )
    con.close()
    # another working directory: the views must hold absolute lake paths
    script = (
        "select round(sum(charge_kwh), 9), count(*) from daily_energy;"
        f"select round(charge_kwh, 9) from energy_between({MAC}, "
        "'2025-01-15 10:00:00+00', '2025-01-15 14:00:00+00');"
        "select count(*) > 0 from reading_intervals where channel = 'vi';"
        "select count(*) from readings;"
        "select string_agg(table_name, ',' order by table_name) from duckdb_tables();"
        "select string_agg(view_name, ',' order by view_name) from duckdb_views() "
        "where not internal;"
    )
    out = subprocess.run(
        [str(CLI), "-readonly", "-csv", "-noheader", settings.warehouse_path, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path.parent,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{want[0]},{want[1]}"
    assert float(lines[1]) == between
    assert lines[2] == "true"
    assert int(lines[3]) == 8 * 60 * 3 + 3  # every 30 s for 4 h, three types
    assert lines[4].strip('"').split(",") == names
    assert lines[5].strip('"').split(",") == views
    assert {"energy_interval", "daily_energy", "settings", "channel_map"} <= set(names)
    assert {"readings", "reading_intervals"} <= set(views)


def test_read_only_connect_without_a_warehouse_says_so(settings):
    with pytest.raises(UsageError, match=r"no warehouse at .*warehouse\.duckdb yet"):
        warehouse.connect(settings, read_only=True)
    assert not warehouse.exists(settings)


def test_connect_waits_for_a_lock_then_gives_a_one_line_error(settings):
    con = warehouse.connect(settings)
    con.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({settings.warehouse_path!r})
                print("locked", flush=True)
                time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(BessEtlError, match="in use by another process") as err:
            warehouse.connect(settings, wait_s=0.4)
        assert 0.3 < time.monotonic() - t0 < 5
        assert "\n" not in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    warehouse.connect(settings, read_only=True).close()  # free again


def test_session_timezone_is_fixed(settings, open_warehouse, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    con = open_warehouse(settings)
    assert con.execute("select current_setting('TimeZone')").fetchall()[0][0] == "UTC"


# ---------------------------------------------------------------------- build_schema


def test_build_schema_writes_the_settings_tables_from_the_config(make_settings, open_warehouse):
    s = make_settings(
        textwrap.dedent(
            """
            [integration]
            max_gap_s = 90
            interval_minutes = 30
            [channels]
            current_sign = "discharge_positive"
            soc = 540
            [[tariff.periods]]
            name = "evening"
            days = ["sat", "mon"]
            start = "17:00"
            end = "24:00"
            import_per_kwh = 0.3
            export_per_kwh = 0.2
            [devices.42]
            nameplate_kwh = 7.5
            """
        )
    )
    con = open_warehouse(s)
    warehouse.build_schema(con, s)  # twice: idempotent
    assert con.execute(
        "select timezone, max_gap_s, interval_minutes, current_sign, sign from settings"
    ).fetchall() == [("America/Vancouver", 90.0, 30, "discharge_positive", -1.0)]
    assert con.execute("select * from channel_map order by type").fetchall() == [
        (514, "humidity", "%", 1.0),
        (520, "ambient_temp", "°C", 1.0),
        (530, "battery_temp", "°C", 1.0),
        (531, "current", "A", -1.0),
        (532, "voltage", "V", 1.0),
        (533, "power", "kW", -1.0),
        (540, "soc", "%", 1.0),
    ]
    periods = con.execute(
        "select period_order, name, days, start_local::varchar, end_local::varchar, "
        "import_per_kwh, export_per_kwh from tariff_periods"
    ).fetchall()
    assert periods == [(1, "evening", ["mon", "sat"], "17:00:00", "24:00:00", 0.3, 0.2)]
    caps = dict(
        con.execute("select mac, nameplate_kwh from capacity_settings order by mac").fetchall()
    )
    assert caps == {0: 5.1, 42: 7.5, MAC2: 10.2}
    # a config change reaches the tables on the next build
    s2 = dataclasses.replace(s, integration=dataclasses.replace(s.integration, max_gap_s=300.0))
    warehouse.build_schema(con, s2)
    assert con.execute("select max_gap_s from settings").fetchall() == [(300.0,)]


def test_an_unchanged_schema_build_is_skipped_and_a_full_rebuild_forces_it(
    settings, open_warehouse
):
    """Re-creating the views lists the whole lake, so a build whose statements, parameters and
    lake path are unchanged does nothing; a full rebuild runs it anyway."""
    con = open_warehouse(settings)
    con.execute("drop view partition_ledger")  # as a user might by hand
    warehouse.build_schema(con, settings)  # unchanged: skipped, so the view stays missing
    views = "select view_name from duckdb_views() where not internal"
    assert "partition_ledger" not in {v for (v,) in con.execute(views).fetchall()}
    warehouse.rebuild(con, settings, None, None, [1, 2])  # a partial rebuild does not force
    assert "partition_ledger" not in {v for (v,) in con.execute(views).fetchall()}
    warehouse.rebuild(con, settings)
    assert "partition_ledger" in {v for (v,) in con.execute(views).fetchall()}


def test_empty_lake_gives_an_empty_readings_view_until_data_arrives(
    settings, store_rows, open_warehouse
):
    con = open_warehouse(settings)
    assert con.execute("select count(*) from readings").fetchall() == [(0,)]
    assert con.execute("select count(*) from reading_intervals").fetchall() == [(0,)]
    assert warehouse.rebuild(con, settings)["days"] == []
    changed = store_rows(settings, signal(MAC, "2025-01-15T10:00:00", "2025-01-15T10:10:00"))
    summary = warehouse.recompute(con, settings, changed)
    assert con.execute("select count(*) from readings").fetchall() == [(21 * 3,)]
    assert (MAC, dt.date(2025, 1, 15)) in summary["days"]
    assert con.execute("select count(*) from daily_energy").fetchall() == [(1,)]


# ---------------------------------------------------------------------- recompute == rebuild


def test_recompute_after_every_batch_equals_a_full_rebuild(
    settings, store_rows, open_warehouse, tmp_path
):
    # a second warehouse over the same lake, rebuilt from scratch after every batch
    other_dir = tmp_path / "fresh"
    other_dir.mkdir()
    os.symlink(settings.lake_dir, other_dir / "lake")
    fresh = dataclasses.replace(settings, data_dir=str(other_dir))
    Path(settings.lake_dir).mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings)
    batches = [
        # three local days, crossing local midnight (08:00Z)
        signal(MAC, "2025-01-10T06:00:00", "2025-01-12T10:00:00", step_s=60),
        # late data inside an existing partition: the afternoon of the 11th at another phase
        signal(MAC, "2025-01-11T20:00:00", "2025-01-11T20:30:00", step_s=7, phase=1.0),
        # back after a dropout of several days: the gap from the 12th counts on both ends
        signal(MAC, "2025-01-16T09:00:00", "2025-01-16T12:00:00", step_s=45),
        # late readings in the middle of the dropout split that gap in two
        signal(MAC, "2025-01-14T01:00:00", "2025-01-14T01:05:00", step_s=20),
        # a second BESS, one reading exactly at local midnight, one a year earlier
        [
            *signal(MAC2, "2025-01-15T07:58:00", "2025-01-15T08:02:00", step_s=60),
            (MAC2, KW, "2024-01-15T08:00:00", 1.0),
            (MAC2, KW, "2025-01-15T08:00:00.000", 2.0),
        ],
        # corrections: the same keys with new values, and a current-only stretch (V·I, no kW)
        [(MAC, KW, utc_ms("2025-01-10T06:00:00.500"), -4.0)]
        + [r for r in signal(MAC, "2025-01-16T13:00:00", "2025-01-16T13:20:00") if r[1] != KW],
        # a third BESS: a day whose first reading follows a gap from two days before ...
        signal(MAC3, "2025-01-10T06:00:00", "2025-01-10T10:00:00")
        + signal(MAC3, "2025-01-12T20:00:00", "2025-01-12T22:00:00"),
        # ... then a new partition after it: its recompute reaches back into that day, whose
        # gap from the 10th starts outside what it reads (the scope's boundary stand-ins)
        signal(MAC3, "2025-01-13T21:00:00", "2025-01-13T21:10:00"),
    ]
    for i, batch in enumerate(batches):
        changed = store_rows(settings, batch)
        assert changed, i
        warehouse.recompute(con, settings, changed)
        ref = open_warehouse(fresh)
        warehouse.rebuild(ref, fresh)
        for table, keys in (
            ("energy_interval", "mac, interval_start"),
            ("daily_energy", "mac, local_date"),
        ):
            assert_rows_close(
                table_rows(con, table, keys), table_rows(ref, table, keys), f"batch {i} {table}"
            )
        ref.close()
    # the dropout: no rows on days without readings, gap seconds on both ends
    days = [
        d
        for (d,) in con.execute(
            "select local_date from daily_energy where mac = $m order by 1", {"m": MAC}
        ).fetchall()
    ]
    assert dt.date(2025, 1, 15) not in days and dt.date(2025, 1, 13) in days
    gap_12 = con.execute(
        "select gap_s from daily_energy where mac = $m and local_date = '2025-01-12'", {"m": MAC}
    ).fetchall()[0][0]
    assert gap_12 == pytest.approx(
        (utc_ms("2025-01-13T08:00:00") - utc_ms("2025-01-12T10:00:00.5")) / 1000
    )


def test_recompute_with_no_changes_changes_nothing(settings, store_rows, open_warehouse):
    changed = store_rows(settings, signal(MAC, "2025-01-15T06:00:00", "2025-01-15T10:00:00"))
    con = open_warehouse(settings)
    warehouse.recompute(con, settings, changed)
    before = table_rows(con, "daily_energy", "mac, local_date")
    summary = warehouse.recompute(con, settings, [])
    assert summary["days"] == []
    assert table_rows(con, "daily_energy", "mac, local_date") == before
    # a partition the warehouse has not seen (stored without a recompute) is picked up anyway
    store_rows(settings, signal(MAC, "2025-01-17T06:00:00", "2025-01-17T07:00:00"))
    summary = warehouse.recompute(con, settings, [])
    # its readings are local day 16; the gap back to the last reading (15th, 02:00 local) and
    # the partition's UTC day (to 16:00 local on the 17th) reach days 15 and 17
    assert summary["days"] == [(MAC, dt.date(2025, 1, d)) for d in (15, 16, 17)]
    assert summary["partitions"] == 1
    assert [
        d for (d,) in con.execute("select local_date from daily_energy order by 1").fetchall()
    ] == [dt.date(2025, 1, d) for d in (14, 15, 16)]


def test_rebuild_a_range_of_days_for_some_macs(settings, store_rows, open_warehouse):
    store_rows(settings, signal(MAC, "2025-01-10T12:00:00", "2025-01-13T12:00:00", step_s=120))
    store_rows(settings, signal(MAC2, "2025-01-10T12:00:00", "2025-01-13T12:00:00", step_s=120))
    con = open_warehouse(settings)
    warehouse.rebuild(con, settings)
    want = table_rows(con, "daily_energy", "mac, local_date")
    con.execute("update daily_energy set voltage_mean_v = -1")  # no data check looks at it
    summary = warehouse.rebuild(
        con, settings, dt.date(2025, 1, 11), dt.date(2025, 1, 12), macs=[MAC]
    )
    assert summary["days"] == [(MAC, dt.date(2025, 1, 11)), (MAC, dt.date(2025, 1, 12))]
    got = {(r[0], r[1]): r for r in table_rows(con, "daily_energy", "mac, local_date")}
    for row in want:
        key = (row[0], row[1])
        if key in summary["days"]:
            assert_rows_close([got[key]], [row], str(key))
        else:
            assert got[key][18] == -1  # voltage_mean_v: untouched
    with pytest.raises(UsageError):
        warehouse.rebuild(con, settings, dt.date(2025, 1, 12), dt.date(2025, 1, 11))


def test_rebuilding_one_day_reads_far_enough_back(make_settings, store_rows, open_warehouse):
    # site zone UTC, max_gap_s 13 h. The current interval 11:30Z (10th) -> 00:30Z (11th) is not
    # a gap and reaches the 11th; the voltage as of its first end is on the 9th (12.5 h older),
    # so rebuilding the 11th alone must read two max_gap_s back to get V·I right. The 14th's
    # first reading follows a gap from the 11th, outside what rebuilding the 14th reads: that
    # gap must still count from midnight.
    s = make_settings('[site]\ntimezone = "UTC"\n[integration]\nmax_gap_s = 46800\n')
    store_rows(
        s,
        [
            (MAC, V, "2025-01-09T23:00:00", 50.0),
            (MAC, A, "2025-01-10T11:30:00", 10.0),
            (MAC, V, "2025-01-11T00:00:00", 52.0),
            (MAC, A, "2025-01-11T00:30:00", 10.0),
            (MAC, A, "2025-01-11T01:30:00", 10.0),
            (MAC, A, "2025-01-14T06:00:00", 10.0),
            (MAC, A, "2025-01-14T07:00:00", 10.0),
        ],
    )
    con = open_warehouse(s)
    warehouse.rebuild(con, s)
    want = table_rows(con, "daily_energy", "mac, local_date")
    names = [d[0] for d in con.execute("select * from daily_energy limit 0").description]
    by_day = {r[1]: dict(zip(names, r, strict=True)) for r in want}
    # V·I 0.5 kW at 11:30Z, 0.52 at 00:30Z: at midnight 0.5 + 0.02·12.5/13
    at_midnight = 0.5 + 0.02 * 12.5 / 13
    vi_kws = (at_midnight + 0.52) / 2 * 1800 + 0.52 * 3600
    assert by_day[dt.date(2025, 1, 11)]["vi_charge_kwh"] == pytest.approx(vi_kws / 3600)
    assert by_day[dt.date(2025, 1, 14)]["ah_gap_s"] == 6 * 3600
    for day in (dt.date(2025, 1, 11), dt.date(2025, 1, 14)):
        warehouse.rebuild(con, s, day, day)
        assert_rows_close(table_rows(con, "daily_energy", "mac, local_date"), want, str(day))


def test_data_check_failure_names_the_check(settings, store_rows, open_warehouse):
    changed = store_rows(settings, signal(MAC, "2025-01-15T06:00:00", "2025-01-15T07:00:00"))
    con = open_warehouse(settings)
    warehouse.recompute(con, settings, changed)
    con.execute(
        "insert into daily_energy select * replace (date '2024-06-01' as local_date) "
        "from daily_energy"
    )
    from bess_etl.errors import DataCheckError

    with pytest.raises(DataCheckError, match="daily_rows_without_readings failed: 1 violating"):
        warehouse.recompute(con, settings, [])
    # a full rebuild removes the stray row
    warehouse.rebuild(con, settings)
    assert all(r.ok for r in warehouse.run_checks(con))


# ---------------------------------------------------------------------- Python steps, summary


def test_python_steps_run_in_order_inside_the_transaction(
    settings, store_rows, open_warehouse, tmp_path, monkeypatch
):
    module = tmp_path / "probe_step.py"
    module.write_text(
        textwrap.dedent(
            """
            CALLS = []

            def build_step(con, settings, targets):
                days = con.execute("select count(*) from daily_energy").fetchall()[0][0]
                n = con.execute("select count(*) from targets").fetchall()[0][0]
                CALLS.append((targets.days, targets.full, targets.macs, days, n))
                if settings.site.timezone == "UTC":
                    raise RuntimeError("step failed")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(warehouse.PYTHON_STEPS, "45_probe", "probe_step:build_step")
    warehouse._python_step.cache_clear()
    import probe_step

    plan = {s.stem: s for s in warehouse.build_plan()}
    stems = list(plan)
    assert stems.index("40_daily_energy") < stems.index("45_probe")
    assert (plan["45_probe"].sql_path, plan["45_probe"].python) == (None, "probe_step:build_step")
    changed = store_rows(settings, signal(MAC, "2025-01-15T06:00:00", "2025-01-15T10:00:00"))
    con = open_warehouse(settings)
    warehouse.recompute(con, settings, changed)
    days, full, macs, n_daily, n_targets = probe_step.CALLS[-1]
    assert days == ((MAC, dt.date(2025, 1, 14)), (MAC, dt.date(2025, 1, 15)))
    assert (full, macs, n_daily, n_targets) == (False, [MAC], 2, 2)  # after daily_energy
    warehouse.rebuild(con, settings)
    assert probe_step.CALLS[-1][1] is True
    # a failing step rolls the whole recompute back
    before = table_rows(con, "daily_energy", "mac, local_date")
    utc = dataclasses.replace(settings, site=dataclasses.replace(settings.site, timezone="UTC"))
    with pytest.raises(RuntimeError, match="step failed"):
        warehouse.rebuild(con, utc)
    con.execute("select 1").fetchall()
    assert table_rows(con, "daily_energy", "mac, local_date") == before
    warehouse._python_step.cache_clear()


def test_unloadable_python_step_is_a_clear_error(settings, open_warehouse, monkeypatch):
    monkeypatch.setitem(warehouse.PYTHON_STEPS, "55_missing", "no_such_module:build_step")
    warehouse._python_step.cache_clear()
    con = open_warehouse(settings)
    with pytest.raises(BessEtlError, match="'no_such_module:build_step' cannot be loaded"):
        warehouse.rebuild(con, settings)
    warehouse._python_step.cache_clear()


def test_energy_summary_per_mac(settings, store_rows, open_warehouse):
    store_rows(
        settings, [(MAC, KW, "2025-01-15T12:00:00", 3.6), (MAC, KW, "2025-01-15T12:01:00", 3.6)]
    )
    store_rows(
        settings, [(MAC, KW, "2025-01-16T12:00:00", -3.6), (MAC, KW, "2025-01-16T12:01:00", -3.6)]
    )
    con = open_warehouse(settings)
    summary = warehouse.rebuild(con, settings)
    got = warehouse.energy_summary(con, summary["days"])
    assert got == [
        {
            "mac": MAC,
            "days": 2,
            "charge_kwh": pytest.approx(0.06),
            "discharge_kwh": pytest.approx(0.06),
            "cost": pytest.approx(0.11 * 0.06 - 0.05 * 0.06),
            "charge_ah": None,
            "discharge_ah": None,
            "capacity_ah": None,
            "soh_pct": None,
        }
    ]
    assert warehouse.energy_summary(con, []) == []


def test_derived_tables_with_old_columns_are_recreated_by_a_full_rebuild(
    settings, store_rows, open_warehouse
):
    changed = store_rows(settings, signal(MAC, "2025-01-15T06:00:00", "2025-01-15T07:00:00"))
    con = open_warehouse(settings)
    warehouse.recompute(con, settings, changed)
    assert warehouse.outdated_tables(con) == []
    # a warehouse from an older version: one column fewer, one renamed
    con.execute("alter table daily_energy drop column vi_buckets")
    con.execute("alter table lake_partitions rename column n_readings to readings")
    assert warehouse.outdated_tables(con) == ["lake_partitions", "daily_energy"]
    with pytest.raises(
        BessEtlError, match=r"lake_partitions has other columns .* `bess-etl rebuild`"
    ):
        warehouse.recompute(con, settings, changed)
    with pytest.raises(BessEtlError, match="rebuild everything"):
        warehouse.rebuild(con, settings, macs=[MAC])
    warehouse.rebuild(con, settings)
    assert warehouse.outdated_tables(con) == []
    assert con.execute("select sum(vi_buckets) from daily_energy").fetchall() == [(0,)]


def test_changed_settings_need_a_full_rebuild(make_settings, store_rows, open_warehouse):
    s = make_settings()
    changed = store_rows(s, signal(MAC, "2025-01-15T06:00:00", "2025-01-15T07:00:00"))
    con = open_warehouse(s)
    warehouse.recompute(con, s, changed)
    wider = make_settings("[integration]\nmax_gap_s = 600\n[tariff]\nimport_per_kwh = 0.2\n")
    with pytest.raises(BessEtlError, match=r"other settings \(import_per_kwh, max_gap_s\)"):
        warehouse.recompute(con, wider, changed)
    with pytest.raises(BessEtlError, match="other settings"):
        warehouse.rebuild(con, wider, dt.date(2025, 1, 14), dt.date(2025, 1, 14))
    warehouse.rebuild(con, wider)
    warehouse.recompute(con, wider, changed)  # now in step
    stored = con.execute("select settings->>'max_gap_s' from derived_settings").fetchall()
    assert stored == [("600.0",)]
