"""What the simulator reports: fleet channels, the reading grid, determinism, split
invariance, limits, time bounds, data faults, signs, JSON encoding, and reported samples
against the ground truth."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from bess_etl.config import Settings
from bess_etl.simulator import Simulator, truth_table
from bess_etl.simulator.encode import encode_readings
from bess_etl.timeutil import local_day_bounds_ms, local_midnight_ms

BESS_3_5 = 303_721_690
BESS_10 = 303_721_691
ENV = 7_725_398
DAY = dt.date(2025, 9, 10)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def _with(settings: Settings, **simulator) -> Settings:
    return replace(settings, simulator=replace(settings.simulator, **simulator))


def _fault_free(settings: Settings) -> Settings:
    return _with(
        settings, dropout_rate=0.0, duplicate_rate=0.0, out_of_order_rate=0.0, invalid_rate=0.0
    )


def _rows(rows) -> list[tuple]:
    """Rows as a sorted multiset (order-free comparison); NaN made comparable."""
    values = np.where(np.isnan(rows.value), -1e300, rows.value)
    return sorted(zip(rows.ts.tolist(), rows.type.tolist(), values.tolist(), strict=True))


@pytest.fixture(scope="module")
def sim(simulator_settings) -> Simulator:
    return Simulator(simulator_settings)


def _day_ms(sim: Simulator, day: dt.date = DAY) -> tuple[int, int]:
    return local_day_bounds_ms(day, sim.tz)


def test_exactly_the_two_batteries_report_voltage_with_current_or_power(sim):
    ch = sim.settings.channels
    start, _ = _day_ms(sim)
    bess = []
    for mac in sim.devices:
        seen = set(sim.select(mac, start, start + HOUR_MS).type.tolist())
        assert seen, mac
        if ch.voltage in seen and seen & {ch.current, ch.power}:
            bess.append(mac)
        if mac in (BESS_3_5, BESS_10):
            assert seen == {532, 531, 533, 530, 520, 514}
        else:
            assert seen - {532, 531, 533, 530, 520, 514}, "every other device has unknown types"
    assert sorted(bess) == [BESS_3_5, BESS_10]
    assert {533} <= set(sim.select(3_162_989, start, start + HOUR_MS).type.tolist())


def test_battery_channels_follow_the_configured_type_codes(simulator_settings):
    settings = replace(
        _fault_free(simulator_settings),
        channels=replace(simulator_settings.channels, voltage=600, power=0, soc=610),
    )
    sim = Simulator(settings)
    start, _ = _day_ms(sim)
    seen = set(sim.select(BESS_3_5, start, start + HOUR_MS).type.tolist())
    assert seen == {600, 531, 530, 520, 514, 610}
    soc = sim.select(BESS_3_5, start, start + HOUR_MS, types=[610]).value
    assert np.all((soc > 0) & (soc < 100))


def test_reading_grid_cadence_offsets_and_jitter(simulator_settings):
    sim = Simulator(_fault_free(simulator_settings))
    start, end = _day_ms(sim)
    rows = sim.select(BESS_10, start, end - 1)
    cadence_ms, jitter_ms = 20_000, 1000
    firsts = []
    for code in (532, 531, 533, 530, 520, 514):
        ts = rows.ts[rows.type == code]
        assert len(ts) == pytest.approx(DAY_MS / cadence_ms, abs=1)
        gaps = np.diff(ts)
        assert gaps.min() >= cadence_ms - 2 * jitter_ms and gaps.max() <= cadence_ms + 2 * jitter_ms
        # on the epoch-anchored grid: ts - phase is a multiple of the cadence, within the jitter
        phase = np.median(ts % cadence_ms)
        assert np.all(
            np.abs((ts - phase + cadence_ms // 2) % cadence_ms - cadence_ms // 2) <= 2 * jitter_ms
        )
        firsts.append(phase)
    spacing = np.diff(np.sort(np.array(firsts) % cadence_ms))
    assert np.all((spacing >= 250) & (spacing <= 450))  # types a few hundred ms apart


def test_same_seed_same_bytes_other_seed_other_readings(simulator_settings):
    start, end = local_day_bounds_ms(DAY, simulator_settings.tz)
    a = Simulator(simulator_settings).body(BESS_3_5, start, end)
    b = Simulator(simulator_settings).body(BESS_3_5, start, end)
    c = Simulator(_with(simulator_settings, seed=8)).body(BESS_3_5, start, end)
    assert a == b
    assert a != c
    ts_a = [r["timestamp"] for r in json.loads(a)]
    ts_c = [r["timestamp"] for r in json.loads(c)]
    assert ts_a != ts_c


def test_any_split_of_a_window_returns_the_same_readings(sim):
    begin, _ = _day_ms(sim)
    end = begin + 2 * DAY_MS  # a 2-day window, inclusive at both ends
    whole = sim.select(BESS_10, begin, end)
    rng = np.random.default_rng(3)
    cuts = set(rng.integers(begin + 1, end, 40).tolist())
    cuts |= set(rng.choice(whole.ts, 40).tolist())  # boundaries exactly on readings
    cuts |= {begin + DAY_MS}
    edges = [begin, *sorted(cuts), end + 1]
    parts = [sim.select(BESS_10, lo, hi - 1) for lo, hi in itertools.pairwise(edges)]
    merged = sorted(row for part in parts for row in _rows(part))
    assert merged == _rows(whole)
    # both ends inclusive: a window of one instant holds the reading at that instant
    t = int(whole.ts[1234])
    assert t in sim.select(BESS_10, t, t).ts.tolist()
    assert t not in sim.select(BESS_10, t + 1, t + 5000).ts.tolist()
    assert t not in sim.select(BESS_10, t - 5000, t - 1).ts.tolist()


def test_a_limit_returns_the_earliest_rows(sim):
    begin, end = _day_ms(sim)
    whole = sim.select(BESS_3_5, begin, end)
    in_time_order = sorted(zip(whole.ts.tolist(), whole.type.tolist(), strict=True))
    for limit in (1, 100, 999, 5000):
        page = sim.select(BESS_3_5, begin, end, limit=limit)
        assert len(page) == limit
        got = sorted(zip(page.ts.tolist(), page.type.tolist(), strict=True))
        assert got == in_time_order[:limit]
    typed = sim.select(BESS_3_5, begin, end, types=[531, 533], limit=50)
    assert len(typed) == 50 and set(typed.type.tolist()) == {531, 533}


def test_nothing_from_the_future_or_before_commissioning(simulator_settings):
    now = local_midnight_ms(dt.date(2025, 5, 5), simulator_settings.tz) + 13 * HOUR_MS + 4321
    sim = Simulator(simulator_settings, clock=lambda: now)
    rows = sim.select(BESS_10, now - HOUR_MS, now + 10 * DAY_MS)
    assert rows.ts.max() <= now and rows.ts.max() > now - 60_000
    assert len(sim.select(BESS_10, now + 1, now + DAY_MS)) == 0
    commissioned = local_midnight_ms(dt.date(2024, 1, 1), simulator_settings.tz)
    assert len(sim.select(ENV, commissioned - 30 * DAY_MS, commissioned - 1)) == 0
    first = sim.select(ENV, commissioned - 30 * DAY_MS, commissioned + HOUR_MS)
    assert first.ts.min() >= commissioned and len(first) > 300
    real_now = Simulator(simulator_settings)
    live = real_now.select(BESS_3_5, real_now.clock() - HOUR_MS, real_now.clock() + DAY_MS)
    assert live.ts.max() <= real_now.clock()


def test_data_faults_appear_at_their_rates_and_switch_off(simulator_settings):
    rate = 0.01
    faulty = Simulator(
        _with(
            simulator_settings,
            dropout_rate=rate,
            duplicate_rate=rate,
            out_of_order_rate=rate,
            invalid_rate=rate,
        )
    )
    clean = Simulator(_fault_free(simulator_settings))
    begin, _ = _day_ms(faulty)
    end = begin + 7 * DAY_MS
    rows, ref = faulty.select(BESS_10, begin, end), clean.select(BESS_10, begin, end)
    n = len(ref)
    keys = list(zip(rows.ts.tolist(), rows.type.tolist(), strict=True))
    duplicates = len(keys) - len(set(keys))
    assert 0.5 * rate * n < duplicates < 1.5 * rate * n
    lost = n - len(set(keys))
    assert 0.5 * rate * n < lost < 1.5 * rate * n
    nulls, spikes = np.isnan(rows.value).sum(), np.isin(rows.value, [6553.5, 32767.0]).sum()
    assert nulls > 0 and spikes > 0 and 0.5 * rate * n < nulls + spikes < 1.5 * rate * n
    backwards = 0
    for code in np.unique(rows.type):
        ts = rows.ts[rows.type == code]
        backwards += int(np.sum(np.diff(ts) < 0))
    assert 0.5 * rate * n < backwards < 1.5 * rate * n
    # comm outages: all types silent for longer than max_gap_s, not just single drops
    volts = np.sort(rows.ts[rows.type == 532])
    assert np.diff(volts).max() > 180_000
    # clean: nothing of the kind
    ref_keys = list(zip(ref.ts.tolist(), ref.type.tolist(), strict=True))
    assert len(ref_keys) == len(set(ref_keys))
    assert not np.isnan(ref.value).any() and np.abs(ref.value).max() < 1000
    for code in np.unique(ref.type):
        gaps = np.diff(ref.ts[ref.type == code])
        assert gaps.min() > 0 and gaps.max() < 25_000
    # faults never change the value of a reading that survives them
    clean_values = dict(zip(ref_keys, ref.value.tolist(), strict=True))
    ok = ~np.isnan(rows.value) & ~np.isin(rows.value, [6553.5, 32767.0])
    for key, value in zip(np.array(keys)[ok].tolist(), rows.value[ok].tolist(), strict=True):
        assert clean_values[tuple(key)] == value


def test_discharge_positive_negates_current_and_power_only(simulator_settings):
    flipped = replace(
        simulator_settings,
        channels=replace(simulator_settings.channels, current_sign="discharge_positive"),
    )
    begin, end = local_day_bounds_ms(DAY, simulator_settings.tz)
    a = Simulator(simulator_settings).select(BESS_3_5, begin, end)
    b = Simulator(flipped).select(BESS_3_5, begin, end)
    assert np.array_equal(a.ts, b.ts)
    sentinel = np.isin(a.value, [6553.5, 32767.0]) | np.isnan(a.value)
    flip = np.isin(a.type, [531, 533]) & ~sentinel
    assert np.array_equal(b.value[flip], -a.value[flip])
    assert np.array_equal(b.value[~flip & ~sentinel], a.value[~flip & ~sentinel])


def test_power_is_v_times_i_at_its_own_instants(simulator_settings):
    sim = Simulator(_fault_free(simulator_settings))
    begin, end = _day_ms(sim)
    rows = sim.select(BESS_10, begin, end - 1, types=[533])
    trace = sim.trace(BESS_10, DAY)
    expected = trace.at(rows.ts, trace.voltage_v) * trace.at(rows.ts, trace.current_a) / 1000
    expected[np.abs(trace.at(rows.ts, trace.current_a)) < 0.05] = 0.0  # the BMS dead band
    noise_sd = 0.001 + 0.002 * np.abs(expected)
    assert np.all(np.abs(rows.value - expected) < 5 * noise_sd + 0.0005)  # noise + 1 W rounding
    assert np.mean(rows.value - expected) == pytest.approx(0.0, abs=2e-4)  # zero-mean


@pytest.mark.parametrize("day", [dt.date(2025, 9, 10), dt.date(2025, 9, 12)])  # ordinary, deep
def test_trapezoid_of_reported_samples_matches_the_truth(simulator_settings, day):
    """On a fault-free day, the trapezoid over the 20 s samples agrees with the model's 1 s
    integral to well under 1 %: what is left is sensor noise (zero-mean), rounding, 20 s
    sampling of the current steps and wobbles, and the few seconds between midnight and the
    first/last sample of the day."""
    settings = _fault_free(simulator_settings)
    sim = Simulator(settings)
    begin, end = local_day_bounds_ms(day, sim.tz)
    rows = sim.select(BESS_10, begin, end - 1)
    truth = truth_table(settings, BESS_10, day, day, sim).to_pylist()[0]
    for code, unit in ((531, "ah"), (533, "kwh")):
        ts, y = rows.ts[rows.type == code] / 1000.0, rows.value[rows.type == code]
        area = 0.5 * (y[1:] + y[:-1]) * np.diff(ts) / 3600.0
        # intervals whose ends differ in sign hold a zero crossing: split them there
        cross = np.sign(y[1:]) * np.sign(y[:-1]) < 0
        frac = np.where(cross, y[:-1] / np.where(cross, y[:-1] - y[1:], 1.0), 0.0)
        first = 0.5 * y[:-1] * frac * np.diff(ts) / 3600.0
        second = 0.5 * y[1:] * (1 - frac) * np.diff(ts) / 3600.0
        pieces = np.concatenate([area[~cross], first[cross], second[cross]])
        charge, discharge = pieces[pieces > 0].sum(), -pieces[pieces < 0].sum()
        assert charge == pytest.approx(truth[f"charge_{unit}"], rel=0.005)
        assert discharge == pytest.approx(truth[f"discharge_{unit}"], rel=0.005)
    assert sim.plan(BESS_10, day).deep[sim.plan(BESS_10, day).index(dt.date(2025, 9, 12))]


def test_json_encoding_round_trips():
    ts = np.array([1_700_000_000_000, 1_700_000_000_400, 1_700_000_020_000, 1_700_000_020_001])
    types = np.array([532, 531, 533, 1101], dtype=np.int32)
    values = np.array([55.2, -0.0, np.nan, -12.345])
    body = encode_readings(303_721_690, ts, types, values)
    assert body == (
        b'[{"mac":303721690,"type":532,"timestamp":1700000000000,"data":55.2},'
        b'{"mac":303721690,"type":531,"timestamp":1700000000400,"data":0.0},'
        b'{"mac":303721690,"type":533,"timestamp":1700000020000,"data":null},'
        b'{"mac":303721690,"type":1101,"timestamp":1700000020001,"data":-12.345}]'
    )
    assert encode_readings(1, ts[:0], types[:0], values[:0]) == b"[]"
    rng = np.random.default_rng(0)
    many = rng.normal(0, 300, 200_000)
    for decimals in range(4):  # values at every resolution the sampler uses
        many[decimals::4] = np.round(many[decimals::4], decimals)
    many[::97] = np.nan
    stamps = 1_750_000_000_000 + np.arange(200_000) * 7
    decoded = json.loads(encode_readings(42, stamps, np.full(200_000, 7, np.int32), many))
    got = np.array([np.nan if r["data"] is None else r["data"] for r in decoded])
    np.testing.assert_array_equal(got, many)
    assert [r["timestamp"] for r in decoded[:3]] == stamps[:3].tolist()
