"""`bess-etl report`: one self-contained HTML page per BESS (plotly, its JavaScript inline, no
network needed to view it), read from the warehouse:

1. daily charge and discharge energy (kWh) and cost;
2. cumulative throughput (kWh) and equivalent full cycles;
3. the capacity history: each day's estimate, the smoothed capacity, the latest fade fit's trend
   line (to the projected end of life), with a state-of-health axis (% of nameplate);
4. the depth-of-discharge histogram (rainflow-counted cycles by band, from daily_stress);
5. one day's voltage, current and kW traces (the original notebook's plot).

Each plot is its own plotly figure; trace names carry units, and the numbers are the warehouse's
own (lists, not re-binned), so a test can read them back from the page.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from bess_etl import sqlfiles, warehouse
from bess_etl.analytics.stress import DOD_COLUMNS
from bess_etl.config import Settings
from bess_etl.errors import UsageError
from bess_etl.timeutil import parse_date

TREND_MAX_YEARS = 10.0  # the trend line stops at the projected end of life, or this far ahead
TREND_NO_EOL_DAYS = 365  # without a projected end of life, the line runs a year ahead
HEIGHT_PX = 420
DEFAULT_DAY_COVERAGE = 0.95  # the traces' default day: the latest this well covered


def _rows(con, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(sqlfiles.load(name), params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _col(rows: list[dict], name: str) -> list:
    return [r[name] for r in rows]


def _parse_day(day: str | dt.date | None) -> dt.date | None:
    if day is None or isinstance(day, dt.date):
        return day
    return parse_date(day, "--day")


def default_day(daily: list[dict]) -> dt.date:
    """The latest day covered at least DEFAULT_DAY_COVERAGE (a whole day), else the latest."""
    whole = [r for r in daily if (r["coverage"] or 0.0) >= DEFAULT_DAY_COVERAGE]
    return (whole or daily)[-1]["local_date"]


def report_data(settings: Settings, mac: int, day: str | dt.date | None = None) -> dict:
    """Everything the page plots, straight from the warehouse (read-only)."""
    wanted = _parse_day(day)
    con = warehouse.connect(settings, read_only=True)
    try:
        kind = con.execute(sqlfiles.load("queries/device_kind"), {"mac": mac}).fetchall()
        if kind and kind[0][0] is False:
            raise UsageError(f"MAC {mac} is not a BESS (it reports no battery channels)")
        daily = _rows(con, "queries/report_daily", {"mac": mac})
        if not daily:
            raise UsageError(f"the warehouse has no days for MAC {mac}")
        stress = _rows(con, "queries/report_stress", {"mac": mac})
        chosen = wanted or default_day(daily)
        readings = _rows(
            con,
            "queries/report_day_readings",
            {"mac": mac, "day": chosen, "timezone": settings.site.timezone},
        )
        if wanted is not None and not readings:
            raise UsageError(f"MAC {mac} has no voltage, current or power readings on {wanted}")
    finally:
        con.close()
    return {"daily": daily, "stress": stress, "day": chosen, "readings": readings}


def energy_figure(daily: list[dict], currency: str) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = _col(daily, "local_date")
    fig.add_bar(x=x, y=_col(daily, "charge_kwh"), name="charge kWh", marker_color="#2a9d8f")
    fig.add_bar(x=x, y=_col(daily, "discharge_kwh"), name="discharge kWh", marker_color="#e76f51")
    fig.add_scatter(
        x=x,
        y=_col(daily, "cost"),
        name=f"cost {currency}",
        mode="lines+markers",
        line={"color": "#264653"},
        secondary_y=True,
    )
    fig.update_layout(title="Daily energy and cost", barmode="group")
    fig.update_yaxes(title_text="kWh", secondary_y=False)
    fig.update_yaxes(title_text=f"cost, {currency} (< 0: earned)", secondary_y=True)
    return fig


def throughput_figure(daily: list[dict]) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = _col(daily, "local_date")
    fig.add_scatter(
        x=x,
        y=_col(daily, "cumulative_throughput_kwh"),
        name="cumulative throughput kWh",
        mode="lines",
        line={"color": "#264653"},
    )
    fig.add_scatter(
        x=x,
        y=_col(daily, "cumulative_efc"),
        name="cumulative equivalent full cycles",
        mode="lines",
        line={"color": "#e9c46a", "dash": "dot"},
        secondary_y=True,
    )
    fig.update_layout(title="Cumulative throughput ((charge + discharge) / 2)")
    fig.update_yaxes(title_text="kWh", secondary_y=False)
    fig.update_yaxes(title_text="equivalent full cycles", secondary_y=True)
    return fig


def trend_line(daily: list[dict], nameplate_ah: float) -> tuple[list, list]:
    """The latest fade fit as a line: through the last fitted day's smoothed capacity with the
    fit's slope, from the start of its window to the projected end of life (or a year ahead
    without one). Empty without a fit."""
    fitted = [
        r
        for r in daily
        if r["fade_pct_per_year"] is not None and r["capacity_smoothed_ah"] is not None
    ]
    if not fitted:
        return [], []
    last = fitted[-1]
    d0, c0 = last["local_date"], last["capacity_smoothed_ah"]
    slope_ah_per_day = -last["fade_pct_per_year"] / 100.0 * nameplate_ah / 365.25
    start = fitted[0]["local_date"]
    eol = last["projected_eol_date"]
    end = eol if eol is not None else d0 + dt.timedelta(days=TREND_NO_EOL_DAYS)
    end = min(end, d0 + dt.timedelta(days=round(TREND_MAX_YEARS * 365.25)))
    xs = [start, d0, end]
    return xs, [c0 + slope_ah_per_day * (x - d0).days for x in xs]


def capacity_figure(daily: list[dict], nameplate_ah: float, eol_soh_pct: float) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = _col(daily, "local_date")
    measured = [r for r in daily if r["capacity_ah"] is not None]
    fig.add_scatter(
        x=_col(measured, "local_date"),
        y=_col(measured, "capacity_ah"),
        name="capacity estimate Ah",
        mode="markers",
        marker={"color": "#e76f51", "size": 8},
    )
    fig.add_scatter(
        x=x,
        y=_col(daily, "capacity_smoothed_ah"),
        name="smoothed capacity Ah",
        mode="lines",
        line={"color": "#264653"},
    )
    tx, ty = trend_line(daily, nameplate_ah)
    if tx:
        fig.add_scatter(
            x=tx, y=ty, name="fade trend Ah", mode="lines", line={"color": "#888", "dash": "dash"}
        )
    eol_ah = eol_soh_pct / 100.0 * nameplate_ah
    values = [v for v in (*_col(measured, "capacity_ah"), *ty) if v is not None]
    values += [v for v in _col(daily, "capacity_smoothed_ah") if v is not None]
    if not values:
        values = [nameplate_ah]
    lo, hi = min(values), max(values)
    if ty and min(ty) <= eol_ah * 1.001:
        lo = min(lo, eol_ah)
        fig.add_hline(
            y=eol_ah,
            line={"color": "#c00", "dash": "dot", "width": 1},
            annotation_text=f"end of life ({eol_soh_pct:g} % SoH)",
        )
    pad = max((hi - lo) * 0.08, nameplate_ah * 0.005)
    y_range = [lo - pad, hi + pad]
    # the SoH axis is the same scale in % of nameplate; its (invisible) trace keeps it drawn
    fig.add_scatter(
        x=x,
        y=_col(daily, "soh_pct"),
        name="SoH %",
        mode="lines",
        line={"width": 0},
        opacity=0,
        showlegend=False,
        secondary_y=True,
    )
    fig.update_yaxes(title_text="capacity, Ah", range=y_range, secondary_y=False)
    fig.update_yaxes(
        title_text="state of health, % of nameplate",
        range=[v * 100.0 / nameplate_ah for v in y_range],
        secondary_y=True,
        showgrid=False,
    )
    latest = next((r for r in reversed(daily) if r["fade_pct_per_year"] is not None), None)
    title = "Capacity history"
    if latest is not None:
        eol = latest["projected_eol_date"]
        title += f": fade {latest['fade_pct_per_year']:.2f} %/year" + (
            f", {eol_soh_pct:g} % SoH projected {eol}" if eol else ""
        )
    fig.update_layout(title=title)
    return fig


def dod_figure(stress: list[dict]) -> go.Figure:
    labels = [f"{10 * k}–{10 * k + 10} %" for k in range(len(DOD_COLUMNS))]
    totals = [sum(r[c] or 0.0 for r in stress) for c in DOD_COLUMNS]
    fig = go.Figure(go.Bar(x=labels, y=totals, name="rainflow cycles", marker_color="#2a9d8f"))
    days = len(stress)
    fig.update_layout(
        title=f"Depth of discharge: rainflow-counted cycles over {days} days",
        xaxis_title="depth of discharge, % of nameplate",
        yaxis_title="cycles (a half cycle counts 0.5)",
    )
    return fig


def day_figure(readings: list[dict], day: dt.date) -> go.Figure:
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    series = (
        ("voltage", "voltage V", "V", "#264653"),
        ("current", "current A", "A (charge +)", "#e76f51"),
        ("power", "power kW", "kW (charge +)", "#2a9d8f"),
    )
    for row, (channel, name, unit, color) in enumerate(series, start=1):
        rows = [r for r in readings if r["channel"] == channel]
        fig.add_scatter(
            x=_col(rows, "local_ts"),
            y=_col(rows, "value"),
            name=name,
            mode="lines",
            line={"color": color, "width": 1},
            row=row,
            col=1,
        )
        fig.update_yaxes(title_text=unit, row=row, col=1)
    fig.update_layout(title=f"{day}: voltage, current and power (site-local time)", height=620)
    return fig


def _fmt(v: Any, digits: int = 1, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v}{unit}"


def _summary_html(settings: Settings, mac: int, data: dict) -> str:
    daily = data["daily"]
    cap = settings.capacity_for(mac)
    measured = [r for r in daily if r["capacity_ah"] is not None]
    last = measured[-1] if measured else None
    latest_fit = next((r for r in reversed(daily) if r["soh_pct"] is not None), None)
    currency = settings.tariff.currency
    items = [
        ("days", f"{daily[0]['local_date']} – {daily[-1]['local_date']} ({len(daily)})"),
        ("charge", _fmt(sum(r["charge_kwh"] or 0.0 for r in daily), 1, " kWh")),
        ("discharge", _fmt(sum(r["discharge_kwh"] or 0.0 for r in daily), 1, " kWh")),
        ("cost", _fmt(sum(r["cost"] or 0.0 for r in daily), 2, f" {currency}")),
        ("nameplate", f"{cap.nameplate_ah:g} Ah, {cap.nameplate_kwh:g} kWh"),
        (
            "latest capacity estimate",
            f"{_fmt(last['capacity_ah'], 2, ' Ah')} on {last['local_date']}" if last else "–",
        ),
        ("state of health", _fmt(latest_fit["soh_pct"], 1, " %") if latest_fit else "–"),
        (
            "fade",
            f"{_fmt(latest_fit['fade_pct_per_year'], 2, ' %/year')}, "
            f"{_fmt(latest_fit['fade_pct_per_100_efc'], 2, ' % per 100 cycles')}"
            if latest_fit
            else "–",
        ),
        (
            f"{cap.eol_soh_pct:g} % SoH projected",
            _fmt(latest_fit["projected_eol_date"]) if latest_fit else "–",
        ),
    ]
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in items
    )
    return f'<table class="summary">{cells}</table>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px; color: #222; }}
h1 {{ font-size: 1.4rem; margin-bottom: 0.3rem; }}
p.meta {{ color: #666; margin-top: 0; }}
table.summary {{ border-collapse: collapse; margin: 1rem 0; }}
table.summary th {{ text-align: left; padding: 2px 1.2rem 2px 0; font-weight: 600; }}
table.summary td {{ padding: 2px 0; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">bess-etl report, {generated}</p>
{summary}
{figures}
</body>
</html>
"""


