"""Integration semantics of the SQL layer, each against numbers computed by hand.

Site zone America/Vancouver (UTC−8 in winter, so local midnight is 08:00Z), max_gap_s 120,
15-minute buckets, channels 532 V, 531 A, 533 kW unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from conftest import utc_ms

from bess_etl import warehouse
from bess_etl.timeutil import local_midnight_ms

MAC = 303721690
V, A, KW, TEMP = 532, 531, 533, 530
VANCOUVER = ZoneInfo("America/Vancouver")


def rows(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(con, sql: str, params=None) -> dict:
    out = rows(con, sql, params)
    assert len(out) == 1, out
    return out[0]


def daily(con, day: str, mac: int = MAC) -> dict:
    return one(
        con,
        "select * from daily_energy where mac = $mac and local_date = $day",
        {"mac": mac, "day": day},
    )


def between(con, start: str, end: str, mac: int = MAC) -> dict:
    return one(
        con,
        "select * from energy_between($mac, $t0::timestamptz, $t1::timestamptz)",
        {"mac": mac, "t0": start, "t1": end},
    )


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


@pytest.fixture
def build(settings, store_rows, open_warehouse):
    """Store readings, rebuild everything, return the open warehouse."""

    def run(readings, s=None):
        s = s or settings
        store_rows(s, readings)
        con = open_warehouse(s)
        warehouse.rebuild(con, s)
        return con

    return run


# ---------------------------------------------------------------------- trapezoid and sign


# +2 kW -> -1 kW and +20 A -> -10 A over 60 s
TRIANGLE = [
    (MAC, KW, "2025-01-15T12:00:00", 2.0),
    (MAC, KW, "2025-01-15T12:01:00", -1.0),
    (MAC, A, "2025-01-15T12:00:00", 20.0),
    (MAC, A, "2025-01-15T12:01:00", -10.0),
]


def test_triangle_crossing_zero_splits_at_the_crossing(build):
    # +2 kW -> -1 kW over 60 s crosses zero after 40 s: +2·40/2 = 40 kW·s above, -1·20/2 below
    # (closed form p²/(p+|n|)·dt/2 = 4/3·30 = 40 and 1/3·30 = 10); current +20 A -> -10 A alike
    con = build(TRIANGLE)
    e = one(con, "select * from energy_interval")
    assert e["interval_start"] == dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC)
    assert e["local_date"] == dt.date(2025, 1, 15)
    assert e["kwh_source"] == "power"
    assert e["charge_kwh"] == approx(40 / 3600)
    assert e["discharge_kwh"] == approx(10 / 3600)
    assert e["charge_ah"] == approx(400 / 3600)  # 20²/30·60/2 A·s
    assert e["discharge_ah"] == approx(100 / 3600)
    assert e["covered_s"] == 60.0 and e["gap_s"] == 0.0
    assert e["cost"] == approx(0.11 * 40 / 3600 - 0.05 * 10 / 3600)

    ri = one(con, "select * from reading_intervals where channel = 'power'")
    assert (ri["dt_s"], ri["is_gap"]) == (60.0, False)
    assert ri["pos_area_h"] == approx(40 / 3600)
    assert ri["neg_area_h"] == approx(-10 / 3600)

    d = daily(con, "2025-01-15")
    assert d["net_kwh"] == approx(30 / 3600)
    assert d["n_readings"] == 4
    # 0.01 kWh in, 0.003 kWh out: under 1 % of the 5.1 kWh nameplate, not an efficiency
    assert d["roundtrip_efficiency_pct"] is None and d["coulombic_efficiency_pct"] is None
    assert d["equivalent_full_cycles"] == approx(50 / 3600 / (2 * 5.1))


def test_efficiencies_of_a_day_that_moved_over_1_percent_of_nameplate_each_way(
    make_settings, build
):
    # the triangle above on a BESS of 0.2 kWh / 2 Ah: each direction moves over 1 % of it
    s = make_settings("[capacity]\nnameplate_kwh = 0.2\nnameplate_ah = 2.0\n")
    con = build(TRIANGLE, s)
    d = daily(con, "2025-01-15")
    assert d["roundtrip_efficiency_pct"] == approx(25.0)  # (10 / 3600) / (40 / 3600)
    assert d["coulombic_efficiency_pct"] == approx(25.0)  # (100 / 3600) / (400 / 3600)


def test_discharge_positive_sign_swaps_charge_and_discharge(make_settings, build):
    s = make_settings('[channels]\ncurrent_sign = "discharge_positive"\n')
    con = build(TRIANGLE, s)
    d = daily(con, "2025-01-15")
    assert d["charge_kwh"] == approx(10 / 3600)
    assert d["discharge_kwh"] == approx(40 / 3600)
    assert d["charge_ah"] == approx(100 / 3600)
    # current statistics are charge-positive too: raw +20 / -10 A become -20 / +10 A
    assert (d["current_min_a"], d["current_max_a"], d["current_mean_a"]) == (-20.0, 10.0, -5.0)


# ---------------------------------------------------------------------- gaps and coverage


def test_interval_longer_than_max_gap_is_a_gap(build):
    # 1 kW: 60 s, then 240 s (> 120: a gap), then exactly 120 s (not longer: integrated)
    con = build(
        [
            (MAC, KW, "2025-01-15T12:00:00", 1.0),
            (MAC, KW, "2025-01-15T12:01:00", 1.0),
            (MAC, KW, "2025-01-15T12:05:00", 1.0),
            (MAC, KW, "2025-01-15T12:07:00", 1.0),
        ]
    )
    d = daily(con, "2025-01-15")
    assert d["charge_kwh"] == approx(180 / 3600)
    assert d["discharge_kwh"] == 0.0
    assert (d["covered_s"], d["gap_s"]) == (180.0, 240.0)
    assert d["coverage"] == approx(180 / 86400)
    assert d["day_s"] == 86400.0
    gaps = rows(con, "select dt_s, pos_area_h from reading_intervals where is_gap order by t0")
    assert gaps == [{"dt_s": 240.0, "pos_area_h": 0.0}]


def test_gap_seconds_are_split_over_the_buckets_and_days_they_span(build):
    # a gap from 07:50Z to 08:20Z crosses local midnight (08:00Z) and two bucket edges
    con = build(
        [
            (MAC, KW, "2025-01-16T07:49:00", 1.0),
            (MAC, KW, "2025-01-16T07:50:00", 1.0),
            (MAC, KW, "2025-01-16T08:20:00", 1.0),
            (MAC, KW, "2025-01-16T08:21:00", 1.0),
        ]
    )
    got = rows(
        con,
        "select interval_start, covered_s, gap_s from energy_interval order by interval_start",
    )
    assert [(r["interval_start"].strftime("%H:%M"), r["covered_s"], r["gap_s"]) for r in got] == [
        ("07:45", 60.0, 600.0),
        ("08:00", 0.0, 900.0),
        ("08:15", 60.0, 300.0),
    ]
    assert daily(con, "2025-01-15")["gap_s"] == 600.0
    assert daily(con, "2025-01-16")["gap_s"] == 1200.0


# ---------------------------------------------------------------------- bucket and day edges


def test_interval_across_local_midnight_is_split_with_interpolated_value(build):
    # 1 kW at 23:59:30 local, 3 kW at 00:00:30: 2 kW at midnight (08:00Z), so the old day gets
    # (1+2)/2·30 = 45 kW·s and the new one (2+3)/2·30 = 75 kW·s
    con = build(
        [
            (MAC, KW, "2025-01-16T07:59:30", 1.0),
            (MAC, KW, "2025-01-16T08:00:30", 3.0),
        ]
    )
    got = rows(
        con,
        "select interval_start, interval_start_local, local_date, charge_kwh, covered_s "
        "from energy_interval order by interval_start",
    )
    assert [(r["interval_start_local"], r["local_date"]) for r in got] == [
        (dt.datetime(2025, 1, 15, 23, 45), dt.date(2025, 1, 15)),
        (dt.datetime(2025, 1, 16, 0, 0), dt.date(2025, 1, 16)),
    ]
    assert [r["charge_kwh"] for r in got] == [approx(45 / 3600), approx(75 / 3600)]
    assert [r["covered_s"] for r in got] == [30.0, 30.0]
    assert daily(con, "2025-01-15")["charge_kwh"] == approx(45 / 3600)
    assert daily(con, "2025-01-16")["charge_kwh"] == approx(75 / 3600)
    # spans are cut the same way: at 07:59:45 the value is 1.5, at 08:00:15 2.5
    assert between(con, "2025-01-16 07:59:30+00", "2025-01-16 08:00:30+00")["charge_kwh"] == approx(
        120 / 3600
    )
    assert between(con, "2025-01-16 07:59:30+00", "2025-01-16 08:00:00+00")["charge_kwh"] == approx(
        45 / 3600
    )
    assert between(con, "2025-01-16 07:59:45+00", "2025-01-16 08:00:15+00")["charge_kwh"] == approx(
        (1.5 + 2) / 2 * 15 / 3600 + (2 + 2.5) / 2 * 15 / 3600
    )


def test_bucket_edge_inside_a_zero_crossing_interval(build):
    # -1 kW at 12:14:30, +3 kW at 12:15:30: 1 kW at the 12:15 edge; the first half [-1, 1]
    # crosses zero mid-way (7.5 kW·s each side), the second [1, 3] gives 60 kW·s; the whole
    # interval unsplit gives the same 67.5 above and 7.5 below (9/4·30 and 1/4·30)
    con = build(
        [
            (MAC, KW, "2025-01-15T12:14:30", -1.0),
            (MAC, KW, "2025-01-15T12:15:30", 3.0),
        ]
    )
    got = rows(con, "select charge_kwh, discharge_kwh from energy_interval order by interval_start")
    assert got == [
        {"charge_kwh": approx(7.5 / 3600), "discharge_kwh": approx(7.5 / 3600)},
        {"charge_kwh": approx(60 / 3600), "discharge_kwh": 0.0},
    ]
    ri = one(con, "select pos_area_h, neg_area_h from reading_intervals")
    assert ri == {"pos_area_h": approx(67.5 / 3600), "neg_area_h": approx(-7.5 / 3600)}


@pytest.mark.parametrize(
    ("day", "midnight_z", "next_midnight_z", "hours"),
    [
        ("2025-03-09", "2025-03-09T08:00:00", "2025-03-10T07:00:00", 23),  # spring forward
        ("2025-11-02", "2025-11-02T07:00:00", "2025-11-03T08:00:00", 25),  # fall back
    ],
)
def test_dst_days_have_23_and_25_hours(build, day, midnight_z, next_midnight_z, hours):
    start, end = utc_ms(midnight_z), utc_ms(next_midnight_z)
    con = build([(MAC, KW, t, 1.0) for t in range(start, end + 1, 60_000)])
    d = daily(con, day)
    assert d["day_s"] == hours * 3600
    assert d["day_start"] == dt.datetime.fromisoformat(midnight_z + "+00:00")
    assert d["covered_s"] == hours * 3600
    assert d["coverage"] == 1.0
    assert d["charge_kwh"] == approx(float(hours))
    n, distinct_local = con.execute(
        "select count(*), count(distinct interval_start_local) from energy_interval "
        "where local_date = $day",
        {"day": day},
    ).fetchall()[0]
    assert n == hours * 4
    # on the 25-hour day the wall clock repeats 01:00-01:59: four buckets share local times
    assert distinct_local == min(n, 96)
    assert between(con, midnight_z + "+00", next_midnight_z + "+00")["charge_kwh"] == approx(
        float(hours)
    )


# ---------------------------------------------------------------------- V·I and the cross-check


def _vi_readings(power_kw: float | None = None):
    """Voltage 50/52/54 V at whole minutes, current 10 A 300 ms after each minute 12:00-12:04
    (nothing of voltage after 12:02), power optionally at the current's instants."""
    out = [
        (MAC, V, "2025-01-15T12:00:00", 50.0),
        (MAC, V, "2025-01-15T12:01:00", 52.0),
        (MAC, V, "2025-01-15T12:02:00", 54.0),
    ]
    for minute in range(5):
        t = f"2025-01-15T12:0{minute}:00.300"
        out.append((MAC, A, t, 10.0))
        if power_kw is not None:
            out.append((MAC, KW, t, power_kw))
    return out


