"""One local day of one BESS on a fine time grid: current from the plan, then SoC, temperature,
voltage and power from the pack model, all vectorised (the RC elements and thermal lags are
first-order IIR filters run by scipy.signal.lfilter).

Continuity at local midnight: SoC is exact (the plan's targets). Every day ends with hours of
standby, so the RC voltages and the I^2R temperature rise start each day at the steady state of
the standby current, as the previous day left them (the heating lag has decayed to < 1 % of
its excursion). The air temperature's thermal lag is run from 24 h before midnight on a coarse
grid, so it agrees across the boundary to ~1e-4 degC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from bess_etl.simulator import lfp, rng
from bess_etl.simulator.climate import ambient_c, humidity_pct
from bess_etl.simulator.plan import RAMP_S, RECOVERY_SOC, Plan, solar_bell, solar_taper

DT_S = 1.0  # the model's own time step
_COARSE_S = 60.0  # weather is smooth: computed on this grid, then interpolated
_WARMUP_S = 24 * 3600.0
EVENING_EDGE_S = 15 * 60.0


@dataclass(frozen=True, eq=False)
class DayTrace:
    """The true state of a pack over one local day, sampled every `dt_s` from local midnight
    through the next local midnight inclusive (n + 1 points). Current and power are
    charge-positive."""

    date: dt.date
    start_ms: int
    dt_s: float
    capacity_ah: float
    current_a: np.ndarray
    voltage_v: np.ndarray
    power_kw: np.ndarray
    soc: np.ndarray
    battery_temp_c: np.ndarray
    ambient_c: np.ndarray
    humidity_pct: np.ndarray

    @property
    def t_s(self) -> np.ndarray:
        """Seconds since local midnight."""
        return np.arange(len(self.current_a)) * self.dt_s

    @property
    def end_ms(self) -> int:
        return self.start_ms + round((len(self.current_a) - 1) * self.dt_s * 1000)

    def at(self, ts_ms: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`values` (one of the arrays above) linearly interpolated at epoch-ms instants inside
        the day."""
        x = (np.asarray(ts_ms, dtype=np.int64) - self.start_ms) / (1000.0 * self.dt_s)
        x = np.clip(x, 0.0, len(values) - 1.0)
        i = np.minimum(x.astype(np.int64), len(values) - 2)
        frac = x - i
        return values[i] * (1.0 - frac) + values[i + 1] * frac


def first_order_lag(x: np.ndarray, dt_s: float, tau_s: float, initial: float) -> np.ndarray:
    """y' = (x - y)/tau, discretised exactly for a step-held input, starting from y = initial."""
    a = np.exp(-dt_s / tau_s)
    y, _ = lfilter([1.0 - a], [1.0, -a], x, zi=[a * initial])
    return y


