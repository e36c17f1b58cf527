"""Make tests/data/blast_lite/sony_reference.csv.gz with BLAST-Lite itself (run by hand).

BLAST-Lite pins numpy < 2, so it runs in an environment of its own, outside the project:

    uv run --no-project --isolated --with blast-lite==1.1.1 --with 'numpy<2' --with pandas \\
        python bench/aging_sony_reference.py

It rebuilds profiles P1, P5 (730 days) and H6 (120 days) as tests/test_aging.py does (see
tests/data/blast_lite/README.md) and steps `Lfp_Gr_SonyMurata3Ah_Battery` one day at a time
(145 samples, consecutive days sharing their midnight sample).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
from blast.models import Lfp_Gr_SonyMurata3Ah_Battery

OUT = Path(__file__).resolve().parents[1] / "tests/data/blast_lite/sony_reference.csv.gz"
KNOTS = {
    "P1": (((0, 8, 15, 18, 23, 24), (0.2, 0.2, 0.95, 0.95, 0.2, 0.2)), 25.0),
    "P5": (((0, 10, 12, 16, 24), (1.0, 1.0, 0.8, 1.0, 1.0)), 25.0),
    # six 0.2 <-> 0.8 cycles a day (3.6 EFC/day, 0.3 C): the model's break-in term runs
    "H6": ((tuple(range(0, 25, 2)), (0.2, 0.8) * 6 + (0.2,)), 30.0),
}
DAYS_OF = {"P1": 730, "P5": 730, "H6": 120}


def profile(name: str, days: int):
    t = np.arange(days * 144 + 1) * 600
    hour = (t % 86_400) / 3600.0
    (knot_h, knot_soc), temp_mean_c = KNOTS[name]
    soc = np.interp(hour, knot_h, knot_soc)
    if name == "P5":
        soc[(t // 86_400) % 7 != 6] = 1.0
    temp_c = temp_mean_c + 3 * np.sin(2 * np.pi * (hour - 9) / 24)
    return t.astype(float), np.round(soc, 6), np.round(temp_c, 3)


def main() -> None:
    lines = ["profile,day,efc,q,q_cal,q_cyc,r"]
    for name in KNOTS:
        days = DAYS_OF[name]
        t, soc, temp = profile(name, days)
        cell = Lfp_Gr_SonyMurata3Ah_Battery()
        for d in range(days):
            s = slice(144 * d, 144 * (d + 1) + 1)
            cell.update_battery_state(t[s], soc[s], temp[s])
        st, out = cell.states, cell.outputs
        q_cyc = 1 - st["qLoss_LLI_EFC"] - st["qLoss_BreakIn_EFC"]
        for d in range(days):
            i = d + 1  # index 0 is the new cell
            lines.append(
                f"{name},{d},{cell.stressors['efc'][i]:.12g},{out['q'][i]:.12g},"
                f"{out['q_LLI_t'][i]:.12g},{q_cyc[i]:.12g},{out['r'][i]:.12g}"
            )
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    print(f"wrote {OUT} ({len(lines) - 1} rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
