"""The daily duty plan of one simulated BESS, vectorised over every day since commissioning.

A day is planned in SoC targets, so any day can be generated on its own: the SoC at local
midnight starting day d is the end-of-day target of day d-1, which is a pure function of
(seed, MAC, d-1). Only the equivalent full cycles (and hence the faded capacity) accumulate
over days, and those are a cumulative sum over the plans, not a step-by-step simulation.

Ordinary day (site-local clock):
    00:00 .. sunrise   standby draw (STANDBY_C_RATE)
    sunrise .. ~17:30  PV charging: a bell following the sun's elevation, scaled to the day's
                       charge (clear-sky PV x the day's clearness, kept within SoC 0.9)
    ~17:30 .. ~21:30   evening load: a smooth plateau, scaled to reach the night's SoC
    ~21:30 .. 24:00    standby draw; the day ends at its target SoC in [0.20, 0.40]
Deep-cycle day (every `deep_cycle_every_days` days, per-MAC phase):
    00:00 .. ~08:00    standby draw
    ~08:00             CC-CV charge at 0.25 C to SoC 1 (~4 h), then rest at 0 A
    charge start + 6h  CC discharge at 0.25 C from SoC 1 to SoC 0 (~4 h)
    + 10 min           recovery charge at 0.1 C to SoC 0.15, then standby to midnight

Capacity on day d (held for the whole local day):
    capacity_ah = nameplate * (1 - fade_pct_per_year/100 * years
                                 - fade_pct_per_1000_cycles/100 * EFC/1000)
with years and EFC (equivalent full cycles: discharged Ah / capacity, summed) measured at the
local midnight starting day d, floored at MIN_CAPACITY_FRACTION of nameplate. Standby is a
fixed current, so a day's SoC swing depends a little on the capacity, and the capacity on the
EFC before it: a few fixed-point passes settle it.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from bess_etl.simulator import rng
from bess_etl.simulator.climate import Site, clearness, cos_zenith
from bess_etl.simulator.lfp import Pack
from bess_etl.timeutil import local_midnight_ms

SOC_AT_COMMISSIONING = 0.5
ORDINARY_SOC_MAX = 0.90  # the day's PV charge never takes the pack above this
EVENING_MIN_SOC = 0.10  # the evening discharge is at least this deep
NIGHT_SOC_LOW, NIGHT_SOC_HIGH = 0.20, 0.40  # end-of-day targets of ordinary days
RECOVERY_SOC = 0.15
EVENING_START_H, EVENING_HOURS = 17.5, 4.0  # each +-30 min per day
SOLAR_TAPER_S = 45 * 60.0  # PV hands the load over smoothly before the evening starts
SOLAR_EXPONENT = 1.2  # PV current ~ cos(zenith)**1.2 (air mass, panel tilt)
DEEP_START_H = 8.0  # + 0..45 min per day
DEEP_CHARGE_WINDOW_S = 6 * 3600.0  # charge + rest, from the charge start to the discharge
RECOVERY_PAUSE_S = 600.0
RAMP_S = 10.0  # inverters ramp current steps over this long
_COARSE_STEP_S = 300.0
FIXED_POINT_PASSES = 4  # the capacity <-> standby coupling is weak: 4 passes agree to ~1e-6 Ah
MIN_CAPACITY_FRACTION = 0.5  # far past end of life: the fade stops here, the model stays sane
_YEAR_S = 365.25 * 86_400.0
_UNIX_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class BessSpec:
    """Everything that determines one simulated pack (hashable: plans are cached on it)."""

    mac: int
    site: Site
    pack: Pack
    seed: int
    commissioned: dt.date
    tz_name: str
    fade_pct_per_year: float
    fade_pct_per_1000_cycles: float
    deep_every_days: int

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)


def solar_bell(t_abs_s: np.ndarray, site: Site) -> np.ndarray:
    """Relative clear-sky PV current (0..~0.9): cos(zenith)**SOLAR_EXPONENT by day, 0 at night."""
    return np.maximum(cos_zenith(t_abs_s, site), 0.0) ** SOLAR_EXPONENT


def solar_taper(t_s: np.ndarray, evening_start_s: float | np.ndarray) -> np.ndarray:
    """1 until SOLAR_TAPER_S before the evening load starts, then a sin^2 fade to 0."""
    w = np.clip((evening_start_s - t_s) / SOLAR_TAPER_S, 0.0, 1.0)
    return np.sin(0.5 * np.pi * w) ** 2


@dataclass(frozen=True, eq=False)
class Plan:
    """Per-day arrays, index i = day `first_day + i`. Times are seconds since local midnight,
    amounts are SoC fractions of that day's capacity."""

    spec: BessSpec
    first_day: dt.date
    start_ms: np.ndarray  # local midnights, one more than days (the last day's end)
    length_s: np.ndarray
    deep: np.ndarray
    clearness: np.ndarray
    capacity_ah: np.ndarray
    efc_start: np.ndarray
    soc_start: np.ndarray
    soc_morning: np.ndarray  # after the night's standby
    soc_end: np.ndarray
    charge_soc: np.ndarray  # PV charge (ordinary) or CC-CV charge (deep)
    evening_soc: np.ndarray  # evening discharge (ordinary)
    standby_morning_soc: np.ndarray
    standby_evening_soc: np.ndarray
    discharged_soc: np.ndarray  # all discharge of the day: the day's EFC increment
    morning_end_s: np.ndarray  # sunrise (ordinary) or charge start (deep)
    evening_start_s: np.ndarray  # ordinary
    evening_end_s: np.ndarray  # ordinary
    discharge_start_s: np.ndarray  # deep
    discharge_end_s: np.ndarray  # deep
    recovery_start_s: np.ndarray  # deep
    night_start_s: np.ndarray  # evening standby starts (both kinds)

    @property
    def n_days(self) -> int:
        return len(self.length_s)

    def index(self, day: dt.date) -> int:
        i = (day - self.first_day).days
        if not 0 <= i < self.n_days:
            raise IndexError(f"{day} is outside the plan")
        return i


