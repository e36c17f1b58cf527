"""`bess-etl report`: one self-contained HTML page whose plotly figures hold the warehouse's own
numbers (read back from the page's JSON)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bess_etl import pipeline, warehouse
from bess_etl.analytics.stress import DOD_COLUMNS
from bess_etl.cli import main
from bess_etl.config import load_settings
from bess_etl.simulator import Simulator
from bess_etl.store import store_readings
from bess_etl.timeutil import local_midnight_ms

MAC = 303721691
FIRST, LAST = dt.date(2026, 3, 1), dt.date(2026, 3, 16)
CONFIG = "[simulator]\ndeep_cycle_every_days = 2\n"  # a capacity measurement every other day


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """16 simulated days of the 10 kW unit in the lake and the warehouse (built once: ~4 s)."""
    base = tmp_path_factory.mktemp("report")
    (base / "bess-etl.toml").write_text(CONFIG)
    settings = load_settings(base / "bess-etl.toml", data_dir=base / "data", environ={})
    tz = settings.tz
    begin = local_midnight_ms(FIRST, tz)
    end = local_midnight_ms(LAST + dt.timedelta(days=1), tz) - 1
    store_readings(settings, Simulator(settings).table(MAC, begin, end))
    with pipeline.connection(settings) as con:
        warehouse.rebuild(con, settings)
    return settings


def plotly_figures(page: str) -> list[tuple[list, dict]]:
    """(data, layout) of every Plotly.newPlot(div, data, layout, config) call in the page."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", page):
        data, k = decoder.raw_decode(page, m.end())
        k = re.compile(r"\s*,\s*").match(page, k).end()
        layout, _ = decoder.raw_decode(page, k)
        out.append((data, layout))
    return out


def _query(settings, sql: str, params: dict | None = None) -> list[tuple]:
    con = warehouse.connect(settings, read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def _run(settings, capsys, *args: str) -> tuple[int, str]:
    """`bess-etl report ...` through the console entry point: (exit status, output)."""
    capsys.readouterr()
    code = main(
        [
            "report",
            "--mac",
            str(MAC),
            "--config",
            str(settings.config_path),
            "--data-dir",
            str(settings.data_dir),
            *args,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_report_holds_the_warehouse_series(built, tmp_path, capsys):
    out = tmp_path / "out" / "report.html"
    code, output = _run(built, capsys, "--out", str(out))
    assert code == 0, output
    assert output.strip() == f"wrote {out}"
    page = out.read_text()
    # self-contained: plotly.js inline, no script or stylesheet from the network
    assert "plotly.js v" in page and len(page) > 3_000_000
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"http", page)

    figs = plotly_figures(page)
    assert len(figs) == 5
    traces = {t["name"]: t for data, _ in figs for t in data if "name" in t}
    assert set(traces) == {
        "charge kWh",
        "discharge kWh",
        "cost CAD",
        "cumulative throughput kWh",
        "cumulative equivalent full cycles",
        "capacity estimate Ah",
        "smoothed capacity Ah",
        "fade trend Ah",
        "SoH %",
        "rainflow cycles",
        "voltage V",
        "current A",
        "power kW",
    }

    daily = _query(
        built,
        "select local_date, charge_kwh, discharge_kwh, cost, coverage from daily_energy "
        "where mac = $m order by local_date",
        {"m": MAC},
    )
    dates = [d.isoformat() for d, *_ in daily]
    assert traces["charge kWh"]["x"] == dates
    assert traces["charge kWh"]["y"] == pytest.approx([r[1] for r in daily], rel=1e-12)
    assert traces["discharge kWh"]["y"] == pytest.approx([r[2] for r in daily], rel=1e-12)
    assert traces["cost CAD"]["y"] == pytest.approx([r[3] for r in daily], rel=1e-12)
    cumulative, total = [], 0.0
    for r in daily:
        total += (r[1] + r[2]) / 2
        cumulative.append(total)
    assert traces["cumulative throughput kWh"]["y"] == pytest.approx(cumulative, rel=1e-9)

    history = _query(
        built,
        "select local_date, capacity_ah, capacity_smoothed_ah, soh_pct from capacity_history "
        "where mac = $m order by local_date",
        {"m": MAC},
    )
    measured = [(d.isoformat(), c) for d, c, _, _ in history if c is not None]
    assert len(measured) >= 7
    assert traces["capacity estimate Ah"]["x"] == [d for d, _ in measured]
    assert traces["capacity estimate Ah"]["y"] == pytest.approx([c for _, c in measured])
    assert traces["smoothed capacity Ah"]["y"] == pytest.approx([r[2] for r in history])
    assert traces["SoH %"]["y"] == pytest.approx([r[3] for r in history])
    assert traces["SoH %"]["yaxis"] == "y2"
    # the SoH axis is the capacity axis in % of the 200 Ah nameplate
    cap_layout = figs[2][1]
    ah_range, soh_range = cap_layout["yaxis"]["range"], cap_layout["yaxis2"]["range"]
    assert soh_range == pytest.approx([v / 200 * 100 for v in ah_range])
    trend = traces["fade trend Ah"]
    slope = (trend["y"][-1] - trend["y"][0]) / (
        dt.date.fromisoformat(trend["x"][-1]) - dt.date.fromisoformat(trend["x"][0])
    ).days
    (fade,) = _query(
        built,
        "select fade_pct_per_year from capacity_history where mac = $m "
        "order by local_date desc limit 1",
        {"m": MAC},
    )[0]
    assert slope == pytest.approx(-fade / 100 * 200 / 365.25, rel=1e-9)

    bands = _query(
        built,
        "select " + ", ".join(f"sum({c})" for c in DOD_COLUMNS) + " from daily_stress "
        "where mac = $m",
        {"m": MAC},
    )[0]
    assert traces["rainflow cycles"]["y"] == pytest.approx(list(bands))
    assert traces["rainflow cycles"]["x"][0] == "0–10 %"

    # the traces' day: the latest day covered >= 95 %, all of its readings of each channel
    day = max(d for d, *_, coverage in daily if coverage >= 0.95)
    assert day < LAST + dt.timedelta(days=1)
    assert figs[4][1]["title"]["text"].startswith(day.isoformat())
    counts = dict(
        _query(
            built,
            "select m.channel, count(*) from readings as r join channel_map as m using (type) "
            "where r.mac = $m and timezone($tz, r.ts)::date = $d group by all",
            {"m": MAC, "tz": built.site.timezone, "d": day},
        )
    )
    for name, channel in (
        ("voltage V", "voltage"),
        ("current A", "current"),
        ("power kW", "power"),
    ):
        assert len(traces[name]["y"]) == counts[channel] > 4000  # ~20 s cadence
        assert all(x.startswith(day.isoformat()) for x in traces[name]["x"])


def test_report_day_option_and_errors(built, tmp_path, capsys):
    out = tmp_path / "r.html"
    code, output = _run(built, capsys, "--out", str(out), "--day", "2026-03-05")
    assert code == 0, output
    figs = plotly_figures(out.read_text())
    assert figs[4][1]["title"]["text"].startswith("2026-03-05")
    code, output = _run(built, capsys, "--out", str(tmp_path / "x.html"), "--day", "March 5")
    assert (code, output) == (2, "error: --day 'March 5' is not a date (YYYY-MM-DD)\n")
    code, output = _run(built, capsys, "--out", str(tmp_path / "y.html"), "--day", "2020-01-01")
    assert code == 2 and "no voltage, current or power readings on 2020-01-01" in output
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()