def test_vi_replaces_missing_power_with_voltage_as_of_the_current(build):
    # V as of each current reading: 50, 52, 54, 54 (60.3 s old), none at 12:04:00.3 (120.3 s
    # > max_gap_s): V·I 0.5, 0.52, 0.54, 0.54 kW, then a V·I gap of 60 s
    con = build(_vi_readings())
    e = one(con, "select * from energy_interval")
    assert e["kwh_source"] == "vi"
    vi_kws = (0.5 + 0.52) / 2 * 60 + (0.52 + 0.54) / 2 * 60 + (0.54 + 0.54) / 2 * 60
    assert e["charge_kwh"] == approx(vi_kws / 3600)
    assert e["vi_charge_kwh"] == approx(vi_kws / 3600)
    assert e["power_charge_kwh"] is None
    assert (e["covered_s"], e["gap_s"]) == (180.0, 60.0)
    assert (e["ah_covered_s"], e["ah_gap_s"]) == (240.0, 0.0)
    assert e["charge_ah"] == approx(10 * 240 / 3600)
    d = daily(con, "2025-01-15")
    assert d["vi_buckets"] == 1
    assert d["vi_vs_power_diff_pct"] is None  # nothing to compare with
    vi = rows(con, "select v1, is_gap from reading_intervals where channel = 'vi' order by t0")
    assert [(r["v1"], r["is_gap"]) for r in vi] == [
        (0.52, False),
        (0.54, False),
        (0.54, False),
        (None, True),
    ]


