"""End to end on the simulator over loopback HTTP: speed per stage against a reference per stage.

    uv run python bench/bench_pipeline.py [--bess 1 10 50] [--days 30] [--repeat 3]

The simulator runs in its own process (`bess-etl simulator serve`, with simulator.extra_bess
for fleets beyond the account's two BESS), so generating readings does not take this process's
CPU (it does take one of the machine's cores). For each fleet size:

- end to end: `bess-etl backfill` in a child process (pull -> lake -> warehouse, no Prefect
  server), its wall time and peak RSS (wait4), median of --repeat fresh runs;
- staged, in this process, one MAC at a time (so memory stays bounded; the MAC's days are
  fetched once untimed first, so the simulator's cache holds them and neither timed fetch pays
  for generating readings), each stage beside its reference on the same data:
    fetch+decode   AretasClient.readings of every window (HTTP + decode) | raw httpx GETs of
                   the same windows + orjson.loads of the bodies
    decode         bess_etl.aretas.decode_readings of the bodies         | orjson.loads
    lake write     bess_etl.store.store_readings (checks, dedupe, merge, atomic write)
                                                                         | pyarrow.parquet
                   .write_table of the same rows (zstd, one file per window)
    SQL rebuild    warehouse.rebuild, SQL steps                          | numpy trapezoid per
                   (mac, type, UTC day) of the lake read with pyarrow + sorted (bench_rebuild)
    analytics      warehouse.rebuild, Python steps (PYTHON_STEPS)        | (no reference)

Prints readings/s and the ratio (stage time / reference time; goal: under 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rebuild import numpy_trapezoid, read_sorted

from bess_etl import ingest, storage, warehouse
from bess_etl.aretas import decode_readings
from bess_etl.config import load_settings
from bess_etl.simulator.fleet import EXTRA_BESS_MAC0
from bess_etl.store import store_readings

START = dt.date(2026, 10, 1)
ACCOUNT_BESS = (303_721_691, 303_721_690)
CREDENTIALS = {"BESS_ETL_API_USERNAME": "demo", "BESS_ETL_API_PASSWORD": "demo"}


def fleet_macs(n: int) -> list[int]:
    extra = [EXTRA_BESS_MAC0 + k + 1 for k in range(max(0, n - len(ACCOUNT_BESS)))]
    return sorted([*ACCOUNT_BESS[:n], *extra])


def write_config(path: Path, url: str, macs: list[int]) -> None:
    path.write_text(
        f'[api]\nurl = "{url}"\n\n'
        f"[ingest]\nmacs = [{', '.join(map(str, macs))}]\n\n"
        f"[simulator]\nextra_bess = {max(0, len(macs) - len(ACCOUNT_BESS))}\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def simulator_process(config: Path):
    """`bess-etl simulator serve` in a child process; yields its base URL."""
    port = _free_port()
    cmd = [sys.executable, "-m", "bess_etl.cli", "simulator", "serve", "--config", str(config)]
    proc = subprocess.Popen([*cmd, "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/rest/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "greetings/isloggedin", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def end_to_end(config: Path, data_dir: Path, end: dt.date) -> tuple[float, float, int]:
    """`bess-etl backfill` in a child process: (wall s, peak RSS MB, readings received)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(CREDENTIALS)
    cmd = [sys.executable, "-m", "bess_etl.cli", "backfill", "--start", START.isoformat()]
    cmd += ["--end", end.isoformat(), "--config", str(config), "--data-dir", str(data_dir)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if status != 0:
            raise RuntimeError(f"backfill failed: {err.read().decode()[-2000:]}")
        text = out.read().decode()
    received = re.search(r"readings: ([\d,]+) received", text)
    return wall, usage.ru_maxrss / 1024, int(received.group(1).replace(",", "")) if received else 0


async def fetch_tables(settings, windows) -> tuple[list[pa.Table], float]:
    concurrency = settings.api.concurrency * settings.ingest.parallel_tasks
    client = ingest.make_client(settings, concurrency=concurrency)
    async with client:
        await client.login()
        t0 = time.perf_counter()
        tables = await asyncio.gather(
            *(client.readings(w.mac, w.start_ms, w.end_ms) for w in windows)
        )
        return list(tables), time.perf_counter() - t0


async def fetch_bodies(settings, windows) -> tuple[list[bytes], float]:
    concurrency = settings.api.concurrency * settings.ingest.parallel_tasks
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=settings.api.url, limits=limits, timeout=120) as http:
        token = (
            await http.get("authentication/g", params={"username": "demo", "password": "demo"})
        ).text
        sem = asyncio.Semaphore(concurrency)

        async def one(w) -> bytes:
            params = {"mac": w.mac, "begin": w.start_ms, "end": w.end_ms}
            params |= {"limit": settings.api.limit, "offsetData": "false"}
            headers = {"Authorization": f"Bearer {token}", "X-AIR-Token": str(w.mac)}
            async with sem:
                resp = await http.get("sensordata/byrange", params=params, headers=headers)
            return resp.content

        t0 = time.perf_counter()
        bodies = await asyncio.gather(*(one(w) for w in windows))
        return list(bodies), time.perf_counter() - t0


