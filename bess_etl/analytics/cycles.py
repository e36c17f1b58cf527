"""Charge/discharge segmentation, cycles and capacity measurements of one BESS (pure numpy).

Segments
    Each current reading is classified charge (+1), rest (0) or discharge (-1) with hysteresis:
    charge is entered above +on_a and left below +off_a (off_a = on_a / 2), discharge likewise
    below -on_a / above -off_a, where on_a = `rest_current_a` or, when 0, C/100 of nameplate
    (`rest_threshold_a`). A charge or discharge run shorter than `min_segment_s` (default 60 s,
    three readings at the 20 s production cadence) becomes rest, so a single spike never makes a
    segment; then a short rest between two runs of the same direction is absorbed into them.
    Durations are measured in covered time (gaps longer than max_gap_s excluded).

Cycles
    A phase is a maximal run of same-direction segments, rests between them absorbed. A cycle is a
    charge phase followed by a discharge phase; a new cycle starts where a charge phase starts.
    So the data's first cycle may have no charge (it begins discharging) and its last may have no
    discharge. Cycles tile time: a cycle starts at its first segment's left edge (the last reading
    before the current left rest, or the zero crossing on a direct reversal) and ends where the
    next cycle starts (the last one at the last current reading). Rest before the first segment
    belongs to no cycle. Totals are exact trapezoid integrals over [start_ts, end_ts] under the
    warehouse's rules (zero-crossing split, gaps not integrated), so they add up to the total.

Capacity measurement (`is_capacity_measurement`)
    A discharge phase whose start is observed and follows "full", and which reaches "empty":
    - full: the voltage reached `v_full` (or SoC >= `soc_full_pct`) at some reading of the
      preceding charge phase or the rest after it (only charge and rest can follow, so the state
      at the start of the discharge is at least as full). With no charge phase (the data begins
      with rest, then discharge), the rest must last >= min_segment_s and its last reading be full.
    - empty: the voltage (or SoC) of a discharge segment of the phase reaches <= `v_empty`
      (`soc_empty_pct`); the first such segment ends the measurement, and its end must be observed
      (a reading after it), i.e. not cut by the end of the data.
    - no current gap between the last full reading and the end of the measurement.
    - charge-counted: if an earlier discharge was observed reaching empty, the net Ah charged
      from there to the full reading must be >= min_recharge_fraction (default 0.5) of the
      reference capacity (the latest measurement before it, else `reference_capacity_ah`, else
      nameplate). This rejects a "full" that was only the IR rise of a short high-rate charge
      (the real PredictionDiagnostics file's last cycle: 0.28 Ah at 9.7 A after an empty pushes
      the voltage to 4.37 V, then 0.52 Ah comes out). It does not reject high-rate or degraded
      capacities themselves (maccor_001's 10 A discharge at 0 °C is a valid measurement).
    capacity_ah / capacity_kwh = the net Ah / kWh out of the battery from the discharge start to
    the end of the segment that reached empty (ramp-in and ramp-out intervals included, so a
    cycler's step total is reproduced: see tests/test_analytics_real_cycler.py, Neware).
    The whole segment counts, not only the part above v_empty: a discharge goes on until the
    inverter or BMS stops it, and the charge delivered below v_empty under load (the last
    1.5-2 % at 0.25 C in the simulator's pack) is part of the capacity. So the simulator's
    deep cycles, which run to SoC 0, measure its true capacity (tests/test_capacity_truth.py:
    within 0.1 %); stopping the count where the voltage first crosses v_empty would read
    ~1.5-2 % low, and by more in the cold (more IR drop), adding a temperature bias to the fade.
    Capacity is judged on the discharge, which must lie wholly inside the data between an
    observed full and an observed empty: a discharge that began before the data (or before an
    observed full), or that the data's end cuts before empty, never measures capacity. A cycle
    whose charge began before the data but was observed reaching full does (it is is_partial,
    since its charge total is incomplete): the instruments agree, e.g. the real Arbin file's
    first cycle gives 1.0729 Ah, the instrument 1.0724 Ah, the next full cycle 1.0729 Ah.
    With a SoC channel, a complete discharge phase that does not qualify but spans
    ΔSoC >= `min_delta_soc_pct` gives capacity_ah = net Ah / (ΔSoC / 100) (same for kWh), with
    method 'delta_soc' and is_capacity_measurement false (DESIGN.md reserves the flag for full to
    empty).

Column contract of `detect_cycles` (Arrow; one row per mac × cycle, time order):
    mac                      int64       the BESS (null when not given)
    cycle_index              int32       0-based, in the order of the input
    start_ts, end_ts         timestamp[ms, UTC]
    duration_s               float64     end_ts - start_ts
    charge_s, discharge_s    float64     covered seconds in charge / discharge segments
    rest_s, gap_s            float64     covered seconds at rest / seconds in current gaps
    charge_ah, discharge_ah  float64     trapezoid, >= 0
    charge_kwh, discharge_kwh float64    from the power channel if given, else V·I (voltage as of
                                         each current reading, at most max_gap_s old); null-free,
                                         intervals without a kWh source are not integrated
    kwh_source               string      'power' or 'vi'
    dod_pct                  float64     100 × discharge_ah / nameplate_ah
    mean_c_rate              float64     (charge_ah + discharge_ah) / active hours / nameplate_ah
    max_c_rate               float64     max |current| / nameplate_ah, 1/h
    coulombic_efficiency_pct float64     100 × discharge_ah / charge_ah; null if is_partial
    energy_efficiency_pct    float64     100 × discharge_kwh / charge_kwh; null if is_partial
    voltage_min_v, voltage_max_v                  float64  readings within [start_ts, end_ts]
    battery_temp_min_c, _mean_c, _max_c           float64  readings (mean not time-weighted)
    soc_min_pct, soc_max_pct                      float64  null without a SoC channel
    is_partial               bool        cut by the data: the first segment begins less than
                                         min_segment_s (covered) after the first reading, or the
                                         cycle has not discharged yet / its last segment ends less
                                         than min_segment_s before the last reading. Its totals
                                         are incomplete and its efficiencies null
    is_capacity_measurement  bool        a discharge from full to empty, see above
    capacity_ah, capacity_kwh float64    the measurement (or 'delta_soc' estimate); else null
    method                   string      'full_to_empty_voltage' (both ends by voltage),
                                         'full_to_empty_soc' (an end by SoC), 'delta_soc', null
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from bess_etl.analytics.series import (
    Channel,
    Integral,
    asof,
    channel,
    pick_channel,
    table_from_columns,
    window_reduce,
)
from bess_etl.config import CapacitySettings, ChannelSettings

CHARGE, REST, DISCHARGE = 1, 0, -1
MIN_SEGMENT_S = 60.0
OFF_FRACTION = 0.5  # leave charge/discharge below this fraction of the entry threshold
MIN_RECHARGE_FRACTION = 0.5

CYCLES_SCHEMA = pa.schema(
    [
        pa.field("mac", pa.int64()),
        pa.field("cycle_index", pa.int32(), nullable=False),
        pa.field("start_ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("end_ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("charge_s", pa.float64()),
        pa.field("discharge_s", pa.float64()),
        pa.field("rest_s", pa.float64()),
        pa.field("gap_s", pa.float64()),
        pa.field("charge_ah", pa.float64()),
        pa.field("discharge_ah", pa.float64()),
        pa.field("charge_kwh", pa.float64()),
        pa.field("discharge_kwh", pa.float64()),
        pa.field("kwh_source", pa.string()),
        pa.field("dod_pct", pa.float64()),
        pa.field("mean_c_rate", pa.float64()),
        pa.field("max_c_rate", pa.float64()),
        pa.field("coulombic_efficiency_pct", pa.float64()),
        pa.field("energy_efficiency_pct", pa.float64()),
        pa.field("voltage_min_v", pa.float64()),
        pa.field("voltage_max_v", pa.float64()),
        pa.field("battery_temp_min_c", pa.float64()),
        pa.field("battery_temp_mean_c", pa.float64()),
        pa.field("battery_temp_max_c", pa.float64()),
        pa.field("soc_min_pct", pa.float64()),
        pa.field("soc_max_pct", pa.float64()),
        pa.field("is_partial", pa.bool_(), nullable=False),
        pa.field("is_capacity_measurement", pa.bool_(), nullable=False),
        pa.field("capacity_ah", pa.float64()),
        pa.field("capacity_kwh", pa.float64()),
        pa.field("method", pa.string()),
    ]
)


# ---------------------------------------------------------------- segmentation


def rest_threshold_a(cap: CapacitySettings) -> float:
    """|current| above which the battery is charging or discharging: rest_current_a, or C/100."""
    return cap.rest_current_a if cap.rest_current_a > 0 else cap.nameplate_ah / 100.0


def _hysteresis(x: np.ndarray, on: float, off: float) -> np.ndarray:
    """True from where x rises above `on` until it falls below `off` (a Schmitt trigger),
    vectorised: every reading outside the band (off, on) decides; those inside inherit."""
    anchor = np.where(x > on, 1, np.where(x < off, 0, -1)).astype(np.int8)
    if anchor.size and anchor[0] < 0:
        anchor[0] = 0
    last = np.where(anchor >= 0, np.arange(anchor.size), 0)
    np.maximum.accumulate(last, out=last)
    return anchor[last] == 1


def _runs(state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding: (first index, end index exclusive, value) of each run."""
    if state.size == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, state[:0]
    starts = np.r_[0, np.flatnonzero(state[1:] != state[:-1]) + 1]
    ends = np.r_[starts[1:], state.size]
    return starts, ends, state[starts]


