"""The piecewise-linear primitives under the analytics kernels (bess_etl.analytics.series)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from bess_etl.analytics.series import (
    Integral,
    areas,
    asof,
    channel,
    local_day_edges,
    split_at,
    time_above,
    window_reduce,
)


def test_areas_split_at_the_zero_crossing_like_the_sql_macros():
    # 3 -> -1 over 4 s crosses zero 3 s in: triangles 3·3/2 = 4.5 and -1·1/2 = -0.5
    pos, neg = areas(
        np.array([0.0, 0, 0, 0]),
        np.array([4.0] * 4),
        np.array([3.0, 2, -2, np.nan]),
        np.array([-1.0, 4, -6, 1]),
    )
    assert pos.tolist() == [4.5, 12.0, 0.0, 0.0]
    assert neg.tolist() == [-0.5, 0.0, -16.0, 0.0]


def test_integral_is_exact_between_any_two_instants():
    t = np.array([0.0, 10, 20, 200, 210])  # 20 -> 200 is a gap at max_gap_s = 60
    v = np.array([0.0, 10, -10, 5, 5])
    f = Integral(t, v, max_gap_s=60)
    # [5, 15]: 5 -> 10 over 5 s (37.5), then 10 -> 0 over 5 s (25) up to the zero crossing
    pos, neg = f.between(np.array([5.0]), np.array([15.0]))
    assert pos[0] == pytest.approx(37.5 + 25.0) and neg[0] == 0.0
    pos, neg = f.between(np.array([0.0]), np.array([210.0]))
    assert pos[0] == pytest.approx(50 + 25 + 50) and neg[0] == pytest.approx(-25)  # gap skipped
    assert f.gaps_between(np.array([0.0, 0.0]), np.array([20.0, 200.0])).tolist() == [0, 1]
    assert f.covered_between(np.array([0.0]), np.array([210.0]))[0] == 30.0


def test_channel_sorts_keeps_the_last_reading_of_an_instant_and_drops_nan():
    t, v = channel(np.array([3000, 1000, 2000, 2000], dtype=np.int64), [3.0, 1.0, 2.0, 2.5])
    assert t.tolist() == [1.0, 2.0, 3.0] and v.tolist() == [1.0, 2.5, 3.0]
    t, v = channel(np.array([1000, 2000]), [np.nan, 1.0])
    assert t.tolist() == [2.0]
    arrow = pa.array([1000, 2000], pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    assert channel(arrow, [1.0, 2.0])[0].tolist() == [1.0, 2.0]


def test_asof_takes_the_latest_reading_no_older_than_max_age():
    out = asof(np.array([0.0, 10.0]), np.array([1.0, 2.0]), np.array([-1.0, 5, 10, 200]), 60)
    assert np.isnan(out[0]) and out[1:3].tolist() == [1.0, 2.0] and np.isnan(out[3])


def test_window_reduce_handles_overlapping_and_empty_windows():
    t = np.arange(10.0)
    v = t * 2
    lo, hi = np.array([0.0, 3.0, 3.0, 20.0]), np.array([3.0, 5.0, 3.0, 30.0])
    assert window_reduce(t, v, lo, hi, "max")[:3].tolist() == [6.0, 10.0, 6.0]
    assert window_reduce(t, v, lo, hi, "min")[:3].tolist() == [0.0, 6.0, 6.0]
    assert window_reduce(t, v, lo, hi, "mean")[:3].tolist() == [3.0, 8.0, 6.0]
    assert np.isnan(window_reduce(t, v, lo, hi, "max")[3])
    assert window_reduce(t, v, lo, hi, "max", closed="left")[:2].tolist() == [4.0, 8.0]


def test_split_at_cuts_intervals_at_edges_and_drops_gaps():
    t = np.array([0.0, 10, 30, 100])
    v = np.array([0.0, 10, 30, 30])
    t0, t1, v0, v1, b = split_at(t, v, np.array([-5.0, 15.0, 200.0]), max_gap_s=60)
    order = np.argsort(t0)
    assert t0[order].tolist() == [0, 10, 15] and t1[order].tolist() == [10, 15, 30]
    assert v1[order].tolist() == [10, 15, 30] and b[order].tolist() == [0, 0, 1]
    # an interval over two edges (max_gap_s large): cut at both
    t0, t1, v0, v1, b = split_at(t, v, np.array([-5.0, 40.0, 50.0, 200.0]), max_gap_s=1e9)
    assert sorted(zip(t0, b, strict=True)) == [(0, 0), (10, 0), (30, 0), (40, 1), (50, 2)]
    secs = time_above(t0, t1, v0, v1, 20.0)
    assert secs.sum() == pytest.approx(10 + 70)  # 20 -> 30 on the ramp, then flat at 30


def test_local_days_follow_dst():
    # America/Vancouver: 2024-03-10 has 23 hours, 2024-11-03 has 25
    dates, edges = local_day_edges(1710057600.0, 1710100000.0, "America/Vancouver")
    assert dates == [dt.date(2024, 3, 10)] and np.diff(edges).tolist() == [23 * 3600]
    dates, edges = local_day_edges(1730617200.0, 1730650000.0, "America/Vancouver")
    assert dates == [dt.date(2024, 11, 3)] and np.diff(edges).tolist() == [25 * 3600]
