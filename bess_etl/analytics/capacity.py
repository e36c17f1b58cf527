"""The capacity history of one BESS: per site-local day, throughput, equivalent full cycles, the
day's capacity estimate, a smoothed capacity robust to a bad measurement, state of health, fade
rates and the projected end-of-life date (pure numpy; the `capacity_history` table).

Definitions
    throughput_ah / _kwh     (charge + discharge) / 2 of the day: the mean of both directions
    efc                      equivalent full cycles of the day: throughput_kwh / nameplate_kwh
                             (as daily_energy.equivalent_full_cycles), throughput_ah /
                             nameplate_ah where the day has no kWh
    cumulative_efc           efc summed from the first input day
    capacity_ah / _kwh       the day's estimate: the median of its full-to-empty measurements,
                             or, when it has none, of its 'delta_soc' estimates; null without
                             either. `method` says which ('full_to_empty_voltage',
                             'full_to_empty_soc', 'delta_soc', or 'mixed' when full-to-empty
                             measurements of both kinds were combined)
    fit window               the days (d - fade_window_days, d] with an estimate, d included:
                             trailing, so a day's values never depend on later data
    capacity_smoothed_ah     the Theil–Sen line through the window's estimates (Ah vs day),
                             evaluated at d; with fewer than `min_fit_points` points or a span
                             shorter than `min_fit_span_days`, the window's median. Theil–Sen
                             (median of pairwise slopes, intercept the median residual) has a
                             29 % breakdown point: one wild measurement barely moves it
    soh_pct / soh_kwh_pct    100 × smoothed capacity / nameplate (Ah / kWh)
    fade_pct_per_year        -100 × (Theil–Sen slope, Ah/day) × 365.25 / nameplate_ah: points of
                             SoH lost per year (> 0 while fading); null without a fit
    fade_pct_per_100_efc     -100 × (Theil–Sen slope of Ah vs cumulative_efc) × 100 /
                             nameplate_ah; null unless the window spans >= min_fit_efc_span EFC
    projected_eol_date       the day the fitted line reaches eol_soh_pct: d + (soh_pct -
                             eol_soh_pct) / (fade_pct_per_year / 365.25) (before d if already
                             below); null when the fade rate is not positive, there is no fit,
                             or it is more than 100 years away

Column contract of `capacity_history` (Arrow; one row per local_date of the input, ascending):
    mac int64 · local_date date32 · charge_ah, discharge_ah, charge_kwh, discharge_kwh,
    throughput_ah, throughput_kwh, efc, cumulative_efc float64 · n_measurements int32 ·
    capacity_ah, capacity_kwh float64 · method string · fit_points int32 ·
    capacity_smoothed_ah, capacity_smoothed_kwh, soh_pct, soh_kwh_pct, fade_pct_per_year,
    fade_pct_per_100_efc float64 · projected_eol_date date32
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bess_etl.analytics.series import table_from_columns
from bess_etl.config import CapacitySettings

MIN_FIT_POINTS = 5
MIN_FIT_SPAN_DAYS = 14.0
MIN_FIT_EFC_SPAN = 1.0
MAX_PROJECTION_DAYS = 100 * 365.25
FULL_TO_EMPTY = ("full_to_empty_voltage", "full_to_empty_soc")

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("mac", pa.int64()),
        pa.field("local_date", pa.date32(), nullable=False),
        pa.field("charge_ah", pa.float64()),
        pa.field("discharge_ah", pa.float64()),
        pa.field("charge_kwh", pa.float64()),
        pa.field("discharge_kwh", pa.float64()),
        pa.field("throughput_ah", pa.float64()),
        pa.field("throughput_kwh", pa.float64()),
        pa.field("efc", pa.float64()),
        pa.field("cumulative_efc", pa.float64()),
        pa.field("n_measurements", pa.int32(), nullable=False),
        pa.field("capacity_ah", pa.float64()),
        pa.field("capacity_kwh", pa.float64()),
        pa.field("method", pa.string()),
        pa.field("fit_points", pa.int32(), nullable=False),
        pa.field("capacity_smoothed_ah", pa.float64()),
        pa.field("capacity_smoothed_kwh", pa.float64()),
        pa.field("soh_pct", pa.float64()),
        pa.field("soh_kwh_pct", pa.float64()),
        pa.field("fade_pct_per_year", pa.float64()),
        pa.field("fade_pct_per_100_efc", pa.float64()),
        pa.field("projected_eol_date", pa.date32()),
    ]
)


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the Theil–Sen line: the median of the slopes of all pairs with
    distinct x, and the median of y - slope·x. NaN, NaN with no such pair."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    i, j = _pairs(x.size)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return float("nan"), float("nan")
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok]))
    return slope, float(np.median(y - slope * x))


@lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    # a history's fits reuse a few window sizes hundreds of times
    i, j = np.triu_indices(n, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


def measurements_from_cycles(cycles: pa.Table, tz: str | ZoneInfo) -> pa.Table:
    """The capacity rows of a `cycles` table (capacity_ah not null), dated by the site-local
    day their cycle ends: columns local_date date32, capacity_ah, capacity_kwh, method."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    rows = cycles.filter(pc.is_valid(cycles["capacity_ah"]))
    ends = rows["end_ts"].to_pylist()
    dates = [e.astimezone(zone).date() for e in ends]
    return pa.table(
        {
            "local_date": pa.array(dates, pa.date32()),
            "capacity_ah": rows["capacity_ah"],
            "capacity_kwh": rows["capacity_kwh"],
            "method": rows["method"],
        }
    )


