"""Cycle detection and capacity measurements (bess_etl.analytics.cycles) on hand-made sequences
whose totals are computed by hand, and on the real cycler files of tests/data/real_cycler
(see test_analytics_real_cycler.py for those)."""

from __future__ import annotations

import numpy as np
import pytest

from bess_etl.analytics.cycles import (
    CHARGE,
    DISCHARGE,
    REST,
    classify_current,
    detect_cycles,
    rest_threshold_a,
)
from bess_etl.analytics.series import Integral
from bess_etl.config import CapacitySettings

T0_MS = 1_717_225_200_000  # 2024-06-01T07:00:00Z, local midnight in Vancouver (PDT)
DT_S = 20.0
CAP = CapacitySettings()  # 100 Ah, 5.1 kWh, v_full 56 V, v_empty 48 V: C/100 = 1 A
MAX_GAP_S = 120.0


def piecewise(*pieces: tuple[int, float, float, float], dt_s: float = DT_S):
    """Readings every dt_s: each piece is (n_readings, current A, V at its first reading, V at
    its last), current constant and voltage linear within a piece. Returns (ts_ms, I, V)."""
    n = sum(p[0] for p in pieces)
    ts = T0_MS + np.round(np.arange(n) * dt_s * 1000).astype(np.int64)
    current = np.concatenate([np.full(k, a) for k, a, _, _ in pieces])
    volts = np.concatenate([np.linspace(v0, v1, k) for k, _, v0, v1 in pieces])
    return ts, current, volts


def full_cycle(discharge_to_v: float = 47.9, charge_to_v: float = 56.3):
    """Rest, CC charge +50 A for 1 h, rest, CC discharge -50 A for 2 h, rest (10 min each)."""
    return piecewise(
        (31, 0.0, 52.0, 52.0),
        (181, 50.0, 52.0, charge_to_v),
        (31, 0.0, 55.6, 55.4),
        (361, -50.0, 55.0, discharge_to_v),
        (31, 0.0, 49.0, 50.0),
    )


# The discharge by hand: 360 intervals of 20 s at 50 A, plus the two 20 s ramps from and to
# 0 A (a triangle each: 50 A · 20 s / 2), so 50 A × 7220 s.
DISCHARGE_AH = 50.0 * (360 * 20 + 20) / 3600
CHARGE_AH = 50.0 * (180 * 20 + 20) / 3600


def discharge_kwh_by_hand(v_first: float, v_last: float, v_rest_after: float) -> float:
    """V·I trapezoid of the discharge: ramp in (0 -> 50·v_first W), the body at 50 A with the
    voltage linear (the trapezoid is exact: 50 A × mean V × 7200 s), ramp out (50·v_last -> 0)."""
    del v_rest_after  # the reading after the ramp has I = 0, so its voltage does not count
    ramp_in = 50 * v_first * 20 / 2
    body = 50 * (v_first + v_last) / 2 * 7200
    ramp_out = 50 * v_last * 20 / 2
    return (ramp_in + body + ramp_out) / 3.6e6


def run(ts, current, volts, cap: CapacitySettings = CAP, **kw):
    return detect_cycles((ts, current), (ts, volts), cap, MAX_GAP_S, **kw).to_pylist()


# ---------------------------------------------------------------- segmentation


def test_threshold_defaults_to_c_over_100():
    assert rest_threshold_a(CAP) == 1.0
    assert rest_threshold_a(CapacitySettings(nameplate_ah=200.0, rest_current_a=3.0)) == 3.0


def test_hysteresis_enters_above_on_and_leaves_below_off():
    # on = 1 A, off = 0.5 A: 0.8 A keeps a charge going but does not start one
    current = np.array([0.0, 0.8, 2.0, 0.8, 0.8, 0.3, -0.8, -2.0, -0.8, -0.2, 0.0])
    t = np.arange(current.size) * 20.0
    state = classify_current(t, current, on_a=1.0, max_gap_s=MAX_GAP_S, min_segment_s=0.0)
    c, d, r = CHARGE, DISCHARGE, REST
    assert state.tolist() == [r, r, c, c, c, r, r, d, d, r, r]


