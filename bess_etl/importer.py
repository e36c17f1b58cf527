"""Read exports in the API's reading shape (`mac,type,timestamp,data`) from CSV, CSV.gz, JSON
(an array or newline-delimited objects) or Parquet, into READINGS_SCHEMA tables.

Every file is read and checked before anything is stored, so one bad file writes nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bess_etl.errors import UsageError, first_line
from bess_etl.lake import READINGS_SCHEMA, TS_TYPE

COLUMNS = ("mac", "type", "timestamp", "data")
_CSV_TYPES = {"mac": pa.int64(), "type": pa.int32(), "timestamp": pa.int64(), "data": pa.float64()}


def read_export(path: str | Path) -> pa.Table:
    """One file as READINGS_SCHEMA (value may be null). Raises UsageError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    name = p.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz")):
            raw = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types=_CSV_TYPES))
        elif name.endswith((".json", ".json.gz", ".ndjson")):
            raw = _read_json(p)
        elif name.endswith(".parquet"):
            raw = pq.read_table(p)
        else:
            raise UsageError(f"{p}: unknown format; use .csv, .csv.gz, .json or .parquet")
    except (pa.ArrowInvalid, pa.ArrowTypeError, json.JSONDecodeError, OSError, EOFError) as exc:
        raise UsageError(f"{p}: cannot read: {first_line(exc)}") from None
    return _to_readings(raw, p)


def _read_json(p: Path) -> pa.Table:
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    with opener(p, "rt") as fh:
        text = fh.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not isinstance(rows, list) or any(not isinstance(r, dict) for r in rows):
        raise UsageError(f"{p}: expected a JSON array of reading objects")
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if missing:
        raise UsageError(f"{p}: readings lack the field {missing[0]!r}")

    def number(v):
        if v is None or isinstance(v, int | float):
            return v
        return float(v)  # "NaN" and numeric strings, as some exports write them

    try:
        return pa.table(
            {
                "mac": pa.array([r["mac"] for r in rows], pa.int64()),
                "type": pa.array([r["type"] for r in rows], pa.int32()),
                "timestamp": pa.array([r["timestamp"] for r in rows], pa.int64()),
                "data": pa.array([number(r["data"]) for r in rows], pa.float64()),
            }
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{p}: a reading has a bad field: {exc}") from None


def _to_readings(raw: pa.Table, p: Path) -> pa.Table:
    missing = [c for c in COLUMNS if c not in raw.column_names]
    if missing:
        raise UsageError(
            f"{p}: missing column {missing[0]!r}; expected columns {', '.join(COLUMNS)}"
        )
    for c in ("mac", "type", "timestamp"):
        if raw.column(c).null_count:
            raise UsageError(f"{p}: column {c!r} has empty values")
    try:
        mac = raw.column("mac").cast(pa.int64())
        typ = raw.column("type").cast(pa.int32())
        ts_ms = raw.column("timestamp")
        if pa.types.is_timestamp(ts_ms.type):
            ts = ts_ms.cast(TS_TYPE)
        else:
            ts = pc.cast(ts_ms.cast(pa.int64()), TS_TYPE)
        value = raw.column("data").cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UsageError(f"{p}: a column has the wrong type: {exc}") from None
    if len(mac) and pc.min(mac).as_py() <= 0:
        raise UsageError(f"{p}: MACs must be positive integers")
    return pa.Table.from_arrays([mac, typ, ts, value], schema=READINGS_SCHEMA)
