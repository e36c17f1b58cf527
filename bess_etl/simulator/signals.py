"""True values of the non-battery devices, as closed-form functions of epoch ms.

The environment sensor reads the site's weather. A machine tool runs Monday to Friday, 07:00 to
15:30 local, with a job level drawn per 5-minute slot (a quarter of the slots idle); off shift
only its controller draws power.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from bess_etl.simulator import rng
from bess_etl.simulator.climate import ambient_c, humidity_pct
from bess_etl.simulator.fleet import Device

SHIFT_START_H, SHIFT_END_H = 7.0, 15.5
JOB_SLOT_MS = 300_000
CONTROLLER_KW = 0.08  # off shift
AUXILIARY_KW = 1.2  # on shift: hydraulics, coolant, chip conveyor
LINE_V, POWER_FACTOR = 600.0, 0.85  # three-phase supply of the shop


def env_values(device: Device, name: str, ts_ms: np.ndarray, seed: int) -> np.ndarray:
    t_s = ts_ms / 1000.0
    site = device.location.site
    if name == "ambient_temp":
        return ambient_c(t_s, site, seed)
    if name == "humidity":
        return humidity_pct(t_s, site, seed, ambient_c(t_s, site, seed))
    if name == "supply_voltage":  # a 12 V adapter, sagging a little as the day warms
        return 12.2 - 0.01 * (ambient_c(t_s, site, seed) - 10.0)
    if name == "air_pressure":
        day = t_s / 86_400.0
        return 101.3 + 1.2 * np.sin(2 * np.pi * (day / 4.3 + (site.key % 7) / 7.0))
    raise ValueError(f"no ENV channel {name!r}")


def _on_shift(ts_ms: np.ndarray, day_start_ms: int, tz: ZoneInfo, date: dt.date) -> np.ndarray:
    """True during the shift on weekdays. Clock time is offset by the day's DST change,
    which happens at 02:00, well before the shift."""
    if date.weekday() >= 5:
        return np.zeros(len(ts_ms), dtype=bool)
    noon = dt.datetime(date.year, date.month, date.day, 12, tzinfo=tz).utcoffset()
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=tz).utcoffset()
    clock_h = (ts_ms - day_start_ms) / 3.6e6 + (noon - midnight).total_seconds() / 3600.0
    return (clock_h >= SHIFT_START_H) & (clock_h < SHIFT_END_H)


def machine_values(
    device: Device,
    names: list[str],
    ts_by_name: dict[str, np.ndarray],
    seed: int,
    day_start_ms: int,
    tz: ZoneInfo,
    date: dt.date,
) -> dict[str, np.ndarray]:
    """True values of a machine's channels at their own timestamps."""
    out = {}
    for name in names:
        ts = ts_by_name[name]
        slot = ts // JOB_SLOT_MS
        busy = rng.uniform(rng.key(seed, device.mac, "job"), slot)
        level = 0.3 + 0.7 * rng.uniform(rng.key(seed, device.mac, "lvl"), slot)
        level = np.where(busy < 0.25, 0.0, level)
        on = _on_shift(ts, day_start_ms, tz, date)
        kw = np.where(on, AUXILIARY_KW + device.rated_kw * level, CONTROLLER_KW)
        if name == "power":
            out[name] = kw
        elif name == "current":
            out[name] = kw * 1000.0 / (np.sqrt(3.0) * LINE_V * POWER_FACTOR)
        elif name == "spindle_load":
            out[name] = np.where(on, 100.0 * level, 0.0)
        elif name == "spindle_speed":
            rpm = 1500.0 + 4500.0 * rng.uniform(rng.key(seed, device.mac, "rpm"), slot)
            out[name] = np.where(on & (level > 0), rpm, 0.0)
        else:
            raise ValueError(f"no machine channel {name!r}")
    return out
