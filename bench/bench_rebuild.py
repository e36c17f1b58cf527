"""Rebuild speed against a vectorised numpy trapezoid over the same readings.

    uv run python bench/bench_rebuild.py [--bess 10] [--days 30] [--cadence-s 20] [--repeat 3]

Builds a synthetic lake (BESS × days × 3 channels: voltage, current, power, each every
cadence seconds with jitter and its own offset) in a temp directory, then, median of --repeat:

- rebuild: bess_etl.warehouse.rebuild over everything (lake scan, intervals, V·I, bucket split,
  energy_interval, daily_energy, checks), with its per-step timings;
- numpy (read + sort): the same Parquet files read with pyarrow, sorted, and per
  (mac, type, UTC day) a trapezoid split at zero crossings (positive and negative areas);
- numpy (in memory): the same trapezoid on presorted arrays already in memory.

Prints readings/s and the ratio rebuild / numpy (read + sort); the goal is under 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from bess_etl import lake, storage, warehouse
from bess_etl.config import load_settings

TYPES = {"voltage": 532, "current": 531, "power": 533}


def make_lake(settings, n_bess: int, n_days: int, cadence_s: float, seed: int = 1) -> int:
    """Write the synthetic lake; returns the number of readings."""
    rng = np.random.default_rng(seed)
    root = lake.readings_root(settings.lake_dir)
    start = dt.date(2025, 3, 1)
    per_day = int(86_400 / cadence_s)
    total = 0
    for b in range(n_bess):
        mac = 303_721_690 + b
        for d in range(n_days):
            date = start + dt.timedelta(days=d)
            day_ms = int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp())
            day_ms *= 1000
            base = np.arange(per_day) * cadence_s * 1000
            hours = base / 3.6e6
            # a daily cycle through zero: charge by day, discharge in the evening, noise
            power_kw = 3.0 * np.sin(2 * np.pi * (hours - 6) / 24) + rng.normal(0, 0.2, per_day)
            voltage_v = 52 + 2 * np.sin(2 * np.pi * (hours - 9) / 24) + rng.normal(0, 0.05, per_day)
            current_a = power_kw * 1000 / voltage_v
            parts = []
            for k, (code, values) in enumerate(
                ((532, voltage_v), (531, current_a), (533, power_kw))
            ):
                jitter = rng.integers(-800, 800, per_day)
                ts = day_ms + base.astype(np.int64) + 1000 + 300 * k + jitter
                parts.append(
                    pa.table(
                        {
                            "type": pa.array(np.full(per_day, code, np.int32)),
                            "ts": pa.array(ts, pa.int64()).cast(lake.TS_TYPE),
                            "value": pa.array(values),
                        },
                        schema=lake.FILE_SCHEMA,
                    )
                )
            table = pa.concat_tables(parts)
            storage.write_parquet_atomic(table, lake.partition_path(root, mac, date))
            total += table.num_rows
    return total


def numpy_trapezoid(mac, typ, ts_ms, value) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative trapezoid areas per (mac, type, UTC day) of presorted readings,
    split at zero crossings (intervals do not cross groups)."""
    day = ts_ms // 86_400_000
    key_change = (mac[1:] != mac[:-1]) | (typ[1:] != typ[:-1]) | (day[1:] != day[:-1])
    dt_s = np.diff(ts_ms) / 1000.0
    v0, v1 = value[:-1], value[1:]
    same = (v0 >= 0) == (v1 >= 0)
    mean = (v0 + v1) / 2 * dt_s
    denom = np.abs(v0) + np.abs(v1)
    denom[denom == 0] = 1.0
    p = np.maximum(v0, v1)
    n = np.minimum(v0, v1)
    pos = np.where(same, np.where(v0 >= 0, mean, 0.0), p * p / denom * dt_s / 2)
    neg = np.where(same, np.where(v0 < 0, mean, 0.0), -n * n / denom * dt_s / 2)
    pos[key_change] = 0.0
    neg[key_change] = 0.0
    starts = np.flatnonzero(np.r_[True, key_change])
    starts = starts[starts < len(pos)]
    return np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)


def read_sorted(settings) -> tuple[np.ndarray, ...]:
    """The lake as numpy arrays sorted by (mac, type, ts): one multi-threaded pyarrow dataset
    read (hive keys declared, as any reader of the lake must) and a lexsort."""
    partitioning = ds.partitioning(
        pa.schema([("mac", pa.int64()), ("date", pa.date32())]), flavor="hive"
    )
    table = ds.dataset(
        lake.readings_root(settings.lake_dir), format="parquet", partitioning=partitioning
    ).to_table(columns=["mac", "type", "ts", "value"])
    mac = table.column("mac").to_numpy()
    typ = table.column("type").to_numpy()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    value = table.column("value").to_numpy()
    order = np.lexsort((ts, typ, mac))
    return mac[order], typ[order], ts[order], value[order]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bess", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--cadence-s", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a new temp directory)")
    args = ap.parse_args()
    if args.dir:
        run(Path(args.dir), args)
    else:
        with tempfile.TemporaryDirectory(prefix="bess-bench-") as tmp:
            run(Path(tmp), args)


def run(base: Path, args: argparse.Namespace) -> None:
    base.mkdir(parents=True, exist_ok=True)
    cfg = base / "bess-etl.toml"
    cfg.write_text("")
    settings = load_settings(cfg, data_dir=base / "data", environ={})
    t0 = time.perf_counter()
    n = make_lake(settings, args.bess, args.days, args.cadence_s)
    print(f"lake: {n:,} readings in {time.perf_counter() - t0:.1f} s at {settings.lake_dir}")

    con = warehouse.connect(settings)
    warehouse.build_schema(con, settings)
    rebuild_s, numpy_s, memory_s, timings = [], [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        summary = warehouse.rebuild(con, settings)
        rebuild_s.append(time.perf_counter() - t)
        timings.append(summary["timings_s"])

        t = time.perf_counter()
        arrays = read_sorted(settings)
        numpy_trapezoid(*arrays)
        numpy_s.append(time.perf_counter() - t)

        t = time.perf_counter()
        numpy_trapezoid(*arrays)
        memory_s.append(time.perf_counter() - t)
    con.close()

    r, npy, mem = (statistics.median(x) for x in (rebuild_s, numpy_s, memory_s))
    print(f"{'method':<28}{'median s':>10}{'readings/s':>14}")
    for name, s in (
        ("rebuild (DuckDB, all steps)", r),
        ("numpy read + sort + trapz", npy),
        ("numpy in memory", mem),
    ):
        print(f"{name:<28}{s:>10.3f}{n / s:>14,.0f}")
    print(f"ratio rebuild / numpy (read + sort): {r / npy:.2f} (goal < 3)")
    print(f"ratio rebuild / numpy (in memory):   {r / mem:.1f}")
    steps = {k: statistics.median(t.get(k, 0.0) for t in timings) for k in timings[0]}
    shown = {k: v for k, v in steps.items() if v >= 0.005}
    print("rebuild steps (median s): " + ", ".join(f"{k} {v:.3f}" for k, v in shown.items()))


if __name__ == "__main__":
    main()
