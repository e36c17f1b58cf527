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