def test_power_wins_where_it_exists_and_vi_is_cross_checked(build):
    # power 0.6 kW at the current's instants; V·I is 10 A × 50..54 V
    con = build(_vi_readings(power_kw=0.6))
    e = one(con, "select * from energy_interval")
    assert e["kwh_source"] == "power"
    assert e["charge_kwh"] == approx(0.6 * 240 / 3600)
    vi_kws = (0.5 + 0.52) / 2 * 60 + (0.52 + 0.54) / 2 * 60 + (0.54 + 0.54) / 2 * 60
    d = daily(con, "2025-01-15")
    assert d["vi_buckets"] == 0
    assert d["power_charge_kwh"] == approx(0.6 * 240 / 3600)
    assert d["vi_charge_kwh"] == approx(vi_kws / 3600)
    assert d["vi_vs_power_diff_pct"] == approx(100 * (vi_kws - 144) / 144)


def test_kwh_source_is_chosen_per_bucket(build):
    # power only in the 12:00 bucket; current and voltage in 12:00 and 12:15
    readings = [
        (MAC, KW, "2025-01-15T12:00:00", 1.0),
        (MAC, KW, "2025-01-15T12:01:00", 1.0),
    ]
    for t in ("12:00:00", "12:01:00", "12:16:00", "12:17:00"):
        readings += [(MAC, V, f"2025-01-15T{t}", 50.0), (MAC, A, f"2025-01-15T{t}.5", 20.0)]
    con = build(readings)
    got = rows(con, "select kwh_source, charge_kwh from energy_interval order by interval_start")
    # 12:00: power 60 kW·s; 12:15: V·I 1 kW over 60 s (the 12:01->12:16 interval is a gap)
    assert got == [
        {"kwh_source": "power", "charge_kwh": approx(60 / 3600)},
        {"kwh_source": "vi", "charge_kwh": approx(60 / 3600)},
    ]
    d = daily(con, "2025-01-15")
    assert d["charge_kwh"] == approx(120 / 3600)
    assert d["vi_buckets"] == 1