def _day_estimates(
    dates: np.ndarray, measurements: pa.Table
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """Per output day: (n, capacity_ah, capacity_kwh, method) combined as documented."""
    n_days = dates.size
    count = np.zeros(n_days, dtype=np.int32)
    cap_ah = np.full(n_days, np.nan)
    cap_kwh = np.full(n_days, np.nan)
    method: list[str | None] = [None] * n_days
    if measurements.num_rows == 0:
        return count, cap_ah, cap_kwh, method
    m_day = _days(measurements["local_date"])
    m_ah = _floats(measurements["capacity_ah"])
    m_kwh = _floats(measurements["capacity_kwh"])
    m_method = np.array(measurements["method"].to_pylist(), dtype=object)
    pos = np.searchsorted(dates, m_day)
    for d in np.unique(pos[np.isfinite(m_ah)]):
        on_day = (pos == d) & np.isfinite(m_ah)
        full = on_day & np.isin(m_method, FULL_TO_EMPTY)
        use = full if full.any() else on_day
        count[d] = int(on_day.sum())
        cap_ah[d] = float(np.median(m_ah[use]))
        kwh = m_kwh[use][np.isfinite(m_kwh[use])]
        cap_kwh[d] = float(np.median(kwh)) if kwh.size else np.nan
        kinds = set(m_method[use])
        method[d] = kinds.pop() if len(kinds) == 1 else "mixed"
    return count, cap_ah, cap_kwh, method


def _days(col: Any) -> np.ndarray:
    """date32 column -> int64 days since the epoch."""
    return np.asarray(pc.cast(col, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(col: Any) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy(), np.float64)


def capacity_history(
    daily: pa.Table,
    measurements: pa.Table,
    cap: CapacitySettings,
    *,
    mac: int | None = None,
) -> pa.Table:
    """One row per day of `daily` (and per day that only has measurements), ascending.

    daily: local_date date32, charge_ah, discharge_ah, charge_kwh, discharge_kwh (nullable;
    e.g. daily_energy's columns). measurements: local_date, capacity_ah, capacity_kwh, method
    (e.g. `measurements_from_cycles`). Pass the BESS's whole history: cumulative EFC and the
    trailing fits look back.
    """
    return _history_rows(_day_inputs(daily, measurements, cap), 0, cap, mac)


def update_capacity_history(
    daily: pa.Table,
    measurements: pa.Table,
    cap: CapacitySettings,
    kept: pa.Table,
    *,
    mac: int | None = None,
) -> tuple[dt.date | None, pa.Table]:
    """What changes in a capacity history when its inputs change: (the first day whose row
    changes, or None; the rows from that day on, as `capacity_history` computes them).

    kept: the BESS's rows already in the table (HISTORY_SCHEMA, ascending; computed from the
    same kind of inputs, e.g. every row before its earliest recomputed day). A day's values
    depend on that day's and earlier days' inputs only, so kept's rows before the first day
    whose inputs (daily totals, measurements) differ, or that kept lacks, stand: the caller
    replaces kept's rows from the returned day on with the returned rows. The trailing fits,
    the costly part, run only for those days."""
    inputs = _day_inputs(daily, measurements, cap)
    start = _first_difference(inputs, kept)
    n_kept, n_now = kept.num_rows, inputs["days"].size
    if start == n_kept == n_now:
        return None, HISTORY_SCHEMA.empty_table()
    day = inputs["days"][start] if start < n_now else None
    if start < n_kept:
        kept_day = _days(kept["local_date"][start : start + 1])[0]
        day = kept_day if day is None else min(day, kept_day)
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(day))
    return first, _history_rows(inputs, start, cap, mac)


# the columns of a capacity_history row that are its day's inputs, not derived from them
_INPUT_COLUMNS = (
    "charge_ah",
    "discharge_ah",
    "charge_kwh",
    "discharge_kwh",
    "capacity_ah",
    "capacity_kwh",
)


def _first_difference(inputs: dict, kept: pa.Table) -> int:
    """Index of the first day whose inputs differ from kept's row (or that kept lacks); kept's
    length when every kept row matches. Exact comparison: both come from the same inputs
    through the same arithmetic, NaN equal to NaN (a null in the table)."""
    n = min(kept.num_rows, inputs["days"].size)
    same = _days(kept["local_date"][:n]) == inputs["days"][:n]
    for name in _INPUT_COLUMNS:
        same &= _same_floats(_floats(kept[name][:n]), inputs[name][:n])
    same &= (
        kept["n_measurements"][:n].to_numpy(zero_copy_only=False) == inputs["n_measurements"][:n]
    )
    same &= np.array(kept["method"][:n].to_pylist(), dtype=object) == np.array(
        inputs["method"][:n], dtype=object
    )
    differ = np.flatnonzero(~same)
    return int(differ[0]) if differ.size else n


def _same_floats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _day_inputs(daily: pa.Table, measurements: pa.Table, cap: CapacitySettings) -> dict:
    """Per output day (ascending): its totals, equivalent full cycles and capacity estimate."""
    d_days = _days(daily["local_date"]) if daily.num_rows else np.empty(0, np.int64)
    m_days = _days(measurements["local_date"]) if measurements.num_rows else np.empty(0, np.int64)
    days = np.union1d(d_days, m_days)
    n = days.size
    at = np.searchsorted(days, d_days)

    def daily_col(name: str) -> np.ndarray:
        out = np.full(n, np.nan)
        if daily.num_rows:
            out[at] = _floats(daily[name])
        return out

    chg_ah, dis_ah = daily_col("charge_ah"), daily_col("discharge_ah")
    chg_kwh, dis_kwh = daily_col("charge_kwh"), daily_col("discharge_kwh")
    thr_ah, thr_kwh = (chg_ah + dis_ah) / 2, (chg_kwh + dis_kwh) / 2
    efc = np.where(np.isfinite(thr_kwh), thr_kwh / cap.nameplate_kwh, thr_ah / cap.nameplate_ah)
    count, cap_ah, cap_kwh, method = _day_estimates(days, measurements)
    return {
        "days": days,
        "charge_ah": chg_ah,
        "discharge_ah": dis_ah,
        "charge_kwh": chg_kwh,
        "discharge_kwh": dis_kwh,
        "throughput_ah": thr_ah,
        "throughput_kwh": thr_kwh,
        "efc": efc,
        "cumulative_efc": np.cumsum(np.nan_to_num(efc)),
        "n_measurements": count,
        "capacity_ah": cap_ah,
        "capacity_kwh": cap_kwh,
        "method": method,
    }


def _history_rows(
    inputs: dict,
    start: int,
    cap: CapacitySettings,
    mac: int | None,
) -> pa.Table:
    """The capacity_history rows of inputs' days from index `start` on."""
    days = inputs["days"]
    fits = _trailing_fits(
        days,
        inputs["capacity_ah"],
        inputs["capacity_kwh"],
        inputs["cumulative_efc"],
        window_days=cap.fade_window_days,
        min_points=MIN_FIT_POINTS,
        min_span_days=MIN_FIT_SPAN_DAYS,
        min_efc_span=MIN_FIT_EFC_SPAN,
        start=start,
    )
    smooth_ah, smooth_kwh, slope_day, slope_efc, fit_points = fits
    days = days[start:]
    n = days.size
    soh = 100.0 * smooth_ah / cap.nameplate_ah
    fade_year = -100.0 * slope_day * 365.25 / cap.nameplate_ah
    fade_efc = -100.0 * slope_efc * 100.0 / cap.nameplate_ah
    cols = {name: value[start:] for name, value in inputs.items() if name != "days"}
    cols |= {
        "mac": pa.array([mac] * n, pa.int64()),
        "local_date": pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32()),
        "method": pa.array(inputs["method"][start:], pa.string()),
        "fit_points": fit_points,
        "capacity_smoothed_ah": smooth_ah,
        "capacity_smoothed_kwh": smooth_kwh,
        "soh_pct": soh,
        "soh_kwh_pct": 100.0 * smooth_kwh / cap.nameplate_kwh,
        "fade_pct_per_year": fade_year,
        "fade_pct_per_100_efc": fade_efc,
        "projected_eol_date": _eol_dates(days, soh, fade_year, cap.eol_soh_pct),
    }
    return table_from_columns(HISTORY_SCHEMA, cols)


