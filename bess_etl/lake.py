"""The lake: raw readings as hive-partitioned Parquet.

    <lake>/readings/mac=<mac>/date=<YYYY-MM-DD>/part-0.parquet     (date: UTC date of the reading)
    <lake>/quarantine/mac=<mac>/date=<YYYY-MM-DD>/part-0.parquet   (invalid readings, with reason)
    <lake>/<readings|quarantine>/_staging/                         (files being written)

Files hold `type INT32, ts TIMESTAMP(ms, UTC), value DOUBLE`, sorted by (type, ts) and unique on
(type, ts); `mac` and `date` live only in the path, as in Spark's and Arrow's hive writers.
A partition is one file, rewritten whole on merge: new readings for a key replace old ones, so
re-pulling a window leaves the same bytes, and late readings are merged, never duplicated.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bess_etl import storage
from bess_etl.config import join_path

TS_TYPE = pa.timestamp("ms", tz="UTC")
FILE_SCHEMA = pa.schema(
    [
        pa.field("type", pa.int32(), nullable=False),
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)
QUARANTINE_FILE_SCHEMA = pa.schema(
    [
        pa.field("type", pa.int32(), nullable=False),
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("value", pa.float64()),  # null when the API sent null
        pa.field("reason", pa.string(), nullable=False),
    ]
)
# Readings in memory, as the client decodes them and `import` reads them: mac is a column.
READINGS_SCHEMA = pa.schema(
    [
        pa.field("mac", pa.int64(), nullable=False),
        pa.field("type", pa.int32(), nullable=False),
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("value", pa.float64()),
    ]
)
PART_FILE = "part-0.parquet"
STAGING = "_staging"
MS_PER_DAY = 86_400_000


def readings_root(lake_dir: str) -> str:
    return join_path(lake_dir, "readings")


def quarantine_root(lake_dir: str) -> str:
    return join_path(lake_dir, "quarantine")


def partition_path(root: str, mac: int, date: dt.date) -> str:
    """The one file of a partition; a pure function of key, so tests can name it exactly."""
    return join_path(root, f"mac={int(mac)}", f"date={date.isoformat()}", PART_FILE)


def staging_dir(root: str) -> str | None:
    """Where writes into `root` stage their temporary files (local lakes; no other reader
    lists it: hive readers skip `_` directories, and the readings glob is three levels deep)."""
    return None if storage.is_remote(root) else join_path(root, STAGING)


def remove_stale_temp_files(lake_dir: str) -> int:
    """Delete what killed writers left in the lake's staging directories (under the run lock:
    no writer is alive). Returns how many files were removed."""
    dirs = (staging_dir(readings_root(lake_dir)), staging_dir(quarantine_root(lake_dir)))
    return sum(storage.remove_stale_temp_files(d) for d in dirs if d is not None)


def readings_glob(lake_dir: str) -> str:
    return join_path(readings_root(lake_dir), "*", "*", "*.parquet")


def list_partitions(
    root: str,
    mac: int | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> list[tuple[int, dt.date]]:
    """(mac, UTC date) of every partition with a file, sorted, optionally of one MAC and within
    the dates first..last (inclusive; the file of a partition outside them is not looked for)."""
    return list(iter_partitions(root, mac, first, last))


def has_partitions(root: str) -> bool:
    """Whether any partition has a file (stops at the first: a remote listing is slow)."""
    return next(iter_partitions(root), None) is not None


def iter_partitions(
    root: str,
    mac: int | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> Iterator[tuple[int, dt.date]]:
    """list_partitions, lazily. Every run lists the whole lake (warehouse._sync_lake_partitions),
    so a local file is looked for with os.path (pathlib costs ~3× as much per partition)."""
    lo, hi = (first.isoformat() if first else ""), (last.isoformat() if last else "9999")
    join = join_path if storage.is_remote(root) else os.path.join
    for mac_dir in storage.list_dirs(root):
        if not mac_dir.startswith("mac=") or (mac is not None and int(mac_dir[4:]) != mac):
            continue
        mac_path = join_path(root, mac_dir)
        for name in storage.list_dirs(mac_path):
            # ISO dates compare as strings: no date is parsed outside the range
            in_range = name.startswith("date=") and lo <= name[5:] <= hi
            if in_range and storage.exists(join(mac_path, name, PART_FILE)):
                yield int(mac_dir[4:]), dt.date.fromisoformat(name[5:])


def read_partition(root: str, mac: int, date: dt.date) -> pa.Table | None:
    return storage.read_parquet(partition_path(root, mac, date))


def split_by_partition(table: pa.Table) -> dict[tuple[int, dt.date], pa.Table]:
    """Group in-memory readings (READINGS_SCHEMA) by (mac, UTC date) into file-schema tables,
    preserving arrival order within each group."""
    if table.num_rows == 0:
        return {}
    day_idx = table.column("ts").cast(pa.int64()).to_numpy() // MS_PER_DAY
    rest = table.drop_columns(["mac"])
    mac_col = table.column("mac")
    lo, hi = pc.min_max(mac_col).values()
    if lo.as_py() == hi.as_py() and day_idx.min() == day_idx.max():
        # the usual batch: one MAC's readings of one UTC day
        date = dt.date(1970, 1, 1) + dt.timedelta(days=int(day_idx[0]))
        return {(int(lo.as_py()), date): rest}
    macs = mac_col.to_numpy()
    mac_values, mac_idx = np.unique(macs, return_inverse=True)
    day0 = int(day_idx.min())
    keys = (mac_idx.astype(np.int64) << 32) | (day_idx - day0)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    bounds = np.r_[starts, len(order)]
    out = {}
    for i, start in enumerate(starts):
        key = int(sorted_keys[start])
        mac = int(mac_values[key >> 32])
        date = dt.date(1970, 1, 1) + dt.timedelta(days=day0 + (key & 0xFFFFFFFF))
        out[(mac, date)] = rest.take(pa.array(order[start : bounds[i + 1]]))
    return out


def dedupe_last(table: pa.Table) -> pa.Table:
    """Sort by (type, ts) and keep the last arrival of each key (arrival = row order)."""
    if table.num_rows == 0:
        return table
    types = table.column("type").to_numpy()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    arrival = np.arange(len(ts))
    order = np.lexsort((arrival, ts, types))
    t_sorted, ts_sorted = types[order], ts[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (t_sorted[1:] != t_sorted[:-1]) | (ts_sorted[1:] != ts_sorted[:-1])
    return table.take(pa.array(order[last]))


@dataclass(frozen=True)
class MergeResult:
    rows_before: int
    rows_after: int
    rows_new: int  # keys that were not in the partition before
    changed: bool  # the file's contents changed (and it was rewritten)
    new_mask: np.ndarray  # over the deduplicated incoming rows: True where the key was new


def merge_partition(root: str, mac: int, date: dt.date, incoming: pa.Table) -> MergeResult:
    """Merge readings into one partition file (new readings win on equal keys) and rewrite it
    atomically if anything changed. `incoming` is deduplicated, sorted and has the file schema of
    `root` (FILE_SCHEMA or QUARANTINE_FILE_SCHEMA). Concurrent merges into the same partition
    must be serialised by the caller (one task per MAC does that)."""
    path = partition_path(root, mac, date)
    existing = storage.read_parquet(path)
    n_in = incoming.num_rows
    if existing is None or existing.num_rows == 0:
        if n_in:
            storage.write_parquet_atomic(incoming, path, staging_dir(root))
        return MergeResult(0, n_in, n_in, n_in > 0, np.ones(n_in, dtype=bool))
    existing = existing.cast(incoming.schema)
    both = pa.concat_tables([existing, incoming])
    types = both.column("type").to_numpy()
    ts = both.column("ts").cast(pa.int64()).to_numpy()
    source = np.r_[np.zeros(existing.num_rows, np.int8), np.ones(n_in, np.int8)]
    order = np.lexsort((source, ts, types))
    t_s, ts_s = types[order], ts[order]
    same_as_next = np.zeros(len(order), dtype=bool)
    same_as_next[:-1] = (t_s[1:] == t_s[:-1]) & (ts_s[1:] == ts_s[:-1])
    keep = ~same_as_next  # the last of each key group: the incoming row where there is one
    merged = both.take(pa.array(order[keep]))
    # an incoming row is new when no existing row shares its key (it is then first in its group)
    same_as_prev = np.zeros(len(order), dtype=bool)
    same_as_prev[1:] = same_as_next[:-1]
    incoming_sorted_pos = order >= existing.num_rows
    new_flags = np.zeros(n_in, dtype=bool)
    new_flags[order[incoming_sorted_pos] - existing.num_rows] = ~same_as_prev[incoming_sorted_pos]
    changed = merged.num_rows != existing.num_rows or not merged.equals(existing)
    if changed:
        storage.write_parquet_atomic(merged, path, staging_dir(root))
    return MergeResult(existing.num_rows, merged.num_rows, int(new_flags.sum()), changed, new_flags)


def to_file_table(table: pa.Table) -> pa.Table:
    """Cast a per-partition slice to the readings file schema (value must be non-null)."""
    return table.select(["type", "ts", "value"]).cast(FILE_SCHEMA)


def ms_to_ts(ms: np.ndarray | list[int]) -> pa.Array:
    return pc.cast(pa.array(ms, pa.int64()), TS_TYPE)