# ---------------------------------------------------------------------- cost


TOU = """
[tariff]
import_per_kwh = 0.10
export_per_kwh = 0.05

[[tariff.periods]]
name = "peak"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "16:00"
end = "21:00"
import_per_kwh = 0.30
export_per_kwh = 0.20
"""


def test_time_of_use_prices_each_bucket_by_its_local_start(make_settings, build):
    s = make_settings(TOU)
    # Monday 2025-01-13: 3.6 kW from 15:59 to 16:01 local (23:59Z..00:01Z): 0.06 kWh at the
    # flat 0.10 and 0.06 kWh at the peak 0.30; -3.6 kW 17:00-17:01 local: 0.06 kWh exported at
    # 0.20; Saturday 2025-01-18 17:00-17:01 local: 0.06 kWh exported at the flat 0.05
    con = build(
        [
            (MAC, KW, "2025-01-13T23:59:00", 3.6),
            (MAC, KW, "2025-01-14T00:00:00", 3.6),
            (MAC, KW, "2025-01-14T00:01:00", 3.6),
            (MAC, KW, "2025-01-14T01:00:00", -3.6),
            (MAC, KW, "2025-01-14T01:01:00", -3.6),
            (MAC, KW, "2025-01-19T01:00:00", -3.6),
            (MAC, KW, "2025-01-19T01:01:00", -3.6),
        ],
        s,
    )
    got = rows(
        con,
        "select interval_start_local, tariff_period, import_price_per_kwh, "
        "export_price_per_kwh, cost from energy_interval where covered_s > 0 "
        "order by interval_start",
    )
    got_when = [(r["interval_start_local"].strftime("%a %H:%M"), r["tariff_period"]) for r in got]
    assert got_when == [
        ("Mon 15:45", None),
        ("Mon 16:00", "peak"),
        ("Mon 17:00", "peak"),
        ("Sat 17:00", None),
    ]
    assert [r["cost"] for r in got] == [
        approx(0.10 * 0.06),
        approx(0.30 * 0.06),
        approx(-0.20 * 0.06),
        approx(-0.05 * 0.06),
    ]
    # the gap Monday..Saturday has rows only on days with readings, none on Tuesday..Friday
    assert [
        r["local_date"].isoformat()
        for r in rows(con, "select distinct local_date from energy_interval order by 1")
    ] == ["2025-01-13", "2025-01-18"]
    monday = 0.10 * 0.06 + 0.30 * 0.06 - 0.20 * 0.06
    assert daily(con, "2025-01-13")["cost"] == approx(monday)
    assert between(con, "2025-01-13 08:00+00", "2025-01-14 08:00+00")["cost"] == approx(monday)
    # a span ending mid-bucket is priced by the bucket it falls in
    assert between(con, "2025-01-13 23:59:00+00", "2025-01-14 00:00:30+00")["cost"] == approx(
        0.10 * 0.06 + 0.30 * 0.03
    )
    assert one(con, "select currency from settings")["currency"] == "CAD"


