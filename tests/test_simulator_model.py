"""The simulator's physical model and ground truth: OCV, thresholds of full cycles, day plans,
continuity across midnight, capacity fade, the truth table."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from dataclasses import replace

import numpy as np
import pytest

from bess_etl.errors import UsageError
from bess_etl.simulator import Simulator, lfp, plan_table, truth_table, write_truth_csv
from bess_etl.simulator.truth import signed_trapezoid

BESS_3_5 = 303_721_690
BESS_10 = 303_721_691
COMMISSIONED = dt.date(2024, 1, 1)


@pytest.fixture(scope="module")
def sim(simulator_settings) -> Simulator:
    return Simulator(simulator_settings)


def _deep_days(sim: Simulator, mac: int, first: dt.date, n: int) -> list[dt.date]:
    plan = sim.plan(mac, first + dt.timedelta(days=n))
    i = plan.index(first)
    return [first + dt.timedelta(days=k) for k in range(n) if plan.deep[i + k]]


def test_ocv_curve_is_an_lfp_pack():
    assert lfp.ocv_v(1.0) == pytest.approx(55.2, abs=0.01)  # the real sample at rest, full
    soc = np.linspace(0.0, 1.0, 1001)
    ocv = lfp.ocv_v(soc)
    assert np.all(np.diff(ocv) > 0)
    plateau = ocv[(soc >= 0.2) & (soc <= 0.9)]
    assert plateau.min() > 52.0 and plateau.max() < 53.5
    assert ocv[0] < 48.0 and lfp.ocv_v(0.05) > 50.0  # steep ends


def test_rest_after_a_full_charge_relaxes_to_55_2_volts(sim):
    for mac in (BESS_3_5, BESS_10):
        for day in _deep_days(sim, mac, dt.date(2025, 1, 1), 21):
            plan = sim.plan(mac, day)
            trace = sim.trace(mac, day)
            rest_end = np.searchsorted(trace.t_s, plan.discharge_start_s[plan.index(day)]) - 5
            assert trace.current_a[rest_end] == 0.0
            assert trace.soc[rest_end] == pytest.approx(1.0, abs=1e-9)
            assert trace.voltage_v[rest_end] == pytest.approx(55.2, abs=0.05)


def test_thresholds_are_crossed_by_full_cycles_only(sim, simulator_settings):
    """A charge ends >= v_full and a discharge <= v_empty only on deep-cycle days; ordinary
    days stay strictly between, so v_full -> v_empty discharges are real full cycles."""
    start = dt.date(2025, 11, 20)  # through winter: cold packs have the largest overpotentials
    for mac in (BESS_3_5, BESS_10):
        cap = simulator_settings.capacity_for(mac)
        plan = sim.plan(mac, start + dt.timedelta(days=70))
        deep_seen = 0
        for k in range(60):
            day = start + dt.timedelta(days=k)
            i = plan.index(day)
            trace = sim.trace(mac, day)
            v, current = trace.voltage_v, trace.current_a
            if plan.deep[i]:
                deep_seen += 1
                charging = np.nonzero(current > 0)[0]
                end_of_charge = charging[charging < np.searchsorted(trace.t_s, 12 * 3600)][-1]
                assert v[end_of_charge] >= cap.v_full
                assert trace.soc[end_of_charge] == pytest.approx(1.0, abs=1e-4)
                discharging = np.nonzero(current < -0.1 * cap.nameplate_ah)[0]
                assert v[discharging[-1]] <= cap.v_empty
                assert trace.soc[discharging[-1]] == pytest.approx(0.0, abs=1e-3)
            else:
                assert cap.v_empty < v.min() and v.max() < cap.v_full, day
        assert deep_seen >= 8


def test_days_are_generated_independently_and_join_at_midnight(simulator_settings):
    day = dt.date(2025, 7, 14)
    cold = Simulator(simulator_settings).trace(BESS_10, day)  # nothing before it generated
    sim = Simulator(simulator_settings)
    before = sim.trace(BESS_10, day - dt.timedelta(days=1))
    again = sim.trace(BESS_10, day)
    np.testing.assert_array_equal(cold.voltage_v, again.voltage_v)
    assert before.end_ms == again.start_ms
    assert again.soc[0] == pytest.approx(before.soc[-1], abs=1e-12)
    assert again.voltage_v[0] == pytest.approx(before.voltage_v[-1], abs=1e-3)
    assert again.battery_temp_c[0] == pytest.approx(before.battery_temp_c[-1], abs=0.01)
    assert again.ambient_c[0] == pytest.approx(before.ambient_c[-1], abs=1e-3)


def test_each_day_ends_on_its_planned_soc(sim):
    plan = sim.plan(BESS_3_5, dt.date(2025, 3, 31))
    for day in (dt.date(2025, 3, d) for d in range(1, 32)):
        i = plan.index(day)
        trace = sim.trace(BESS_3_5, day)
        assert trace.soc[0] == pytest.approx(plan.soc_start[i], abs=1e-12)
        assert trace.soc[-1] == pytest.approx(plan.soc_end[i], abs=1e-9)
        assert trace.soc.min() >= -1e-9 and trace.soc.max() <= 1.0 + 1e-9


def test_dst_days_have_23_and_25_hours(sim):
    spring, autumn = dt.date(2025, 3, 9), dt.date(2025, 11, 2)
    assert len(sim.trace(BESS_3_5, spring).t_s) - 1 == 23 * 3600
    assert len(sim.trace(BESS_3_5, autumn).t_s) - 1 == 25 * 3600
    truth = truth_table(sim.settings, BESS_3_5, spring, spring + dt.timedelta(days=1), sim)
    assert truth.column("date").to_pylist() == [spring, spring + dt.timedelta(days=1)]


def test_truth_integrates_the_model_on_its_own_grid(sim):
    day = dt.date(2025, 6, 21)
    trace = sim.trace(BESS_10, day)
    row = truth_table(sim.settings, BESS_10, day, day, sim).to_pylist()[0]
    current = trace.current_a
    # reference: the plain trapezoid of the positive and negative parts on the 1 s grid
    assert row["charge_ah"] == pytest.approx(np.trapezoid(np.maximum(current, 0)) / 3600, 1e-4)
    assert row["discharge_ah"] == pytest.approx(-np.trapezoid(np.minimum(current, 0)) / 3600, 1e-4)
    assert row["charge_kwh"] == pytest.approx(
        np.trapezoid(np.maximum(trace.power_kw, 0)) / 3600, 1e-4
    )
    # the day's net charge is the change of SoC times the capacity
    net_ah = row["charge_ah"] - row["discharge_ah"]
    assert net_ah == pytest.approx((trace.soc[-1] - trace.soc[0]) * row["capacity_ah"], abs=1e-6)
    # round trip losses: energy efficiency of a day below 1 but not absurd
    assert 0.5 * row["charge_kwh"] < row["discharge_kwh"] < row["charge_kwh"] * 1.5


def test_signed_trapezoid_splits_at_zero_crossings():
    pos, neg = signed_trapezoid(np.array([2.0, -2.0, -2.0, 0.0, 4.0]), 1.0)
    assert pos == pytest.approx(0.5 + 2.0)
    assert neg == pytest.approx(0.5 + 2.0 + 1.0)


def test_capacity_starts_at_nameplate_and_fades_at_the_configured_rate(simulator_settings):
    settings = replace(
        simulator_settings,
        simulator=replace(
            simulator_settings.simulator, fade_pct_per_year=5.0, fade_pct_per_1000_cycles=20.0
        ),
    )
    sim = Simulator(settings)
    nameplate = settings.capacity_for(BESS_10).nameplate_ah
    first = truth_table(settings, BESS_10, COMMISSIONED, COMMISSIONED, sim).to_pylist()[0]
    assert first["capacity_ah"] == pytest.approx(nameplate, abs=1e-9)
    assert first["capacity_kwh"] == pytest.approx(
        settings.capacity_for(BESS_10).nameplate_kwh, 0.05
    )

    start = dt.date(2025, 2, 1)
    truth = truth_table(settings, BESS_10, start, start + dt.timedelta(days=119), sim).to_pydict()
    capacity = np.array(truth["capacity_ah"])
    # the truth table alone gives the cycling: a day's EFC = its discharged Ah / its capacity
    efc = np.array(truth["discharge_ah"]) / capacity
    years = (len(capacity) - 1) / 365.25
    drop = nameplate * (5.0 / 100 * years + 20.0 / 100 * efc[:-1].sum() / 1000)
    assert capacity[0] - capacity[-1] == pytest.approx(drop, rel=1e-3)
    # and the fitted rate is the calendar rate plus the cycling rate at the mean cycling
    slope_ah_per_year = np.polyfit(np.arange(len(capacity)) / 365.25, capacity, 1)[0]
    expected = -nameplate * (5.0 / 100 + 20.0 / 100 * efc.mean() * 365.25 / 1000)
    assert slope_ah_per_year == pytest.approx(expected, rel=0.03)
    assert np.all(np.diff(capacity) < 0)
    kwh = np.array(truth["capacity_kwh"])
    assert np.all((kwh > 0.9 * capacity * 51.2 / 1000) & (kwh < capacity * 53.0 / 1000))


def test_a_120_day_backfill_of_the_10kw_unit_holds_15_full_cycles(sim):
    plan = plan_table(sim.settings, BESS_10, dt.date(2025, 5, 1), dt.date(2025, 8, 28), sim)
    assert plan.num_rows == 120
    assert sum(plan.column("deep_cycle").to_pylist()) >= 15
    efc = np.array(plan.column("efc_start").to_pylist())
    assert np.allclose(np.diff(efc), plan.column("discharged_soc").to_numpy()[:-1])


def test_no_truth_before_commissioning_and_only_for_batteries(sim):
    before = truth_table(sim.settings, BESS_3_5, dt.date(2023, 12, 30), COMMISSIONED, sim)
    assert before.column("date").to_pylist() == [COMMISSIONED]
    with pytest.raises(UsageError, match="not a simulated BESS"):
        truth_table(sim.settings, 7_725_398, COMMISSIONED, COMMISSIONED, sim)


def test_truth_csv(simulator_settings):
    out = io.StringIO()
    write_truth_csv(simulator_settings, BESS_3_5, dt.date(2025, 1, 1), dt.date(2025, 1, 3), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == [
        "date",
        "capacity_ah",
        "capacity_kwh",
        "charge_kwh",
        "discharge_kwh",
        "charge_ah",
        "discharge_ah",
    ]
    assert [r["date"] for r in rows] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert all(0 < float(r["capacity_ah"]) <= 100.0 for r in rows)


def test_one_bess_day_generates_well_under_a_second(simulator_settings):
    sim = Simulator(simulator_settings)
    sim.plan(BESS_10, dt.date(2025, 6, 30))
    t0 = time.perf_counter()
    for k in range(5):
        sim.trace(BESS_10, dt.date(2025, 6, 1) + dt.timedelta(days=k))
    assert (time.perf_counter() - t0) / 5 < 1.0  # generous bound; real figures in the report
