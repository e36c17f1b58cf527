"""The analytics tables in the warehouse (cycles, capacity_history, daily_stress): values against
hand-computed truth on a hand-made day, and incremental runs equal to a full rebuild."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pyarrow as pa
import pytest
from conftest import assert_rows_close, failing_checks

from bess_etl import pipeline, warehouse
from bess_etl.analytics.stress import DOD_COLUMNS
from bess_etl.config import load_settings
from bess_etl.lake import READINGS_SCHEMA, TS_TYPE
from bess_etl.simulator import Simulator
from bess_etl.store import store_readings
from bess_etl.timeutil import local_midnight_ms

MAC = 303721690  # nameplate 100 Ah, 5.1 kWh; v_full 56 V, v_empty 48 V (defaults)
I_A = 50.0  # 0.5 C: high_c_rate's threshold exactly
STEP_S = 20


def _hand_made_day() -> list[tuple]:
    """2025-01-15 (UTC; 00:00-07:00 local): rest, a 2 h charge at +50 A with the voltage rising
    linearly 52 -> 56.5 V, 1 h rest at 55.2 V, a 96 min discharge at -50 A with the voltage
    falling 53 -> 47.5 V, then rest at 50 V. Readings every 20 s; power = V·I; 20 °C."""
    t0 = dt.datetime(2025, 1, 15, 8, 0, tzinfo=dt.UTC)
    rows = []
    for k in range(7 * 3600 // STEP_S + 1):  # 08:00 .. 15:00 UTC
        s = k * STEP_S  # seconds since 08:00
        if 3600 <= s <= 3 * 3600:  # charge
            i, v = I_A, 52.0 + 4.5 * (s - 3600) / 7200
        elif 4 * 3600 <= s <= 4 * 3600 + 5760:  # discharge
            i, v = -I_A, 53.0 - 5.5 * (s - 4 * 3600) / 5760
        elif s < 3600:
            i, v = 0.0, 52.0
        elif s < 4 * 3600:
            i, v = 0.0, 55.2
        else:
            i, v = 0.0, 50.0
        ms = round((t0 + dt.timedelta(seconds=s)).timestamp() * 1000)
        rows += [
            (MAC, 531, ms, i),
            (MAC, 532, ms, v),
            (MAC, 533, ms, v * i / 1000),
            (MAC, 530, ms, 20.0),
        ]
    return rows


RAMP_AH = 0.5 * I_A * STEP_S / 3600  # each step change is a 20 s linear ramp between readings


@pytest.fixture(scope="module")
def hand_made_settings(tmp_path_factory):
    """The hand-made day in a lake, and a warehouse rebuilt from it (once for the module)."""
    base = tmp_path_factory.mktemp("hand_made")
    (base / "bess-etl.toml").write_text("")
    settings = load_settings(base / "bess-etl.toml", data_dir=base / "data", environ={})
    rows = _hand_made_day()
    table = pa.table(
        {
            "mac": pa.array([r[0] for r in rows], pa.int64()),
            "type": pa.array([r[1] for r in rows], pa.int32()),
            "ts": pa.array([r[2] for r in rows], pa.int64()).cast(TS_TYPE),
            "value": pa.array([float(r[3]) for r in rows], pa.float64()),
        },
        schema=READINGS_SCHEMA,
    )
    store_readings(settings, table)
    with pipeline.connection(settings) as con:
        warehouse.rebuild(con, settings)
    return settings


@pytest.fixture
def hand_made(hand_made_settings, tmp_path):
    """A connection to a fresh copy of the hand-made warehouse (tests may change it)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(hand_made_settings.warehouse_path, copy)
    con = duckdb.connect(str(copy))
    con.execute("set TimeZone = 'UTC'")
    yield con
    con.close()


