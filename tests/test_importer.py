import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bess_etl.errors import UsageError
from bess_etl.importer import read_export

ROWS = [
    {"mac": 303721690, "type": 532, "timestamp": 1688137326776, "data": 55.2},
    {"mac": 303721690, "type": 531, "timestamp": 1688137326900, "data": None},
    {"mac": 303721690, "type": 533, "timestamp": 1688137327001, "data": -0.25},
]


def expect(table):
    assert table.column("mac").to_pylist() == [303721690] * 3
    assert table.column("type").to_pylist() == [532, 531, 533]
    assert [int(t.timestamp() * 1000) for t in table.column("ts").to_pylist()] == [
        1688137326776,
        1688137326900,
        1688137327001,
    ]
    assert table.column("value").to_pylist() == [55.2, None, -0.25]


def csv_text():
    lines = ["mac,type,timestamp,data"]
    for r in ROWS:
        data = "" if r["data"] is None else r["data"]
        lines.append(f"{r['mac']},{r['type']},{r['timestamp']},{data}")
    return "\n".join(lines) + "\n"


def test_every_format_reads_the_same(tmp_path):
    (tmp_path / "a.csv").write_text(csv_text())
    with gzip.open(tmp_path / "a.csv.gz", "wt") as fh:
        fh.write(csv_text())
    (tmp_path / "a.json").write_text(json.dumps(ROWS))
    (tmp_path / "b.json").write_text("\n".join(json.dumps(r) for r in ROWS))  # NDJSON
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "a.parquet")
    for name in ("a.csv", "a.csv.gz", "a.json", "b.json", "a.parquet"):
        expect(read_export(tmp_path / name))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.csv", "mac,type,timestamp\n1,2,3\n", "missing column 'data'"),
        ("x.csv", "mac,type,timestamp,data\nabc,2,3,4\n", "cannot read"),
        ("x.json", '{"not": "a list"}', "lack the field 'mac'"),
        ("x.json", "[1, 2]", "expected a JSON array of reading objects"),
        ("x.json", "[{", "cannot read"),
        ("x.txt", "whatever", "unknown format"),
        ("x.csv", "mac,type,timestamp,data\n-5,532,1,2.0\n", "MACs must be positive"),
    ],
)
def test_bad_files_get_one_line_naming_the_file(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(UsageError) as err:
        read_export(p)
    assert message in str(err.value) and str(p) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_export(tmp_path / "absent.csv")
