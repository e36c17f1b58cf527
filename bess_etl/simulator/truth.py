"""The simulator's ground truth, one row per site-local day, for checking the ETL's estimates.

Columns (charge-positive convention, whatever `channels.current_sign` says):

- capacity_ah: the pack's true capacity that day, held for the whole local day: nameplate x
  (1 - fade_pct_per_year/100 x years - fade_pct_per_1000_cycles/100 x EFC/1000), years and
  equivalent full cycles (EFC) taken at the local midnight starting the day.
- capacity_kwh: the energy a constant-current discharge at the deep-cycle rate (0.25 x
  nameplate_ah) from SoC 1 to SoC 0 would deliver that day: capacity_ah x the SoC-average of
  (OCV(s) - I x R_ss(s, T)) / 1000, with the polarisation at steady state and T the day's mean
  battery temperature.
- charge_kwh, discharge_kwh, charge_ah, discharge_ah: the true power (V x I) and current
  integrated by the trapezoidal rule on the model's own 1 s grid from local midnight to local
  midnight, split at zero crossings: charge = the positive part, discharge = the magnitude of
  the negative part. Not from the reported samples.

What an estimate should see:
- A v_full -> v_empty discharge at the deep rate (from the end of a deep cycle's charge until
  the terminal voltage falls below v_empty) delivers 98.0-98.6 % of capacity_ah: the last
  1.5-2 % of the charge lies below v_empty under load (more of it in the cold). Estimates of
  capacity from such discharges should read that much low.
- The trapezoid of the 20 s reported samples of a fault-free day matches charge/discharge Ah
  and kWh to better than 0.1 %: what is left is zero-mean sensor noise, rounding, 20 s
  sampling of the current steps of a deep cycle and of the load's wobble, and the seconds
  between local midnight and the day's first and last samples.
"""

from __future__ import annotations

import datetime as dt
from typing import TextIO

import numpy as np
import pyarrow as pa

from bess_etl.config import Settings
from bess_etl.errors import UsageError
from bess_etl.simulator.service import Simulator
from bess_etl.timeutil import date_range

TRUTH_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("capacity_ah", pa.float64()),
        ("capacity_kwh", pa.float64()),
        ("charge_kwh", pa.float64()),
        ("discharge_kwh", pa.float64()),
        ("charge_ah", pa.float64()),
        ("discharge_ah", pa.float64()),
    ]
)
PLAN_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("deep_cycle", pa.bool_()),
        ("soc_start", pa.float64()),
        ("soc_end", pa.float64()),
        ("efc_start", pa.float64()),
        ("discharged_soc", pa.float64()),
        ("capacity_ah", pa.float64()),
    ]
)


def signed_trapezoid(y: np.ndarray, dt_s: float) -> tuple[float, float]:
    """(positive area, magnitude of negative area) of a uniformly sampled signal, each interval
    split at its linear zero crossing. Units: y's unit x seconds."""
    y0, y1 = y[:-1], y[1:]
    crossing = (y0 > 0) != (y1 > 0)
    crossing &= (y0 != 0) & (y1 != 0)
    frac = np.where(crossing, y0 / np.where(crossing, y0 - y1, 1.0), 0.0)  # where y hits 0
    whole = np.where(crossing, 0.0, 0.5 * (y0 + y1))
    first = np.where(crossing, 0.5 * y0 * frac, 0.0)  # from y0 to the crossing
    second = np.where(crossing, 0.5 * y1 * (1.0 - frac), 0.0)
    pos = np.sum(np.maximum(whole, 0) + np.maximum(first, 0) + np.maximum(second, 0))
    neg = np.sum(np.minimum(whole, 0) + np.minimum(first, 0) + np.minimum(second, 0))
    return float(pos * dt_s), float(-neg * dt_s)


def _check_mac(sim: Simulator, mac: int) -> None:
    if mac not in sim.specs:
        known = ", ".join(str(m) for m in sorted(sim.specs))
        raise UsageError(f"MAC {mac} is not a simulated BESS (the simulated batteries: {known})")


def truth_table(
    settings: Settings,
    mac: int,
    start: dt.date,
    end: dt.date,
    simulator: Simulator | None = None,
) -> pa.Table:
    """Ground truth of a simulated BESS for site-local days start..end inclusive (TRUTH_SCHEMA;
    days before commissioning have no row). Raises UsageError for a MAC that is not a
    simulated battery."""
    sim = simulator or Simulator(settings)
    _check_mac(sim, mac)
    pack = sim.spec(mac).pack
    rows: dict[str, list] = {name: [] for name in TRUTH_SCHEMA.names}
    for day in date_range(max(start, sim.commissioned), end):
        trace = sim.trace(mac, day)
        charge_as, discharge_as = signed_trapezoid(trace.current_a, trace.dt_s)
        charge_kws, discharge_kws = signed_trapezoid(trace.power_kw, trace.dt_s)
        mean_temp_c = float(np.mean(trace.battery_temp_c))
        rows["date"].append(day)
        rows["capacity_ah"].append(trace.capacity_ah)
        rows["capacity_kwh"].append(pack.full_discharge_kwh(trace.capacity_ah, mean_temp_c))
        rows["charge_kwh"].append(charge_kws / 3600.0)
        rows["discharge_kwh"].append(discharge_kws / 3600.0)
        rows["charge_ah"].append(charge_as / 3600.0)
        rows["discharge_ah"].append(discharge_as / 3600.0)
    return pa.table(rows, schema=TRUTH_SCHEMA)


def plan_table(
    settings: Settings,
    mac: int,
    start: dt.date,
    end: dt.date,
    simulator: Simulator | None = None,
) -> pa.Table:
    """The duty plan behind the truth (PLAN_SCHEMA): which days carry a deep cycle (the only
    days with a v_full -> v_empty discharge), SoC at local midnight, equivalent full cycles
    at the start of the day and the day's discharge in SoC units (its EFC increment)."""
    sim = simulator or Simulator(settings)
    _check_mac(sim, mac)
    first = max(start, sim.commissioned)
    if end < first:
        return PLAN_SCHEMA.empty_table()
    plan = sim.plan(mac, end)
    i, j = plan.index(first), plan.index(end) + 1
    return pa.table(
        {
            "date": date_range(first, end),
            "deep_cycle": plan.deep[i:j],
            "soc_start": plan.soc_start[i:j],
            "soc_end": plan.soc_end[i:j],
            "efc_start": plan.efc_start[i:j],
            "discharged_soc": plan.discharged_soc[i:j],
            "capacity_ah": plan.capacity_ah[i:j],
        },
        schema=PLAN_SCHEMA,
    )


def write_truth_csv(
    settings: Settings, mac: int, start: dt.date, end: dt.date, stream: TextIO
) -> None:
    """truth_table as CSV with a header row; energies to 1 Wh/1 mAh-ish precision (6 d.p.)."""
    table = truth_table(settings, mac, start, end)
    stream.write(",".join(TRUTH_SCHEMA.names) + "\n")
    columns = [table.column(n).to_pylist() for n in TRUTH_SCHEMA.names]
    for row in zip(*columns, strict=True):
        day, *numbers = row
        stream.write(",".join([day.isoformat(), *(f"{x:.6f}" for x in numbers)]) + "\n")
