"""`bess-etl import` end to end: a reading whose value is not a number is a data-quality event
(quarantined, counted, the file loads); a file whose structure or timestamps are wrong is
refused whole, in one line, exit 2, nothing written."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import lake_snapshot, query

from bess_etl.cli import main

MAC = 303721690
T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z
# (type, ms offset, value as the export writes it); Home Assistant writes "unavailable" and
# "unknown" where a sensor had no value
ROWS = [
    (532, 0, "52.1"),
    (532, 20_000, "unavailable"),
    (532, 40_000, "52.3"),
    (531, 0, "-3.5"),
    (531, 20_000, "unknown"),
    (531, 40_000, "-3.25"),
    (531, 60_000, "NaN"),
]
GOOD = 4  # the numeric values
NOT_NUMBERS = 2  # quarantined as a null value
NANS = 1  # quarantined as nan, as before


def _csv(path, rows=ROWS):
    lines = ["mac,type,timestamp,data"] + [f"{MAC},{t},{T0 + dt},{v}" for t, dt, v in rows]
    path.write_text("\n".join(lines) + "\n")


def _json(path, rows=ROWS):
    path.write_text(
        json.dumps([{"mac": MAC, "type": t, "timestamp": T0 + dt, "data": v} for t, dt, v in rows])
    )


def _parquet(path, rows=ROWS):
    table = pa.table(
        {
            "mac": pa.array([MAC] * len(rows), pa.int64()),
            "type": pa.array([t for t, _, _ in rows], pa.int32()),
            "timestamp": pa.array([T0 + dt for _, dt, _ in rows], pa.int64()),
            "data": pa.array([v for _, _, v in rows], pa.string()),
        }
    )
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("name", "write"), [("x.csv", _csv), ("x.json", _json), ("x.parquet", _parquet)]
)
def test_values_that_are_not_numbers_are_quarantined_and_counted(
    name, write, make_settings, tmp_path, capsys
):
    settings = make_settings()
    write(tmp_path / name)
    rc = main(["import", str(tmp_path / name), "--data-dir", settings.data_dir])
    out = capsys.readouterr()
    assert rc == 0, out.err
    quarantined = NOT_NUMBERS + NANS
    assert f"readings: {len(ROWS)} received, {GOOD} new" in out.out
    assert f"{quarantined} quarantined" in out.out
    lake = lake_snapshot(settings)
    assert sorted(zip(lake["type"].to_pylist(), lake["value"].to_pylist(), strict=True)) == [
        (531, -3.5),
        (531, -3.25),
        (532, 52.1),
        (532, 52.3),
    ]
    held = lake_snapshot(settings, "quarantine")
    assert sorted(held["reason"].to_pylist()) == ["nan", "null", "null"]
    ((null, nan, valid),) = query(
        settings,
        "select sum(invalid_null), sum(invalid_nan), sum(rows_valid) from data_quality",
    )
    assert (null, nan, valid) == (NOT_NUMBERS, NANS, GOOD)


def _refused(capsys, rc, needle):
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, err
    assert err and "\n" not in err and needle in err, err
    assert "unexpected" not in err
    return err


@pytest.mark.parametrize(
    ("ms", "needle"),
    [
        (99_999_999_999_999_999, "timestamp 99999999999999999 (reading 2) is after 2100"),
        (1_790_000_000, "timestamp 1790000000 (reading 2) looks like seconds"),
        (-5_000, "timestamp -5000 (reading 2) is before 1970"),
        (86_400_000, "timestamp 86400000 (reading 2) is before 2001"),
    ],
)
def test_timestamps_that_are_not_epoch_ms_refuse_the_file(ms, needle, tmp_path, capsys):
    """One good reading and one bad timestamp: refused whole (the unit or the column is
    wrong); before, seconds and negatives loaded as 1970 data and recomputed 20,708 days."""
    src = tmp_path / "x.csv"
    src.write_text(f"mac,type,timestamp,data\n{MAC},532,{T0},52.0\n{MAC},532,{ms},52.1\n")
    data = tmp_path / "data"
    _refused(capsys, main(["import", str(src), "--data-dir", str(data)]), needle)
    assert not data.exists()


def test_a_file_of_the_wrong_structure_is_still_refused_whole(tmp_path, capsys):
    data = tmp_path / "data"
    files = {
        "nocol.csv": (b"mac,type,timestamp\n1,2,3\n", "missing column 'data'"),
        "latin1.csv": (
            f"mac,type,timestamp,data\n{MAC},532,{T0},caf\xe9\n".encode("latin-1"),
            "cannot read",
        ),
        "plain.csv.gz": (f"mac,type,timestamp,data\n{MAC},532,{T0},1\n".encode(), "cannot read"),
        "cut.csv.gz": (gzip.compress(b"mac,type,timestamp,data\n" * 50)[:40], "cannot read"),
        "textmac.csv": (f"mac,type,timestamp,data\nabc,532,{T0},1\n".encode(), "cannot read"),
        "isotime.csv": (
            f"mac,type,timestamp,data\n{MAC},532,2026-10-01T00:00:00Z,1\n".encode(),
            "cannot read",
        ),
    }
    for name, (content, needle) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        err = _refused(capsys, main(["import", str(path), "--data-dir", str(data)]), needle)
        assert name in err
    # one bad file among good ones: nothing of the good ones is stored either
    good = tmp_path / "good.csv"
    _csv(good)
    rc = main(["import", str(good), str(tmp_path / "nocol.csv"), "--data-dir", str(data)])
    _refused(capsys, rc, "nocol.csv")
    assert not data.exists()