def staged(settings, macs: list[int], end: dt.date, work: Path) -> dict[str, float]:
    """One staged pass over the fleet, one MAC at a time: seconds per stage and reference."""
    t: dict[str, float] = dict.fromkeys(
        ("fetch", "fetch_ref", "decode", "json_ref", "write", "write_ref", "readings"), 0.0
    )
    shutil.rmtree(work, ignore_errors=True)
    ref_dir = work / "bare"
    ref_dir.mkdir(parents=True)
    windows = ingest.backfill_windows(settings, START, end, macs, {})
    for mac in macs:
        ws = [w for w in windows if w.mac == mac]
        # untimed: the simulator generates (and caches) this MAC's days, so both timed fetches
        # below measure the same thing: HTTP transfer, the server's encoding, the client
        asyncio.run(fetch_bodies(settings, ws))
        tables, t_fetch = asyncio.run(fetch_tables(settings, ws))
        bodies, t_raw = asyncio.run(fetch_bodies(settings, ws))
        t0 = time.perf_counter()
        for b in bodies:
            orjson.loads(b)
        t_json = time.perf_counter() - t0
        t["fetch"] += t_fetch
        t["fetch_ref"] += t_raw + t_json
        t["json_ref"] += t_json
        t0 = time.perf_counter()
        for b in bodies:
            decode_readings(b)
        t["decode"] += time.perf_counter() - t0
        del bodies
        t0 = time.perf_counter()
        for table in tables:
            store_readings(settings, table)
        t["write"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for i, table in enumerate(tables):
            pq.write_table(table, ref_dir / f"{mac}-{i}.parquet", **storage.PARQUET_OPTIONS)
        t["write_ref"] += time.perf_counter() - t0
        t["readings"] += sum(x.num_rows for x in tables)
    shutil.rmtree(ref_dir)

    con = warehouse.connect(settings)
    try:
        warehouse.build_schema(con, settings)
        t0 = time.perf_counter()
        summary = warehouse.rebuild(con, settings)
        t["rebuild"] = time.perf_counter() - t0
    finally:
        con.close()
    python_steps = set(warehouse.PYTHON_STEPS)
    t["analytics"] = sum(v for k, v in summary["timings_s"].items() if k in python_steps)
    t["sql"] = t["rebuild"] - t["analytics"]
    t["lake_readings"] = summary["readings"]
    t0 = time.perf_counter()
    arrays = read_sorted(settings)
    numpy_trapezoid(*arrays)
    t["sql_ref"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    numpy_trapezoid(*arrays)
    t["sql_ref_memory"] = time.perf_counter() - t0
    return t


def run_size(n: int, args, base: Path) -> dict:
    macs = fleet_macs(n)
    end = START + dt.timedelta(days=args.days - 1)
    cfg = base / f"fleet-{n}.toml"
    write_config(cfg, "http://127.0.0.1:1/rest/", macs)  # the server's copy: fleet size only
    with simulator_process(cfg) as url:
        write_config(cfg, url, macs)
        os.environ.update(CREDENTIALS)
        settings = load_settings(cfg, data_dir=base / f"staged-{n}")
        e2e = [end_to_end(cfg, base / f"e2e-{n}", end) for _ in range(args.repeat)]
        passes = [
            staged(settings, macs, end, base / f"staged-{n}")
            for _ in range(0 if args.e2e_only else args.repeat)
        ]
    shutil.rmtree(base / f"e2e-{n}", ignore_errors=True)
    shutil.rmtree(base / f"staged-{n}", ignore_errors=True)
    med = {k: statistics.median(p[k] for p in passes) for k in passes[0]} if passes else {}
    med["wall"] = statistics.median(w for w, _, _ in e2e)
    med["rss_mb"] = max(r for _, r, _ in e2e)
    med["e2e_readings"] = e2e[0][2]
    med["n_bess"] = n
    return med


def report(r: dict) -> None:
    if "readings" not in r:  # --e2e-only
        print(
            f"\n== {r['n_bess']} BESS: end to end `bess-etl backfill`: {r['e2e_readings']:,} "
            f"readings, {r['wall']:.2f} s wall, {r['e2e_readings'] / r['wall']:,.0f} readings/s, "
            f"peak RSS {r['rss_mb']:.0f} MB"
        )
        return
    n = r["readings"]
    rows = [
        ("fetch+decode (HTTP)", r["fetch"], r["fetch_ref"], "raw GET + orjson"),
        ("  decode only", r["decode"], r["json_ref"], "orjson.loads"),
        ("lake write", r["write"], r["write_ref"], "pq.write_table"),
        ("SQL rebuild", r["sql"], r["sql_ref"], "numpy read+sort+trapz"),
        ("analytics (Python steps)", r["analytics"], None, ""),
    ]
    print(f"\n== {r['n_bess']} BESS: {n:,.0f} readings received, {r['lake_readings']:,.0f} in lake")
    head = f"{'stage':<26}{'s':>8}{'readings/s':>13}{'ref s':>8}{'ref/s':>13}{'ratio':>7}"
    print(head + "  reference")
    for name, s, ref, label in rows:
        if ref is None:
            rate = f"{n / s:>13,.0f}" if s else f"{'-':>13}"
            print(f"{name:<26}{s:>8.2f}{rate}")
            continue
        line = f"{name:<26}{s:>8.2f}{n / s:>13,.0f}{ref:>8.2f}{n / ref:>13,.0f}{s / ref:>7.2f}"
        print(f"{line}  {label}")
    print(f"numpy trapezoid in memory: {r['sql_ref_memory']:.3f} s")
    print(
        f"end to end `bess-etl backfill`: {r['wall']:.2f} s wall, {n / r['wall']:,.0f} readings/s, "
        f"peak RSS {r['rss_mb']:.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bess", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a new temp directory)")
    ap.add_argument("--e2e-only", action="store_true", help="skip the staged pass")
    args = ap.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="bess-bench-pipeline-"))
    base.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    print(f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}; {now:%F %H:%M} UTC; dir {base}")
    try:
        for n in args.bess:
            report(run_size(n, args, base))
            print(f"load average now: {os.getloadavg()[0]:.1f}")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process: peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