def day_numbers(first: dt.date, n: int) -> np.ndarray:
    """Days since 1970-01-01 of `n` consecutive dates (the counter for per-day draws)."""
    return first.toordinal() - _UNIX_ORDINAL + np.arange(n, dtype=np.int64)


@functools.lru_cache(maxsize=32)
def build_plan(spec: BessSpec, last_day: dt.date) -> Plan:
    """The plan of every day from commissioning to `last_day` (inclusive). Cached: a plan is
    a pure function of its arguments and is never modified."""
    first = spec.commissioned
    n = max(1, (last_day - first).days + 1)
    tz = spec.tz
    dates = [first + dt.timedelta(days=i) for i in range(n + 1)]
    start_ms = np.array([local_midnight_ms(d, tz) for d in dates], dtype=np.int64)
    length_s = np.diff(start_ms) / 1000.0
    # seconds between local midnight and a wall-clock hour (DST changes happen at 02:00)
    shift_s = np.array(
        [
            (dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset().total_seconds())
            - (dt.datetime(d.year, d.month, d.day, 0, tzinfo=tz).utcoffset().total_seconds())
            for d in dates[:n]
        ]
    )

    def clock_s(hours: np.ndarray) -> np.ndarray:
        return hours * 3600.0 - shift_s

    day_no = day_numbers(first, n)

    def draw(name: str) -> np.ndarray:
        return rng.uniform(rng.key(spec.seed, spec.mac, name), day_no)

    every = spec.deep_every_days
    if every > 0:
        phase = rng.mix64(rng.key(spec.seed, spec.mac, "deep-phase")) % every
        deep = (day_no + phase) % every == 0
    else:
        deep = np.zeros(n, dtype=bool)

    pack = spec.pack
    site = spec.site
    clear = clearness(day_no, site, spec.seed)
    evening_start = clock_s(EVENING_START_H + draw("evening-start") - 0.5)
    evening_end = evening_start + 3600.0 * (EVENING_HOURS + draw("evening-hours") - 0.5)
    night_target = NIGHT_SOC_LOW + (NIGHT_SOC_HIGH - NIGHT_SOC_LOW) * draw("night-soc")
    charge_start = clock_s(DEEP_START_H + 0.75 * draw("deep-start"))
    discharge_start = charge_start + DEEP_CHARGE_WINDOW_S

    # sunrise and the day's clear-sky PV (ampere-seconds per ampere of peak), on a coarse grid
    grid = np.arange(0.0, 25 * 3600.0 + 1, _COARSE_STEP_S)
    t_abs = start_ms[:n, None] / 1000.0 + grid[None, :]
    cosz = cos_zenith(t_abs, site)
    inside = grid[None, :] <= length_s[:, None]
    bell = solar_bell(t_abs, site) * solar_taper(grid[None, :], evening_start[:, None]) * inside
    bell_int_s = np.sum(0.5 * (bell[:, 1:] + bell[:, :-1]), axis=1) * _COARSE_STEP_S
    up = np.argmax(cosz > 0, axis=1).clip(1)
    rows = np.arange(n)
    c0, c1 = cosz[rows, up - 1], cosz[rows, up]
    sunrise = grid[up - 1] + _COARSE_STEP_S * (-c0) / np.where(c1 > c0, c1 - c0, 1.0)

    years = (start_ms[:n] - start_ms[0]) / 1000.0 / _YEAR_S
    calendar = 1.0 - spec.fade_pct_per_year / 100.0 * years
    morning_end = np.where(deep, charge_start, sunrise)

    def amounts(capacity: np.ndarray) -> dict[str, np.ndarray]:
        standby_soc_per_s = pack.standby_a / 3600.0 / capacity
        standby_morning = standby_soc_per_s * morning_end
        # deep days: the discharge takes capacity/I, the recovery charge 0.15*capacity/I
        discharge_end = discharge_start + capacity * 3600.0 / pack.deep_current_a + RAMP_S
        recovery_start = discharge_end + RECOVERY_PAUSE_S
        recovery_end = (
            recovery_start + RECOVERY_SOC * capacity * 3600.0 / pack.recovery_current_a + RAMP_S
        )
        night_start = np.where(deep, recovery_end, evening_end)
        standby_evening = standby_soc_per_s * (length_s - night_start)
        soc_end = np.where(deep, RECOVERY_SOC - standby_evening, night_target)
        soc_start = np.concatenate([[SOC_AT_COMMISSIONING], soc_end[:-1]])
        soc_morning = soc_start - standby_morning
        evening_until = soc_end + standby_evening  # SoC when the evening load ends
        solar_soc = pack.solar_peak_a * clear * bell_int_s / 3600.0 / capacity
        pv_charge = np.clip(
            solar_soc,
            evening_until + EVENING_MIN_SOC - soc_morning,
            ORDINARY_SOC_MAX - soc_morning,
        )
        charge = np.where(deep, 1.0 - soc_morning, pv_charge)
        evening = np.where(deep, 0.0, soc_morning + charge - evening_until)
        discharged = standby_morning + standby_evening + np.where(deep, 1.0, evening)
        return dict(
            soc_start=soc_start,
            soc_morning=soc_morning,
            soc_end=soc_end,
            charge_soc=charge,
            evening_soc=evening,
            standby_morning_soc=standby_morning,
            standby_evening_soc=standby_evening,
            discharged_soc=discharged,
            efc_start=np.concatenate([[0.0], np.cumsum(discharged)[:-1]]),
            discharge_end_s=discharge_end,
            recovery_start_s=recovery_start,
            night_start_s=night_start,
        )

    def faded(efc: np.ndarray) -> np.ndarray:
        cycling = spec.fade_pct_per_1000_cycles / 100.0 * efc / 1000.0
        return pack.nameplate_ah * np.maximum(calendar - cycling, MIN_CAPACITY_FRACTION)

    capacity = faded(np.zeros(n))
    for _ in range(FIXED_POINT_PASSES):
        capacity = faded(amounts(capacity)["efc_start"])

    plan = Plan(
        spec=spec,
        first_day=first,
        start_ms=start_ms,
        length_s=length_s,
        deep=deep,
        clearness=clear,
        capacity_ah=capacity,
        morning_end_s=morning_end,
        evening_start_s=evening_start,
        evening_end_s=evening_end,
        discharge_start_s=discharge_start,
        **amounts(capacity),
    )
    for value in vars(plan).values():  # shared through the cache: make it read-only
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return plan
