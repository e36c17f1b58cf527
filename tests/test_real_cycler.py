"""Validation against real battery-cycler data (tests/data/real_cycler, see PROVENANCE.md).

Every file is imported as `bess-etl import` does (read_export + store_readings) into one lake,
the warehouse is built, and for every instrument cycle window [first reading, last reading]:

- energy_between(mac, start, end) must equal the reference trapezoid `ref_*` (the same
  semantics: zero-crossing split, no gap limit, intervals inside the window; the window edges
  are readings, so our edge interpolation cuts nothing) to 1e-9 relative;
- its agreement with the instrument's own counters `instr_*` is reported (median and max
  |relative difference| per file and quantity, over cycles whose instrument value exceeds 1 % of
  the file's largest, as PROVENANCE.md does) and held to bounds a little above the native-rate
  figures there. `uv run pytest tests/test_real_cycler.py -s` prints the table.
"""

from __future__ import annotations

import json
import statistics

import pytest
from conftest import REAL_CYCLER

from bess_etl import warehouse
from bess_etl.importer import read_export
from bess_etl.store import store_readings

QUANTITIES = ("charge_ah", "discharge_ah", "charge_kwh", "discharge_kwh")
EXPECTED = sorted((REAL_CYCLER / "expected").glob("*.json"))
# Bounds on |relative difference| vs the instrument, about 1.5-2x what this data gives (the
# table the last test prints). They are looser than PROVENANCE.md's native-rate column, which
# was computed on the raw exports (records sharing a timestamp kept, each interval booked to the
# cycle of its right-hand record) rather than on these windows of the API-shaped readings: e.g.
# Neware's 2.8 min top-up charge (cycle 1) is 2.6 % under the instrument here, PROVENANCE
# reports 0.31 % native and 10.1 % at 20 s. The medians (0.36 % at most) are in line with its
# "±0.3 % median, ±1 % typical" for ~20 s telemetry.
MAX_MEDIAN_VS_INSTRUMENT = 0.005
MAX_VS_INSTRUMENT = {
    "PredictionDiagnostics_000109_tztest.010": 0.015,
    "arbin_example.csv": 0.0075,
    "maccor_001.txt": 0.0001,
    "neware_uio.csv": 0.015,
    "nw_regular_export_ife_example.csv": 0.05,
}


@pytest.fixture(scope="module")
def cycler(tmp_path_factory):
    """One lake with all five files and the built warehouse; yields (connection, expected)."""
    from bess_etl.config import load_settings

    base = tmp_path_factory.mktemp("real_cycler")
    expected = [json.loads(p.read_text()) for p in EXPECTED]
    cfg = base / "bess-etl.toml"
    max_gap_s = max(e["max_dt_s"] for e in expected) + 1  # no interval is a gap
    cfg.write_text(f"[integration]\nmax_gap_s = {max_gap_s}\n")
    settings = load_settings(cfg, data_dir=base / "data", environ={})
    for e in expected:
        name = e["source_file"].replace(".", "_") + ".csv.gz"
        store_readings(settings, read_export(REAL_CYCLER / "readings" / name))
    con = warehouse.connect(settings)
    warehouse.rebuild(con, settings)
    yield con, expected
    con.close()


def energy_between(con, mac: int, start_ms: int, end_ms: int) -> dict:
    cur = con.execute(
        "select * from energy_between($mac, make_timestamptz($t0 * 1000), "
        "make_timestamptz($t1 * 1000))",
        {"mac": mac, "t0": start_ms, "t1": end_ms},
    )
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchall()[0], strict=True))


def test_every_reading_reached_the_lake(cycler):
    con, expected = cycler
    counts = dict(con.execute("select mac, count(*) from readings group by mac").fetchall())
    assert counts == {e["mac"]: 3 * e["n_readings_per_type"] for e in expected}


def test_energy_between_equals_the_reference_trapezoid(cycler):
    con, expected = cycler
    n = 0
    for e in expected:
        windows = [*e["cycles"], {"start_ms": e["first_ms"], "end_ms": e["last_ms"], **e["total"]}]
        for w in windows:
            got = energy_between(con, e["mac"], w["start_ms"], w["end_ms"])
            for q in QUANTITIES:
                assert got[q] == pytest.approx(w[f"ref_{q}"], rel=1e-9, abs=1e-15), (
                    e["source_file"],
                    w.get("cycle", "total"),
                    q,
                )
                n += 1
    assert n == 4 * (31 + 5)


def agreement(con, e) -> dict[str, tuple[int, float, float]]:
    """Per quantity: (cycles compared, median |rel diff|, max |rel diff|) vs the instrument."""
    got = [energy_between(con, e["mac"], c["start_ms"], c["end_ms"]) for c in e["cycles"]]
    out = {}
    for q in QUANTITIES:
        biggest = max(c[f"instr_{q}"] for c in e["cycles"])
        diffs = [
            abs(g[q] / c[f"instr_{q}"] - 1)
            for g, c in zip(got, e["cycles"], strict=True)
            if c[f"instr_{q}"] > 0.01 * biggest
        ]
        out[q] = (len(diffs), statistics.median(diffs), max(diffs))
    return out


def test_agreement_with_the_instruments_own_counters(cycler):
    con, expected = cycler
    lines = [
        "",
        "energy_between over each cycle vs the instrument's counters (|relative difference|)",
        f"{'file':<40}{'quantity':<15}{'n':>3}{'median %':>11}{'max %':>10}",
    ]
    for e in expected:
        for q, (n, median, worst) in agreement(con, e).items():
            lines.append(
                f"{e['source_file']:<40}{q:<15}{n:>3}{100 * median:>11.4f}{100 * worst:>10.4f}"
            )
            assert median < MAX_MEDIAN_VS_INSTRUMENT, (e["source_file"], q, median)
            assert worst < MAX_VS_INSTRUMENT[e["source_file"]], (e["source_file"], q, worst)
    print("\n".join(lines))
