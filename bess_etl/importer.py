"""Read exports in the API's reading shape (`mac,type,timestamp,data`) from CSV, CSV.gz, JSON
(an array or newline-delimited objects) or Parquet, into READINGS_SCHEMA tables.

Every file is read and checked before anything is stored, so one bad file writes nothing.

A file whose structure is wrong (a missing column, a MAC, type or timestamp that is not an
integer, a timestamp outside epoch milliseconds of 2001-09-09..2100, an encoding or compression
that does not read) is refused whole. A reading whose value is not a number ("unavailable", as
Home Assistant records) is a data-quality event: stored with a null value, so it goes to the
quarantine like any invalid reading and the run's summary counts it."""

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
# data as text: one value that is not a number must not refuse the file (see _numbers)
_CSV_TYPES = {"mac": pa.int64(), "type": pa.int32(), "timestamp": pa.int64(), "data": pa.string()}
# Epoch ms from 1e12 (2001-09-09) up to 2101: below, the file is in seconds (a 2026 time in
# seconds is ~1.8e9) or before the platform existed; above, in microseconds or garbage.
FIRST_MS, END_MS = 10**12, 4_133_980_800_000
_NUMBER = r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|nan|inf|infinity)\s*$"


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
        if v is None or isinstance(v, float) or type(v) is int:
            return v
        if isinstance(v, bool):
            return None  # true/false is not a reading: quarantined like any text
        try:
            return float(v)  # "NaN" and numeric strings, as some exports write them
        except (TypeError, ValueError):
            return None  # "unavailable" and the like: quarantined as a null value

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
        value = _numbers(raw.column("data"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UsageError(f"{p}: a column has the wrong type: {exc}") from None
    if len(mac) and pc.min(mac).as_py() <= 0:
        raise UsageError(f"{p}: MACs must be positive integers")
    _check_timestamps(ts, p)
    return pa.Table.from_arrays([mac, typ, ts, value], schema=READINGS_SCHEMA)


def _numbers(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The data column as float64; text that is not a number becomes null."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column.cast(pa.float64())
    try:
        return pc.cast(column, pa.float64())  # every value a number: the fast path
    except pa.ArrowInvalid:
        pass
    numeric = pc.match_substring_regex(column, _NUMBER, ignore_case=True)
    kept = pc.if_else(numeric, column, pa.scalar(None, column.type))
    return pc.cast(pc.utf8_trim_whitespace(kept), pa.float64())


def _check_timestamps(ts: pa.ChunkedArray, p: Path) -> None:
    """Refuse a file whose timestamps are not epoch ms of a plausible time (whole: it is the
    file's unit or column that is wrong, not a reading)."""
    if not len(ts):
        return
    ms = ts.cast(pa.int64())
    lo, hi = (v.as_py() for v in pc.min_max(ms).values())
    if lo >= FIRST_MS and hi < END_MS:
        return
    bad = lo if lo < FIRST_MS else hi
    row = pc.index(ms, bad).as_py() + 1
    if bad < 0:
        why = "is before 1970"
    elif bad < FIRST_MS:
        why = "looks like seconds, not milliseconds" if bad >= 10**9 else "is before 2001"
    else:
        why = "is after 2100 (microseconds?)"
    raise UsageError(
        f"{p}: timestamp {bad} (reading {row}) {why}; timestamps are epoch milliseconds"
    )
