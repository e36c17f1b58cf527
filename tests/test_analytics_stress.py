"""Per-day stress metrics (bess_etl.analytics.stress) on hand-made signals with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rainflow

from bess_etl.analytics.stress import DOD_COLUMNS, daily_stress, rainflow_histogram, turning_points
from bess_etl.config import CapacitySettings

TZ = "America/Vancouver"
MIDNIGHT_MS = 1_717_225_200_000  # 2024-06-01 00:00 PDT
DAY = dt.date(2024, 6, 1)
CAP = CapacitySettings()  # 100 Ah; v_full 56 V; high_c_rate 0.5 -> 50 A
MAX_GAP_S = 120.0


def grid(n_s: float, dt_s: float = 20.0, start_ms: int = MIDNIGHT_MS):
    t = np.arange(0.0, n_s + dt_s / 2, dt_s)
    return t, start_ms + np.round(t * 1000).astype(np.int64)


def test_turning_points_keep_what_rainflow_counts():
    rng = np.random.default_rng(3)
    x = np.round(np.cumsum(rng.normal(0, 1, 5000)), 1)
    x[100:110] = x[100]  # a flat stretch
    slow = np.array(sorted(c[:3] for c in rainflow.extract_cycles(x)))
    fast = np.array(sorted(c[:3] for c in rainflow.extract_cycles(x[turning_points(x)])))
    assert fast.shape == slow.shape and len(fast) > 1000
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_flat_and_monotonic_signals():
    assert rainflow_histogram(np.full(100, 55.0))[0].sum() == 0  # idle: no cycle at all
    counts, efc, depth = rainflow_histogram(np.array([10.0, 50.0]))  # one half cycle
    assert counts.tolist() == [0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0] and efc == 0.2 and depth == 40


def test_sine_soc_gives_its_rainflow_counts():
    """SoC 50 - 20·cos over 12 two-hour periods, trough to trough: 12 cycles of depth 40 %
    (11 full, and the two ends as half cycles); equivalent full cycles 12 × 0.4."""
    t, ts = grid(86400)
    soc = 50.0 - 20.0 * np.cos(2 * np.pi * t / 7200)
    counts, efc, max_depth = rainflow_histogram(soc)
    assert counts.tolist() == [0, 0, 0, 0, 12, 0, 0, 0, 0, 0]
    assert efc == pytest.approx(4.8) and max_depth == pytest.approx(40.0)
    zeros = np.zeros_like(t)
    table = daily_stress((ts, zeros), (ts, zeros + 50), CAP, MAX_GAP_S, TZ, soc=(ts, soc))
    day = table.to_pylist()[0]
    assert day["local_date"] == DAY and day["soc_source"] == "soc"
    assert [day[c] for c in DOD_COLUMNS] == [0, 0, 0, 0, 12, 0, 0, 0, 0, 0]
    assert day["rainflow_cycles"] == 12 and day["rainflow_efc"] == pytest.approx(4.8)


def test_coulomb_counting_without_soc():
    """Current I0·sin(ωt) moves charge by 2·I0/ω: I0 chosen for 45 Ah = 45 % of 100 Ah."""
    t, ts = grid(86400)
    omega = 2 * np.pi / 7200
    i0 = 45.0 * 3600 * omega / 2
    current = i0 * np.sin(omega * t)
    day = daily_stress((ts, current), (ts, 52 + 0 * t), CAP, MAX_GAP_S, TZ).to_pylist()[0]
    assert day["soc_source"] == "coulomb_count"
    assert day["dod_40_50_cycles"] == 12 and day["rainflow_cycles"] == 12
    assert day["max_dod_pct"] == pytest.approx(45.0, rel=1e-3)
    # against a smaller usable capacity the same swings are deeper: 45 Ah of 60 Ah = 75 %
    day = daily_stress(
        (ts, current), (ts, 52 + 0 * t), CAP, MAX_GAP_S, TZ, capacity_ah=60.0
    ).to_pylist()[0]
    assert day["dod_70_80_cycles"] == 12


def test_a_swing_across_midnight_is_half_a_cycle_in_each_day():
    """SoC 10 -> 90 % from 20:00 to 04:00: 50 % at midnight; each day counts a half cycle of
    depth 40 %."""
    t, ts = grid(8 * 3600, start_ms=MIDNIGHT_MS + 20 * 3600_000)
    soc = 10 + 80 * t / t[-1]
    zeros = np.zeros_like(t)
    rows = daily_stress((ts, zeros), (ts, zeros), CAP, MAX_GAP_S, TZ, soc=(ts, soc)).to_pylist()
    assert [r["local_date"] for r in rows] == [DAY, DAY + dt.timedelta(days=1)]
    assert [r["dod_40_50_cycles"] for r in rows] == [0.5, 0.5]
    assert [r["max_dod_pct"] for r in rows] == pytest.approx([40.0, 40.0])


def test_time_above_high_voltage_by_hand():
    """Triangle 50 -> 60 -> 50 V every 2000 s (peaks at 1000 s, 3000 s, ...): at or above 56 V
    for 800 s a period. Starting 4 periods before midnight: 4 × 800 s, then 6 × 800 s."""
    start = MIDNIGHT_MS + (24 * 3600 - 4 * 2000) * 1000
    t, ts = grid(10 * 2000, start_ms=start)
    phase = (t % 2000) / 1000
    volts = np.where(phase <= 1, 50 + 10 * phase, 70 - 10 * phase)
    zeros = np.zeros_like(t)
    rows = daily_stress((ts, zeros), (ts, volts), CAP, MAX_GAP_S, TZ).to_pylist()
    assert [r["high_voltage_s"] for r in rows] == pytest.approx([4 * 800, 6 * 800])
    # no readings from 8700 to 9300 s (the peak at 9000 s): that 600 s interval is a gap
    gap = (t > 8700) & (t < 9300)
    rows = daily_stress(
        (ts[~gap], zeros[~gap]), (ts[~gap], volts[~gap]), CAP, MAX_GAP_S, TZ
    ).to_pylist()
    assert [r["high_voltage_s"] for r in rows] == pytest.approx([4 * 800, 6 * 800 - 600])
    # high_voltage_v overrides v_full
    cap = CapacitySettings(high_voltage_v=58.0)
    rows = daily_stress((ts, zeros), (ts, volts), cap, MAX_GAP_S, TZ).to_pylist()
    assert [r["high_voltage_s"] for r in rows] == pytest.approx([4 * 400, 6 * 400])


def test_time_at_high_c_rate_by_hand():
    """±60 A for an hour each (0.6C), threshold 0.5C = 50 A: 3600 s each, plus, on each of the
    four 20 s ramps to and from 0 A, the 10/60 of it spent above 50 A."""
    t, ts = grid(4 * 3600)
    current = np.select(
        [t <= 3600, (t > 3600) & (t <= 7200), (t > 7200) & (t < 10800)], [0.0, 60.0, 0.0], -60.0
    )
    current[t > 13000] = 0.0
    rows = daily_stress((ts, current), (ts, 52 + 0 * t), CAP, MAX_GAP_S, TZ).to_pylist()
    # charge: readings at 60 A from 3620 to 7200 s (3580 s) plus ramps; discharge: 10800..13000
    expected = (7200 - 3620) + (13000 - 10800) + 4 * 20 * 10 / 60
    assert rows[0]["high_c_rate_s"] == pytest.approx(expected)
    assert rows[0]["max_c_rate"] == pytest.approx(0.6)


def test_temperature_statistics_per_day():
    t, ts = grid(2 * 86400, dt_s=600)
    temp = np.where(t < 86400, 20.0 + t / 86400, 30.0)
    zeros = np.zeros_like(t)
    rows = daily_stress(
        (ts, zeros), (ts, zeros), CAP, MAX_GAP_S, TZ, battery_temp=(ts, temp)
    ).to_pylist()
    day1 = temp[t < 86400]
    assert rows[0]["battery_temp_min_c"] == 20.0
    assert rows[0]["battery_temp_max_c"] == day1.max()
    assert rows[0]["battery_temp_mean_c"] == pytest.approx(day1.mean())
    assert rows[1]["battery_temp_mean_c"] == 30.0 and len(rows) == 3  # the last reading: day 3


def test_a_year_of_20_s_readings_gives_one_row_per_day():
    rng = np.random.default_rng(2)
    n = 1_600_000
    t = np.arange(n) * 20.0
    ts = MIDNIGHT_MS + np.round(t * 1000).astype(np.int64)
    day_s = t % 86400
    current = np.where((day_s > 8 * 3600) & (day_s < 14 * 3600), 20.0, 0.0)
    current -= np.where((day_s > 18 * 3600) & (day_s < 23 * 3600), 25.0, 0.0)
    current += rng.normal(0, 0.2, n)
    volts = 52.0 + 0.05 * current
    temp = 25 + rng.normal(0, 1, n)
    table = daily_stress(
        (ts, current), (ts + 300, volts), CAP, MAX_GAP_S, TZ, battery_temp=(ts, temp)
    )
    assert table.num_rows == 371
    # one 120 Ah-deep swing a day (charge 6 h × 20 A): 1 cycle in the 100 % band, mid-year
    assert table.column("dod_90_100_cycles")[180].as_py() == 1.0