def _dicts(con, query: str) -> list[dict]:
    cur = con.execute(query)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_hand_made_cycle_and_capacity(hand_made):
    (cyc,) = _dicts(hand_made, "select * from cycles")
    charge_ah = I_A * 2 + 2 * RAMP_AH  # 2 h at 50 A plus the two ramps
    capacity_ah = I_A * 5760 / 3600 + 2 * RAMP_AH  # 96 min at 50 A plus the two ramps
    assert cyc["mac"] == MAC and cyc["cycle_index"] == 0
    assert cyc["charge_ah"] == pytest.approx(charge_ah, rel=1e-9)
    assert cyc["discharge_ah"] == pytest.approx(capacity_ah, rel=1e-9)
    assert cyc["is_capacity_measurement"] is True
    assert cyc["method"] == "full_to_empty_voltage"
    assert cyc["capacity_ah"] == pytest.approx(capacity_ah, rel=1e-9)
    assert cyc["dod_pct"] == pytest.approx(capacity_ah, rel=1e-9)  # of a 100 Ah nameplate
    assert cyc["max_c_rate"] == pytest.approx(0.5)
    assert cyc["voltage_min_v"] == pytest.approx(47.5) and cyc["voltage_max_v"] == 56.5
    assert cyc["battery_temp_mean_c"] == 20.0
    assert cyc["is_partial"] is False  # rests of 1 h before and 1.4 h after
    assert cyc["coulombic_efficiency_pct"] == pytest.approx(100 * capacity_ah / charge_ah)
    (day,) = _dicts(hand_made, "select * from capacity_history")
    assert day["local_date"] == dt.date(2025, 1, 15)
    assert day["n_measurements"] == 1 and day["method"] == "full_to_empty_voltage"
    assert day["capacity_ah"] == pytest.approx(capacity_ah, rel=1e-9)
    assert day["capacity_smoothed_ah"] == pytest.approx(capacity_ah, rel=1e-9)
    assert day["soh_pct"] == pytest.approx(capacity_ah, rel=1e-9)
    assert day["fade_pct_per_year"] is None  # one point: no fit
    de = _dicts(
        hand_made, "select charge_ah, discharge_ah, charge_kwh, discharge_kwh from daily_energy"
    )[0]
    assert day["charge_ah"] == de["charge_ah"] == pytest.approx(charge_ah, rel=1e-9)
    assert day["throughput_ah"] == pytest.approx((charge_ah + capacity_ah) / 2, rel=1e-9)
    assert day["efc"] == pytest.approx(day["throughput_kwh"] / 5.1, rel=1e-12)
    # the mean of both directions, from daily_energy's own totals
    assert day["throughput_kwh"] == pytest.approx(
        (de["charge_kwh"] + de["discharge_kwh"]) / 2, rel=1e-9
    )


def test_hand_made_stress(hand_made):
    (day,) = _dicts(hand_made, "select * from daily_stress")
    charge_ah = I_A * 2 + 2 * RAMP_AH
    capacity_ah = I_A * 5760 / 3600 + 2 * RAMP_AH
    # coulomb count: up 100.14 % of nameplate, down 80.14 %: two half cycles
    assert day["soc_source"] == "coulomb_count"
    assert day["dod_90_100_cycles"] == 0.5  # a depth above 100 % counts in the last band
    assert day["dod_80_90_cycles"] == 0.5
    assert sum(day[c] for c in DOD_COLUMNS) == day["rainflow_cycles"] == 1.0
    assert day["max_dod_pct"] == pytest.approx(charge_ah, rel=1e-9)
    assert day["rainflow_efc"] == pytest.approx(0.5 * (charge_ah + capacity_ah) / 100, rel=1e-9)
    # |I| >= 0.5 C exactly while at 50 A: 2 h + 96 min; ramps are below it
    assert day["high_c_rate_s"] == pytest.approx(7200 + 5760, abs=1e-6)
    # V >= 56: the last 0.5 / 4.5 of the 2 h ramp, and 0.5 / 1.3 of the 20 s drop to 55.2 V
    assert day["high_voltage_s"] == pytest.approx(7200 * 0.5 / 4.5 + 20 * 0.5 / 1.3, rel=1e-9)
    assert day["max_c_rate"] == 0.5
    assert day["battery_temp_min_c"] == day["battery_temp_max_c"] == 20.0