def _trailing_fits(
    days: np.ndarray,
    cap_ah: np.ndarray,
    cap_kwh: np.ndarray,
    cum_efc: np.ndarray,
    *,
    window_days: int,
    min_points: int,
    min_span_days: float,
    min_efc_span: float,
    start: int = 0,
) -> tuple[np.ndarray, ...]:
    """Per day d from index `start` on, over the days (d - window_days, d] with an estimate:
    smoothed Ah and kWh, slope in Ah/day and in Ah/EFC (NaN without a fit), and the number of
    points. The loop is over days (thousands at most); each fit is O(window²) numpy."""
    n = days.size
    smooth_ah, smooth_kwh = np.full(n, np.nan), np.full(n, np.nan)
    slope_day, slope_efc = np.full(n, np.nan), np.full(n, np.nan)
    points = np.zeros(n, dtype=np.int32)
    has = np.flatnonzero(np.isfinite(cap_ah))
    lo = np.searchsorted(days[has], days - window_days, side="right")
    hi = np.searchsorted(days[has], days, side="right")
    for d in range(start, n):
        idx = has[lo[d] : hi[d]]
        points[d] = idx.size
        if idx.size == 0:
            continue
        x, y = days[idx].astype(np.float64), cap_ah[idx]
        y_kwh = cap_kwh[idx]
        kwh_ok = np.isfinite(y_kwh)
        if idx.size >= min_points and x[-1] - x[0] >= min_span_days:
            b, a = theil_sen(x, y)
            slope_day[d], smooth_ah[d] = b, a + b * days[d]
            if kwh_ok.sum() >= min_points:
                bk, ak = theil_sen(x[kwh_ok], y_kwh[kwh_ok])
                smooth_kwh[d] = ak + bk * days[d]
            elif kwh_ok.any():
                smooth_kwh[d] = np.median(y_kwh[kwh_ok])
            e = cum_efc[idx]
            if e.max() - e.min() >= min_efc_span:
                slope_efc[d] = theil_sen(e, y)[0]
        else:
            smooth_ah[d] = np.median(y)
            if kwh_ok.any():
                smooth_kwh[d] = np.median(y_kwh[kwh_ok])
    return tuple(a[start:] for a in (smooth_ah, smooth_kwh, slope_day, slope_efc, points))


def _eol_dates(
    days: np.ndarray, soh: np.ndarray, fade_year: np.ndarray, eol_pct: float
) -> pa.Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        to_go = (soh - eol_pct) / (fade_year / 365.25)
    ok = np.isfinite(to_go) & (fade_year > 0) & (to_go <= MAX_PROJECTION_DAYS)
    epoch = dt.date(1970, 1, 1)
    out = [
        epoch + dt.timedelta(days=int(days[k] + round(to_go[k]))) if ok[k] else None
        for k in range(days.size)
    ]
    return pa.array(out, pa.date32())
