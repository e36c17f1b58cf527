"""Put a batch of received readings into the lake: check, split by partition, merge.

Shared by the API pull and `bess-etl import`. Counts (duplicates, out-of-order, invalid) are taken
over readings that are new to the lake, so re-pulling an overlapping window does not count the
same duplicate twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from bess_etl import lake
from bess_etl.config import Settings
from bess_etl.quality import REASONS, check_readings

_TS_BITS = 27  # ms within one UTC day < 2**27


@dataclass
class PartitionWrite:
    """What one batch did to one (mac, UTC date) partition."""

    mac: int
    date: dt.date
    rows_valid: int = 0  # valid readings received for this partition (duplicates included)
    rows_new: int = 0  # keys that were not in the lake before
    duplicates: int = 0  # repeats of a new key inside the batch
    out_of_order: int = 0  # new readings that arrived behind a later one
    invalid: dict[str, int] = field(default_factory=dict)  # new quarantined readings by reason
    changed: bool = False  # the readings file was rewritten

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    def add(self, other: PartitionWrite) -> None:
        self.rows_valid += other.rows_valid
        self.rows_new += other.rows_new
        self.duplicates += other.duplicates
        self.out_of_order += other.out_of_order
        for k, v in other.invalid.items():
            self.invalid[k] = self.invalid.get(k, 0) + v
        self.changed |= other.changed


def store_readings(
    settings: Settings, table: pa.Table
) -> dict[tuple[int, dt.date], PartitionWrite]:
    """Check and merge a batch (READINGS_SCHEMA, arrival order) into the lake and quarantine.
    Returns one PartitionWrite per partition the batch touched."""
    checked = check_readings(table, settings)
    out: dict[tuple[int, dt.date], PartitionWrite] = {}
    root = lake.readings_root(settings.lake_dir)
    flags = pa.table({"dup": pa.array(checked.duplicate), "ooo": pa.array(checked.out_of_order)})
    valid = checked.valid.append_column("dup", flags["dup"]).append_column("ooo", flags["ooo"])
    # the duplicate check's sort already deduplicated the batch in (mac, type, ts) order, which
    # a stable split by partition keeps
    latest = lake.split_by_partition(
        valid.select(["mac", "type", "ts", "value"]).take(checked.latest)
    )
    for (mac, date), part in lake.split_by_partition(valid).items():
        deduped = latest[(mac, date)]
        result = lake.merge_partition(root, mac, date, lake.to_file_table(deduped))
        arrival_new = _arrival_new(part, deduped, date, result.new_mask)
        out[(mac, date)] = PartitionWrite(
            mac=mac,
            date=date,
            rows_valid=part.num_rows,
            rows_new=result.rows_new,
            duplicates=int((part.column("dup").to_numpy() & arrival_new).sum()),
            out_of_order=int((part.column("ooo").to_numpy() & arrival_new).sum()),
            changed=result.changed,
        )
    qroot = lake.quarantine_root(settings.lake_dir)
    for (mac, date), part in lake.split_by_partition(checked.quarantine).items():
        deduped = lake.dedupe_last(part)
        result = lake.merge_partition(qroot, mac, date, deduped.cast(lake.QUARANTINE_FILE_SCHEMA))
        reasons = Counter(
            np.asarray(deduped.column("reason").to_pylist(), dtype=object)[result.new_mask]
        )
        w = out.setdefault((mac, date), PartitionWrite(mac=mac, date=date))
        w.invalid = {r: int(reasons.get(r, 0)) for r in REASONS if reasons.get(r)}
    return out


def _arrival_new(
    part: pa.Table, deduped: pa.Table, date: dt.date, new_mask: np.ndarray
) -> np.ndarray | bool:
    """Over the arrival rows: is the row's key one that was new to the lake? (All or none of
    them in the usual cases: a first pull, or a re-pull of a day the lake already has.)"""
    if new_mask.all():
        return True
    if not new_mask.any():
        return False
    return np.isin(_keys(part, date), _keys(deduped, date)[new_mask])


def _keys(table: pa.Table, date: dt.date) -> np.ndarray:
    """(type, ts) packed into one int64 for readings within one UTC day."""
    day_start = (date - dt.date(1970, 1, 1)).days * lake.MS_PER_DAY
    ts = table.column("ts").cast(pa.int64()).to_numpy() - day_start
    return (table.column("type").to_numpy().astype(np.int64) << _TS_BITS) | ts
