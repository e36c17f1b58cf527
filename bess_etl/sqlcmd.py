"""`bess-etl sql`: read-only SQL on the warehouse, printed as an aligned table, CSV or JSON.

Starts fast: only duckdb and the standard library are imported (no pandas, pyarrow or Prefect),
so `bess-etl sql "select 1"` runs well under a second including the interpreter.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from typing import TextIO

import duckdb

from bess_etl import sqlfiles, warehouse
from bess_etl.config import Settings
from bess_etl.errors import BessEtlError, first_line

FORMATS = ("table", "csv", "json")
PROMPT = "bess-etl> "
MORE = "     ...> "
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?[0-9]*\.[0-9]+([eE][-+]?[0-9]+)?|-?[0-9]+[eE][-+]?[0-9]+")


class SqlError(BessEtlError):
    """A statement failed; the message is DuckDB's first line."""


class NoStatementError(SqlError):
    """The query text holds no statement: bad input, not a failed statement."""

    exit_code = 2


class Result:
    """Column names and rows of one statement."""

    def __init__(self, columns: Sequence[str], rows: list[tuple]):
        self.columns = list(columns)
        self.rows = rows


def run(
    settings: Settings,
    query: str,
    fmt: str = "table",
    out: TextIO = sys.stdout,
    params: dict[str, str] | None = None,
) -> None:
    """Run one or more statements read-only and print each result set in `fmt`."""
    _check_format(fmt)
    con = warehouse.connect(settings, read_only=True)
    try:
        for result in execute(con, query, params):
            out.write(render(result, fmt))
    finally:
        con.close()


def interactive(
    settings: Settings, fmt: str = "table", stream_in: TextIO = sys.stdin, out: TextIO = sys.stdout
) -> None:
    """Read statements (ended by ';') from stream_in until EOF and print each result; an error
    prints one line and the session goes on. `.tables` lists tables and views, `.quit` ends."""
    _check_format(fmt)
    con = warehouse.connect(settings, read_only=True)
    tty = stream_in.isatty()
    buffer: list[str] = []
    try:
        while True:
            if tty:
                out.write(MORE if buffer else PROMPT)
                out.flush()
            line = stream_in.readline()
            if not line:
                break
            stripped = line.strip()
            if not buffer and stripped in (".quit", ".exit"):
                break
            if not buffer and stripped == ".tables":
                line = sqlfiles.load("queries/tables")
                stripped = line.strip()
            buffer.append(line)
            if stripped.endswith(";"):
                _run_buffer(con, "".join(buffer), fmt, out)
                buffer = []
        if "".join(buffer).strip():
            _run_buffer(con, "".join(buffer), fmt, out)
    finally:
        con.close()


def _run_buffer(con, text: str, fmt: str, out: TextIO) -> None:
    try:
        for result in execute(con, text):
            out.write(render(result, fmt))
    except SqlError as exc:
        out.write(f"error: {exc}\n")
    out.flush()


def execute(
    con: duckdb.DuckDBPyConnection, query: str, params: dict[str, str] | None = None
) -> list[Result]:
    """Run every statement in `query`; those that return rows give a Result. `$name`
    parameters take their value from params (numbers given as text become numbers)."""
    values = {k: _param_value(v) for k, v in (params or {}).items()}
    results = []
    try:
        statements = duckdb.extract_statements(query)
        if not statements:
            raise NoStatementError("no SQL statement given")
        for stmt in statements:
            names = set(stmt.named_parameters)
            missing = sorted(names - values.keys())
            if missing:
                raise SqlError(f"no value for ${missing[0]}; pass --param {missing[0]}=VALUE")
            cur = con.execute(stmt.query, {n: values[n] for n in names} if names else None)
            if cur.description is not None:
                columns = [d[0] for d in cur.description]
                results.append(Result(columns, cur.fetchall()))
    except duckdb.Error as exc:
        raise SqlError(first_line(exc)) from None
    return results


def render(result: Result, fmt: str) -> str:
    if fmt == "csv":
        return _csv(result)
    if fmt == "json":
        return _json(result)
    return _table(result)


# ---------------------------------------------------------------------- formats


def _table(result: Result) -> str:
    cells = [[_text(v) for v in row] for row in result.rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(result.columns)]
    numeric = []  # right-aligned: columns whose values are all numbers (nulls aside)
    for i in range(len(result.columns)):
        values = [row[i] for row in result.rows if row[i] is not None]
        numeric.append(bool(values) and all(_is_number(v) for v in values))

    def line(values: Iterable[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip() + "\n"

    text = line(result.columns)
    text += line("-" * w for w in widths)
    text += "".join(line(row) for row in cells)
    n = len(result.rows)
    return text + f"({n} row{'s' if n != 1 else ''})\n"


def _csv(result: Result) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
    return buf.getvalue()


def _json(result: Result) -> str:
    if not result.rows:
        return "[]\n"
    lines = [
        json.dumps(
            {c: _jsonable(v) for c, v in zip(result.columns, row, strict=True)},
            ensure_ascii=False,
            allow_nan=False,
        )
        for row in result.rows
    ]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _text(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return format(v, ".10g")
    return _plain(v)


def _plain(v) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    return str(v)


def _jsonable(v):
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes | bytearray):
        return v.hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    return str(v)


def _is_number(v) -> bool:
    return isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool)


def _param_value(text: str):
    """Text from the command line as the value DuckDB binds: integers and decimals become
    numbers (so `mac = $mac` and `$x + 1` work), anything else stays text (dates cast as text
    does: `local_date = $day`)."""
    if not isinstance(text, str):
        return text
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise BessEtlError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
