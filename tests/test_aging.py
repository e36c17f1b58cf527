"""The aging models against BLAST-Lite 1.1.1's own trajectories, hand-checkable values from the
model's equations, and `bess-etl simulator aging` through the entry point."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from bess_etl import aging

DATA = Path(__file__).parent / "data" / "blast_lite"
DAYS = 2190  # 6 × 365

# profile: (SoC knots (hours, SoC) on cycling days, mean battery temperature °C)
DAILY_HOURS = (0, 8, 15, 18, 23, 24)
PROFILES = {
    "P1": ((DAILY_HOURS, (0.2, 0.2, 0.95, 0.95, 0.2, 0.2)), 25.0),
    "P2": ((DAILY_HOURS, (0.2, 0.2, 0.8, 0.8, 0.2, 0.2)), 25.0),
    "P4": ((DAILY_HOURS, (0.45, 0.45, 0.7, 0.7, 0.45, 0.45)), 20.0),
    "P5": (((0, 10, 12, 16, 24), (1.0, 1.0, 0.8, 1.0, 1.0)), 25.0),  # weekly, else idle at 1
    "H6": ((tuple(range(0, 25, 2)), (0.2, 0.8) * 6 + (0.2,)), 30.0),  # 3.6 EFC/day: break-in
}


def reference_profile(name: str, days: int = DAYS, step_s: int = 600):
    """The reference profiles, rebuilt from their definition (data/blast_lite/README.md)."""
    t = np.arange(days * 86_400 // step_s + 1) * step_s
    hour = (t % 86_400) / 3600.0
    (knot_h, knot_soc), temp_mean_c = PROFILES[name]
    soc = np.interp(hour, knot_h, knot_soc)
    if name == "P5":
        soc[(t // 86_400) % 7 != 6] = 1.0
    temp_c = temp_mean_c + 3 * np.sin(2 * np.pi * (hour - 9) / 24)
    return t.astype(float), np.round(soc, 6), np.round(temp_c, 3)


def reference_trajectory(name: str) -> dict[str, np.ndarray]:
    with gzip.open(DATA / f"{name}_trajectory.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
        values = np.loadtxt(fh, delimiter=",", ndmin=2)
    return dict(zip(header, values.T, strict=True))


# ---------------------------------------------------------------------- against BLAST-Lite


@pytest.mark.parametrize("name", ["P1", "P2", "P4", "P5"])
def test_default_model_reproduces_blast_lite(name):
    ref = reference_trajectory(name)
    t, soc, temp = reference_profile(name)
    got = aging.run_profile("lfp_250ah_prismatic", t, soc, temp, samples_per_day=144)
    assert len(got["q"]) == DAYS
    np.testing.assert_array_equal(got["day"], ref["day"])
    np.testing.assert_allclose(got["t_days"], ref["day"] + 1, rtol=0, atol=1e-12)
    # the references are printed to 10 significant digits: 5e-11 is their rounding
    assert np.abs(got["q"] - ref["q"]).max() < 1e-9
    assert np.abs(got["q_cal"] - ref["q_t"]).max() < 1e-9
    assert np.abs(got["q_cyc"] - ref["q_EFC"]).max() < 1e-9
    np.testing.assert_allclose(got["efc"], ref["efc"], rtol=1e-9, atol=1e-9)
    # the model's invariant, and the product's resistance assumption
    np.testing.assert_allclose(got["q"], got["q_cal"] + got["q_cyc"] - 1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got["r"] - 1, aging.R_PER_Q_LOSS * (1 - got["q"]), atol=1e-15)


@pytest.mark.parametrize("model", aging.MODEL_NAMES)
def test_step_chunk_is_run_profile_one_day_at_a_time(model):
    t, soc, temp = reference_profile("P1", days=20)
    params = aging.params_for(model)
    state = aging.new_state(params)
    assert (state.q, state.r, state.efc, state.t_days) == (1, 1, 0, 0)
    for d in range(20):
        s = slice(144 * d, 144 * (d + 1) + 1)
        state = aging.step_chunk(params, state, t[s], soc[s], temp[s])
    whole = aging.run_profile(model, t, soc, temp, 144)
    assert state.t_days == pytest.approx(20, abs=1e-12)
    for col in ("q", "q_cal", "q_cyc", "r"):
        assert getattr(state, col) == pytest.approx(whole[col][-1], abs=1e-15)
    assert state.efc == pytest.approx(whole["efc"][-1], abs=1e-12)


def test_blocks_of_days_change_nothing(monkeypatch):
    t, soc, temp = reference_profile("P5", days=30)
    whole = aging.run_profile("lfp_sony_3ah", t, soc, temp, 144)
    monkeypatch.setattr(aging, "BLOCK_SAMPLES", 7 * 145)  # blocks of 7 days
    blocks = aging.run_profile("lfp_sony_3ah", t, soc, temp, 144)
    for col in aging.OUTPUT_COLUMNS:
        np.testing.assert_array_equal(blocks[col], whole[col])


def test_trailing_part_day_is_a_short_last_chunk():
    t, soc, temp = reference_profile("P1", days=3)
    got = aging.run_profile("lfp_250ah_prismatic", t[:-72], soc[:-72], temp[:-72], 144)
    assert got["t_days"].tolist() == pytest.approx([1, 2, 2.5], abs=1e-12)


# ---------------------------------------------------------------------- hand-checkable values


def test_anode_potential_sample_values():
    ua = aging.anode_potential_v(np.array([0.2, 0.5, 0.95, 1.0]))
    np.testing.assert_allclose(ua, [0.1805, 0.1233, 0.0871, 0.0864], atol=5e-5)


@pytest.mark.parametrize(
    "soc, temp_c, k_cal",
    [(0.2, 25, 2.50e-4), (0.5, 25, 4.95e-4), (0.95, 25, 7.62e-4), (0.95, 35, 1.39e-3)],
)
def test_calendar_rate_worked_values(soc, temp_c, k_cal):
    params = aging.params_for("lfp_250ah_prismatic")
    st = aging.chunk_stressors(params, [0, 43_200, 86_400], [soc] * 3, [temp_c] * 3, q=1.0)
    assert st.k_cal == pytest.approx(k_cal, rel=3e-3)
    # by hand: p1·exp(p2/T)·exp(p3·U_a/T)
    temp_k = temp_c + 273.15
    ua = float(aging.anode_potential_v(np.array(soc)))
    assert st.k_cal == pytest.approx(8.37e4 * math.exp((-5.21e3 - 3.56e3 * ua) / temp_k), rel=1e-12)


@pytest.mark.parametrize("temp_c, factor", [(10, 2286), (25, 1549), (35, 1220)])
def test_cycling_temperature_factor(temp_c, factor):
    # a full 0 → 1 → 0 cycle in a day: DoD 1; k_cyc = (p4 + p5 + p6·C)·exp(p7/T)
    params = aging.params_for("lfp_250ah_prismatic")
    st = aging.chunk_stressors(params, [0, 43_200, 86_400], [0, 1, 0], [temp_c] * 3, q=1.0)
    assert st.dod == 1 and st.delta_efc == 1
    # BLAST-Lite's mean C: per-interval rates (1/12 h⁻¹) integrated over t[1:] (the second
    # interval only, half a day), divided by the whole day
    assert st.c_rate == pytest.approx((1 / 12) * 0.5, rel=1e-12)
    pre = 4.38e-8 + 1.55e-8 + 1.68e-7 * st.c_rate
    assert st.k_cyc / pre == pytest.approx(factor, rel=5e-4)


def test_calendar_loss_follows_t_to_the_0526_on_a_constant_profile():
    days = 3650
    t = np.arange(days + 1) * 86_400.0
    soc, temp_c = np.full(days + 1, 0.5), np.full(days + 1, 25.0)
    got = aging.run_profile("lfp_250ah_prismatic", t, soc, temp_c, samples_per_day=1)
    loss = 1 - got["q_cal"]
    k_cal = 8.37e4 * math.exp((-5.21e3 - 3.56e3 * float(aging.anode_potential_v(0.5))) / 298.15)
    closed_form = k_cal * got["t_days"] ** 0.526
    # daily state-form steps run slightly ahead of the closed form, less so as t grows
    assert loss[0] == pytest.approx(closed_form[0], rel=1e-12)
    assert loss[364] == pytest.approx(closed_form[364], rel=3e-3)
    assert loss[-1] == pytest.approx(closed_form[-1], rel=6e-4)
    slope = np.polyfit(np.log(got["t_days"][29:]), np.log(loss[29:]), 1)[0]
    assert slope == pytest.approx(0.526, abs=0.003)
    assert np.all(got["q_cyc"] == 1) and np.all(got["efc"] == 0)


# ---------------------------------------------------------------------- the two scales


@pytest.mark.parametrize("model", aging.MODEL_NAMES)
def test_calendar_scale_multiplies_calendar_loss(model):
    t, soc, temp = reference_profile("P2", days=365)
    base = aging.run_profile(model, t, soc, temp, 144)
    twice = aging.run_profile(model, t, soc, temp, 144, calendar_scale=2.0)
    # calendar rates do not depend on q, so the whole calendar trajectory doubles
    np.testing.assert_allclose(1 - twice["q_cal"], 2 * (1 - base["q_cal"]), rtol=1e-9)
    assert np.all(twice["q"] < base["q"])


@pytest.mark.parametrize("model", aging.MODEL_NAMES)
def test_cycle_scale_multiplies_cycling_loss_at_equal_stressors(model):
    t, soc, temp = reference_profile("P1", days=1)
    grown = {}
    for scale in (1.0, 3.0):
        params = aging.params_for(model, cycle_scale=scale)
        state = aging.new_state(params)
        st = aging.chunk_stressors(params, t, soc, temp, q=1.0)
        for _ in range(200):  # the same day's stressors again and again
            state = aging.advance(params, state, st)
        grown[scale] = state
    assert grown[3.0].loss_cyc == pytest.approx(3 * grown[1.0].loss_cyc, rel=1e-9)
    assert grown[3.0].loss_cal == grown[1.0].loss_cal
    assert grown[1.0].loss_cyc > 0


def test_bad_model_and_scales_are_refused():
    with pytest.raises(ValueError, match="unknown aging model 'nmc'"):
        aging.params_for("nmc")
    with pytest.raises(ValueError, match="calendar_scale"):
        aging.params_for("lfp_250ah_prismatic", calendar_scale=-1)
    with pytest.raises(ValueError, match="cycle_scale"):
        aging.params_for("lfp_sony_3ah", cycle_scale=float("nan"))


def sony_reference() -> dict[str, dict[str, np.ndarray]]:
    with gzip.open(DATA / "sony_reference.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
        rows = [line.strip().split(",") for line in fh]
    out = {}
    for name in sorted({r[0] for r in rows}):
        mine = np.array([[float(v) for v in r[1:]] for r in rows if r[0] == name])
        out[name] = dict(zip(header[1:], mine.T, strict=True))
    return out


SONY = sony_reference()


@pytest.mark.parametrize("name", ["P1", "P5", "H6"])
def test_sony_model_reproduces_blast_lite(name):
    ref = SONY[name]
    days = len(ref["day"])
    t, soc, temp = reference_profile(name, days=days)
    got = aging.run_profile("lfp_sony_3ah", t, soc, temp, samples_per_day=144)
    # printed to 12 significant digits
    for col in ("q", "q_cal", "q_cyc", "r"):
        assert np.abs(got[col] - ref[col]).max() < 1e-10, col
    np.testing.assert_allclose(got["efc"], ref["efc"], rtol=1e-11, atol=1e-11)
    if name == "H6":  # 3.6 EFC/day: the break-in term ran
        assert got["q_cyc"][-1] < 0.97


@pytest.mark.parametrize("name", ["P1", "P5"])
def test_sony_resistance_grows(name):
    t, soc, temp = reference_profile(name, days=365)
    got = aging.run_profile("lfp_sony_3ah", t, soc, temp, samples_per_day=144)
    assert np.all(np.diff(got["r"]) > 0)
    # calendar growth by hand on an idle day at SoC 1, 25 °C mean: k_ref·k_T·k_SoC per second;
    # P5's first day: k_SoC = C·(1 − 0.5)³ + D, k_T averaged over the ±3 °C swing
    hours = np.arange(145) * 600 / 3600
    temp_k = 25 + 3 * np.sin(2 * np.pi * (hours - 9) / 24) + 273.15
    k_t = np.exp(-71827 / 8.3144 * (1 / temp_k - 1 / 298.15))
    k_t_mean = float((k_t[1:] + k_t[:-1]).sum() / 2 / 144)
    if name == "P5":
        day0 = 3.4194e-10 * k_t_mean * (-3.3903 * 0.5**3 + 1.5604) * 86_400
        assert got["r"][0] - 1 == pytest.approx(day0, rel=1e-5)
    else:  # cycling adds growth: (A·C + B)·(C_r·(DoD − 0.5)³ + D_r) per 100 EFC
        assert got["r"][0] - 1 > 1.5e-5 * k_t_mean


def test_sony_calendar_loss_stops_when_cold_not_nan():
    # Two years at 45 °C, then a year at −10 °C: the cold day's sigmoid amplitude q1 (0.084) is
    # below the loss already reached (0.13), where BLAST-Lite's state form takes the log of a
    # negative number. Here the calendar loss stops growing instead.
    days = 3 * 365
    t = np.arange(days + 1) * 86_400.0
    temp = np.where(np.arange(days + 1) < 730, 45.0, -10.0)
    got = aging.run_profile("lfp_sony_3ah", t, np.ones(days + 1), temp, samples_per_day=1)
    assert np.isfinite(got["q"]).all() and np.isfinite(got["r"]).all()
    assert 1 - got["q_cal"][729] > 0.13
    assert np.all(got["q_cal"][730:] == got["q_cal"][729])
    assert np.all(np.diff(got["r"][730:]) > 0)  # resistance still grows, slowly


# ---------------------------------------------------------------------- the command


def _write_profile(path: Path, t, soc, temp, header="t_s,soc,temp_c") -> Path:
    lines = [header] + [f"{a:.0f},{b:.6f},{c:.3f}" for a, b, c in zip(t, soc, temp, strict=True)]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _read_csv(text: str) -> dict[str, np.ndarray]:
    lines = text.strip().splitlines()
    header = lines[0].split(",")
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    return dict(zip(header, values.T, strict=True))


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_cli_round_trip(tmp_path, capsys, suffix):
    from bess_etl.cli import main

    t, soc, temp = reference_profile("P1", days=30)
    path = _write_profile(tmp_path / f"p1{suffix}", t, soc, temp)
    assert main(["simulator", "aging", "--profile", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "day,t_days,efc,q,q_cal,q_cyc,r"
    got = _read_csv(out)
    ref = reference_trajectory("P1")
    assert got["day"].tolist() == list(range(30))
    assert got["t_days"].tolist() == list(range(1, 31))
    assert np.abs(got["q"] - ref["q"][:30]).max() < 1e-9
    assert np.abs(got["q_cal"] - ref["q_t"][:30]).max() < 1e-9
    np.testing.assert_allclose(got["efc"], ref["efc"][:30], rtol=1e-9)


def test_cli_model_and_scales(tmp_path, capsys):
    from bess_etl.cli import main

    t, soc, temp = reference_profile("P5", days=40)
    path = _write_profile(tmp_path / "p5.csv", t, soc, temp)
    argv = ["simulator", "aging", "--profile", str(path), "--model", "lfp_sony_3ah"]
    assert main(argv) == 0
    base = _read_csv(capsys.readouterr().out)
    assert np.abs(base["q"] - SONY["P5"]["q"][:40]).max() < 1e-9
    assert np.abs(base["r"] - SONY["P5"]["r"][:40]).max() < 1e-9
    assert main([*argv, "--calendar-scale", "2"]) == 0
    twice = _read_csv(capsys.readouterr().out)
    np.testing.assert_allclose(1 - twice["q_cal"], 2 * (1 - base["q_cal"]), rtol=1e-8)


def _bad(tmp_path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "cannot read profile"),
        ("nocol.csv", "t_s,soc\n0,0.5\n600,0.5\n", "missing column(s) temp_c"),
        ("text.csv", "t_s,soc,temp_c\n0,0.5,25\n600,half,25\n", "line 3: soc 'half'"),
        ("nan.csv", "t_s,soc,temp_c\n0,0.5,25\n600,0.5,nan\n", "line 3: temp_c is nan"),
        ("short.csv", "t_s,soc,temp_c\n0,0.5,25\n\n600,0.5\n", "line 4: temp_c is empty"),
        ("one.csv", "t_s,soc,temp_c\n0,0.5,25\n", "at least two samples"),
        ("pct.csv", "t_s,soc,temp_c\n0,50,25\n600,50,25\n", "soc must be a fraction"),
        ("kelvin.csv", "t_s,soc,temp_c\n0,0.5,298\n600,0.5,298\n", "temp_c must be °C"),
        ("irregular.csv", "t_s,soc,temp_c\n0,0.5,25\n600,0.5,25\n900,0.5,25\n", "regular"),
        ("backwards.csv", "t_s,soc,temp_c\n600,0.5,25\n0,0.5,25\n", "regular"),
        ("seven.csv", "t_s,soc,temp_c\n0,0.5,25\n7,0.5,25\n", "does not divide a day"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "cannot read profile"),
    ],
)
def test_cli_bad_profile(tmp_path, capsys, name, content, message):
    from bess_etl.cli import main

    path = tmp_path / name if content is None else _bad(tmp_path, name, content)
    assert main(["simulator", "aging", "--profile", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert "unexpected" not in err


def test_cli_bad_model(tmp_path, capsys):
    from bess_etl.cli import main

    t, soc, temp = reference_profile("P1", days=1)
    path = _write_profile(tmp_path / "p.csv", t, soc, temp)
    assert main(["simulator", "aging", "--profile", str(path), "--model", "nmc"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "unknown aging model 'nmc'" in captured.err
    assert main(["simulator", "aging", "--profile", str(path), "--cycle-scale", "-1"]) == 2
