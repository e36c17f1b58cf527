"""Where the SQL lives: `sql/NN_<output>.sql` build files (run in name order, each building the
output it is named after) and `sql/<folder>/<name>.sql` named statements used by the code."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def sql_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sql", here / "sql"):  # checkout / installed wheel
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the sql/ directory is missing from this installation")


def build_files() -> list[Path]:
    """The build files, in the order they run."""
    return sorted(sql_dir().glob("[0-9][0-9]_*.sql"))


@cache
def load(name: str) -> str:
    """A named statement, e.g. load("state/record_window")."""
    return (sql_dir() / f"{name}.sql").read_text()


def quote_literal(text: str) -> str:
    """A SQL string literal. Only for what DuckDB cannot take as a bound parameter (table-function
    paths inside CREATE VIEW); every value goes in as a parameter."""
    return "'" + text.replace("'", "''") + "'"
