"""The analytics as warehouse build steps (warehouse.PYTHON_STEPS): `cycles`,
`capacity_history` and `daily_stress`, each after the SQL file of the same stem (its DDL, and
the delete of the targets' BESS).

Incremental strategy: whenever any day of a BESS is a target, its `capacity_history` is redone
from its earliest target day, or from an earlier day whose inputs changed (cumulative equivalent
cycles and the trailing fade fits look back, so they read all of its daily_energy rows and
cycles: cheap, from warehouse tables; only the fits of the redone days cost). Its
`cycles` are re-detected from the lake from a restart point (see _restart): the latest existing
cycle starting over a day before the earliest target day is the anchor; detection re-runs from a
partition before the cycle preceding M, the latest capacity measurement before the anchor (the
capacity state, the last observed empty and the reference capacity, is then re-derived
identically), the re-detected cycles from M to the anchor must start and measure as the existing
ones do (else the whole history is redone), and only the cycles from the anchor on are replaced
(renumbered after the kept ones). Without such an anchor, or in a full rebuild, the whole history
is redone. Either way an incremental run equals a full rebuild.
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
from bess_etl.analytics.capacity import measurements_from_cycles, update_capacity_history
from bess_etl.analytics.cycles import CYCLES_SCHEMA, detect_cycles
from bess_etl.analytics.series import pick_channel
from bess_etl.analytics.stress import STRESS_SCHEMA, daily_stress
from bess_etl.config import Settings
from bess_etl.timeutil import MS_PER_DAY, utc_date_of_ms


def _channels(settings: Settings) -> list[tuple[str, int, float]]:
    """(detect_cycles' argument name, sensor type code, sign that makes it charge-positive) of
    each channel the analytics use; code 0 where the BESS does not report it."""
    ch = settings.channels
    return [
        ("current", ch.current, ch.sign),
        ("voltage", ch.voltage, 1.0),
        ("soc", ch.soc, 1.0),
        ("battery_temp", ch.battery_temp, 1.0),
        ("power", ch.power, ch.sign),
    ]


def _channel_types(settings: Settings) -> list[int]:
    return [code for _, code, _ in _channels(settings) if code]


def history_channels(
    settings: Settings, mac: int, codes: list[int], since: dt.date | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The BESS's whole lake history of each sensor type in `codes` as (epoch ms, values), read
    a file at a time with pyarrow and split by type as it goes. A BESS-year is ~6 M readings of
    these channels: this holds the channels' arrays and one file, never the whole table beside
    them (nor a sort, nor DuckDB's buffer pool). Files are sorted by (type, ts) and come in date
    order, so each channel comes out in ts order. With `since`, only the partitions (UTC dates)
    from that date on."""
    root = lake.readings_root(settings.lake_dir)
    parts: dict[int, tuple[list, list]] = {c: ([], []) for c in codes}
    for m, d in sorted(lake.list_partitions(root, mac, first=since)):
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
        lake.partition_path(root, m, d) for m, d in lake.list_partitions(root, mac, first, last)
    ]
    if not files:
        return pa.table({"type": pa.array([], pa.int32()), "ts": [], "value": []})
    query = sqlfiles.load("queries/stress_readings_lake")
    params = {"files": files, "types": _channel_types(settings), "mac": mac}
    return con.sql(query, params=params).to_arrow_table()


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


def _restart(
    con: duckdb.DuckDBPyConnection, mac: int, targets
) -> tuple[np.ndarray, list[bool], int, dt.date, float | None] | None:
    """Where an incremental run re-detects a BESS's cycles from: (the existing cycles' start_ts
    in epoch ms, from the measurement cycle M on; their is_capacity_measurement flags from M up
    to the anchor; the anchor's index among all the BESS's cycles; the first lake partition to
    read; the reference capacity before M), or None for its whole history.

    The anchor is the latest existing cycle starting over a day before the earliest target day
    (no target's readings reach it, nor the cycle before it, which ends at its start). The
    capacity state the anchor's cycles depend on (the last observed empty, the latest measurement)
    is at or after M, the latest capacity measurement before the anchor (a measurement reached
    empty, and sets the reference), so detection re-runs from a partition before the cycle before
    M: the Schmitt trigger and the segment filters settle within that cycle."""
    if targets.full:
        return None
    query = sqlfiles.load("queries/cycles_restart_candidates")
    rows = con.execute(query, {"mac": mac}).fetchall()
    if not rows or rows[0][3] is None:
        return None
    starts = np.array([r[0] for r in rows], np.int64)
    cutoff_ms = int(rows[0][3].timestamp() * 1000) - MS_PER_DAY
    anchor = int(np.searchsorted(starts, cutoff_ms, "left")) - 1
    if anchor < 2:
        return None
    meas = [k for k in range(anchor) if rows[k][1]]
    if not meas or meas[-1] < 2:
        return None
    m = meas[-1]
    since_ms = int(starts[m - 1]) - MS_PER_DAY
    since = utc_date_of_ms(since_ms)
    before = [rows[k][2] for k in meas[:-1]]
    reference = float(before[-1]) if before else None
    flags = [bool(rows[k][1]) for k in range(m, anchor)]
    return starts[m:], flags, anchor, since, reference