FRI_SUN = """
[tariff]
import_per_kwh = 0.10
export_per_kwh = 0.05

[[tariff.periods]]
name = "fri-sun"
days = ["fri", "sun"]
start = "17:00"
end = "18:00"
import_per_kwh = 0.40
export_per_kwh = 0.30
"""


def test_time_of_use_weekdays_are_the_local_days_named(make_settings, build):
    """Thursday to Monday (2025-01-16..20), 17:00-17:01 local each: only Friday and Sunday are
    in the period. A weekday off by one either way moves it to Thursday or Saturday."""
    s = make_settings(FRI_SUN)
    readings = []
    for day in range(17, 22):  # 17:00 local (UTC-8) is 01:00Z of the next UTC day
        readings += [
            (MAC, KW, f"2025-01-{day:02d}T01:00:00", -3.6),
            (MAC, KW, f"2025-01-{day:02d}T01:01:00", -3.6),
        ]
    con = build(readings, s)
    got = rows(
        con,
        "select interval_start_local, tariff_period, export_price_per_kwh, cost "
        "from energy_interval where covered_s > 0 order by interval_start",
    )
    assert [(r["interval_start_local"].strftime("%a %H:%M"), r["tariff_period"]) for r in got] == [
        ("Thu 17:00", None),
        ("Fri 17:00", "fri-sun"),
        ("Sat 17:00", None),
        ("Sun 17:00", "fri-sun"),
        ("Mon 17:00", None),
    ]
    assert [r["cost"] for r in got] == [
        approx(-0.05 * 0.06),
        approx(-0.30 * 0.06),
        approx(-0.05 * 0.06),
        approx(-0.30 * 0.06),
        approx(-0.05 * 0.06),
    ]


