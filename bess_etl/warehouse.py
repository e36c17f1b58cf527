"""The DuckDB warehouse: build it from sql/, recompute what changed, rebuild, check.

`<data_dir>/warehouse.duckdb` is created with storage_compatibility_version v1.0.0, so the stock
`duckdb` CLI opens it and sees the same tables, views and macros (views hold absolute lake paths).

How the build files run (sql/NN_<output>.sql, in name order, see bess_etl.sqlfiles):

- A file's CREATE / DROP / ALTER statements are its *schema*: `build_schema` runs them on every
  build (create-or-replace views, macros and settings tables; create-if-not-exists tables).
- Its other statements (delete / insert) are its *compute step*: `recompute` and `rebuild` run
  them in file order for the temp table `targets` (mac, local_date, day_start, day_end) of site-
  local days to redo, with `scope_readings` (mac, date, type, ts, value: the lake readings those
  days can depend on), `scope_reading_buckets` (their counts per bucket and local day) and
  `scope_boundaries` beside it. Each file computes its own output for the targets: one file,
  one output.
- `$name` in any statement is a bound parameter (settings_params()); the lake's path inside the
  readings view, which cannot be one, goes in through sqlfiles.quote_literal.

Python build steps: PYTHON_STEPS maps a file stem to "module:function". The step runs at its
place in the order (after the compute statements of a SQL file with the same stem, if there is
one, whose CREATE statements then hold the step's DDL), inside the compute transaction, as

    build_step(con: duckdb.DuckDBPyConnection, settings: Settings, targets: Targets) -> None

It recomputes its output for `targets` (also the temp table `targets`; `scope_readings` is there
to read) and must neither commit nor roll back. It may use the tables of earlier steps
(energy_interval, daily_energy are done by then).

Every recompute and rebuild ends with the data checks in sql/checks/ (each returns the violating
rows) and raises DataCheckError naming the first check that found any.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import importlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

import duckdb

from bess_etl import sqlfiles
from bess_etl.config import WEEKDAYS, Settings
from bess_etl.errors import BessEtlError, DataCheckError, UsageError, first_line

# Python build steps by file stem, run in order with the SQL files: "module:function".
PYTHON_STEPS: dict[str, str] = {
    "50_cycles": "bess_etl.analytics.build:build_cycles",
    "60_capacity_history": "bess_etl.analytics.build:build_capacity_history",
    "70_daily_stress": "bess_etl.analytics.build:build_daily_stress",
}

STORAGE_VERSION = "v1.0.0"  # what the stock duckdb CLI 1.5 can open
SESSION_TIMEZONE = "UTC"  # fixed, so no result depends on the machine's zone
LOCK_WAIT_S = 5.0  # how long to retry while another process holds the file
READINGS_GLOB_TOKEN = "{{readings_glob}}"
_SCHEMA_STATEMENTS = {"CREATE", "DROP", "ALTER"}
_TEMP_TABLES = (
    "targets",
    "scope_partitions",
    "scope_readings",
    "scope_boundaries",
    "scope_reading_buckets",
    "changed_partitions",
    "refresh_partitions",
)
_UNITS = {
    "voltage": "V",
    "current": "A",
    "power": "kW",
    "soc": "%",
    "battery_temp": "°C",
    "ambient_temp": "°C",
    "humidity": "%",
}


@dataclass(frozen=True)
class Targets:
    """The site-local days a compute run redoes; the same rows are in temp table `targets`."""

    days: tuple[tuple[int, dt.date], ...]  # (mac, local_date), sorted
    full: bool  # a rebuild of everything: steps may replace their whole output

    @property
    def macs(self) -> list[int]:
        return sorted({m for m, _ in self.days})


@dataclass(frozen=True)
class BuildStep:
    stem: str
    sql_path: Path | None
    python: str | None  # "module:function"


@dataclass(frozen=True)
class CheckResult:
    name: str
    n_rows: int
    columns: tuple[str, ...]
    first_rows: tuple[tuple, ...]

    @property
    def ok(self) -> bool:
        return self.n_rows == 0


# ---------------------------------------------------------------------- connecting


def exists(settings: Settings) -> bool:
    return Path(settings.warehouse_path).is_file()


def connect(
    settings: Settings, read_only: bool = False, wait_s: float = LOCK_WAIT_S
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating it, in v1.0.0 storage, unless read_only). While another
    process holds the file, retry for wait_s, then raise a one-line BessEtlError."""
    path = settings.warehouse_path
    if read_only and not Path(path).is_file():
        raise UsageError(
            f"no warehouse at {path} yet; run `bess-etl backfill`, `daily`, `import` or "
            "`rebuild` first"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(
                path,
                read_only=read_only,
                config={"storage_compatibility_version": STORAGE_VERSION},
            )
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise BessEtlError(f"cannot open the warehouse {path}: {first_line(exc)}") from None
            if time.monotonic() >= deadline:
                raise BessEtlError(
                    f"the warehouse {path} is in use by another process (waited {wait_s:g} s); "
                    "try again when it has finished"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    con.execute(f"set TimeZone = '{SESSION_TIMEZONE}'")
    if settings.is_remote:
        from bess_etl import storage

        con.register_filesystem(storage.remote_fs(settings.lake_dir))
    return con


# ---------------------------------------------------------------------- building


def build_plan() -> list[BuildStep]:
    """SQL build files and Python steps, in the order they run."""
    files = {p.stem: p for p in sqlfiles.build_files()}
    stems = sorted(set(files) | set(PYTHON_STEPS))
    return [BuildStep(s, files.get(s), PYTHON_STEPS.get(s)) for s in stems]


def settings_params(settings: Settings) -> dict[str, object]:
    """Every value the SQL files take from the config, by parameter name."""
    ch = settings.channels
    channels = ch.by_name()
    signed = ("current", "power")
    periods = settings.tariff.periods
    caps = {0: settings.capacity, **settings.devices}
    cap_fields = [f.name for f in fields(settings.capacity)]
    params: dict[str, object] = {
        "timezone": settings.site.timezone,
        "max_gap_s": float(settings.integration.max_gap_s),
        "interval_minutes": int(settings.integration.interval_minutes),
        "current_sign": ch.current_sign,
        "sign": ch.sign,
        "import_per_kwh": settings.tariff.import_per_kwh,
        "export_per_kwh": settings.tariff.export_per_kwh,
        "currency": settings.tariff.currency,
        "lake_dir": settings.lake_dir,
        "channel_types": list(channels.values()),
        "channel_names": list(channels),
        "channel_units": [_UNITS.get(n, "") for n in channels],
        "channel_signs": [ch.sign if n in signed else 1.0 for n in channels],
        "period_orders": list(range(1, len(periods) + 1)),
        "period_names": [p.name for p in periods],
        "period_days": [[d for d in WEEKDAYS if d in p.days] for p in periods],
        "period_starts": [_hhmm_time(p.start) for p in periods],
        "period_ends": [_hhmm_time(p.end) for p in periods],
        "period_import_per_kwh": [p.import_per_kwh for p in periods],
        "period_export_per_kwh": [p.export_per_kwh for p in periods],
        "cap_macs": list(caps),
    }
    for name in cap_fields:
        params[f"cap_{name}"] = [getattr(c, name) for c in caps.values()]
    return params


def build_schema(con: duckdb.DuckDBPyConnection, settings: Settings, force: bool = False) -> None:
    """Run every build file's schema statements: tables exist, views, macros and the settings
    tables are current. Idempotent. Skipped (unless forced) when the statements, their
    parameters and the lake's path are those of the last build: re-creating the views binds
    them, which lists every lake file, a cost that grows with the history."""
    params = settings_params(settings)
    lake_glob = _lake_glob_or_placeholder(settings)
    plan = [
        (step.stem, kind, query, names)
        for step in build_plan()
        if step.sql_path is not None
        for kind, query, names in _statements(step.sql_path, lake_glob)
        if kind in _SCHEMA_STATEMENTS
    ]
    used = {n: params[n] for _, _, _, names in plan for n in names if n in params}
    text = json.dumps([duckdb.__version__, [q for _, _, q, _ in plan], used], default=str)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    if not force and _schema_fingerprint(con) == fingerprint:
        return
    for stem, _, query, names in plan:
        _execute(con, query, names, params, stem)
    _run_named(con, "queries/set_schema_fingerprint", settings, {"fingerprint": fingerprint})


def _schema_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(sqlfiles.load("queries/schema_fingerprint")).fetchall()
    except duckdb.CatalogException:  # a warehouse from before the table existed, or a new one
        return None
    return rows[0][0] if rows else None


def outdated_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Derived tables (those a build file both creates and computes) whose columns in the
    warehouse differ from what their build file creates: a full rebuild recreates them."""
    derived = _derived_tables()
    present = {t for (t,) in con.execute(_TABLES_QUERY).fetchall()} & derived.keys()
    return [t for t in derived if t in present and _table_columns(con, t) != derived[t][1]]


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    # per table, not duckdb_columns(): that binds every view, and the readings view lists the lake
    return [(r[1], r[2]) for r in con.execute(f'pragma table_info("{table}")').fetchall()]


def _recreate(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    derived = _derived_tables()
    for table in tables:
        con.execute(f'drop table if exists "{table}"')
        con.execute(derived[table][0])


_CREATE_TABLE = re.compile(r"(\s*--[^\n]*\n)*\s*create\s+(or\s+replace\s+)?table\b", re.I)
_ALSO_DERIVED = {"lake_partitions"}  # rebuilt whole by a full rebuild, maintained by queries/
_TABLES_QUERY = (
    "select table_name from duckdb_tables() "
    "where schema_name = 'main' and database_name = current_database()"
)


@cache
def _derived_tables() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """table -> (its CREATE statement, its columns) for the tables derived from the lake: those
    of build files with a compute step, and lake_partitions. Columns come from running the
    CREATE statements in one scratch in-memory database."""
    creates: dict[str, str] = {}
    scratch = duckdb.connect()
    try:
        for step in build_plan():
            if step.sql_path is None:
                continue
            statements = _statements(step.sql_path, "")  # the lake path plays no part here
            computes = any(kind not in _SCHEMA_STATEMENTS for kind, _, _ in statements)
            for kind, query, names in statements:
                if kind != "CREATE" or names or not _CREATE_TABLE.match(query):
                    continue
                before = {t for (t,) in scratch.execute(_TABLES_QUERY).fetchall()}
                scratch.execute(query)
                for (table,) in scratch.execute(_TABLES_QUERY).fetchall():
                    if table not in before and (computes or table in _ALSO_DERIVED):
                        creates[table] = query
        return {table: (query, _table_columns(scratch, table)) for table, query in creates.items()}
    finally:
        scratch.close()


# ---------------------------------------------------------------------- recompute / rebuild


def recompute(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    changed_partitions: Iterable[tuple[int, dt.date | str]],
    deferred: Iterable[tuple[int, dt.date | str]] = (),
    checks: bool = True,
    scan_lake: bool = True,
) -> dict:
    """Recompute the derived tables for the lake partitions (mac, UTC date) whose readings
    changed: the local days they touch and the neighbour days their boundary intervals reach.
    Partitions the warehouse has not seen yet (or that left the lake) count as changed too,
    except `deferred` ones: a caller recomputing a long backfill in batches names the later
    batches' partitions there, so each batch's memory stays bounded. The lake listing that
    finds partitions added or removed by hand (scan_lake) and the data checks (checks) cost in
    proportion to the whole lake and warehouse: such a caller runs the first in its first
    batch and the second after its last.
    One transaction; then the data checks. Returns a summary (days, timings)."""
    started = time.perf_counter()
    build_schema(con, settings)
    drifted = outdated_tables(con)
    if drifted:
        raise BessEtlError(
            f"the warehouse's {drifted[0]} has other columns than this version builds; "
            "run `bess-etl rebuild` to recreate the derived tables"
        )
    changed = {(int(m), _as_date(d)) for m, d in changed_partitions}
    # only a lake scan reads it: a long backfill's later batches would rebuild it for nothing
    later = {(int(m), _as_date(d)) for m, d in deferred} - changed if scan_lake else set()
    timings: dict[str, float] = {}
    with _transaction(con, timings):
        _check_derived_settings(con, settings, replace=False)
        with _timed(timings, "lake_partitions"):
            changed |= _sync_lake_partitions(
                con, settings, changed, deferred=later, scan_lake=scan_lake
            )
        _pairs_table(con, "changed_partitions", sorted(changed))
        with _timed(timings, "targets"):
            _run_named(con, "queries/recompute_targets", settings)
        targets = _read_targets(con, full=False)
        summary = _compute(con, settings, targets, timings)
    summary["partitions"] = len(changed)
    _finish(con, summary, timings, started, checks)
    return summary


def rebuild(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    start: dt.date | None = None,
    end: dt.date | None = None,
    macs: Sequence[int] | None = None,
) -> dict:
    """Recompute the derived tables from the lake (no API), for site-local days start..end
    (inclusive; None: everything) and the given MACs (None or empty: all). One transaction; then
    the data checks. Returns a summary (days, timings)."""
    if (start is None) != (end is None):
        raise UsageError("rebuild needs both start and end, or neither")
    if start is not None and end is not None and start > end:
        raise UsageError(f"rebuild start {start} is after end {end}")
    from bess_etl import lake

    started = time.perf_counter()
    macs = sorted({int(m) for m in macs}) if macs else None
    full = start is None and macs is None
    # everything from scratch also re-creates every view and macro (one dropped by hand, say)
    build_schema(con, settings, force=full)
    drifted = outdated_tables(con)
    if drifted and not full:
        raise BessEtlError(
            f"the warehouse's {drifted[0]} has other columns than this version builds; "
            "rebuild everything (no --start/--end/--mac) to recreate the derived tables"
        )
    timings: dict[str, float] = {}
    with _transaction(con, timings):
        _check_derived_settings(con, settings, replace=full)
        if full:
            _recreate(con, drifted)
            # the whole lake is read once, into the scope, and summarised from there
            root = lake.readings_root(settings.lake_dir)
            on_disk = sorted(lake.list_partitions(root))
            files = [lake.partition_path(root, m, d) for m, d in on_disk]
            with _timed(timings, "scope"):
                _run_named(con, "queries/scope_readings", settings, {"files": files})
            with _timed(timings, "lake_partitions"):
                _run_named(con, "queries/lake_partitions_from_scope", settings)
            refreshed = set(on_disk)
        else:
            with _timed(timings, "lake_partitions"):
                refreshed = _sync_lake_partitions(
                    con, settings, set(), _rebuild_window(settings, start, end, macs)
                )
        with _timed(timings, "targets"):
            _run_named(
                con,
                "queries/rebuild_targets",
                settings,
                {"start": start, "end": end, "macs": macs},
            )
        targets = _read_targets(con, full=full)
        summary = _compute(con, settings, targets, timings, scope_loaded=full)
    summary["partitions"] = len(refreshed)
    _finish(con, summary, timings, started)
    return summary


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, timings: dict):
    """One transaction: committed when the block ends, rolled back when it raises."""
    con.begin()
    try:
        yield
        with _timed(timings, "commit"):
            con.commit()
    except BaseException:
        con.rollback()
        raise


def derivation_settings(settings: Settings) -> str:
    """The settings that shape derived values, as canonical JSON (everything the SQL takes from
    the config except where the lake is and the currency's name)."""
    params = settings_params(settings)
    kept = {k: v for k, v in params.items() if k not in ("lake_dir", "currency")}
    return json.dumps(kept, sort_keys=True, default=str)


def _check_derived_settings(con, settings: Settings, replace: bool) -> None:
    """Refuse to mix rows computed under other settings; a full rebuild (replace) records the
    new ones, and so does the first compute into an empty warehouse."""
    now = derivation_settings(settings)
    rows = con.execute(sqlfiles.load("queries/derived_settings")).fetchall()
    if rows and not replace:
        before, current = json.loads(rows[0][0]), json.loads(now)
        changed = sorted(
            k for k in before.keys() | current.keys() if before.get(k) != current.get(k)
        )
        if changed:
            raise BessEtlError(
                f"the derived tables were computed with other settings ({', '.join(changed)}); "
                "run `bess-etl rebuild` (everything) to recompute them with the current ones"
            )
        return
    _run_named(con, "queries/set_derived_settings", settings, {"fingerprint": now})


def _rebuild_window(settings: Settings, start, end, macs) -> Callable[[int, dt.date], bool]:
    """Which lake partitions a partial rebuild re-reads into lake_partitions: the selected MACs'
    UTC dates within two days (plus max_gap_s) of the local range."""
    margin = dt.timedelta(days=2, seconds=2 * settings.integration.max_gap_s)

    def wanted(mac: int, date: dt.date) -> bool:
        if macs is not None and mac not in macs:
            return False
        return start is None or start - margin <= date <= end + margin

    return wanted


def _compute(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    targets: Targets,
    timings: dict,
    scope_loaded: bool = False,
) -> dict:
    """The compute steps of every build file (and Python step) for `targets`. With
    scope_loaded, scope_readings already holds every partition the targets need."""
    from bess_etl import lake

    params = settings_params(settings)
    root = lake.readings_root(settings.lake_dir)
    with _timed(timings, "scope"):
        _run_named(con, "queries/scope_partitions", settings)
        scope = con.execute("select mac, date from scope_partitions order by all").fetchall()
        if not scope_loaded:
            files = [lake.partition_path(root, m, d) for m, d in scope]
            _run_named(con, "queries/scope_readings", settings, {"files": files})
        _run_named(con, "queries/scope_boundaries", settings)
        _run_named(con, "queries/scope_reading_buckets", settings)
    for step in build_plan():
        with _timed(timings, step.stem):
            if step.sql_path is not None:
                # the lake's glob appears only in the readings view, a schema statement
                for kind, query, names in _statements(step.sql_path, ""):
                    if kind not in _SCHEMA_STATEMENTS:
                        _execute(con, query, names, params, step.stem)
            if step.python:
                _python_step(step.python)(con, settings, targets)
    n_scope = con.execute("select count(*) from scope_readings").fetchall()[0][0]
    for name in _TEMP_TABLES:
        con.execute(f"drop table if exists temp.{name}")
    return {
        "days": list(targets.days),
        "readings": int(n_scope),
        "scope_partitions": len(scope),
        "full": targets.full,
    }


def _finish(con, summary: dict, timings: dict, started: float, checks: bool = True) -> None:
    if checks:
        with _timed(timings, "checks"):
            run_checks(con)
    summary["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    summary["wall_s"] = round(time.perf_counter() - started, 4)


def _sync_lake_partitions(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    changed: set[tuple[int, dt.date]],
    also: Callable[[int, dt.date], bool] | None = None,
    deferred: set[tuple[int, dt.date]] = frozenset(),
    scan_lake: bool = True,
) -> set[tuple[int, dt.date]]:
    """Refresh lake_partitions for the changed partitions, for partitions on disk it does not
    know yet (unless deferred to a later batch), for known ones that left the lake, and for
    those `also` selects; without scan_lake (a later batch, when the first one did this), for
    the changed ones only. Returns the partitions refreshed."""
    from bess_etl import lake, storage

    root = lake.readings_root(settings.lake_dir)
    if not scan_lake:
        on_disk = {p for p in changed if storage.exists(lake.partition_path(root, *p))}
        known: set[tuple[int, dt.date]] = set()
        refresh = set(changed)
    else:
        on_disk = set(lake.list_partitions(root))
        known = {
            (int(m), d)
            for m, d in con.execute(sqlfiles.load("queries/known_partitions")).fetchall()
        }
        refresh = changed | (on_disk - known - deferred) | (known - on_disk)
    if also is not None:
        refresh |= {p for p in on_disk | known if also(*p)}
    if not refresh:
        return refresh
    _pairs_table(con, "refresh_partitions", sorted(refresh))
    files = [lake.partition_path(root, m, d) for m, d in sorted(refresh & on_disk)]
    _run_named(con, "queries/refresh_lake_partitions", settings, {"files": files})
    return refresh


def _read_targets(con: duckdb.DuckDBPyConnection, full: bool) -> Targets:
    rows = con.execute("select mac, local_date from targets order by mac, local_date").fetchall()
    return Targets(tuple((int(m), d) for m, d in rows), full)


# ---------------------------------------------------------------------- checks


def check_files() -> list[Path]:
    return sorted((sqlfiles.sql_dir() / "checks").glob("*.sql"))


def run_checks(con: duckdb.DuckDBPyConnection, raise_on_failure: bool = True) -> list[CheckResult]:
    """Run every data check; with raise_on_failure, raise DataCheckError naming the first that
    returned rows."""
    results = []
    for path in check_files():
        cur = con.execute(path.read_text())
        rows = cur.fetchall()
        columns = tuple(d[0] for d in cur.description)
        results.append(CheckResult(path.stem, len(rows), columns, tuple(rows[:5])))
    failed = [r for r in results if not r.ok]
    if failed and raise_on_failure:
        first = failed[0]
        example = ", ".join(
            f"{c}={v}" for c, v in zip(first.columns, first.first_rows[0], strict=True)
        )
        others = f" (and {len(failed) - 1} more checks)" if len(failed) > 1 else ""
        raise DataCheckError(
            f"data check {first.name} failed: {first.n_rows} violating rows, first: {example}"
            f"{others}"
        )
    return results


# ---------------------------------------------------------------------- summaries


def energy_summary(
    con: duckdb.DuckDBPyConnection, days: Iterable[tuple[int, dt.date]]
) -> list[dict]:
    """Per BESS over the given (mac, local_date) days: days, charge/discharge kWh and Ah, cost,
    and the latest capacity estimate and SoH when capacity_history has them."""
    pairs = sorted({(int(m), _as_date(d)) for m, d in days})
    if not pairs:
        return []
    _pairs_table(con, "summary_days", pairs, date_column="local_date")
    try:
        cur = con.execute(sqlfiles.load("queries/energy_summary"))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.execute("drop table if exists temp.summary_days")
    return rows


# ---------------------------------------------------------------------- helpers


def _statements(path: Path, lake_glob: str) -> list[tuple[str, str, frozenset[str]]]:
    """(statement kind, text, parameter names) of each statement in a build file."""
    text = _read(path).replace(READINGS_GLOB_TOKEN, sqlfiles.quote_literal(lake_glob))
    return _parse(text)


def _named_statements(name: str) -> list[tuple[str, str, frozenset[str]]]:
    return _parse(sqlfiles.load(name))


@cache
def _read(path: Path) -> str:
    return path.read_text()


@cache
def _parse(text: str) -> list[tuple[str, str, frozenset[str]]]:
    return [
        (s.type.name, s.query, frozenset(s.named_parameters))
        for s in duckdb.extract_statements(text)
    ]


def _execute(con, query: str, names: frozenset[str], params: dict, where: str) -> None:
    missing = sorted(names - params.keys())
    if missing:
        raise BessEtlError(f"sql {where}: no value for parameter ${missing[0]}")
    if names:
        con.execute(query, {n: params[n] for n in names}).fetchall()
    else:
        con.execute(query).fetchall()


def _run_named(con, name: str, settings: Settings, extra: dict | None = None) -> None:
    """Run a named statement file (sql/<name>.sql) statement by statement. Statements that read
    $files are skipped when the list is empty (read_parquet of no file is an error)."""
    params = {**settings_params(settings), **(extra or {})}
    for _, query, names in _named_statements(name):
        if "files" in names and not params.get("files"):
            continue
        _execute(con, query, names, params, name)


def _pairs_table(con, table: str, pairs: Sequence[tuple[int, dt.date]], date_column="date"):
    """A temp table (mac, date) from Python pairs; `table` and the column are code constants."""
    con.execute(
        f"create or replace temp table {table} as "
        f"select unnest($macs::bigint[]) as mac, unnest($dates::date[]) as {date_column}",
        {"macs": [m for m, _ in pairs], "dates": [d for _, d in pairs]},
    ).fetchall()


@cache
def _python_step(target: str) -> Callable:
    module, _, func = target.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise BessEtlError(f"python build step {target!r} cannot be loaded: {exc}") from None


def _lake_glob_or_placeholder(settings: Settings) -> str:
    """The lake's absolute readings glob; while the lake has no file yet, the glob of an empty
    partition beside the warehouse (DuckDB cannot create a view over a glob matching nothing),
    replaced at the next build once readings arrive."""
    from bess_etl import lake

    lake_dir = settings.lake_dir
    if "://" not in lake_dir:
        lake_dir = os.path.abspath(lake_dir)
    pattern = lake.readings_glob(lake_dir)
    if "://" in lake_dir:
        has_files = lake.has_partitions(lake.readings_root(lake_dir))
    else:
        has_files = next(glob.iglob(pattern), None) is not None
    if has_files:
        return pattern
    base = Path(settings.warehouse_path).resolve().parent / ".bess-etl" / "empty-lake"
    placeholder = Path(lake.partition_path(lake.readings_root(str(base)), 0, dt.date(1970, 1, 1)))
    if not placeholder.is_file():
        from bess_etl import storage

        storage.write_parquet_atomic(lake.FILE_SCHEMA.empty_table(), str(placeholder))
    return lake.readings_glob(str(base))


def _hhmm_time(text: str) -> str:
    """'HH:MM' as TIME text; DuckDB's TIME takes '24:00:00' for the end of the day."""
    h, m = (int(x) for x in text.split(":"))
    return f"{h:02d}:{m:02d}:00"


def _as_date(d: dt.date | str) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    return dt.date.fromisoformat(str(d))


class _timed:
    """Accumulate a block's wall time into timings[name]."""

    def __init__(self, timings: dict, name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.t0


__all__ = [
    "PYTHON_STEPS",
    "BuildStep",
    "CheckResult",
    "Targets",
    "build_plan",
    "build_schema",
    "connect",
    "energy_summary",
    "exists",
    "outdated_tables",
    "rebuild",
    "recompute",
    "run_checks",
    "settings_params",
]
