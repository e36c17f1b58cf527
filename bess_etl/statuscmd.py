"""`bess-etl status`: what has been pulled, how clean it was, and the last run."""

from __future__ import annotations

from bess_etl import sqlfiles, warehouse
from bess_etl.config import Settings
from bess_etl.errors import UsageError


def status_rows(settings: Settings) -> list[dict]:
    if not warehouse.exists(settings):
        raise UsageError(
            f"no warehouse at {settings.warehouse_path} yet; run `bess-etl backfill` or "
            "`bess-etl daily` first"
        )
    con = warehouse.connect(settings, read_only=True)
    try:
        cur = con.execute(sqlfiles.load("queries/status"))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
