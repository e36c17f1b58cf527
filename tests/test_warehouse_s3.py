"""The warehouse over a lake on an object store (s3:// through fsspec, served by moto): the
views, the recompute and energy_between read the same Parquet layout there."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bess_etl import storage, warehouse
from bess_etl.config import load_settings
from bess_etl.orchestration import run_flow

MAC = 303721690


@pytest.fixture
def s3_settings(make_settings, tmp_path, monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    s3fs = pytest.importorskip("s3fs")
    server = moto_server.ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "BESS_ETL_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake")
    # filesystems are cached per protocol; this test's endpoint must not leak either way
    s3fs.S3FileSystem.clear_instance_cache()
    storage._fs_for.cache_clear()
    yield make_settings(data_dir="s3://lake/bess")
    s3fs.S3FileSystem.clear_instance_cache()
    storage._fs_for.cache_clear()
    server.stop()


def test_recompute_and_energy_between_on_an_object_store(s3_settings, store_rows):
    s = s3_settings
    assert s.lake_dir == "s3://lake/bess/lake"
    con = warehouse.connect(s)
    try:
        warehouse.build_schema(con, s)
        assert con.execute("select count(*) from readings").fetchall() == [(0,)]
        changed = store_rows(
            s,
            [
                (MAC, 533, "2025-01-15T12:00:00", 1.0),
                (MAC, 533, "2025-01-15T12:01:00", 2.0),
                (MAC, 533, "2025-01-15T12:02:00", 3.0),
            ],
        )
        summary = warehouse.recompute(con, s, changed)
        assert (MAC, dt.date(2025, 1, 15)) in summary["days"]
        # 1 -> 2 -> 3 kW over two minutes: 90 + 150 kW·s
        assert con.execute("select charge_kwh * 3600 from daily_energy").fetchall() == [(240.0,)]
        span = con.execute(
            "select charge_kwh * 3600 from energy_between($m, '2025-01-15 12:00:30+00', "
            "'2025-01-15 12:02:00+00')",
            {"m": MAC},
        ).fetchall()
        assert span == [(pytest.approx(0.5 * (1.5 + 2) * 30 + 150),)]
        assert con.execute("select count(*) from readings").fetchall() == [(3,)]
    finally:
        con.close()


# One BESS, one local day, a reading every 5 minutes: a whole backfill in a second or two.
BACKFILL_TOML = """
[simulator]
cadence_s = 300.0

[integration]
max_gap_s = 900

[ingest]
macs = [303721690]
"""
DERIVED = ("daily_energy", "energy_interval", "lake_partitions")


def _lake_tables(root: str, fs=None) -> dict[str, pa.Table]:
    """Every Parquet file under a lake root by relative path -> its table."""
    if fs is None:
        paths = [str(p) for p in Path(root).rglob("*.parquet") if not p.name.startswith(".")]
        return {p[len(root) :]: pq.read_table(p) for p in sorted(paths)}
    prefix = root.split("://", 1)[1]
    out = {}
    for p in sorted(fs.find(prefix)):
        if p.endswith(".parquet"):
            with fs.open(p, "rb") as fh:
                out[p[len(prefix) :]] = pq.read_table(fh)
    return out


def _rounded(rows: list[tuple]) -> list[tuple]:
    """Rows with floats to 9 significant digits: DuckDB's parallel sums may differ in the last
    bit between two runs over the same readings."""
    return [tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in r) for r in rows]


def _derived(settings) -> dict[str, list]:
    """The derived tables, and the readings view over the lake (through the registered
    filesystem when the lake is on the object store)."""
    con = warehouse.connect(settings, read_only=True)
    try:
        tables = {
            t: _rounded(con.execute(f"select * from {t} order by all").fetchall()) for t in DERIVED
        }
        tables["readings"] = con.execute(  # rounded: a parallel sum's order varies
            "select count(*), round(sum(value), 6) from readings"
        ).fetchall()
        return tables
    finally:
        con.close()


def test_backfill_into_an_s3_lake_gives_the_local_lake_and_warehouse(s3_settings, tmp_path):
    """`backfill` with data_dir = s3://...: the lake lands on the object store file for file as
    it does on a local disk, and the warehouse built from it equals the local-lake one."""
    from flows.jobs import run_backfill

    cfg = tmp_path / "backfill.toml"
    cfg.write_text(BACKFILL_TOML)
    local_dir = str(tmp_path / "local")
    runs = {}
    for data_dir in ("s3://lake/backfill", local_dir):
        settings = runs[data_dir] = load_settings(cfg, data_dir=data_dir)
        summary = run_flow(
            "flows.backfill:backfill",
            run_backfill,
            settings,
            prefect=False,
            start="2026-10-01",
            end="2026-10-01",
            config=str(cfg),
            data_dir=data_dir,
        )
        assert summary["partitions_failed"] == 0
        assert summary["partitions_ok"] == 2  # the local day spans two UTC days
        assert summary["rows_new"] > 500
    remote = _lake_tables("s3://lake/backfill/lake", storage.remote_fs("s3://lake"))
    local = _lake_tables(str(Path(local_dir, "lake")))
    assert list(remote) == list(local)
    assert any(k.startswith("/readings/mac=303721690/date=") for k in remote)
    for key, table in local.items():
        assert remote[key].equals(table), key
    on_s3 = _derived(runs["s3://lake/backfill"])
    on_disk = _derived(runs[local_dir])
    assert runs["s3://lake/backfill"].warehouse_path == os.environ["BESS_ETL_WAREHOUSE"]
    assert on_s3["daily_energy"], "nothing was computed"
    assert on_s3 == on_disk
