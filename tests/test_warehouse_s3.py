"""The warehouse over a lake on an object store (s3:// through fsspec, served by moto): the
views, the recompute and energy_between read the same Parquet layout there."""

from __future__ import annotations

import datetime as dt

import pytest

from bess_etl import storage, warehouse

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
