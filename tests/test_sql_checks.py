"""Each data check in sql/checks/ returns the rows that violate it, and only those."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from conftest import failing_checks

from bess_etl import lake, storage, warehouse
from bess_etl.errors import DataCheckError

MAC = 303721690


@pytest.fixture
def built(settings, store_rows, open_warehouse):
    readings = []
    for minute in range(0, 120, 2):
        hour = 12 + minute // 60
        t = f"2025-01-15T{hour}:{minute % 60:02d}:00"
        readings += [(MAC, 533, t, 1.0 - minute / 60), (MAC, 531, t, 20.0), (MAC, 532, t, 50.0)]
    store_rows(settings, readings)
    con = open_warehouse(settings)
    warehouse.rebuild(con, settings)
    return con


def test_every_check_passes_on_a_clean_build(built):
    results = warehouse.run_checks(built)
    assert [r.name for r in results] == [p.stem for p in warehouse.check_files()]
    assert len(results) == 11  # 8 of the SQL layer, 3 of the analytics
    assert all(r.ok for r in results)


@pytest.mark.parametrize(
    ("check", "mutation", "n"),
    [
        (
            "energy_interval_duplicate_keys",
            "insert into energy_interval select * from energy_interval limit 1",
            1,
        ),
        (
            "daily_energy_duplicate_keys",
            "insert into daily_energy select * from daily_energy",
            1,
        ),
        ("negative_energy", "update energy_interval set discharge_kwh = -0.001 where true", 8),
        (
            "interval_sums_match_daily",
            "update daily_energy set charge_kwh = charge_kwh * (1 + 1e-8)",
            1,
        ),
        # the 7 fully covered buckets overflow; the last (13:45-13:58) has room for a second
        ("interval_seconds_within_bucket", "update energy_interval set gap_s = 1", 7),
        ("days_without_daily_row", "delete from daily_energy", 1),
        (
            "daily_rows_without_readings",
            "insert into daily_energy select * replace (local_date + 3 as local_date) "
            "from daily_energy",
            1,
        ),
    ],
)
def test_check_finds_its_violation(built, check, mutation, n):
    assert failing_checks(built) == {}
    built.execute(mutation)
    got = failing_checks(built)
    assert got.get(check) == n, got


def test_interval_sums_tolerate_float_rounding(built):
    built.execute("update daily_energy set charge_kwh = charge_kwh * (1 + 1e-12)")
    assert failing_checks(built) == {}


def test_duplicate_readings_in_the_lake_fail_the_rebuild(settings, built):
    # a partition written around store_readings, with one (type, ts) twice
    ts = pa.array([1736942400000, 1736942400000], pa.int64()).cast(lake.TS_TYPE)
    table = pa.table(
        {"type": pa.array([530, 530], pa.int32()), "ts": ts, "value": [20.0, 21.0]},
        schema=lake.FILE_SCHEMA,
    )
    root = lake.readings_root(settings.lake_dir)
    storage.write_parquet_atomic(table, lake.partition_path(root, MAC, dt.date(2025, 1, 15)))
    with pytest.raises(DataCheckError, match="lake_duplicate_readings failed: 1 violating rows"):
        warehouse.rebuild(built, settings)
