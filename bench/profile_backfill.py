"""Profile a backfill with every stage on the main thread (so a sampling profiler sees it).

    uv run pyinstrument -o /tmp/p.txt bench/profile_backfill.py --start 2026-10-01 --end 2026-10-31

The pull tasks normally run on a thread pool and the lake writes in asyncio.to_thread; here both
run inline, one after the other, which is what a single-threaded profiler can attribute.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from bess_etl import ingest, orchestration, pipeline


def _serial_map(task, items, on_result, max_workers, **kwargs):
    for item in items:
        on_result(task.fn(item, **kwargs))


async def _inline(fn, *args, **kwargs):
    return fn(*args, **kwargs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--start", default="2026-10-01")
    ap.add_argument("--end", default="2026-10-31")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--config", default=None)
    args = ap.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="bess-prof-")
    pipeline.map_tasks = _serial_map
    orchestration.map_tasks = _serial_map
    ingest.asyncio.to_thread = _inline  # type: ignore[attr-defined]
    from flows.jobs import run_backfill

    try:
        out = run_backfill(
            args.start, args.end, [], "missing,failed", False, args.config, data_dir, 0
        )
        print(out["rows_pulled"], "readings in", out["wall_s"], "s")
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
