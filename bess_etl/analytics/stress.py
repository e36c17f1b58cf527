"""Per-day stress metrics of one BESS for degradation work (pure numpy + the `rainflow` package).

Per site-local day (local midnights from the site's time zone; DST days are 23 or 25 h):

- Rainflow depth-of-discharge histogram (ASTM E1049 counting, `rainflow.extract_cycles`) of the
  state-of-charge signal: the SoC channel when there is one, else coulomb counting: the
  cumulative net charge (trapezoid of the current, gaps not integrated, rest readings as
  classified by `cycles.classify_current` counted as 0 A so idle noise makes no reversals) as a
  percentage of `capacity_ah` (default nameplate). Only differences matter, so the counter's
  offset and slow drift do not (a day's drift is below a per cent for a healthy shunt). Each day
  is counted on its own: the signal from local midnight to the next (interpolated at both
  edges), so a cycle that spans midnight counts as two half cycles, one in each day, and a
  day's result depends on that day's readings only. A full cycle counts 1, a half 0.5. Depths
  (range as % of capacity) fall into bands [0, 10), [10, 20), ... [90, 100]; a depth above
  100 % (capacity below the reference) is counted in the last band.
- Seconds at or above `high_voltage_v` (0: `v_full`), and at |C-rate| >= `high_c_rate`
  (|current| >= high_c_rate × nameplate_ah), on the linearly interpolated signal, gaps
  excluded, exact for piecewise-linear signals.
- Battery temperature min / mean / max of the day's readings (mean not time-weighted, as in
  daily_energy).

Column contract of `daily_stress` (Arrow; one row per local_date from the first to the last
reading, ascending):
    mac int64 · local_date date32 · soc_source string ('soc' or 'coulomb_count') ·
    dod_00_10_cycles, dod_10_20_cycles, ... dod_90_100_cycles float64 (cycle counts) ·
    rainflow_cycles float64 (sum of the bands) · rainflow_efc float64 (Σ count × depth / 100:
    equivalent full cycles of the counted swings) · max_dod_pct float64 ·
    high_voltage_s, high_c_rate_s float64 · max_c_rate float64 ·
    battery_temp_min_c, battery_temp_mean_c, battery_temp_max_c float64
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import rainflow

from bess_etl.analytics.cycles import REST, classify_current, rest_threshold_a
from bess_etl.analytics.series import (
    channel,
    local_day_edges,
    split_at,
    table_from_columns,
    time_above,
    window_reduce,
)
from bess_etl.config import CapacitySettings

DOD_BAND_EDGES_PCT = np.arange(0, 101, 10)
DOD_COLUMNS = [f"dod_{lo:02d}_{lo + 10}_cycles" for lo in DOD_BAND_EDGES_PCT[:-1]]

STRESS_SCHEMA = pa.schema(
    [
        pa.field("mac", pa.int64()),
        pa.field("local_date", pa.date32(), nullable=False),
        pa.field("soc_source", pa.string()),
        *[pa.field(c, pa.float64()) for c in DOD_COLUMNS],
        pa.field("rainflow_cycles", pa.float64()),
        pa.field("rainflow_efc", pa.float64()),
        pa.field("max_dod_pct", pa.float64()),
        pa.field("high_voltage_s", pa.float64()),
        pa.field("high_c_rate_s", pa.float64()),
        pa.field("max_c_rate", pa.float64()),
        pa.field("battery_temp_min_c", pa.float64()),
        pa.field("battery_temp_mean_c", pa.float64()),
        pa.field("battery_temp_max_c", pa.float64()),
    ]
)


def turning_points(x: np.ndarray) -> np.ndarray:
    """Indices of the reversals of x (plus both ends), dropping flat repeats: the only points
    rainflow counting looks at, found vectorised so the pure-Python counter sees few."""
    if x.size <= 2:
        return np.arange(x.size)
    moves = np.flatnonzero(np.diff(x) != 0)
    if moves.size == 0:
        return np.array([0, x.size - 1])
    keep = np.r_[moves, moves[-1] + 1]  # each point where x changes, and the last change's end
    y = x[keep]
    d = np.sign(np.diff(y))
    rev = np.flatnonzero(d[1:] != d[:-1]) + 1
    return np.unique(np.r_[0, keep[rev], x.size - 1])


def rainflow_histogram(signal_pct: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(counts per DoD band, Σ count × depth / 100, max depth) of a SoC-like signal in %."""
    counts = np.zeros(DOD_BAND_EDGES_PCT.size - 1)
    if signal_pct.size < 2:
        return counts, 0.0, 0.0
    pts = signal_pct[turning_points(signal_pct)]
    if pts.size == 2:  # rainflow.reversals drops the end of a two-point series
        pts = np.array([pts[0], (pts[0] + pts[1]) / 2, pts[1]])
    efc, max_depth = 0.0, 0.0
    for rng, _mean, count, _i0, _i1 in rainflow.extract_cycles(pts):
        if rng <= 0:
            continue  # a flat signal is no cycle
        band = min(int(rng // 10), counts.size - 1)
        counts[band] += count
        efc += count * rng / 100.0
        max_depth = max(max_depth, rng)
    return counts, efc, max_depth


def _soc_signal(
    t: np.ndarray,
    i: np.ndarray,
    capacity_ah: float,
    on_a: float,
    max_gap_s: float,
) -> np.ndarray:
    """Coulomb-counted state of charge in % of capacity_ah (arbitrary offset), per reading."""
    state = classify_current(t, i, on_a, max_gap_s)
    i_active = np.where(state == REST, 0.0, i)
    dt_s = np.diff(t)
    step = (i_active[1:] + i_active[:-1]) / 2 * dt_s
    step[dt_s > max_gap_s] = 0.0
    return 100.0 * np.concatenate(([0.0], np.cumsum(step))) / 3600.0 / capacity_ah


def _per_day_seconds_beyond(
    t: np.ndarray, x: np.ndarray, threshold: float, edges: np.ndarray, max_gap_s: float, both: bool
) -> np.ndarray:
    """Seconds per day with x >= threshold (both: |x| >= threshold)."""
    n_days = edges.size - 1
    t0, t1, v0, v1, day = split_at(t, x, edges, max_gap_s)
    secs = time_above(t0, t1, v0, v1, threshold)
    if both:
        secs += time_above(t0, t1, -v0, -v1, threshold)
    ok = (day >= 0) & (day < n_days)
    return np.bincount(day[ok], weights=secs[ok], minlength=n_days)


def daily_stress(
    current: tuple[Any, Any],
    voltage: tuple[Any, Any],
    cap: CapacitySettings,
    max_gap_s: float,
    tz: str | ZoneInfo,
    *,
    soc: tuple[Any, Any] | None = None,
    battery_temp: tuple[Any, Any] | None = None,
    capacity_ah: float | None = None,
    mac: int | None = None,
) -> pa.Table:
    """Stress metrics per local day (columns in the module docstring). Channels are
    (timestamps, values) pairs as for `cycles.detect_cycles`: current A charge-positive,
    voltage V, SoC %, temperature °C. capacity_ah normalises coulomb counting (default
    nameplate; pass the current capacity estimate to count depths against usable capacity)."""
    t, i = channel(*current)
    tv, v = channel(*voltage)
    t_soc, soc_pct = channel(*soc) if soc is not None else (np.empty(0), np.empty(0))
    t_tmp, tmp = channel(*battery_temp) if battery_temp is not None else (np.empty(0), np.empty(0))
    firsts = [x[0] for x in (t, tv, t_soc, t_tmp) if x.size]
    lasts = [x[-1] for x in (t, tv, t_soc, t_tmp) if x.size]
    if not firsts:
        return STRESS_SCHEMA.empty_table()
    dates, edges = local_day_edges(min(firsts), max(lasts), tz)
    n_days = len(dates)

    if t_soc.size:
        sig_t, sig, source = t_soc, soc_pct, "soc"
    else:
        ref_ah = capacity_ah or cap.nameplate_ah
        sig_t, source = t, "coulomb_count"
        sig = _soc_signal(t, i, ref_ah, rest_threshold_a(cap), max_gap_s)
    hist = np.zeros((n_days, DOD_BAND_EDGES_PCT.size - 1))
    efc, max_dod = np.zeros(n_days), np.zeros(n_days)
    if sig_t.size >= 2:
        # each day's signal with interpolated values at its midnights
        inner = edges[(edges > sig_t[0]) & (edges < sig_t[-1])]
        at = np.searchsorted(sig_t, inner)
        tt = np.insert(sig_t, at, inner)
        ss = np.insert(sig, at, np.interp(inner, sig_t, sig))
        lo = np.searchsorted(tt, edges[:-1], side="left")
        hi = np.searchsorted(tt, edges[1:], side="right")
        for d in range(n_days):
            hist[d], efc[d], max_dod[d] = rainflow_histogram(ss[lo[d] : hi[d]])

    hv_threshold = cap.high_voltage_v or cap.v_full
    high_v = _per_day_seconds_beyond(tv, v, hv_threshold, edges, max_gap_s, both=False)
    c_threshold = cap.high_c_rate * cap.nameplate_ah
    high_c = _per_day_seconds_beyond(t, i, c_threshold, edges, max_gap_s, both=True)

    cols: dict[str, Any] = {
        "mac": pa.array([mac] * n_days, pa.int64()),
        "local_date": pa.array(dates, pa.date32()),
        "soc_source": pa.array([source] * n_days, pa.string()),
        **{c: hist[:, k] for k, c in enumerate(DOD_COLUMNS)},
        "rainflow_cycles": hist.sum(axis=1),
        "rainflow_efc": efc,
        "max_dod_pct": max_dod,
        "high_voltage_s": high_v,
        "high_c_rate_s": high_c,
        "max_c_rate": _per_day(t, np.abs(i), edges, "max") / cap.nameplate_ah,
        "battery_temp_min_c": _per_day(t_tmp, tmp, edges, "min"),
        "battery_temp_mean_c": _per_day(t_tmp, tmp, edges, "mean"),
        "battery_temp_max_c": _per_day(t_tmp, tmp, edges, "max"),
    }
    return table_from_columns(STRESS_SCHEMA, cols)


def _per_day(t: np.ndarray, x: np.ndarray, edges: np.ndarray, how: str) -> np.ndarray:
    """min / max / mean of the readings in each [edges[k], edges[k+1]); NaN for none."""
    return window_reduce(t, x, edges[:-1], edges[1:], how, closed="left")