def render_html(settings: Settings, mac: int, data: dict) -> str:
    """The page for `report_data`'s output."""
    cap = settings.capacity_for(mac)
    figures = [
        energy_figure(data["daily"], settings.tariff.currency),
        throughput_figure(data["daily"]),
        capacity_figure(data["daily"], cap.nameplate_ah, cap.eol_soh_pct),
        dod_figure(data["stress"]),
        day_figure(data["readings"], data["day"]),
    ]
    parts = []
    for k, fig in enumerate(figures):
        if fig.layout.height is None:
            fig.update_layout(height=HEIGHT_PX)
        fig.update_layout(template="plotly_white", legend={"orientation": "h", "y": -0.15})
        parts.append(
            pio.to_html(
                fig,
                full_html=False,
                include_plotlyjs=(k == 0),  # True: the whole plotly.js bundle, inline
                div_id=f"plot-{k}",
            )
        )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _PAGE.format(
        title=html.escape(f"BESS {mac}"),
        generated=generated,
        summary=_summary_html(settings, mac, data),
        figures="\n".join(parts),
    )


def write_report(
    settings: Settings, mac: int, out: str | Path, day: str | dt.date | None = None
) -> Path:
    """Write the report of one BESS to `out` (HTML); `day` picks the traces' site-local day
    (default: the latest day covered >= 95 %, else the latest). Returns the path written."""
    data = report_data(settings, mac, day)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(settings, mac, data), encoding="utf-8")
    tmp.replace(path)
    return path
