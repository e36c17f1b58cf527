"""Incremental cost: a `daily` run after 365 days of history against one after 7 days.

    uv run python bench/bench_incremental.py [--history 7 365] [--bess 1] [--repeat 3]

For each history length: backfill that many site-local days (ending two days ago) from the
simulator (served over loopback HTTP by a child process), snapshot the data directory, then
time `daily` (flows.jobs.run_daily, in this process, no Prefect) up to a fixed `now`, restoring
the snapshot before each repeat so every run does the same work: pull the new day since the
watermark (minus the 6 h lookback), write it, recompute the touched days. Prints the median wall
time per history and the ratio long / short (goal: at most 1.2, work proportional to new data).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import CREDENTIALS, fleet_macs, simulator_process, write_config

from bess_etl import warehouse
from bess_etl.config import load_settings
from bess_etl.timeutil import utc_day_bounds_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, nargs="+", default=[7, 365])
    ap.add_argument("--bess", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a new temp directory)")
    ap.add_argument(
        "--profile", action="store_true", help="print a pyinstrument profile of the last run"
    )
    args = ap.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="bess-bench-incremental-"))
    base.mkdir(parents=True, exist_ok=True)
    from flows.jobs import run_backfill, run_daily

    steps: list[dict] = []  # the recompute's own timings per step, of each daily run
    recompute = warehouse.recompute

    def timed_recompute(*a, **kw):
        summary = recompute(*a, **kw)
        steps.append(summary.get("timings_s", {}))
        return summary

    warehouse.recompute = timed_recompute

    today = dt.datetime.now(dt.UTC).date()
    last_day = today - dt.timedelta(days=2)  # the history's last local day
    until_ms = utc_day_bounds_ms(today)[0]  # `now` of every daily run: today's UTC midnight
    macs = fleet_macs(args.bess)
    cfg = base / "bench.toml"
    write_config(cfg, "http://127.0.0.1:1/rest/", macs)
    now = dt.datetime.now(dt.UTC)
    print(f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; {now:%F %H:%M} UTC")
    results = {}
    try:
        with simulator_process(cfg) as url:
            write_config(cfg, url, macs)
            os.environ.update(CREDENTIALS)
            for days in args.history:
                data = base / f"history-{days}"
                snapshot = base / f"snapshot-{days}"
                first = last_day - dt.timedelta(days=days - 1)
                t0 = time.perf_counter()
                hist = run_backfill(
                    first.isoformat(), last_day.isoformat(), macs, "missing,failed", False,
                    str(cfg), str(data), 0,
                )  # fmt: skip
                print(
                    f"history {days} days: {hist['rows_pulled']:,} readings backfilled in "
                    f"{time.perf_counter() - t0:.1f} s"
                )
                shutil.copytree(data, snapshot)
                walls, rows, recomputed = [], [], []
                steps.clear()
                for _ in range(args.repeat):
                    shutil.rmtree(data)
                    shutil.copytree(snapshot, data)
                    load_settings(cfg, data_dir=data)  # config errors surface before timing
                    last = len(walls) == args.repeat - 1
                    profiler = _profiler() if args.profile and last else None
                    t0 = time.perf_counter()
                    out = run_daily(macs, str(cfg), str(data), 0, until_ms=until_ms)
                    walls.append(time.perf_counter() - t0)
                    if profiler:
                        profiler.stop()
                        print(profiler.output_text(show_all=False, color=False))
                    rows.append(out["rows_pulled"])
                    recomputed.append(out["days_recomputed"])
                results[days] = statistics.median(walls)
                print(
                    f"  daily after {days} days: median {results[days]:.3f} s of "
                    f"{', '.join(f'{w:.3f}' for w in walls)}; {rows[0]:,} readings pulled, "
                    f"{recomputed[0]} days recomputed"
                )
                if steps:
                    med = {k: statistics.median(t.get(k, 0.0) for t in steps) for k in steps[0]}
                    top = sorted(med.items(), key=lambda kv: -kv[1])[:6]
                    print(
                        f"  recompute {sum(med.values()):.3f} s; slowest steps: "
                        + ", ".join(f"{k} {v:.3f}" for k, v in top)
                    )
                shutil.rmtree(snapshot)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if len(results) >= 2:
        short, long_ = min(results), max(results)
        print(
            f"ratio daily after {long_} days / after {short} days: "
            f"{results[long_] / results[short]:.2f} (goal <= 1.2)"
        )


def _profiler():
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    return profiler


if __name__ == "__main__":
    main()
