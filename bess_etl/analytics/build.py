"""The analytics as warehouse build steps (warehouse.PYTHON_STEPS): `cycles`,
`capacity_history` and `daily_stress`, each after the SQL file of the same stem (its DDL, and
the delete of the targets' BESS).

Incremental strategy: whenever any day of a BESS is a target, its `cycles` and
`capacity_history` are recomputed over the BESS's whole history (the lake's readings for
cycles, all of its daily_energy rows and cycles for the capacity history): cycles span
midnights, a capacity measurement looks back to the last observed empty, cumulative equivalent
cycles and the trailing fade fits look back, and the kernels cost well under a second per
BESS-year, so this makes an incremental run equal a full rebuild by construction.
`daily_stress` is per day (a day's metrics depend on its own readings), so only the target
days are recomputed, from their readings plus a day of context on each side.

Each step runs inside the warehouse's compute transaction and neither commits nor rolls back.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bess_etl import lake, sqlfiles, storage
from bess_etl.analytics.capacity import capacity_history, measurements_from_cycles
from bess_etl.analytics.cycles import CYCLES_SCHEMA, detect_cycles
from bess_etl.analytics.series import readings_channel
from bess_etl.analytics.stress import STRESS_SCHEMA, daily_stress
from bess_etl.config import Settings


def _channel_types(settings: Settings) -> list[int]:
    ch = settings.channels
    return [c for c in (ch.current, ch.voltage, ch.power, ch.soc, ch.battery_temp) if c]


def history_channels(
    settings: Settings, mac: int, codes: list[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The BESS's whole lake history of each sensor type in `codes` as (epoch ms, values), read
    a file at a time with pyarrow and split by type as it goes. A BESS-year is ~6 M readings of
    these channels: this holds the channels' arrays and one file, never the whole table beside
    them (nor a sort, nor DuckDB's buffer pool). Files are sorted by (type, ts) and come in date
    order, so each channel comes out in ts order."""
    root = lake.readings_root(settings.lake_dir)
    parts: dict[int, tuple[list, list]] = {c: ([], []) for c in codes}
    for m, d in sorted(lake.list_partitions(root, mac)):
        table = storage.read_parquet(lake.partition_path(root, m, d), ["type", "ts", "value"])
        if table is None or not table.num_rows:
            continue
        types = table["type"].to_numpy()
        ts = pc.cast(table["ts"], pa.int64()).to_numpy()
        values = table["value"].to_numpy()
        for code in codes:
            mask = types == code
            parts[code][0].append(ts[mask])
            parts[code][1].append(values[mask].astype(np.float64, copy=False))
    out = {}
    for code in codes:
        t, v = parts.pop(code)  # free each channel's pieces as soon as they are joined
        out[code] = (
            np.concatenate(t) if t else np.empty(0, np.int64),
            np.concatenate(v) if v else np.empty(0),
        )
    return out


def scope_history(con: duckdb.DuckDBPyConnection, settings: Settings, mac: int) -> pa.Table:
    """The readings (type, ts, value; sorted by type, ts) of the channels the analytics use from
    scope_readings, which a full rebuild loads with the whole lake."""
    query = sqlfiles.load("queries/history_readings_scope")
    return con.sql(query, params={"mac": mac, "types": _channel_types(settings)}).to_arrow_table()


def stress_readings(
    con: duckdb.DuckDBPyConnection, settings: Settings, mac: int, targets
) -> pa.Table:
    """The readings daily_stress needs for the BESS's target days (with a day of context)."""
    if targets.full:
        return scope_history(con, settings, mac)
    dates = [d for m, d in targets.days if m == mac]
    first, last = min(dates) - dt.timedelta(days=2), max(dates) + dt.timedelta(days=2)
    root = lake.readings_root(settings.lake_dir)
    files = [
        lake.partition_path(root, m, d)
        for m, d in lake.list_partitions(root, mac)
        if first <= d <= last
    ]
    if not files:
        return pa.table({"type": pa.array([], pa.int32()), "ts": [], "value": []})
    query = sqlfiles.load("queries/stress_readings_lake")
    params = {"files": files, "types": _channel_types(settings), "mac": mac}
    return con.sql(query, params=params).to_arrow_table()