def test_brief_spike_is_not_a_segment_and_brief_pause_does_not_split():
    current = np.zeros(60)
    current[10] = 5.0  # one 20 s spike: rest
    current[20:40] = -10.0
    current[30] = 0.0  # one reading at 0 A inside the discharge: still one segment
    t = np.arange(current.size) * 20.0
    state = classify_current(t, current, on_a=1.0, max_gap_s=MAX_GAP_S)
    assert state[10] == REST
    assert (state[20:40] == DISCHARGE).all()
    assert (np.delete(state, np.arange(20, 40)) == REST).all()


# ---------------------------------------------------------------- hand-made cycles


def test_clean_charge_rest_discharge_gives_the_hand_computed_capacity():
    ts, current, volts = full_cycle()
    rows = run(ts, current, volts)
    assert len(rows) == 1
    c = rows[0]
    assert c["is_capacity_measurement"] and not c["is_partial"]
    assert c["method"] == "full_to_empty_voltage"
    assert c["capacity_ah"] == pytest.approx(DISCHARGE_AH, rel=1e-12)
    assert c["discharge_ah"] == pytest.approx(DISCHARGE_AH, rel=1e-12)
    assert c["charge_ah"] == pytest.approx(CHARGE_AH, rel=1e-12)
    kwh = discharge_kwh_by_hand(55.0, 47.9, 49.0)
    assert c["capacity_kwh"] == pytest.approx(kwh, rel=1e-12)
    assert c["discharge_kwh"] == pytest.approx(kwh, rel=1e-12)
    # the cycle starts at the last rest reading before the charge and runs to the last reading
    assert c["start_ts"].timestamp() == (T0_MS + 30 * 20_000) / 1000
    assert c["end_ts"].timestamp() == (T0_MS + (ts.size - 1) * 20_000) / 1000
    assert c["dod_pct"] == pytest.approx(DISCHARGE_AH)  # of 100 Ah nameplate
    assert c["max_c_rate"] == 0.5
    assert c["mean_c_rate"] == pytest.approx(0.5, rel=0.01)  # ramps are counted as active
    assert c["coulombic_efficiency_pct"] == pytest.approx(100 * DISCHARGE_AH / CHARGE_AH)
    assert c["voltage_min_v"] == 47.9 and c["voltage_max_v"] == 56.3
    assert c["charge_s"] + c["discharge_s"] + c["rest_s"] == pytest.approx(c["duration_s"])
    assert c["gap_s"] == 0.0 and c["kwh_source"] == "vi"


def test_voltage_on_its_own_timestamps_is_taken_as_of_each_current_reading():
    ts, current, volts = full_cycle()
    late = detect_cycles((ts, current), (ts + 300, volts), CAP, MAX_GAP_S).to_pylist()[0]
    early = detect_cycles((ts, current), (ts - 300, volts), CAP, MAX_GAP_S).to_pylist()[0]
    same = run(ts, current, volts)[0]
    # read 300 ms before: the same value as of each current reading
    assert early["discharge_kwh"] == pytest.approx(same["discharge_kwh"], rel=1e-12)
    # read 300 ms after: each current reading pairs with the previous voltage reading
    assert late["discharge_kwh"] != same["discharge_kwh"]
    assert late["discharge_kwh"] == pytest.approx(same["discharge_kwh"], rel=2e-3)
    assert late["capacity_ah"] == same["capacity_ah"]


def test_power_channel_is_used_for_kwh_when_given():
    ts, current, volts = full_cycle()
    power_kw = current * 50.0 / 1000  # a constant 50 V: kWh = 50 V × Ah
    c = run(ts, current, volts, power=(ts, power_kw))[0]
    assert c["kwh_source"] == "power"
    assert c["discharge_kwh"] == pytest.approx(DISCHARGE_AH * 50 / 1000, rel=1e-12)
    assert c["capacity_kwh"] == pytest.approx(DISCHARGE_AH * 50 / 1000, rel=1e-12)


