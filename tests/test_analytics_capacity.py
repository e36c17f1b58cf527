"""The capacity-history kernel (bess_etl.analytics.capacity) on synthetic fade with known truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from bess_etl.analytics.capacity import (
    capacity_history,
    measurements_from_cycles,
    theil_sen,
    update_capacity_history,
)
from bess_etl.config import CapacitySettings

CAP = CapacitySettings()  # 100 Ah, 5.1 kWh, EOL 80 %, 90-day window
DAY0 = dt.date(2024, 1, 1)


def daily_table(n_days: int, ah_per_day: float = 50.0, volts: float = 51.0) -> pa.Table:
    dates = [DAY0 + dt.timedelta(days=k) for k in range(n_days)]
    ah = np.full(n_days, ah_per_day)
    return pa.table(
        {
            "local_date": pa.array(dates, pa.date32()),
            "charge_ah": ah,
            "discharge_ah": ah,
            "charge_kwh": ah * volts / 1000,
            "discharge_kwh": ah * volts / 1000,
        }
    )


def measurement_table(days, ah, method="full_to_empty_voltage", volts: float = 51.0) -> pa.Table:
    ah = np.asarray(ah, dtype=np.float64)
    return pa.table(
        {
            "local_date": pa.array([DAY0 + dt.timedelta(days=int(d)) for d in days], pa.date32()),
            "capacity_ah": ah,
            "capacity_kwh": ah * volts / 1000,
            "method": pa.array(
                [method] * len(ah) if isinstance(method, str) else method, pa.string()
            ),
        }
    )


def test_theil_sen_ignores_an_outlier():
    x = np.arange(20.0)
    y = 3.0 - 0.5 * x
    y[7] += 40
    slope, intercept = theil_sen(x, y)
    assert slope == pytest.approx(-0.5) and intercept == pytest.approx(3.0)
    assert np.isnan(theil_sen(np.ones(3), np.arange(3.0))[0])  # no distinct x


def test_linear_fade_with_noise_and_one_outlier():
    """A year of 50 Ah/day (0.5 EFC a day) and a true fade of 0.02 Ah/day = 7.305 %/year = 4 %
    per 100 EFC; a measurement every 2nd day with 0.2 Ah noise; one 15 Ah low. Over a 180-day
    window the fit's standard error is 0.2 / (√90 × 52 days) = 0.0004 Ah/day, 2 % of the rate;
    a 90-day window with a measurement every 3rd day would give 7 %."""
    rng = np.random.default_rng(11)
    cap = replace(CAP, fade_window_days=180)
    n_days = 365
    days = np.arange(0, n_days, 2)
    truth = 100.0 - 0.02 * days
    noisy = truth + rng.normal(0, 0.2, days.size)
    bad = noisy.copy()
    bad[120] -= 15.0  # day 240
    daily = daily_table(n_days)
    clean = capacity_history(daily, measurement_table(days, noisy), cap).to_pydict()
    hist = capacity_history(daily, measurement_table(days, bad), cap, mac=7).to_pydict()

    assert hist["mac"][0] == 7 and len(hist["local_date"]) == n_days
    assert hist["efc"][0] == pytest.approx(0.5)  # (50 + 50) / 2 × 51 V / 5.1 kWh
    assert hist["cumulative_efc"][-1] == pytest.approx(0.5 * n_days)
    last = -1
    print(
        f"\nfade fit: {hist['fade_pct_per_year'][last]:.3f} %/year (truth 7.305), "
        f"{hist['fade_pct_per_100_efc'][last]:.3f} %/100 EFC (truth 4.000)"
    )
    assert hist["fade_pct_per_year"][last] == pytest.approx(0.02 * 365.25, rel=0.05)
    assert hist["fade_pct_per_100_efc"][last] == pytest.approx(4.0, rel=0.05)
    # the outlier day keeps its own estimate, but the smoothed curve does not follow it
    assert hist["capacity_ah"][240] == pytest.approx(bad[120])
    smooth_bad = np.array(hist["capacity_smoothed_ah"], dtype=float)
    smooth_clean = np.array(clean["capacity_smoothed_ah"], dtype=float)
    assert np.nanmax(np.abs(smooth_bad - smooth_clean)) < 0.05  # a quarter of the noise
    fitted = np.array(hist["fade_pct_per_year"], dtype=float)
    truth_all = 100.0 - 0.02 * np.arange(n_days)
    ok = np.isfinite(fitted)
    assert np.abs(smooth_bad[ok] - truth_all[ok]).max() < 0.3
    assert hist["soh_pct"][last] == pytest.approx(hist["capacity_smoothed_ah"][last])
    assert hist["soh_kwh_pct"][last] == pytest.approx(hist["capacity_smoothed_kwh"][last] / 0.051)


def test_too_few_points_give_no_rates():
    daily = daily_table(30)
    hist = capacity_history(daily, measurement_table([2, 10, 20], [99.0, 98.0, 97.5]), CAP)
    h = hist.to_pydict()
    assert h["fade_pct_per_year"] == [None] * 30
    assert h["fade_pct_per_100_efc"] == [None] * 30
    assert h["projected_eol_date"] == [None] * 30
    assert h["capacity_smoothed_ah"][:2] == [None, None]  # nothing measured yet
    assert h["capacity_smoothed_ah"][15] == pytest.approx(98.5)  # the median of 2 points
    assert h["capacity_smoothed_ah"][29] == 98.0
    assert h["capacity_ah"][10] == 98.0 and h["capacity_ah"][11] is None
    assert h["fit_points"][29] == 3


def test_projection_date_by_hand():
    """Capacity 100 - 0.1·k Ah on day k, measured every day: on day 89 the line gives 91.1 Ah
    (SoH 91.1 %), fades 36.525 %/year, and reaches 80 % on day 200 (100 - 0.1·200 = 80)."""
    days = np.arange(90)
    hist = capacity_history(daily_table(90), measurement_table(days, 100 - 0.1 * days), CAP)
    h = hist.to_pydict()
    assert h["soh_pct"][89] == pytest.approx(91.1)
    assert h["fade_pct_per_year"][89] == pytest.approx(36.525)
    assert h["projected_eol_date"][89] == DAY0 + dt.timedelta(days=200)
    # 0.1 Ah/day at 0.5 EFC/day: 0.2 Ah per EFC = 20 % of nameplate per 100 EFC
    assert h["fade_pct_per_100_efc"][89] == pytest.approx(20.0)


def test_no_fade_gives_no_projection():
    days = np.arange(60)
    flat = capacity_history(daily_table(60), measurement_table(days, np.full(60, 95.0)), CAP)
    rising = capacity_history(daily_table(60), measurement_table(days, 90 + 0.01 * days), CAP)
    assert flat.column("fade_pct_per_year")[59].as_py() == 0.0
    assert flat.column("projected_eol_date").null_count == 60
    assert rising.column("fade_pct_per_year")[59].as_py() < 0
    assert rising.column("projected_eol_date").null_count == 60


def test_several_measurements_on_a_day_are_combined_by_median():
    m = measurement_table(
        [0, 0, 0, 1, 1, 2, 2],
        [90.0, 91.0, 99.0, 80.0, 95.0, 94.0, 96.0],
        method=[
            "full_to_empty_voltage",
            "full_to_empty_voltage",
            "full_to_empty_voltage",
            "delta_soc",
            "full_to_empty_soc",
            "full_to_empty_voltage",
            "full_to_empty_soc",
        ],
    )
    h = capacity_history(daily_table(3), m, CAP).to_pydict()
    assert h["capacity_ah"] == [91.0, 95.0, 95.0]  # a delta_soc estimate yields to full-to-empty
    assert h["n_measurements"] == [3, 2, 2]
    assert h["method"] == ["full_to_empty_voltage", "full_to_empty_soc", "mixed"]
    only_soc = capacity_history(daily_table(1), measurement_table([0], [88.0], "delta_soc"), CAP)
    assert only_soc.column("method")[0].as_py() == "delta_soc"


def test_efc_falls_back_to_ah_and_days_with_only_measurements_appear():
    daily = daily_table(2).set_column(3, "charge_kwh", pa.array([None, 2.55], pa.float64()))
    h = capacity_history(daily, measurement_table([5], [97.0]), CAP).to_pydict()
    assert h["local_date"] == [DAY0, DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=5)]
    assert h["efc"][:2] == pytest.approx([0.5, 0.5])  # Ah-based, then kWh-based
    assert h["efc"][2] is None and h["cumulative_efc"][2] == pytest.approx(1.0)


def test_measurements_from_cycles_are_dated_by_the_local_day_they_end():
    utc = dt.UTC
    cycles = pa.table(
        {
            "end_ts": pa.array(
                [
                    dt.datetime(2024, 3, 10, 7, 30, tzinfo=utc),  # 23:30 on the 9th, PST
                    dt.datetime(2024, 3, 10, 8, 30, tzinfo=utc),  # 00:30 on the 10th
                    dt.datetime(2024, 3, 11, 6, 30, tzinfo=utc),  # 23:30 on the 10th, PDT
                ],
                pa.timestamp("ms", tz="UTC"),
            ),
            "capacity_ah": [95.0, None, 94.0],
            "capacity_kwh": [4.8, None, 4.7],
            "method": ["full_to_empty_voltage", None, "delta_soc"],
        }
    )
    m = measurements_from_cycles(cycles, "America/Vancouver").to_pydict()
    assert m["local_date"] == [dt.date(2024, 3, 9), dt.date(2024, 3, 10)]
    assert m["method"] == ["full_to_empty_voltage", "delta_soc"]


def test_an_update_redoes_only_the_days_from_the_first_changed_input():
    """update_capacity_history against whole recomputations: kept rows before the first day
    whose inputs differ stand, the rest equal capacity_history's rows from that day."""
    days = np.arange(0, 120, 3)
    ah = 100 - 0.02 * days + np.where(days % 2 == 0, 0.1, -0.1)
    daily, meas = daily_table(120), measurement_table(days, ah)
    whole = capacity_history(daily, meas, CAP, mac=7)

    def day(k: int) -> dt.date:
        return DAY0 + dt.timedelta(days=k)

    # new days after the kept ones: redone from the first day kept lacks
    first, rows = update_capacity_history(daily, meas, CAP, whole.slice(0, 100), mac=7)
    assert first == day(100) and rows.equals(whole.slice(100))
    # nothing changed
    first, rows = update_capacity_history(daily, meas, CAP, whole, mac=7)
    assert first is None and rows.num_rows == 0
    # a measurement on day 30 changed: redone from there, though kept reaches day 99
    ah2 = ah.copy()
    ah2[days == 30] -= 2.0
    meas2 = measurement_table(days, ah2)
    first, rows = update_capacity_history(daily, meas2, CAP, whole.slice(0, 100), mac=7)
    assert first == day(30) and rows.equals(capacity_history(daily, meas2, CAP, mac=7).slice(30))
    # a day's charge changed (cumulative EFC and the fits after it move)
    daily2 = daily.set_column(1, "charge_ah", pa.array(np.where(np.arange(120) == 50, 80.0, 50.0)))
    first, rows = update_capacity_history(daily2, meas, CAP, whole.slice(0, 100), mac=7)
    assert first == day(50) and rows.equals(capacity_history(daily2, meas, CAP, mac=7).slice(50))
    # a kept day that no longer has inputs: its row goes, from that day
    fewer = daily.filter(pa.array(np.arange(120) != 40))  # no measurement on day 40 either
    first, rows = update_capacity_history(fewer, meas, CAP, whole.slice(0, 100), mac=7)
    assert first == day(40) and rows["local_date"][0].as_py() == day(41)
    assert rows.equals(capacity_history(fewer, meas, CAP, mac=7).slice(40))
