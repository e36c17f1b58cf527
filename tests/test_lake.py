"""The lake: paths, merge semantics, atomic and idempotent writes, readable by other engines."""

import datetime as dt
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from bess_etl import lake, storage
from bess_etl.store import store_readings

D0 = 1688083200000  # 2023-06-30T00:00:00Z


def readings(rows):
    """rows: (mac, type, ms, value)"""
    mac, typ, ms, val = zip(*rows, strict=True)
    return pa.table(
        {"mac": list(mac), "type": list(typ), "ts": lake.ms_to_ts(list(ms)), "value": list(val)},
        schema=lake.READINGS_SCHEMA,
    )


def test_partition_path_is_a_pure_function_of_key():
    assert lake.partition_path("/l/readings", 303721690, dt.date(2023, 6, 30)) == (
        "/l/readings/mac=303721690/date=2023-06-30/part-0.parquet"
    )
    assert lake.partition_path("s3://b/l/readings", 7, dt.date(2024, 1, 2)) == (
        "s3://b/l/readings/mac=7/date=2024-01-02/part-0.parquet"
    )


def test_store_splits_by_utc_date_sorts_and_dedupes(settings):
    batch = readings(
        [
            (1, 532, D0 + 5000, 55.0),
            (1, 531, D0 + 1000, 2.0),
            (1, 532, D0 + 1000, 54.0),
            (1, 532, D0 - 1000, 53.0),  # previous UTC day
            (1, 532, D0 + 5000, 55.5),  # same key again: the later arrival wins
        ]
    )
    writes = store_readings(settings, batch)
    assert set(writes) == {(1, dt.date(2023, 6, 30)), (1, dt.date(2023, 6, 29))}
    day = lake.read_partition(lake.readings_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    assert day.schema == lake.FILE_SCHEMA
    assert day.column("type").to_pylist() == [531, 532, 532]
    assert [t.timestamp() * 1000 for t in day.column("ts").to_pylist()] == [
        D0 + 1000,
        D0 + 1000,
        D0 + 5000,
    ]
    assert day.column("value").to_pylist() == [2.0, 54.0, 55.5]
    w = writes[(1, dt.date(2023, 6, 30))]
    assert (w.rows_valid, w.rows_new, w.duplicates, w.changed) == (4, 3, 1, True)


def test_a_one_partition_batch_is_stored_as_dedupe_last_sorts_it(settings):
    """One partition's batch takes the duplicate check's sort instead of its own: the file must
    still be lake.dedupe_last of the batch (last arrival of each key, in (type, ts) order)."""
    rng = np.random.default_rng(7)
    n = 5000
    rows = [
        (1, int(t), D0 + int(ms) * 1000, float(v))
        for t, ms, v in zip(
            rng.choice([531, 532, 533], n),
            rng.integers(0, 600, n),
            rng.normal(50, 5, n),
            strict=True,
        )
    ]  # ~1,800 keys: most arrive several times, in no order
    batch = readings(rows)
    (w,) = store_readings(settings, batch).values()
    day = lake.read_partition(lake.readings_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    want = lake.to_file_table(lake.dedupe_last(batch.select(["type", "ts", "value"])))
    assert day.equals(want)
    assert w.rows_new == want.num_rows < n and w.duplicates == n - want.num_rows


def test_repull_is_idempotent_to_the_byte_and_late_data_merges(settings):
    batch = readings([(1, 532, D0 + i * 20_000, 50.0 + i) for i in range(10)])
    store_readings(settings, batch)
    path = lake.partition_path(lake.readings_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    first = Path(path).read_bytes()
    mtime = os.stat(path).st_mtime_ns
    again = store_readings(settings, batch)[(1, dt.date(2023, 6, 30))]
    assert (again.rows_new, again.changed, again.duplicates) == (0, False, 0)
    assert Path(path).read_bytes() == first
    assert os.stat(path).st_mtime_ns == mtime  # unchanged partitions are not rewritten
    late = readings([(1, 532, D0 + 10_000, 99.0), (1, 532, D0 + 20_000, 51.5)])
    w = store_readings(settings, late)[(1, dt.date(2023, 6, 30))]
    assert (w.rows_new, w.changed) == (1, True)  # one new key, one corrected value
    table = lake.read_partition(lake.readings_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    assert table.num_rows == 11
    assert table.column("value").to_pylist()[:3] == [50.0, 99.0, 51.5]


def test_invalid_readings_go_to_quarantine_with_reasons(settings):
    batch = readings(
        [
            (1, 532, D0, None),
            (1, 532, D0 + 1000, float("nan")),
            (1, 531, D0 + 1000, float("inf")),
            (1, 532, D0 + 2000, 6553.5 * 1000),  # above the 1500 V bound
            (1, 532, D0 + 3000, 55.0),
            (1, 999, D0 + 3000, -1e12),  # unknown type: no bounds, kept
        ]
    )
    w = store_readings(settings, batch)[(1, dt.date(2023, 6, 30))]
    assert w.invalid == {"null": 1, "nan": 1, "inf": 1, "out_of_range": 1}
    q = lake.read_partition(lake.quarantine_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    assert sorted(q.column("reason").to_pylist()) == ["inf", "nan", "null", "out_of_range"]
    good = lake.read_partition(lake.readings_root(settings.lake_dir), 1, dt.date(2023, 6, 30))
    assert good.column("type").to_pylist() == [532, 999]
    # the same invalid readings again are not counted twice
    assert store_readings(settings, batch)[(1, dt.date(2023, 6, 30))].invalid == {}


def test_counts_only_readings_new_to_the_lake(settings):
    first = readings([(1, 532, D0 + 2000, 1.0), (1, 532, D0 + 1000, 1.0)])  # out of order
    w1 = store_readings(settings, first)[(1, dt.date(2023, 6, 30))]
    assert w1.out_of_order == 1
    w2 = store_readings(settings, first)[(1, dt.date(2023, 6, 30))]
    assert w2.out_of_order == 0  # a re-pull of the same window counts nothing again


def test_atomic_write_leaves_no_temp_files_and_cleans_killed_ones(tmp_path):
    target = tmp_path / "a" / "part-0.parquet"
    storage.write_parquet_atomic(pa.table({"x": [1]}), str(target))
    assert [p.name for p in target.parent.iterdir()] == ["part-0.parquet"]
    stale = target.parent / ".part-0.parquet.deadbeef.tmp"
    stale.write_bytes(b"half a file")
    assert storage.remove_stale_temp_files(str(target.parent)) == 1
    assert not stale.exists() and target.exists()


def test_lake_writes_stage_in_one_directory_that_a_run_cleans(settings):
    """A killed writer's temp file is in the lake's staging directory (not among years of
    partitions), which the next run's prepare step empties; no reader sees it meanwhile."""
    store_readings(settings, readings([(1, 532, D0, 1.0)]))
    root = Path(lake.readings_root(settings.lake_dir))
    staging = root / lake.STAGING
    assert staging.is_dir() and not list(staging.iterdir())  # the write renamed its temp file
    stale = staging / ".part-0.parquet.deadbeef.tmp"
    stale.write_bytes(b"half a file")
    assert lake.list_partitions(str(root)) == [(1, dt.date(2023, 6, 30))]
    glob = lake.readings_glob(settings.lake_dir)
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall() == [(1,)]
    assert lake.remove_stale_temp_files(settings.lake_dir) == 1
    assert not stale.exists()


def test_other_engines_read_the_lake(settings):
    store_readings(
        settings, readings([(303721690, 532, D0, 55.2), (303721691, 531, D0 + 86_400_000, -3.5)])
    )
    root = lake.readings_root(settings.lake_dir)
    # DuckDB with declared hive types
    glob = lake.readings_glob(settings.lake_dir)
    rows = duckdb.sql(
        f"select mac, date, type, value from read_parquet('{glob}',"
        " hive_partitioning = true, hive_types = {'mac': BIGINT, 'date': DATE}) order by mac"
    ).fetchall()
    assert rows == [
        (303721690, dt.date(2023, 6, 30), 532, 55.2),
        (303721691, dt.date(2023, 7, 1), 531, -3.5),
    ]
    # Arrow with a partitioning schema: mac is not repeated inside the files, so no conflict
    part = ds.partitioning(pa.schema([("mac", pa.int64()), ("date", pa.date32())]), flavor="hive")
    table = ds.dataset(root, format="parquet", partitioning=part).to_table()
    assert sorted(table.column("mac").to_pylist()) == [303721690, 303721691]
    assert "mac" not in lake.FILE_SCHEMA.names