def test_idle_noise_and_spikes_make_no_cycles():
    rng = np.random.default_rng(5)
    n = 4320  # one day at 20 s
    ts = T0_MS + np.arange(n, dtype=np.int64) * 20_000
    current = rng.normal(0.0, 0.3, n)  # ±0.3 A noise on a 100 Ah battery (C/100 = 1 A)
    current[[500, 1700, 3000]] = [5.0, -6.0, 4.0]  # single-reading spikes
    volts = 52.0 + rng.normal(0, 0.01, n)
    assert run(ts, current, volts) == []


def test_discharge_that_stops_above_v_empty_is_not_a_measurement():
    ts, current, volts = full_cycle(discharge_to_v=48.5)
    (c,) = run(ts, current, volts)
    assert not c["is_capacity_measurement"]
    assert c["capacity_ah"] is None and c["method"] is None
    assert c["discharge_ah"] == pytest.approx(DISCHARGE_AH, rel=1e-12)


def test_discharge_not_preceded_by_a_full_charge_is_not_a_measurement():
    ts, current, volts = full_cycle(charge_to_v=55.5)
    (c,) = run(ts, current, volts)
    assert not c["is_capacity_measurement"] and c["capacity_ah"] is None


def test_a_gap_in_the_middle_is_not_integrated():
    ts, current, volts = full_cycle()
    # drop 30 readings in the middle of the discharge: one 620 s interval, longer than max_gap_s
    first_discharge = 31 + 181 + 31
    drop = np.arange(first_discharge + 150, first_discharge + 180)
    ts, current, volts = (np.delete(x, drop) for x in (ts, current, volts))
    (c,) = run(ts, current, volts)
    assert c["discharge_ah"] == pytest.approx(DISCHARGE_AH - 50.0 * 620 / 3600, rel=1e-12)
    assert c["gap_s"] == pytest.approx(620.0)
    assert not c["is_capacity_measurement"]  # Ah was lost in the gap


def test_soc_channel_decides_full_and_empty_when_the_voltage_does_not():
    ts, current, volts = full_cycle(discharge_to_v=49.0, charge_to_v=55.0)
    soc = np.interp(np.arange(ts.size), [0, 211, 243, 603, ts.size - 1], [10, 99, 99, 3, 3])
    (c,) = run(ts, current, volts, soc=(ts, soc))
    assert c["is_capacity_measurement"] and c["method"] == "full_to_empty_soc"
    assert c["capacity_ah"] == pytest.approx(DISCHARGE_AH, rel=1e-12)
    assert c["soc_min_pct"] == 3 and c["soc_max_pct"] == 99


def test_partial_discharge_gives_capacity_from_delta_soc():
    ts, current, volts = full_cycle(discharge_to_v=50.0, charge_to_v=55.0)
    # SoC 90 % at the start of the discharge, 40 % once it ended: ΔSoC = 50 %
    soc = np.interp(np.arange(ts.size), [0, 211, 242, 604, ts.size - 1], [40, 90, 90, 40, 40])
    (c,) = run(ts, current, volts, soc=(ts, soc))
    assert not c["is_capacity_measurement"]
    assert c["method"] == "delta_soc"
    assert c["capacity_ah"] == pytest.approx(DISCHARGE_AH / 0.5, rel=1e-12)
    # below min_delta_soc_pct (40 %): no estimate
    soc_small = np.interp(np.arange(ts.size), [0, 242, 604], [60, 60, 30])
    (c,) = run(ts, current, volts, soc=(ts, soc_small))
    assert c["capacity_ah"] is None and c["method"] is None