# ---------------------------------------------------------------------- sums and spans


def _busy_day(day_start_ms: int, seed: int = 3) -> list:
    """Irregular, sign-changing power, current and voltage over a local day and a bit beyond,
    with dropouts (gaps), a stretch without power (V·I fallback) and temperatures."""
    import random

    rnd = random.Random(seed)
    out = []
    t = day_start_ms - 600_000
    while t < day_start_ms + 90_000_000:
        t += rnd.randint(5_000, 40_000)
        if rnd.random() < 0.01:
            t += rnd.randint(130_000, 3_000_000)  # a dropout longer than max_gap_s
        p = rnd.uniform(-5, 5)
        v = 50 + rnd.uniform(-3, 3)
        out.append((MAC, V, t - rnd.randint(0, 900), v))
        out.append((MAC, A, t, p * 1000 / v + rnd.uniform(-0.5, 0.5)))
        if not (day_start_ms + 30_000_000 < t < day_start_ms + 34_000_000):
            out.append((MAC, KW, t + rnd.randint(0, 700), p))
        if rnd.random() < 0.05:
            out.append((MAC, TEMP, t, rnd.uniform(15, 30)))
    return out


@pytest.mark.parametrize("day", ["2025-01-15", "2025-11-02"])
def test_buckets_add_up_to_days_and_days_to_spans(build, day):
    con = build(_busy_day(local_midnight_ms(dt.date.fromisoformat(day), VANCOUVER)))
    midnight, next_midnight = con.execute(
        "select day_start, day_start + to_seconds(day_s) from daily_energy where local_date = $day",
        {"day": day},
    ).fetchall()[0]
    sums = one(
        con,
        "select sum(charge_kwh) as charge_kwh, sum(discharge_kwh) as discharge_kwh, "
        "sum(charge_ah) as charge_ah, sum(discharge_ah) as discharge_ah, sum(cost) as cost "
        "from energy_interval where local_date = $day",
        {"day": day},
    )
    d = daily(con, day)
    span = one(
        con,
        "select * from energy_between($mac, $t0, $t1)",
        {"mac": MAC, "t0": midnight, "t1": next_midnight},
    )
    assert d["vi_buckets"] > 0 and d["gap_s"] > 0 and d["discharge_kwh"] > 0
    for q in ("charge_kwh", "discharge_kwh", "charge_ah", "discharge_ah", "cost"):
        assert d[q] == pytest.approx(sums[q], rel=1e-9), q
        assert span[q] == pytest.approx(sums[q], rel=1e-9), q
    # spans add up at any instant, including mid-interval
    cut = midnight + dt.timedelta(hours=7, seconds=12.345)
    a = one(con, "select * from energy_between($m, $a, $b)", {"m": MAC, "a": midnight, "b": cut})
    b = one(
        con, "select * from energy_between($m, $a, $b)", {"m": MAC, "a": cut, "b": next_midnight}
    )
    for q in ("charge_kwh", "discharge_kwh", "charge_ah", "discharge_ah", "cost"):
        assert a[q] + b[q] == pytest.approx(span[q], rel=1e-9), q
    # and two days make one two-day span
    two = one(
        con,
        "select * from energy_between($m, $a, $b)",
        {"m": MAC, "a": midnight - dt.timedelta(days=1), "b": next_midnight},
    )
    before = con.execute(
        "select sum(charge_kwh) from daily_energy where local_date = $d::date - 1", {"d": day}
    ).fetchall()[0][0]
    assert two["charge_kwh"] == pytest.approx(before + d["charge_kwh"], rel=1e-9)


