"""Capacity history against the simulator's ground truth (issue 5): a 120-day backfill of the
10 kW unit through the real pipeline (the CLI, the in-process simulator over the API, the lake,
the warehouse), then capacity_history against `truth_table`:

- estimated capacity within 2 % of the true capacity on every day with a measurement;
- the fitted fade rate (trailing Theil–Sen, %/year) within 20 % of the true one (the slope of
  the true capacity over the same window).

The backfill is done once for the module; it is the cost of this file (~60 s on a 2-core box,
almost all of it the pull of ~3 M readings; the analytics take ~1 s of it). Run with -s to see
the figures.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner

from bess_etl import warehouse
from bess_etl.cli import cli
from bess_etl.config import load_settings
from bess_etl.simulator import plan_table, truth_table

MAC = 303721691  # BESS 10KW: nameplate 200 Ah, 10.2 kWh
START, END = dt.date(2026, 6, 1), dt.date(2026, 9, 28)  # 120 site-local days
CAPACITY_TOLERANCE = 0.02
FADE_TOLERANCE = 0.20

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    base = tmp_path_factory.mktemp("truth")
    cfg = base / "bess-etl.toml"
    cfg.write_text("")  # the defaults: the simulator with its data faults, weekly deep cycles
    data_dir = base / "data"
    result = CliRunner().invoke(
        cli,
        [
            "backfill",
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--mac",
            str(MAC),
            "--no-prefect",
            "--config",
            str(cfg),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    settings = load_settings(cfg, data_dir=data_dir, environ={})
    con = warehouse.connect(settings, read_only=True)
    cur = con.execute(
        "select * from capacity_history where mac = $mac order by local_date", {"mac": MAC}
    )
    names = [d[0] for d in cur.description]
    history = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    con.close()
    truth = truth_table(settings, MAC, history[0]["local_date"], history[-1]["local_date"])
    by_day = dict(
        zip(
            truth["date"].to_pylist(),
            zip(truth["capacity_ah"].to_pylist(), truth["capacity_kwh"].to_pylist(), strict=True),
            strict=True,
        )
    )
    return {
        "settings": settings,
        "history": history,
        "truth": by_day,
        "output": result.output,
    }


def test_capacity_within_2_pct_of_truth_on_every_measured_day(backfilled):
    history, truth = backfilled["history"], backfilled["truth"]
    measured = [r for r in history if r["capacity_ah"] is not None]
    plan = plan_table(backfilled["settings"], MAC, START, END)
    deep_days = [
        d
        for d, deep in zip(plan["date"].to_pylist(), plan["deep_cycle"].to_pylist(), strict=True)
        if deep
    ]
    # every weekly deep cycle measures capacity, bar one cut by a data dropout at most
    assert len(measured) >= len(deep_days) - 1 >= 15
    assert {r["local_date"] for r in measured} <= set(deep_days)
    err_ah = np.array([r["capacity_ah"] / truth[r["local_date"]][0] - 1 for r in measured])
    err_kwh = np.array([r["capacity_kwh"] / truth[r["local_date"]][1] - 1 for r in measured])
    print(
        f"\ncapacity_ah vs truth over {len(measured)} measured days: median "
        f"{100 * np.median(err_ah):+.3f} %, max |error| {100 * np.max(np.abs(err_ah)):.3f} %; "
        f"capacity_kwh: median {100 * np.median(err_kwh):+.3f} %, "
        f"max |error| {100 * np.max(np.abs(err_kwh)):.3f} %"
    )
    assert np.max(np.abs(err_ah)) < CAPACITY_TOLERANCE
    assert np.max(np.abs(err_kwh)) < CAPACITY_TOLERANCE
    # the smoothed capacity, every day it exists, is as close
    smooth = [r for r in history if r["capacity_smoothed_ah"] is not None]
    err_smooth = [r["capacity_smoothed_ah"] / truth[r["local_date"]][0] - 1 for r in smooth]
    assert np.max(np.abs(err_smooth)) < CAPACITY_TOLERANCE


def test_fitted_fade_rate_within_20_pct_of_truth(backfilled):
    history, truth = backfilled["history"], backfilled["truth"]
    settings = backfilled["settings"]
    cap = settings.capacity_for(MAC)
    last = history[-1]
    assert last["fade_pct_per_year"] is not None and last["fit_points"] >= 10
    # the true fade over the fit's own window: the trailing fade_window_days to the last day
    window = [d for d in truth if 0 <= (last["local_date"] - d).days < cap.fade_window_days]
    x = np.array([(d - last["local_date"]).days for d in window], dtype=float)
    y = np.array([truth[d][0] for d in window])
    true_fade = -np.polyfit(x, y, 1)[0] * 365.25 / cap.nameplate_ah * 100
    err = last["fade_pct_per_year"] / true_fade - 1
    print(
        f"\nfade: fitted {last['fade_pct_per_year']:.3f} %/year over {last['fit_points']} "
        f"points, true {true_fade:.3f} %/year: error {100 * err:+.2f} %"
    )
    assert abs(err) < FADE_TOLERANCE
    # state of health and the projection follow from the fit
    assert last["soh_pct"] == pytest.approx(100 * last["capacity_smoothed_ah"] / cap.nameplate_ah)
    years_to_eol = (last["soh_pct"] - cap.eol_soh_pct) / last["fade_pct_per_year"]
    expected_eol = last["local_date"] + dt.timedelta(days=round(years_to_eol * 365.25))
    assert abs((last["projected_eol_date"] - expected_eol).days) <= 1


def test_run_summary_shows_capacity_and_soh(backfilled):
    history = backfilled["history"]
    latest = [r for r in history if r["capacity_ah"] is not None][-1]
    line = next(ln for ln in backfilled["output"].splitlines() if ln.strip().startswith(str(MAC)))
    assert f"{latest['capacity_ah']:.2f}" in line
    assert f"{latest['soh_pct']:.1f}" in line