def _covered(t_s: np.ndarray, max_gap_s: float) -> np.ndarray:
    """Cumulative covered seconds at each reading (gap intervals count 0)."""
    dt_s = np.diff(t_s)
    return np.concatenate(([0.0], np.cumsum(np.where(dt_s <= max_gap_s, dt_s, 0.0))))


def _run_durations(cov: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Covered seconds from a run's first reading to the next run's first (or the last reading)."""
    return cov[np.minimum(ends, cov.size - 1)] - cov[starts]


def classify_current(
    t_s: np.ndarray,
    current_a: np.ndarray,
    on_a: float,
    max_gap_s: float,
    min_segment_s: float = MIN_SEGMENT_S,
) -> np.ndarray:
    """Per reading: CHARGE (1), REST (0) or DISCHARGE (-1), charge-positive current."""
    off_a = on_a * OFF_FRACTION
    state = _hysteresis(current_a, on_a, off_a).astype(np.int8)
    state -= _hysteresis(-current_a, on_a, off_a).astype(np.int8)
    cov = _covered(t_s, max_gap_s)
    # a brief excursion is noise or a spike, not a segment
    starts, ends, vals = _runs(state)
    dur = _run_durations(cov, starts, ends)
    vals = np.where((vals != REST) & (dur < min_segment_s), REST, vals)
    state = np.repeat(vals, ends - starts).astype(np.int8)
    # a brief pause inside a charge (or discharge) does not split it
    starts, ends, vals = _runs(state)
    dur = _run_durations(cov, starts, ends)
    prev, nxt = np.r_[REST, vals[:-1]], np.r_[vals[1:], REST]
    fill = (vals == REST) & (dur < min_segment_s) & (prev == nxt) & (prev != REST)
    vals = np.where(fill, prev, vals)
    return np.repeat(vals, ends - starts).astype(np.int8)


# ---------------------------------------------------------------- cycles


def _edge_times(t: np.ndarray, i: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boundary time in the interval k -> k+1: its zero crossing when the current changes sign
    there, else the reading at k (used as a left edge) — callers pass k = first active - 1."""
    k = np.clip(k, 0, t.size - 1)
    k1 = np.minimum(k + 1, t.size - 1)
    i0, i1 = i[k], i[k1]
    cross = (i0 * i1) < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = t[k] + (t[k1] - t[k]) * np.abs(i0) / (np.abs(i0) + np.abs(i1))
    return np.where(cross, tc, t[k])


def _end_times(t: np.ndarray, i: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Right edge after a run ending at reading `last`: the next reading, or the zero crossing
    on a direct reversal; the last reading when the data ends there."""
    nxt = np.minimum(last + 1, t.size - 1)
    i0, i1 = i[last], i[nxt]
    cross = (i0 * i1) < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = t[last] + (t[nxt] - t[last]) * np.abs(i0) / (np.abs(i0) + np.abs(i1))
    return np.where(cross, tc, t[nxt])


def _interval_state_seconds(dt_s: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative covered seconds in charge and in discharge, per reading, from each interval's
    covered seconds. An interval counts as active when either end is (ramps into and out of a
    segment are part of it)."""
    s0, s1 = state[:-1], state[1:]
    ist = np.where(s1 != REST, s1, s0)
    zero = np.zeros(1)
    return (
        np.concatenate((zero, np.cumsum(np.where(ist == CHARGE, dt_s, 0.0)))),
        np.concatenate((zero, np.cumsum(np.where(ist == DISCHARGE, dt_s, 0.0)))),
    )


def _empty_table() -> pa.Table:
    return CYCLES_SCHEMA.empty_table()


def detect_cycles(
    current: tuple[Any, Any],
    voltage: tuple[Any, Any],
    cap: CapacitySettings,
    max_gap_s: float,
    *,
    soc: tuple[Any, Any] | None = None,
    battery_temp: tuple[Any, Any] | None = None,
    power: tuple[Any, Any] | None = None,
    mac: int | None = None,
    min_segment_s: float = MIN_SEGMENT_S,
    min_recharge_fraction: float = MIN_RECHARGE_FRACTION,
    reference_capacity_ah: float | None = None,
) -> pa.Table:
    """Cycles of one BESS, one row each (columns in the module docstring).

    Each channel is a (timestamps, values) pair with its own timestamps (epoch ms int64,
    datetime64 or Arrow timestamps): current in A, charge-positive; voltage in V; optional SoC
    in %, battery temperature in °C, power in kW (charge-positive; used for kWh when given).
    """
    t, i = channel(*current)
    tv, v = channel(*voltage)
    ts_soc, soc_pct = channel(*soc) if soc is not None else (np.empty(0), np.empty(0))
    t_temp, temp_c = (
        channel(*battery_temp) if battery_temp is not None else (np.empty(0), np.empty(0))
    )
    if t.size < 2:
        return _empty_table()
    state = classify_current(t, i, rest_threshold_a(cap), max_gap_s, min_segment_s)
    starts, ends, vals = _runs(state)
    active = vals != REST
    if not active.any():
        return _empty_table()
    a_state, a_i0, a_i1 = vals[active], starts[active], ends[active] - 1
    new_phase = np.r_[True, a_state[1:] != a_state[:-1]]
    new_cycle = new_phase & (a_state == CHARGE)
    new_cycle[0] = True
    run_cycle = np.cumsum(new_cycle) - 1
    first_run = np.flatnonzero(new_cycle)
    last_run = np.r_[first_run[1:] - 1, a_state.size - 1]
    n_cyc = first_run.size
    n = t.size

    t_start = _edge_times(t, i, a_i0[first_run] - 1)
    t_start[a_i0[first_run] == 0] = t[0]
    t_end = np.r_[t_start[1:], t[-1]]
    s_idx = np.maximum(a_i0[first_run] - 1, 0)
    e_idx = np.r_[s_idx[1:], n - 1]

    # charge and energy
    amps = Integral(t, i, max_gap_s)
    chg_as, dis_as = amps.between(t_start, t_end)
    if power is not None:
        tp, p_kw = channel(*power)
        kwh_source = "power"
    else:
        tp, p_kw = t, i * asof(tv, v, t, max_gap_s) / 1000.0  # NaN: no voltage -> not integrated
        kwh_source = "vi"
    kw = Integral(tp, p_kw, max_gap_s)
    chg_kws, dis_kws = kw.between(t_start, t_end)
    cov_s = amps.covered_between(t_start, t_end)

    cum_chg_s, cum_dis_s = _interval_state_seconds(np.diff(amps.cum_covered), state)
    charge_s = cum_chg_s[e_idx] - cum_chg_s[s_idx]
    discharge_s = cum_dis_s[e_idx] - cum_dis_s[s_idx]

    nameplate = cap.nameplate_ah
    charge_ah, discharge_ah = chg_as / 3600.0, 0.0 - dis_as / 3600.0
    charge_kwh, discharge_kwh = chg_kws / 3600.0, 0.0 - dis_kws / 3600.0
    active_h = (charge_s + discharge_s) / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_c = np.where(active_h > 0, (charge_ah + discharge_ah) / active_h / nameplate, np.nan)
    abs_i = np.abs(i)
    max_c = window_reduce(t, abs_i, t_start, t_end, "max") / nameplate

    # partial: cut by the start or the end of the data
    has_discharge = np.bincount(run_cycle, weights=a_state == DISCHARGE, minlength=n_cyc) > 0
    cov = amps.cum_covered
    lead_rest_s = cov[a_i0[0]] - cov[0]
    tail_rest_s = cov[-1] - cov[a_i1[-1]]
    is_partial = np.zeros(n_cyc, dtype=bool)
    is_partial[0] |= lead_rest_s < min_segment_s
    is_partial[-1] |= (tail_rest_s < min_segment_s) | ~has_discharge[-1]

    with np.errstate(divide="ignore", invalid="ignore"):
        ce = np.where(~is_partial & (charge_ah > 0), 100 * discharge_ah / charge_ah, np.nan)
        ee = np.where(~is_partial & (charge_kwh > 0), 100 * discharge_kwh / charge_kwh, np.nan)

    meas = _capacity_measurements(
        t=t,
        i=i,
        amps=amps,
        kw=kw,
        volts=(tv, v),
        soc=(ts_soc, soc_pct),
        a_state=a_state,
        a_i0=a_i0,
        a_i1=a_i1,
        first_run=first_run,
        last_run=last_run,
        t_start=t_start,
        lead_rest_s=lead_rest_s,
        cap=cap,
        max_gap_s=max_gap_s,
        min_segment_s=min_segment_s,
        min_recharge_fraction=min_recharge_fraction,
        reference_capacity_ah=reference_capacity_ah,
    )

    cols = {
        "mac": pa.array([mac] * n_cyc, pa.int64()),
        "cycle_index": pa.array(np.arange(n_cyc, dtype=np.int32)),
        "start_ts": _ts_array(t_start),
        "end_ts": _ts_array(t_end),
        "duration_s": t_end - t_start,
        "charge_s": charge_s,
        "discharge_s": discharge_s,
        "rest_s": np.maximum(cov_s - charge_s - discharge_s, 0.0),
        "gap_s": (t_end - t_start) - cov_s,
        "charge_ah": charge_ah,
        "discharge_ah": discharge_ah,
        "charge_kwh": charge_kwh,
        "discharge_kwh": discharge_kwh,
        "kwh_source": pa.array([kwh_source] * n_cyc, pa.string()),
        "dod_pct": 100.0 * discharge_ah / nameplate,
        "mean_c_rate": mean_c,
        "max_c_rate": max_c,
        "coulombic_efficiency_pct": ce,
        "energy_efficiency_pct": ee,
        "voltage_min_v": window_reduce(tv, v, t_start, t_end, "min"),
        "voltage_max_v": window_reduce(tv, v, t_start, t_end, "max"),
        "battery_temp_min_c": window_reduce(t_temp, temp_c, t_start, t_end, "min"),
        "battery_temp_mean_c": window_reduce(t_temp, temp_c, t_start, t_end, "mean"),
        "battery_temp_max_c": window_reduce(t_temp, temp_c, t_start, t_end, "max"),
        "soc_min_pct": window_reduce(ts_soc, soc_pct, t_start, t_end, "min"),
        "soc_max_pct": window_reduce(ts_soc, soc_pct, t_start, t_end, "max"),
        "is_partial": is_partial,
        **meas,
    }
    return table_from_columns(CYCLES_SCHEMA, cols)


def _ts_array(t_s: np.ndarray) -> pa.Array:
    return pa.array(np.round(t_s * 1000).astype(np.int64), pa.int64()).cast(
        pa.timestamp("ms", tz="UTC")
    )


def _capacity_measurements(
    *,
    t: np.ndarray,
    i: np.ndarray,
    amps: Integral,
    kw: Integral,
    volts: Channel,
    soc: Channel,
    a_state: np.ndarray,
    a_i0: np.ndarray,
    a_i1: np.ndarray,
    first_run: np.ndarray,
    last_run: np.ndarray,
    t_start: np.ndarray,
    lead_rest_s: float,
    cap: CapacitySettings,
    max_gap_s: float,
    min_segment_s: float,
    min_recharge_fraction: float,
    reference_capacity_ah: float | None,
) -> dict[str, Sequence]:
    """is_capacity_measurement, capacity_ah, capacity_kwh, method per cycle (see module doc).
    The loop is over cycles (a few a day) and carries two states: the end of the last observed
    empty and the latest capacity measured; the work inside is slicing and searchsorted."""
    tv, v = volts
    ts_soc, soc_pct = soc
    has_soc = ts_soc.size > 0
    n, n_cyc = t.size, first_run.size
    # each active run's edges and whether it reached empty, vectorised once
    run_lo = _edge_times(t, i, a_i0 - 1)
    run_lo[a_i0 == 0] = t[0]
    run_hi = _end_times(t, i, a_i1)
    run_empty_v = window_reduce(tv, v, run_lo, run_hi, "min") <= cap.v_empty
    run_empty_soc = window_reduce(ts_soc, soc_pct, run_lo, run_hi, "min") <= cap.soc_empty_pct
    run_empty = (a_state == DISCHARGE) & (run_empty_v | run_empty_soc) & (a_i1 < n - 1)

    out_flag = np.zeros(n_cyc, dtype=bool)
    out_ah = np.full(n_cyc, np.nan)
    out_kwh = np.full(n_cyc, np.nan)
    out_method: list[str | None] = [None] * n_cyc
    last_empty_t: float | None = None
    reference_ah = reference_capacity_ah or cap.nameplate_ah
    for c in range(n_cyc):
        runs = np.arange(first_run[c], last_run[c] + 1)
        d_runs = runs[a_state[runs] == DISCHARGE]
        empty_before = last_empty_t
        if d_runs.size and run_empty[d_runs].any():
            last_empty_t = float(run_hi[d_runs[run_empty[d_runs]][-1]])
        if d_runs.size == 0 or a_i0[d_runs[0]] == 0:
            continue  # nothing discharged, or the discharge began before the data
        t_dis = run_lo[d_runs[0]]
        has_charge = d_runs[0] != runs[0]
        if not has_charge and lead_rest_s < min_segment_s:
            continue  # the data begins with a discharge: its start state is unknown
        span_lo = t_start[c] if has_charge else t[0]
        fulls = [
            _last_full(tv, v, span_lo, t_dis, cap.v_full, last_only=not has_charge),
            _last_full(ts_soc, soc_pct, span_lo, t_dis, cap.soc_full_pct, not has_charge)
            if has_soc
            else None,
        ]
        t_full = max((x for x in fulls if x is not None), default=None)
        if t_full is not None and empty_before is not None:
            # full by voltage, but was enough charge counted since the last empty? A short
            # high-rate charge lifts the voltage past v_full by IR alone.
            net_in = _net_in_ah(amps, empty_before, t_full)
            if net_in is not None and net_in < min_recharge_fraction * reference_ah:
                t_full = None
        empties = d_runs[run_empty[d_runs]]
        if t_full is not None and empties.size:
            r = empties[0]
            t_end = run_hi[r]
            if amps.gaps_between(np.array([t_full]), np.array([t_end]))[0] == 0:
                ah, kwh = _net_out(amps, kw, t_dis, t_end)
                by_voltage = fulls[0] is not None and bool(run_empty_v[r])
                out_flag[c], out_ah[c], out_kwh[c] = True, ah, kwh
                out_method[c] = "full_to_empty_voltage" if by_voltage else "full_to_empty_soc"
                reference_ah = ah
                continue
        if has_soc and a_i1[d_runs[-1]] < n - 1:
            t_last = run_hi[d_runs[-1]]
            est = _delta_soc_capacity(amps, kw, (ts_soc, soc_pct), t_dis, t_last, max_gap_s)
            if est is not None and est[1] >= cap.min_delta_soc_pct:
                out_ah[c], out_kwh[c] = est[0]
                out_method[c] = "delta_soc"
    return {
        "is_capacity_measurement": out_flag,
        "capacity_ah": out_ah,
        "capacity_kwh": out_kwh,
        "method": pa.array(out_method, pa.string()),
    }


def _net_in_ah(amps: Integral, ta: float, tb: float) -> float | None:
    """Net Ah into the battery over [ta, tb]; None when the current has a gap there."""
    if tb <= ta or amps.gaps_between(np.array([ta]), np.array([tb]))[0] > 0:
        return None
    pos, neg = amps.between(np.array([ta]), np.array([tb]))
    return float((pos[0] + neg[0]) / 3600.0)


def _delta_soc_capacity(
    amps: Integral, kw: Integral, soc: Channel, ta: float, tb: float, max_age_s: float
) -> tuple[tuple[float, float], float] | None:
    """((Ah, kWh) per 100 % SoC, ΔSoC) of a discharge over [ta, tb], from the SoC as of each end
    (at most max_age_s old); None with a current gap or no SoC there."""
    if amps.gaps_between(np.array([ta]), np.array([tb]))[0] > 0:
        return None
    soc0, soc1 = asof(soc[0], soc[1], np.array([ta, tb]), max_age_s)
    d_soc = float(soc0 - soc1)
    if not d_soc > 0:  # also False for NaN
        return None
    ah, kwh = _net_out(amps, kw, ta, tb)
    return (ah * 100.0 / d_soc, kwh * 100.0 / d_soc), d_soc


def _last_full(
    t_x: np.ndarray, x: np.ndarray, lo: float, hi: float, full: float, last_only: bool
) -> float | None:
    """Time of the last reading in [lo, hi] at or above `full` (with last_only: only if the
    last reading in the window is), else None."""
    a, b = np.searchsorted(t_x, lo, "left"), np.searchsorted(t_x, hi, "right")
    if b <= a:
        return None
    if last_only:
        return float(t_x[b - 1]) if x[b - 1] >= full else None
    hits = np.flatnonzero(x[a:b] >= full)
    return float(t_x[a + hits[-1]]) if hits.size else None


def _net_out(amps: Integral, kw: Integral, ta: float, tb: float) -> tuple[float, float]:
    """Net Ah and kWh out of the battery over [ta, tb]; kWh NaN if its source has a gap there."""
    pos, neg = amps.between(np.array([ta]), np.array([tb]))
    kpos, kneg = kw.between(np.array([ta]), np.array([tb]))
    kwh = -(kpos[0] + kneg[0]) / 3600.0
    if kw.gaps_between(np.array([ta]), np.array([tb]))[0] > 0:
        kwh = float("nan")
    return float(-(pos[0] + neg[0]) / 3600.0), float(kwh)


def cycles_from_readings(
    readings: pa.Table,
    channels: ChannelSettings,
    cap: CapacitySettings,
    max_gap_s: float,
    *,
    mac: int | None = None,
    use_power: bool = True,
    **kwargs: Any,
) -> pa.Table:
    """detect_cycles on one BESS's readings (columns type, ts, value; e.g. read_export or the
    lake), channels picked by type code and made charge-positive by channels.sign."""
    sign = channels.sign

    def pick(code: int, s: float = 1.0) -> tuple | None:
        return pick_channel(readings, code, s)

    current, voltage = pick(channels.current, sign), pick(channels.voltage)
    if current is None or voltage is None:
        return _empty_table()
    return detect_cycles(
        current,
        voltage,
        cap,
        max_gap_s,
        soc=pick(channels.soc),
        battery_temp=pick(channels.battery_temp),
        power=pick(channels.power, sign) if use_power else None,
        mac=mac,
        **kwargs,
    )