def test_short_high_rate_charge_after_empty_is_not_full():
    """An empty battery charged 21 Ah at 2C shows v_full by IR alone: the discharge after it is
    no measurement (the rule looks at the charge counted since the empty, not at what comes
    out). After a 90 Ah recharge at C/2 it is."""
    measured = piecewise(
        (31, 0.0, 52.0, 52.0),
        (181, 50.0, 52.0, 56.3),
        (31, 0.0, 55.6, 55.4),
        (361, -50.0, 55.0, 47.9),
        (31, 0.0, 49.0, 50.0),
    )
    for charge_readings, expect in ((19, False), (325, True)):  # 21 Ah at 200 A, 90 Ah at 50 A
        amps = 200.0 if charge_readings == 19 else 50.0
        more = piecewise(
            (charge_readings, amps, 50.0, 56.5),
            (31, 0.0, 52.0, 51.0),
            (40, -50.0, 51.0, 47.5),
            (31, 0.0, 49.0, 49.5),
        )
        ts = np.concatenate((measured[0], more[0] + (measured[0][-1] - T0_MS) + 20_000))
        current = np.concatenate((measured[1], more[1]))
        volts = np.concatenate((measured[2], more[2]))
        rows = run(ts, current, volts)
        assert [r["is_capacity_measurement"] for r in rows] == [True, expect]


def test_cycles_tile_time_including_a_direct_reversal():
    """Discharge straight into charge (no rest reading between): the boundary is the zero
    crossing, and the cycles' totals add up to the whole series' integral."""
    ts, current, volts = piecewise(
        (31, 0.0, 52, 52),
        (100, 40.0, 52, 56.2),
        (200, -30.0, 55, 47.5),
        (150, 35.0, 48, 56.1),
        (120, -25.0, 55, 50),
        (31, 0.0, 50, 50),
    )
    rows = run(ts, current, volts)
    assert len(rows) == 2
    assert rows[0]["end_ts"] == rows[1]["start_ts"]
    t = (ts - T0_MS) / 1000.0
    pos, neg = Integral(t, current, MAX_GAP_S).between(np.array([t[30]]), np.array([t[-1]]))
    assert sum(r["charge_ah"] for r in rows) == pytest.approx(pos[0] / 3600, rel=1e-12)
    assert sum(r["discharge_ah"] for r in rows) == pytest.approx(-neg[0] / 3600, rel=1e-12)
    # the crossing from -30 A to +35 A lies 30/65 of the 20 s interval after the last discharge
    t_cross = t[330] + 20 * 30 / 65
    assert rows[1]["start_ts"].timestamp() == pytest.approx((T0_MS / 1000 + t_cross), abs=1e-3)
    assert rows[0]["is_capacity_measurement"] and not rows[1]["is_capacity_measurement"]
    assert rows[-1]["is_partial"] is False


def test_data_starting_or_ending_inside_a_discharge_gives_no_measurement():
    ts, current, volts = full_cycle()
    start = 31 + 181 + 31 + 100  # inside the discharge
    rows = run(ts[start:], current[start:], volts[start:])
    assert len(rows) == 1 and rows[0]["is_partial"] and not rows[0]["is_capacity_measurement"]
    end = 31 + 181 + 31 + 359  # the discharge reached 47.9 V but its end is not observed
    rows = run(ts[:end], current[:end], volts[:end])
    assert len(rows) == 1 and rows[0]["is_partial"] and not rows[0]["is_capacity_measurement"]


def test_battery_temperature_statistics():
    ts, current, volts = full_cycle()
    temp = np.linspace(20.0, 30.0, ts.size)
    (c,) = run(ts, current, volts, battery_temp=(ts, temp))
    inside = temp[30:]
    assert c["battery_temp_min_c"] == inside.min()
    assert c["battery_temp_max_c"] == 30.0
    assert c["battery_temp_mean_c"] == pytest.approx(inside.mean())


def test_a_year_of_20_s_readings_gives_one_cycle_a_day():
    rng = np.random.default_rng(1)
    n = 1_600_000
    ts = T0_MS + np.arange(n, dtype=np.int64) * 20_000 + rng.integers(-500, 500, n)
    day_s = (np.arange(n) * 20.0) % 86400
    current = np.where((day_s > 8 * 3600) & (day_s < 14 * 3600), 20.0, 0.0)
    current -= np.where((day_s > 18 * 3600) & (day_s < 23 * 3600), 25.0, 0.0)
    current += rng.normal(0, 0.2, n)
    volts = 52.0 + 0.05 * current
    cycles = detect_cycles((ts, current), (ts + 300, volts), CAP, MAX_GAP_S)
    assert cycles.num_rows == 371  # one charge/discharge a day over 370.4 days
