"""Coastal British Columbia weather as closed-form functions of absolute time.

Every function takes epoch seconds (UTC) and returns an array, so any instant can be evaluated
without stepping through the past: seasons and the diurnal cycle are sinusoids, day-to-day
weather is smooth noise keyed by the UTC day number. Numbers are chosen for Victoria /
Qualicum Beach (maritime: mild winters, cool summers, humid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bess_etl.simulator import rng

S_PER_DAY = 86_400.0
_TROPICAL_YEAR_D = 365.2422
_EPOCH_TO_2000_D = 10_957.0  # 1970-01-01 -> 2000-01-01

# Daily-mean air temperature: annual mean and half the winter-summer swing (degC).
MEAN_TEMP_C = 10.3
SEASON_AMPLITUDE_C = 6.0
# Half the day-night swing (degC): small in cloudy winters, larger in summer.
DIURNAL_AMPLITUDE_WINTER_C = 2.5
DIURNAL_AMPLITUDE_SUMMER_C = 4.5
WARMEST_SOLAR_HOUR = 15.0
WEATHER_SIGMA_C = 1.8  # day-to-day anomaly
# Relative humidity: seasonal mean (%), and how it falls as air warms over the day (%/degC).
MEAN_RH_PCT = 78.0
SEASON_RH_PCT = 10.0
RH_PER_DEGC = 3.2


@dataclass(frozen=True)
class Site:
    """Where a device stands; `temp_offset_c` shifts the regional climate (coast vs town)."""

    key: int  # stream key for this site's weather
    lat_deg: float
    lon_deg: float
    temp_offset_c: float = 0.0


def year_fraction(t_s: np.ndarray) -> np.ndarray:
    """0 at 1 January, 1 a tropical year later (good to a day, plenty for weather)."""
    days = np.asarray(t_s, dtype=np.float64) / S_PER_DAY - _EPOCH_TO_2000_D
    return np.mod(days, _TROPICAL_YEAR_D) / _TROPICAL_YEAR_D


def _season(t_s: np.ndarray) -> np.ndarray:
    """-1 in mid-January (coldest) .. +1 in mid-July (warmest)."""
    return -np.cos(2.0 * np.pi * (year_fraction(t_s) - 0.03))


def cos_zenith(t_s: np.ndarray, site: Site) -> np.ndarray:
    """Cosine of the solar zenith angle (NOAA low-precision formulas); <= 0 at night."""
    t_s = np.asarray(t_s, dtype=np.float64)
    gamma = 2.0 * np.pi * year_fraction(t_s)
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    utc_min = np.mod(t_s, S_PER_DAY) / 60.0
    solar_min = utc_min + eot_min + 4.0 * site.lon_deg
    hour_angle = np.deg2rad(solar_min / 4.0 - 180.0)
    lat = np.deg2rad(site.lat_deg)
    return np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)


def _smooth_daily_noise(t_s: np.ndarray, stream: int) -> np.ndarray:
    """Unit-variance noise that changes smoothly from day to day: one knot per UTC noon,
    each knot a moving average of three independent normals (weather lasts a few days),
    cosine-interpolated between knots."""
    day = np.asarray(t_s, dtype=np.float64) / S_PER_DAY - 0.5
    j = np.floor(day).astype(np.int64)
    frac = day - j

    def knot(i: np.ndarray) -> np.ndarray:
        n = rng.normal(stream, i - 1) + 2.0 * rng.normal(stream, i) + rng.normal(stream, i + 1)
        return n / np.sqrt(6.0)

    w = 0.5 - 0.5 * np.cos(np.pi * frac)
    return knot(j) * (1.0 - w) + knot(j + 1) * w


def weather_anomaly_c(t_s: np.ndarray, site: Site, seed: int) -> np.ndarray:
    """Day-to-day departure of the air temperature from the seasonal normal (degC)."""
    return WEATHER_SIGMA_C * _smooth_daily_noise(t_s, rng.key(seed, site.key, "weather"))


def daily_mean_c(t_s: np.ndarray, site: Site, seed: int) -> np.ndarray:
    """The air temperature without its diurnal cycle (degC)."""
    normal = MEAN_TEMP_C + site.temp_offset_c + SEASON_AMPLITUDE_C * _season(t_s)
    return normal + weather_anomaly_c(t_s, site, seed)


def ambient_c(t_s: np.ndarray, site: Site, seed: int) -> np.ndarray:
    """Outdoor air temperature (degC): season + weather + a diurnal cycle peaking at 15:00
    local solar time."""
    t_s = np.asarray(t_s, dtype=np.float64)
    season = _season(t_s)
    amplitude = DIURNAL_AMPLITUDE_WINTER_C + (
        DIURNAL_AMPLITUDE_SUMMER_C - DIURNAL_AMPLITUDE_WINTER_C
    ) * (0.5 + 0.5 * season)
    solar_hour = np.mod(t_s / 3600.0 + site.lon_deg / 15.0, 24.0)
    diurnal = amplitude * np.cos(2.0 * np.pi * (solar_hour - WARMEST_SOLAR_HOUR) / 24.0)
    return daily_mean_c(t_s, site, seed) + diurnal


def humidity_pct(t_s: np.ndarray, site: Site, seed: int, ambient: np.ndarray) -> np.ndarray:
    """Relative humidity (%): humid winters, and lower when the air is warmer than the day's
    mean (the same water vapour in warmer air)."""
    t_s = np.asarray(t_s, dtype=np.float64)
    mean = MEAN_RH_PCT - SEASON_RH_PCT * _season(t_s)
    moist = 5.0 * _smooth_daily_noise(t_s, rng.key(seed, site.key, "moisture"))
    warm = np.asarray(ambient) - daily_mean_c(t_s, site, seed)
    return np.clip(mean + moist - RH_PER_DEGC * warm, 20.0, 99.5)


def clearness(day_number: np.ndarray, site: Site, seed: int) -> np.ndarray:
    """Fraction of clear-sky sunshine reaching the panels on a day (0.15..1): cloudier in
    winter. `day_number` is any integer day index (the plan uses days since 1970)."""
    day_number = np.asarray(day_number, dtype=np.int64)
    season = _season(day_number * S_PER_DAY + S_PER_DAY / 2)
    typical = 0.6 + 0.25 * season  # 0.35 in January, 0.85 in July
    u = rng.uniform(rng.key(seed, site.key, "clouds"), day_number)
    return np.clip(typical + 0.6 * (u - 0.5), 0.15, 1.0)