def test_daily_reading_statistics(build):
    con = build(
        [
            (MAC, V, "2025-01-15T12:00:00", 50.0),
            (MAC, V, "2025-01-15T12:00:20", 53.0),
            (MAC, V, "2025-01-15T12:00:40", 51.5),
            (MAC, TEMP, "2025-01-15T12:00:00", 20.0),
            (MAC, TEMP, "2025-01-15T12:30:00", 24.0),
            (MAC, 999, "2025-01-15T12:00:00", 7.0),  # unknown type: kept and counted
            (MAC, 999, "2025-01-15T12:01:00", 8.0),
        ]
    )
    d = daily(con, "2025-01-15")
    assert (d["voltage_min_v"], d["voltage_mean_v"], d["voltage_max_v"]) == (50.0, 51.5, 53.0)
    assert (d["battery_temp_min_c"], d["battery_temp_mean_c"]) == (20.0, 22.0)
    assert d["n_readings"] == 7
    assert d["charge_kwh"] is None and d["covered_s"] == 0.0  # no kWh source at all
    unknown = rows(con, "select channel, unit, value from readings where type = 999 order by ts")
    assert unknown == [
        {"channel": None, "unit": None, "value": 7.0},
        {"channel": None, "unit": None, "value": 8.0},
    ]
    ri = one(con, "select channel, v0, v1, pos_area_h from reading_intervals where type = 999")
    assert ri == {"channel": None, "v0": 7.0, "v1": 8.0, "pos_area_h": approx(7.5 * 60 / 3600)}
    assert one(con, "select channel, unit from readings where type = 532 limit 1") == {
        "channel": "voltage",
        "unit": "V",
    }


def test_energy_between_reads_only_the_partitions_it_needs(build):
    readings = []
    for day in range(10, 20):
        base = utc_ms(f"2025-01-{day}T00:00:00")
        readings += [(MAC, KW, base + i * 3_600_000, 1.0) for i in range(24)]
    con = build(readings)
    plan = con.execute(
        "explain analyze select * from energy_between($m, $a::timestamptz, $b::timestamptz)",
        {"m": MAC, "a": "2025-01-15 10:00+00", "b": "2025-01-15 11:00+00"},
    ).fetchall()[0][1]
    files = [int(n) for n in re.findall(r"Total Files Read: (\d+)", plan)]
    assert files and max(files) == 1, plan


def test_energy_between_reads_voltage_two_max_gaps_back(build):
    # current 12:14:00 -> 12:15:50 (110 s, not a gap) reaches the span; the voltage as of its
    # first end is 110 s older still (12:12:10), before the span's bucket (12:15) minus one
    # max_gap_s: V·I 0.5 kW there, 0.52 at 12:15:50, so at 12:15:00 0.5 + 0.02·60/110
    con = build(
        [
            (MAC, V, "2025-01-15T12:12:10", 50.0),
            (MAC, A, "2025-01-15T12:14:00", 10.0),
            (MAC, V, "2025-01-15T12:15:00", 52.0),
            (MAC, A, "2025-01-15T12:15:50", 10.0),
        ]
    )
    at_edge = 0.5 + 0.02 * 60 / 110
    span = between(con, "2025-01-15 12:15:00+00", "2025-01-15 12:15:50+00")
    assert span["charge_kwh"] == approx((at_edge + 0.52) / 2 * 50 / 3600)
    assert span["covered_s"] == 50.0
    bucket = one(
        con,
        "select charge_kwh from energy_interval where kwh_source = 'vi' "
        "and interval_start = '2025-01-15 12:15:00+00'",
    )
    assert bucket["charge_kwh"] == approx(span["charge_kwh"])
