"""The aging models by hand: speed over 10 years, and the resistance/capacity-loss ratio.

    uv run python bench/bench_aging.py

0. max |Δ| against BLAST-Lite 1.1.1's own trajectories (tests/data/blast_lite).
1. Time of `aging.run_profile` for each model on 10 years of 300 s samples (daily chunks of
   289 samples), profile P1 (tests/data/blast_lite/README.md) at 25 °C: best of 5, wall and
   CPU time.
2. (r − 1)/(1 − q) of the Sony-Murata LFP model (the only one of the two with a resistance
   model) on the four reference profiles at 1, 3, 6 and 10 years: where `R_PER_Q_LOSS`, the
   250 Ah model's assumed ratio, comes from.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_aging import SONY, reference_profile, reference_trajectory

from bess_etl import aging


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("max |delta| against BLAST-Lite 1.1.1 (q, q_cal, q_cyc, r where it has one):")
    for name in ("P1", "P2", "P4", "P5"):
        ref = reference_trajectory(name)
        t, soc, temp = reference_profile(name)
        got = aging.run_profile("lfp_250ah_prismatic", t, soc, temp, samples_per_day=144)
        pairs = (("q", "q"), ("q_cal", "q_t"), ("q_cyc", "q_EFC"))
        dev = "  ".join(f"{a} {abs(got[a] - ref[b]).max():.1e}" for a, b in pairs)
        print(f"  lfp_250ah_prismatic {name}: {dev}")
    for name, ref in SONY.items():
        t, soc, temp = reference_profile(name, days=len(ref["day"]))
        got = aging.run_profile("lfp_sony_3ah", t, soc, temp, samples_per_day=144)
        cols = ("q", "q_cal", "q_cyc", "r")
        dev = "  ".join(f"{c} {abs(got[c] - ref[c]).max():.1e}" for c in cols)
        print(f"  lfp_sony_3ah {name} ({len(ref['day'])} days): {dev}")
    t, soc, temp = reference_profile("P1", days=3650, step_s=300)
    print(f"10 years at 300 s: {len(t):,} samples, 3650 daily chunks")
    for model in aging.MODEL_NAMES:
        wall, cpu = [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            out = aging.run_profile(model, t, soc, temp, samples_per_day=288)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(
            f"  {model:22s} wall {min(wall):.3f} s, CPU {min(cpu):.3f} s (best of 5)"
            f"  q at 10 y {out['q'][-1]:.4f}"
        )

    print("  the same one day at a time through step_chunk (how a caller holding state steps):")
    for model in aging.MODEL_NAMES:
        params = aging.params_for(model)
        t0, c0 = time.perf_counter(), time.process_time()
        state = aging.new_state(params)
        for d in range(3650):
            s = slice(288 * d, 288 * (d + 1) + 1)
            state = aging.step_chunk(params, state, t[s], soc[s], temp[s])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"  {model:22s} wall {wall:.3f} s, CPU {cpu:.3f} s  q at 10 y {state.q:.4f}")

    print("\nSony model, (r - 1)/(1 - q) at 1, 3, 6, 10 years:")
    for name in ("P1", "P2", "P4", "P5"):
        t, soc, temp = reference_profile(name, days=3650)
        out = aging.run_profile("lfp_sony_3ah", t, soc, temp, samples_per_day=144)
        ratio = [(out["r"][d] - 1) / (1 - out["q"][d]) for d in (364, 1094, 2189, 3649)]
        q10, r10 = out["q"][-1], out["r"][-1]
        ratios = "  ".join(f"{x:.2f}" for x in ratio)
        print(f"  {name}: {ratios}   (q {q10:.3f}, r {r10:.3f})")


if __name__ == "__main__":
    main()