# ---------------------------------------------------------------------- incremental == full

SIM_MAC = 303721691
FIRST = dt.date(2026, 3, 1)
N_DAYS = 18
SIM_CONFIG = "[simulator]\ndeep_cycle_every_days = 2\n"
TABLES = {
    "cycles": "mac, cycle_index",
    "capacity_history": "mac, local_date",
    "daily_stress": "mac, local_date",
}


def store_simulated(settings, first: dt.date, last: dt.date, sim: Simulator) -> list:
    """The simulator's readings of local days first..last, stored the way ingest stores them;
    returns the changed (mac, UTC date) partitions."""
    tz = settings.tz
    begin = local_midnight_ms(first, tz)
    end = local_midnight_ms(last + dt.timedelta(days=1), tz) - 1
    writes = store_readings(settings, sim.table(SIM_MAC, begin, end))
    return sorted(k for k, w in writes.items() if w.changed)


def store_late_burst(con, settings, day: dt.date) -> list:
    """Late readings for a discharge of `day`: 20 current readings 7 s after real ones, at 1.5×
    their value (a burst of extra discharge), stored as ingest stores them; returns the changed
    (mac, UTC date) partitions."""
    rows = con.execute(
        "select type, ts, value from readings where mac = $m and type = 531 "
        "and timezone($tz, ts)::date = $d and value < -5 order by ts limit 20",
        {"m": SIM_MAC, "tz": settings.site.timezone, "d": day},
    ).fetchall()
    assert rows, "the day has a discharge to add late readings to"
    late = pa.table(
        {
            "mac": [SIM_MAC] * len(rows),
            "type": [r[0] for r in rows],
            "ts": [r[1] + dt.timedelta(milliseconds=7000) for r in rows],
            "value": [r[2] * 1.5 for r in rows],
        },
        schema=READINGS_SCHEMA,
    )
    return sorted(k for k, w in store_readings(settings, late).items() if w.changed)


def _table(con, name: str) -> list[tuple]:
    return con.execute(f"select * from {name} order by {TABLES[name]}").fetchall()


def test_incremental_runs_equal_a_full_rebuild(make_settings, tmp_path, open_warehouse):
    inc = make_settings(SIM_CONFIG, data_dir=tmp_path / "inc")
    sim = Simulator(inc)
    con = open_warehouse(inc)
    last = FIRST + dt.timedelta(days=N_DAYS - 1)
    mid = FIRST + dt.timedelta(days=9)
    # two runs, as two daily runs would do it, then late readings arrive for an early day
    warehouse.recompute(con, inc, store_simulated(inc, FIRST, mid, sim))
    warehouse.recompute(con, inc, store_simulated(inc, mid + dt.timedelta(days=1), last, sim))
    before = {name: _table(con, name) for name in TABLES}
    changed = store_late_burst(con, inc, FIRST + dt.timedelta(days=3))
    assert changed
    summary = warehouse.recompute(con, inc, changed)
    assert {m for m, _ in summary["days"]} == {SIM_MAC}
    assert len(summary["days"]) < N_DAYS  # an incremental run, not everything
    after = {name: _table(con, name) for name in TABLES}
    assert after["cycles"] != before["cycles"]  # the late burst changed the history

    # a full rebuild of the same lake in another warehouse
    full = make_settings(SIM_CONFIG, data_dir=tmp_path / "full")
    shutil.copytree(tmp_path / "inc" / "lake", tmp_path / "full" / "lake")
    con_full = open_warehouse(full)
    warehouse.rebuild(con_full, full)
    for name in TABLES:
        assert_rows_close(after[name], _table(con_full, name), name)

    # shape of what was built: measurements every other day, a fade fit by the end
    n_meas = con.execute("select count(*) from cycles where is_capacity_measurement").fetchone()
    assert n_meas[0] >= N_DAYS // 2 - 2
    fit = con.execute(
        "select fade_pct_per_year, fit_points from capacity_history "
        "order by local_date desc limit 1"
    ).fetchone()
    assert fit[0] is not None and fit[1] >= 5
    # a partial rebuild (a few days of one BESS) also leaves the tables as a full rebuild
    warehouse.rebuild(con, inc, mid, mid + dt.timedelta(days=1), [SIM_MAC])
    for name in TABLES:
        assert_rows_close(_table(con, name), _table(con_full, name), f"partial rebuild: {name}")