def _box(t_s: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """1 on [start, end] with linear RAMP_S ramps inside both ends."""
    up = np.clip((t_s - start_s) / RAMP_S, 0.0, 1.0)
    down = np.clip((end_s - t_s) / RAMP_S, 0.0, 1.0)
    return np.minimum(up, down)


def _wander(t_s: np.ndarray, stream: int) -> np.ndarray:
    """Smooth zero-mean wobble with unit RMS (peaks below 2.5): three sinusoids with periods
    of 20..90 min and phases drawn per day (clouds passing, loads switching)."""
    u = rng.uniform(stream, np.arange(6))
    out = np.zeros_like(t_s)
    for j in range(3):
        period_s = 1200.0 + 4200.0 * u[2 * j]
        out += np.sin(2.0 * np.pi * (t_s / period_s + u[2 * j + 1])) / np.sqrt(1.5)
    return out


def plan_current_a(plan: Plan, i: int, t_s: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
    """The day's charge-positive current (A) on the grid `t_s`: each phase is a shape scaled so
    that its trapezoid integral is exactly the SoC amount the plan gives it, so the day ends on
    its target SoC whatever the grid."""
    spec, pack = plan.spec, plan.spec.pack
    capacity_ah = plan.capacity_ah[i]
    day_no = (plan.first_day.toordinal() - dt.date(1970, 1, 1).toordinal()) + i
    start_s = plan.start_ms[i] / 1000.0
    phases: list[tuple[np.ndarray, float]] = [
        ((t_s < plan.morning_end_s[i]).astype(float), -plan.standby_morning_soc[i]),
        ((t_s >= plan.night_start_s[i]).astype(float), -plan.standby_evening_soc[i]),
    ]
    if plan.deep[i]:
        t0 = plan.morning_end_s[i]
        k0 = int(np.searchsorted(t_s, t0))
        charge_t, charge_a = pack.cc_cv_charge(plan.soc_morning[i], capacity_ah, temp_c[k0])
        rel = t_s - t0
        cc_cv = np.interp(rel, charge_t, charge_a, left=0.0, right=0.0)
        cc_cv *= np.clip(rel / RAMP_S, 0.0, 1.0)
        phases += [
            (cc_cv, plan.charge_soc[i]),
            (_box(t_s, plan.discharge_start_s[i], plan.discharge_end_s[i]), -1.0),
            (_box(t_s, plan.recovery_start_s[i], plan.night_start_s[i]), RECOVERY_SOC),
        ]
    else:
        ev0, ev1 = plan.evening_start_s[i], plan.evening_end_s[i]
        # smooth shapes: evaluated on a coarse grid, then interpolated onto the fine one
        coarse = np.arange(0.0, t_s[-1] + _COARSE_S, _COARSE_S)
        clouds = 1.0 + 0.6 * (1.0 - plan.clearness[i]) * _wander(
            coarse, rng.key(spec.seed, spec.mac, "clouds", day_no)
        )
        pv_coarse = solar_bell(start_s + coarse, spec.site) * np.maximum(clouds, 0.2)
        pv = np.interp(t_s, coarse, pv_coarse) * solar_taper(t_s, ev0)
        pv[t_s < plan.morning_end_s[i]] = 0.0
        edges = np.minimum(
            np.clip((t_s - ev0) / EVENING_EDGE_S, 0.0, 1.0),
            np.clip((ev1 - t_s) / EVENING_EDGE_S, 0.0, 1.0),
        )
        wobble = _wander(coarse, rng.key(spec.seed, spec.mac, "load", day_no))
        load = (np.sin(0.5 * np.pi * edges) ** 2) * (1.0 + 0.25 * np.interp(t_s, coarse, wobble))
        phases += [(pv, plan.charge_soc[i]), (load, -plan.evening_soc[i])]
    current = np.zeros_like(t_s)
    dt_s = t_s[1] - t_s[0]
    for shape, soc_amount in phases:
        if soc_amount == 0.0:
            continue
        area = dt_s * (np.sum(shape) - 0.5 * (shape[0] + shape[-1]))
        if area <= 0.0:
            raise ValueError(f"day {plan.first_day + dt.timedelta(days=i)}: an empty phase")
        current += shape * (soc_amount * capacity_ah * 3600.0 / area)
    return current


def simulate_day(plan: Plan, i: int) -> DayTrace:
    """The true state of day `plan.first_day + i` (see DayTrace)."""
    spec, pack = plan.spec, plan.spec.pack
    start_ms = int(plan.start_ms[i])
    start_s = start_ms / 1000.0
    length_s = float(plan.length_s[i])
    n = round(length_s / DT_S)
    t_s = np.arange(n + 1) * DT_S
    capacity_ah = float(plan.capacity_ah[i])

    coarse = np.arange(-_WARMUP_S, length_s + 2 * _COARSE_S, _COARSE_S)
    air = ambient_c(start_s + coarse, spec.site, spec.seed)
    air_lagged = first_order_lag(air, _COARSE_S, lfp.AMBIENT_LAG_S, initial=air[0])
    today = coarse >= -_COARSE_S
    rh = humidity_pct(start_s + coarse[today], spec.site, spec.seed, air[today])
    ambient = np.interp(t_s, coarse, air)
    humidity = np.interp(t_s, coarse[today], rh)
    enclosure_c = np.interp(t_s, coarse, air_lagged) + lfp.ENCLOSURE_OFFSET_C

    current = plan_current_a(plan, i, t_s, enclosure_c)
    ah = np.concatenate([[0.0], np.cumsum(0.5 * (current[1:] + current[:-1]))]) * DT_S / 3600
    soc = plan.soc_start[i] + ah / capacity_ah

    heat_w = current**2 * pack.r_steady_ohm(soc, enclosure_c, current)
    rise_c = first_order_lag(
        heat_w * pack.thermal_res_k_per_w,
        DT_S,
        lfp.HEATING_LAG_S,
        initial=heat_w[0] * pack.thermal_res_k_per_w,
    )
    battery_c = enclosure_c + rise_c
    k = lfp.temp_factor(battery_c)
    u1 = current * pack.r1_ohm * lfp.end_factor(soc, current) * k
    u2 = current * pack.r2_ohm * k
    v1 = first_order_lag(u1, DT_S, lfp.TAU1_S, initial=u1[0])
    v2 = first_order_lag(u2, DT_S, lfp.TAU2_S, initial=u2[0])
    voltage = lfp.ocv_v(soc) + current * pack.r0_ohm * k + v1 + v2

    return DayTrace(
        date=plan.first_day + dt.timedelta(days=i),
        start_ms=start_ms,
        dt_s=DT_S,
        capacity_ah=capacity_ah,
        current_a=current,
        voltage_v=voltage,
        power_kw=voltage * current / 1000.0,
        soc=soc,
        battery_temp_c=battery_c,
        ambient_c=ambient,
        humidity_pct=humidity,
    )
