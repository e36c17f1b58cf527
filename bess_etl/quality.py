"""Checks on received readings: duplicates, out-of-order arrival, invalid values.

Invalid readings (null, NaN, ±inf, outside the channel's physical bounds) are kept out of the lake's
integrated data and go to the quarantine area with a reason, so nothing received is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bess_etl.config import Settings
from bess_etl.lake import QUARANTINE_FILE_SCHEMA, READINGS_SCHEMA

REASONS = ("null", "nan", "inf", "out_of_range")
_GROUP_STRIDE = 10**13  # > any epoch-ms timestamp before year 2286


def channel_bounds(settings: Settings) -> dict[int, tuple[float, float]]:
    """Sensor type -> (lo, hi) physical bounds, in the units the API reports."""
    ch, q = settings.channels, settings.quality
    pairs = {
        ch.voltage: q.voltage_v,
        ch.current: q.current_a,
        ch.power: q.power_kw,
        ch.soc: q.soc_pct,
        ch.battery_temp: q.temperature_c,
        ch.ambient_temp: q.temperature_c,
        ch.humidity: q.humidity_pct,
    }
    return {t: b for t, b in pairs.items() if t}


@dataclass(frozen=True)
class CheckedReadings:
    valid: pa.Table  # READINGS_SCHEMA, value non-null; arrival order kept, duplicates kept
    quarantine: pa.Table  # mac + QUARANTINE_FILE_SCHEMA
    duplicate: np.ndarray  # over `valid`: True for a repeat of a key seen earlier in the batch
    out_of_order: np.ndarray  # over `valid`: True where ts < an earlier ts of its (mac, type)
    # indices into `valid` of the last arrival of each (mac, type, ts), in (mac, type, ts)
    # order: the batch deduplicated and sorted as a lake file is, by the duplicates' own sort
    latest: np.ndarray


def check_readings(table: pa.Table, settings: Settings) -> CheckedReadings:
    """Split a batch (READINGS_SCHEMA, arrival order) into valid readings and quarantine."""
    table = table.cast(READINGS_SCHEMA)
    n = table.num_rows
    values = table.column("value").to_numpy(zero_copy_only=False)  # nulls become NaN
    is_null = table.column("value").is_null().to_numpy(zero_copy_only=False)
    types = table.column("type").to_numpy()
    code = np.zeros(n, dtype=np.int8)  # 0 valid, else 1 + index in REASONS
    code[np.isinf(values)] = 3
    code[np.isnan(values) & ~is_null] = 2
    code[is_null] = 1
    lo, hi = _bounds_per_row(types, channel_bounds(settings))
    code[np.isfinite(values) & ((values < lo) | (values > hi))] = 4
    invalid = code > 0
    if invalid.any():
        valid = table.filter(pa.array(~invalid))
        reasons = np.array(REASONS, dtype=object)[code[invalid] - 1]
        quarantine = table.filter(pa.array(invalid)).append_column(
            "reason", pa.array(reasons.tolist(), pa.string())
        )
    else:
        valid = table
        quarantine = table.slice(0, 0).append_column("reason", pa.array([], pa.string()))
    quarantine = quarantine.cast(pa.schema([READINGS_SCHEMA.field("mac"), *QUARANTINE_FILE_SCHEMA]))
    duplicate, out_of_order, latest = arrival_flags(valid)
    return CheckedReadings(valid, quarantine, duplicate, out_of_order, latest)


def _bounds_per_row(
    types: np.ndarray, bounds: dict[int, tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (lo, hi) bounds, ±inf for types without any: gathered from a table indexed
    by type code (a pass per channel over the batch cost 5× as much)."""
    size = max(bounds, default=0) + 1
    lo_of, hi_of = np.full(size, -np.inf), np.full(size, np.inf)
    for code, (lo, hi) in bounds.items():
        lo_of[code], hi_of[code] = lo, hi
    # codes are positive (0 disables a channel): others read slot 0, which has no bounds
    at = np.where((types > 0) & (types < size), types, 0)
    return lo_of[at], hi_of[at]


def arrival_flags(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, in arrival order: is it a repeat of an earlier (mac, type, ts)? does it arrive
    with a ts earlier than one already seen for its (mac, type)? And the indices of the last
    arrival of each (mac, type, ts), in (mac, type, ts) order."""
    n = table.num_rows
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, np.int64)
    types = table.column("type").to_numpy()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    _, group = np.unique(group_ids(table.column("mac"), types), return_inverse=True)
    group = group.ravel()  # dense: 0 .. number of (mac, type) groups - 1
    # duplicates: same group and ts as the previous row in (group, ts, arrival) order
    order = np.lexsort((np.arange(n), ts, group))
    g_s, ts_s = group[order], ts[order]
    dup_sorted = np.zeros(n, dtype=bool)
    dup_sorted[1:] = (g_s[1:] == g_s[:-1]) & (ts_s[1:] == ts_s[:-1])
    duplicate = np.zeros(n, dtype=bool)
    duplicate[order] = dup_sorted
    last_of_key = np.ones(n, dtype=bool)
    last_of_key[:-1] = ~dup_sorted[1:]
    latest = order[last_of_key]
    # out of order: ts below the running max of its group, in arrival order
    small = group.max() < 2**15  # an int16 stable sort is a radix sort
    by_group = np.argsort(group.astype(np.int16) if small else group, kind="stable")
    keyed = group[by_group].astype(np.int64) * _GROUP_STRIDE + ts[by_group]
    running = np.maximum.accumulate(keyed)
    prev_max = np.empty(n, dtype=np.int64)
    prev_max[0] = np.iinfo(np.int64).min
    prev_max[1:] = running[:-1]
    ooo_sorted = keyed < prev_max
    out_of_order = np.zeros(n, dtype=bool)
    out_of_order[by_group] = ooo_sorted
    return duplicate, out_of_order, latest


def group_ids(macs: pa.ChunkedArray | pa.Array, types: np.ndarray) -> np.ndarray:
    """One int64 per row, equal exactly when (mac, type) is equal. A batch usually holds one
    MAC, so the type code alone serves; otherwise the MAC's dictionary index goes in the high
    32 bits (a hash encode: far cheaper than np.unique over row pairs)."""
    low = types.astype(np.int64) & 0xFFFFFFFF
    if len(types) == 0:
        return low
    lo, hi = pc.min_max(macs).values()
    if lo.as_py() == hi.as_py():
        return low
    encoded = pc.dictionary_encode(macs)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return (encoded.indices.to_numpy().astype(np.int64) << 32) | low