def _same_until_anchor(
    cycles: pa.Table, existing: np.ndarray, n_keep: int, existing_meas: list[bool]
) -> int | None:
    """Index in `cycles` (a re-detection) of the anchor, when its cycles from M up to the anchor
    start where the existing ones do and measure the same; else None."""
    got = pc.cast(cycles["start_ts"], pa.int64()).to_numpy()
    j = int(np.searchsorted(got, existing[0], "left"))
    if j < 1 or j + n_keep >= got.size:
        return None
    if not np.array_equal(got[j : j + n_keep + 1], existing[: n_keep + 1]):
        return None
    flags = cycles["is_capacity_measurement"].to_pylist()[j : j + n_keep]
    if flags != existing_meas:
        return None
    return j + n_keep


def build_cycles(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`cycles` for every BESS among the targets: from a restart point before the earliest target
    day (see _restart), else over its whole history. The SQL file deleted the cycles starting on
    or after the earliest target day; this deletes the rest of what it redoes."""
    out = []
    delete = sqlfiles.load("queries/delete_cycles_from")
    for mac in targets.macs:
        restart = _restart(con, mac, targets)
        cycles = None
        if restart is not None:
            existing, existing_meas, anchor, since, reference = restart
            cycles = _detect(settings, mac, since, reference)
            n_keep = len(existing_meas)
            j = (
                None
                if cycles is None
                else _same_until_anchor(cycles, existing, n_keep, existing_meas)
            )
            if j is None:
                cycles = None
            else:
                cycles = cycles.slice(j)
                index = pa.array(np.arange(anchor, anchor + cycles.num_rows, dtype=np.int32))
                cycles = cycles.set_column(
                    cycles.schema.get_field_index("cycle_index"), "cycle_index", index
                )
                con.execute(delete, {"mac": mac, "start_ms": int(existing[n_keep])})
        if cycles is None:
            con.execute(delete, {"mac": mac, "start_ms": 0})
            cycles = _detect(settings, mac, None, None, full=targets.full, con=con)
        if cycles is not None:
            out.append(cycles.cast(CYCLES_SCHEMA))
    _insert(con, "cycles", out)


def _detect(
    settings: Settings,
    mac: int,
    since: dt.date | None,
    reference: float | None,
    full: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table | None:
    """detect_cycles over the BESS's lake partitions from `since` (all if None; scope_readings
    in a full rebuild); None when it lacks current or voltage."""
    wanted = _channels(settings)
    if full:
        readings = scope_history(con, settings, mac)
        picked = {name: pick_channel(readings, code, sign) for name, code, sign in wanted}
        del readings
    else:
        arrays = history_channels(settings, mac, [code for _, code, _ in wanted if code], since)
        picked = {}
        for name, code, sign in wanted:
            t, v = arrays.pop(code, (np.empty(0, np.int64), np.empty(0)))
            picked[name] = (t, v * sign if sign != 1.0 else v) if t.size else None
    current, voltage = picked.pop("current"), picked.pop("voltage")
    if current is None or voltage is None:
        return None
    return detect_cycles(
        current,
        voltage,
        settings.capacity_for(mac),
        float(settings.integration.max_gap_s),
        mac=mac,
        reference_capacity_ah=reference,
        **picked,
    )


def build_capacity_history(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`capacity_history` for every BESS among the targets, from all its daily_energy rows and
    the capacity measurements of its cycles. The SQL file deleted its rows from the earliest
    target day on; of the rest, those from the first day whose inputs changed are redone."""
    daily_q = sqlfiles.load("queries/history_daily_energy")
    meas_q = sqlfiles.load("queries/history_measurements")
    kept_q = sqlfiles.load("queries/history_capacity_kept")
    delete = sqlfiles.load("queries/delete_capacity_history_from")
    out = []
    for mac in targets.macs:
        daily = con.sql(daily_q, params={"mac": mac}).to_arrow_table()
        cycles = con.sql(meas_q, params={"mac": mac}).to_arrow_table()
        kept = con.sql(kept_q, params={"mac": mac}).to_arrow_table()
        measurements = measurements_from_cycles(cycles, settings.site.timezone)
        cap = settings.capacity_for(mac)
        first, rows = update_capacity_history(daily, measurements, cap, kept, mac=mac)
        if first is None:
            continue
        con.execute(delete, {"mac": mac, "first": first})
        out.append(rows)
    _insert(con, "capacity_history", out)


def build_daily_stress(con: duckdb.DuckDBPyConnection, settings: Settings, targets) -> None:
    """`daily_stress` of the target days."""
    out = []
    for mac in targets.macs:
        readings = stress_readings(con, settings, mac, targets)
        picked = {
            name: pick_channel(readings, code, sign) for name, code, sign in _channels(settings)
        }
        if picked["current"] is None or picked["voltage"] is None:
            continue
        out.append(
            daily_stress(
                picked["current"],
                picked["voltage"],
                settings.capacity_for(mac),
                float(settings.integration.max_gap_s),
                settings.site.timezone,
                soc=picked["soc"],
                battery_temp=picked["battery_temp"],
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
