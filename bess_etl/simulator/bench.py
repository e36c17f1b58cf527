"""Speed of the simulator: `uv run python -m bess_etl.simulator.bench`.

Prints the median time to generate one BESS-day (the 1 s model, then the reported readings of
the day), the JSON encoder against json.dumps, and a 30-day window of one BESS served over
loopback HTTP, cold (nothing generated yet) and warm (day chunks cached).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bess_etl.config import load_settings
from bess_etl.simulator.hosting import serve_in_thread
from bess_etl.simulator.service import Simulator

MAC = 303_721_691  # BESS 10KW
DAY_MS = 86_400_000


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bess-etl-sim-bench-"))
    (tmp / "bess-etl.toml").write_text("")
    settings = load_settings(tmp / "bess-etl.toml", data_dir=tmp / "data", environ={})
    sim = Simulator(settings, cache_days=0)
    days = [dt.date(2025, 6, 1) + dt.timedelta(days=k) for k in range(30)]
    sim.plan(MAC, days[-1])
    it = iter(days * 3)
    model_s = _median_s(lambda: sim.trace(MAC, next(it)), 30)
    it = iter(days * 3)
    chunk_s = _median_s(lambda: sim.chunk(MAC, next(it)), 30)
    print(f"one BESS-day, 1 s model (86,401 steps): median {model_s * 1000:.1f} ms")
    print(f"one BESS-day, model + reported readings:  median {chunk_s * 1000:.1f} ms")

    now = sim.clock()
    cached = Simulator(settings)
    rows = cached.select(MAC, now - 30 * DAY_MS, now)  # generates and caches the 31 days
    select_s = _median_s(lambda: cached.select(MAC, now - 30 * DAY_MS, now), 3)
    body_s = _median_s(lambda: cached.body(MAC, now - 30 * DAY_MS, now), 3)
    as_lists = (rows.type.tolist(), rows.ts.tolist(), rows.value.tolist())
    t0 = time.perf_counter()
    json.dumps(
        [
            {"mac": MAC, "type": t, "timestamp": ts, "data": v}
            for t, ts, v in zip(*as_lists, strict=True)
        ]
    ).encode()
    ref_s = time.perf_counter() - t0
    n = len(rows)
    print(
        f"30 days cached, {n:,} readings: select {n / select_s / 1e6:.1f} M/s, "
        f"select + vectorised JSON {n / body_s / 1e6:.2f} M/s "
        f"(json.dumps of dicts alone: {n / ref_s / 1e6:.2f} M/s)"
    )

    with serve_in_thread(settings) as url, httpx.Client(base_url=url, timeout=300) as client:
        token = client.get("authentication/g", params={"username": "demo", "password": "demo"})
        headers = {"Authorization": f"Bearer {token.text}", "X-AIR-Token": str(MAC)}
        params = {"mac": MAC, "begin": now - 30 * DAY_MS, "end": now, "limit": 10_000_000}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            resp = client.get("sensordata/byrange", params=params, headers=headers)
            elapsed = time.perf_counter() - t0
            n = resp.content.count(b'"timestamp"')
            print(
                f"30-day window over loopback HTTP, {label}: {n:,} readings, "
                f"{len(resp.content) / 1e6:.1f} MB in {elapsed:.2f} s = {n / elapsed / 1e6:.2f} M/s"
            )


if __name__ == "__main__":
    main()