# ---------------------------------------------------------------------- data checks


@pytest.mark.parametrize(
    ("check", "mutation", "n"),
    [
        ("cycles_tile_time", "insert into cycles select * from cycles", 2),
        (
            "cycles_tile_time",
            "insert into cycles select * replace (cycle_index + 1 as cycle_index, "
            "end_ts + interval 1 minute as start_ts, end_ts + interval 2 minute as end_ts) "
            "from cycles",
            1,
        ),
        ("cycles_tile_time", "update cycles set end_ts = start_ts - interval 1 second", 1),
        ("analytics_duplicate_keys", "insert into daily_stress select * from daily_stress", 1),
        (
            "analytics_duplicate_keys",
            "insert into capacity_history select * from capacity_history",
            1,
        ),
        # a BESS without any history (e.g. before an upgrade's first run) is not a violation
        ("history_matches_daily_energy", "delete from capacity_history", 0),
        (
            "history_matches_daily_energy",
            "update capacity_history set charge_kwh = charge_kwh * (1 + 1e-6)",
            1,
        ),
        (
            "history_matches_daily_energy",
            "insert into daily_energy select * replace (local_date + 1 as local_date) "
            "from daily_energy",
            1,
        ),
    ],
)
def test_each_analytics_check_finds_its_violation(hand_made, check, mutation, n):
    assert failing_checks(hand_made) == {}
    hand_made.execute(mutation)
    got = failing_checks(hand_made).get(check, 0)
    assert got == n


def test_late_data_mid_history_redoes_cycles_from_a_restart_point(
    make_settings, tmp_path, open_warehouse, monkeypatch
):
    """Late readings for a day in the middle of a longer history: cycles are re-detected from a
    restart cycle before that day (earlier rows untouched) and equal a full rebuild."""
    from bess_etl.analytics import build

    n_days = 30
    inc = make_settings(SIM_CONFIG, data_dir=tmp_path / "inc")
    sim = Simulator(inc)
    con = open_warehouse(inc)
    last = FIRST + dt.timedelta(days=n_days - 1)
    warehouse.recompute(con, inc, store_simulated(inc, FIRST, last, sim))
    before = _table(con, "cycles")
    day = FIRST + dt.timedelta(days=20)
    changed = store_late_burst(con, inc, day)
    restarts = []
    detect = build._detect

    def spy(settings, mac, since, reference, **kwargs):
        restarts.append(since)
        return detect(settings, mac, since, reference, **kwargs)

    monkeypatch.setattr(build, "_detect", spy)
    warehouse.recompute(con, inc, changed)
    # one detection, from a restart partition after the first day: not the whole history
    assert len(restarts) == 1 and restarts[0] is not None and restarts[0] > FIRST
    after = {name: _table(con, name) for name in TABLES}
    assert after["cycles"] != before
    # targets include a day of context; the restart cycle starts over a day before them
    early = dt.datetime.combine(day - dt.timedelta(days=4), dt.time(), dt.UTC)
    kept = [r for r in before if r[3] < early]
    assert kept and [r for r in after["cycles"] if r[3] < early] == kept  # untouched

    full = make_settings(SIM_CONFIG, data_dir=tmp_path / "full")
    shutil.copytree(tmp_path / "inc" / "lake", tmp_path / "full" / "lake")
    con_full = open_warehouse(full)
    warehouse.rebuild(con_full, full)
    for name in ("cycles", "capacity_history"):
        assert_rows_close(after[name], _table(con_full, name), name)