def _pick(readings: pa.Table, code: int, sign: float) -> tuple | None:
    """One channel as (epoch ms, values), or None when the BESS does not report it."""
    t, v = readings_channel(readings, code, sign)
    return (t, v) if t.size else None


def _insert(con: duckdb.DuckDBPyConnection, table_name: str, rows: list[pa.Table]) -> None:
    """Append Arrow tables to a warehouse table by column name (table_name is a code constant)."""
    rows = [r for r in rows if r.num_rows]
    if not rows:
        return
    view = f"_new_{table_name}"
    con.register(view, pa.concat_tables(rows))
    try:
        con.execute(f"insert into {table_name} by name select * from {view}")
    finally:
        con.unregister(view)


def build_cycles(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`cycles` for every BESS among the targets, over its whole history."""
    out = []
    for mac in targets.macs:
        ch = settings.channels
        wanted = [
            ("current", ch.current, ch.sign),
            ("voltage", ch.voltage, 1.0),
            ("soc", ch.soc, 1.0),
            ("battery_temp", ch.battery_temp, 1.0),
            ("power", ch.power, ch.sign),
        ]
        if targets.full:
            readings = scope_history(con, settings, mac)
            picked = {name: _pick(readings, code, sign) for name, code, sign in wanted}
            del readings
        else:
            arrays = history_channels(settings, mac, [code for _, code, _ in wanted if code])
            picked = {}
            for name, code, sign in wanted:
                t, v = arrays.pop(code, (np.empty(0, np.int64), np.empty(0)))
                picked[name] = (t, v * sign if sign != 1.0 else v) if t.size else None
        current, voltage = picked.pop("current"), picked.pop("voltage")
        if current is None or voltage is None:
            continue
        cycles = detect_cycles(
            current,
            voltage,
            settings.capacity_for(mac),
            float(settings.integration.max_gap_s),
            mac=mac,
            **picked,
        )
        out.append(cycles.cast(CYCLES_SCHEMA))
        pa.default_memory_pool().release_unused()
    _insert(con, "cycles", out)


def build_capacity_history(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`capacity_history` for every BESS among the targets, from all its daily_energy rows and
    the capacity measurements of its cycles."""
    daily_q = sqlfiles.load("queries/history_daily_energy")
    meas_q = sqlfiles.load("queries/history_measurements")
    out = []
    for mac in targets.macs:
        daily = con.sql(daily_q, params={"mac": mac}).to_arrow_table()
        cycles = con.sql(meas_q, params={"mac": mac}).to_arrow_table()
        if daily.num_rows == 0 and cycles.num_rows == 0:
            continue
        measurements = measurements_from_cycles(cycles, settings.site.timezone)
        out.append(capacity_history(daily, measurements, settings.capacity_for(mac), mac=mac))
    _insert(con, "capacity_history", out)


def build_daily_stress(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`daily_stress` of the target days."""
    ch = settings.channels
    out = []
    for mac in targets.macs:
        readings = stress_readings(con, settings, mac, targets)

        def pick(code: int, sign: float = 1.0, readings=readings) -> tuple | None:
            t, v = readings_channel(readings, code, sign)
            return (t, v) if t.size else None

        current, voltage = pick(ch.current, ch.sign), pick(ch.voltage)
        if current is None or voltage is None:
            continue
        out.append(
            daily_stress(
                current,
                voltage,
                settings.capacity_for(mac),
                float(settings.integration.max_gap_s),
                settings.site.timezone,
                soc=pick(ch.soc),
                battery_temp=pick(ch.battery_temp),
                mac=mac,
            ).cast(STRESS_SCHEMA)
        )
    if not targets.full:
        wanted = pa.table(
            {
                "mac": pa.array([m for m, _ in targets.days], pa.int64()),
                "local_date": pa.array([d for _, d in targets.days], pa.date32()),
            }
        )
        out = [t.join(wanted, ["mac", "local_date"], join_type="inner") for t in out]
        out = [t.select(STRESS_SCHEMA.names).sort_by([("local_date", "ascending")]) for t in out]
    _insert(con, "daily_stress", out)


__all__ = [
    "build_capacity_history",
    "build_cycles",
    "build_daily_stress",
    "history_channels",
    "scope_history",
    "stress_readings",
]
