"""Site-local calendar days and the UTC instants (epoch ms) that bound them.

A local day runs from local midnight to the next local midnight: 23 or 25 hours on DST days.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bess_etl.errors import UsageError

UTC = dt.UTC
MS_PER_DAY = 86_400_000
# Days a range may name: epoch-ms data starts in 1970 (from its second day, every zone's local
# day starts after the epoch), and a date past 2100 is a typo; at 0001 or 9999 the UTC bounds
# of a local day do not even exist.
FIRST_DATE, LAST_DATE = dt.date(1970, 1, 2), dt.date(2100, 12, 31)


def parse_date(text: str, what: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UsageError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def parse_range(start: str, end: str) -> tuple[dt.date, dt.date]:
    d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
    for day, what in ((d0, "--start"), (d1, "--end")):
        if not FIRST_DATE <= day <= LAST_DATE:
            raise UsageError(
                f"{what} {day} is out of range; use a day from {FIRST_DATE} to {LAST_DATE}"
            )
    if d0 > d1:
        raise UsageError(f"--start {d0} is after --end {d1}")
    return d0, d1


def local_midnight_ms(day: dt.date, tz: ZoneInfo) -> int:
    """Epoch ms of local midnight starting `day` (midnight always exists in practice; where a
    zone skips it, zoneinfo resolves forward, which is the first instant of that day)."""
    local = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return int(local.timestamp() * 1000)


def local_day_bounds_ms(day: dt.date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a local day in epoch ms."""
    return local_midnight_ms(day, tz), local_midnight_ms(day + dt.timedelta(days=1), tz)


def local_range_bounds_ms(d0: dt.date, d1: dt.date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) covering local days d0..d1 inclusive."""
    return local_midnight_ms(d0, tz), local_midnight_ms(d1 + dt.timedelta(days=1), tz)


def utc_date_of_ms(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def utc_day_bounds_ms(day: dt.date) -> tuple[int, int]:
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return start, start + MS_PER_DAY


def utc_dates_between(start_ms: int, end_ms: int) -> list[dt.date]:
    """UTC dates touched by [start_ms, end_ms)."""
    if end_ms <= start_ms:
        return []
    d, last = utc_date_of_ms(start_ms), utc_date_of_ms(end_ms - 1)
    out = []
    while d <= last:
        out.append(d)
        d += dt.timedelta(days=1)
    return out


def local_dates_between(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[dt.date]:
    """Local dates touched by [start_ms, end_ms)."""
    if end_ms <= start_ms:
        return []
    d = dt.datetime.fromtimestamp(start_ms / 1000, tz=tz).date()
    last = dt.datetime.fromtimestamp((end_ms - 1) / 1000, tz=tz).date()
    out = []
    while d <= last:
        out.append(d)
        d += dt.timedelta(days=1)
    return out


def date_range(d0: dt.date, d1: dt.date) -> list[dt.date]:
    return [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]


def now_ms() -> int:
    return int(dt.datetime.now(tz=UTC).timestamp() * 1000)


def ms_to_iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
