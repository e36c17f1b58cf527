"""Shared fixtures. Everything runs against real parts in a tmp path: Parquet files, DuckDB
databases, the simulator over loopback HTTP, Prefect flows in one session-wide test harness."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads its settings at import: point it at a throwaway home before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="bess-etl-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
# Let subprocesses (the Prefect test server, CLI runs) cache bytecode: with this set (as some
# containers do) every one of them compiles Prefect's and pandas' sources anew, ~10 s each.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
for _var in (
    "BESS_ETL_CONFIG",
    "BESS_ETL_DATA_DIR",
    "BESS_ETL_API_USERNAME",
    "BESS_ETL_API_PASSWORD",
):
    os.environ.pop(_var, None)

from bess_etl.config import Settings, load_settings  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent
REAL_CYCLER = TESTS_DIR / "data" / "real_cycler"


@pytest.fixture
def make_settings(tmp_path):
    """Build Settings from TOML text, with data_dir in the test's tmp path.

    s = make_settings('[integration]\\nmax_gap_s = 60')
    """

    def make(toml: str = "", data_dir: Path | None = None, **env: str) -> Settings:
        cfg = tmp_path / "bess-etl.toml"
        cfg.write_text(toml)
        return load_settings(cfg, data_dir=data_dir or tmp_path / "data", environ=env)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness for the whole session (it costs ~6 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# ---------------------------------------------------------------------- warehouse and SQL layer


def utc_ms(text: str) -> int:
    """Epoch ms of an ISO time; a time without an offset is UTC."""
    import datetime as dt

    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return round(t.timestamp() * 1000)


@pytest.fixture
def store_rows():
    """Store readings in the lake the way ingest does (store_readings) and return the changed
    (mac, UTC date) partitions. Rows are (mac, type, time, value); time is epoch ms or ISO text
    (UTC unless it has an offset).

    changed = store_rows(settings, [(303721690, 533, "2025-01-15T12:00:00", 1.5), ...])
    """
    import pyarrow as pa

    from bess_etl.lake import READINGS_SCHEMA, TS_TYPE
    from bess_etl.store import store_readings

    def store(settings: Settings, rows) -> list:
        rows = list(rows)
        ms = [r[2] if isinstance(r[2], int) else utc_ms(r[2]) for r in rows]
        table = pa.table(
            {
                "mac": pa.array([r[0] for r in rows], pa.int64()),
                "type": pa.array([r[1] for r in rows], pa.int32()),
                "ts": pa.array(ms, pa.int64()).cast(TS_TYPE),
                "value": pa.array([float(r[3]) for r in rows], pa.float64()),
            },
            schema=READINGS_SCHEMA,
        )
        writes = store_readings(settings, table)
        return sorted(k for k, w in writes.items() if w.changed)

    return store


@pytest.fixture
def open_warehouse():
    """Open (and build the schema of) a settings' warehouse; closed at teardown."""
    from bess_etl import warehouse

    opened = []

    def open_(settings: Settings, read_only: bool = False):
        con = warehouse.connect(settings, read_only=read_only)
        if not read_only:
            warehouse.build_schema(con, settings)
        opened.append(con)
        return con

    yield open_
    for con in opened:
        con.close()


# ---------------------------------------------------------------------- simulator


@pytest.fixture(scope="session")
def simulator_settings(tmp_path_factory) -> Settings:
    """Default settings (the built-in simulator with its default data faults), from an empty
    config file in a throwaway directory. Session-wide: treat as read-only."""
    base = tmp_path_factory.mktemp("simulator")
    cfg = base / "bess-etl.toml"
    cfg.write_text("")
    return load_settings(cfg, data_dir=base / "data", environ={})


@pytest.fixture(scope="session")
def simulator_url(simulator_settings):
    """The simulated Aretas API over loopback HTTP (uvicorn in a thread) for the session:
    its base URL, "http://127.0.0.1:PORT/rest/" (login demo/demo)."""
    from bess_etl.simulator import serve_in_thread

    with serve_in_thread(simulator_settings) as url:
        yield url


# ---------------------------------------------------------------------- ETL runs (ingest, flows)

# A fast setup for runs end to end: a reading every 5 minutes (so a BESS-day is ~1,700 rows),
# intervals up to 15 minutes integrated, one partition per task, backoff in milliseconds.
FAST_RUN_TOML = """
[simulator]
cadence_s = 300.0

[integration]
max_gap_s = 900

[ingest]
days_per_task = 1
parallel_tasks = 1
initial_days = 1

[api]
backoff_initial_s = 0.005
backoff_max_s = 0.02
"""


def lake_snapshot(settings: Settings, what: str = "readings"):
    """Every row of the lake (or its quarantine) as a sorted Arrow table, read back the way a
    reader does: DuckDB over the hive layout, with the key types declared. Temp files are
    hidden, so they are never read."""
    import duckdb

    root = Path(settings.lake_dir) / what
    if not any(root.glob("*/*/*.parquet")):
        return None
    con = duckdb.connect()
    try:
        return con.sql(
            "select * from read_parquet($glob, hive_partitioning = true,"
            " hive_types = {'mac': 'BIGINT', 'date': 'DATE'})"
            " order by all",
            params={"glob": str(root / "*" / "*" / "*.parquet")},
        ).to_arrow_table()
    finally:
        con.close()


def lake_files(settings: Settings) -> list[str]:
    """Every file under the lake, relative to it (hidden temp files included)."""
    root = Path(settings.lake_dir)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


DERIVED_TABLES = ("daily_energy", "energy_interval", "capacity_history")


def derived_snapshot(settings: Settings, tables=DERIVED_TABLES) -> dict:
    """The derived tables' rows, sorted, from the warehouse (read-only)."""
    import duckdb

    con = duckdb.connect(settings.warehouse_path, read_only=True)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}
    finally:
        con.close()


def query(settings: Settings, sql: str, params=None) -> list[tuple]:
    import duckdb

    con = duckdb.connect(settings.warehouse_path, read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def assert_same_rows(got: dict, expected: dict, rel: float = 1e-9) -> None:
    """Derived snapshots equal, floats to `rel` (sums of the same terms in another order)."""
    assert got.keys() == expected.keys()
    for table in expected:
        assert_rows_close(got[table], expected[table], table, rel=rel, abs_tol=1e-9)


def assert_rows_close(
    got: list[tuple], want: list[tuple], what: str, rel: float = 1e-9, abs_tol: float = 1e-12
) -> None:
    """Equal rows; floats to `rel` (SQL sums may add the same terms in another order, e.g.
    in an incremental run against a full rebuild)."""
    assert len(got) == len(want), f"{what}: {len(got)} rows, expected {len(want)}"
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert a == pytest.approx(b, rel=rel, abs=abs_tol), (what, g, w)
            else:
                assert a == b, (what, g, w)


def failing_checks(con) -> dict[str, int]:
    """{check name: violating rows} of the data checks that fail on this warehouse."""
    from bess_etl import warehouse

    return {r.name: r.n_rows for r in warehouse.run_checks(con, raise_on_failure=False) if not r.ok}
