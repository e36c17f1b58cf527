"""Piecewise-linear time-series primitives shared by the analytics kernels (numpy, no I/O).

A channel is two aligned arrays: timestamps and values, strictly increasing in time, finite
values. Timestamps come in as epoch milliseconds (int64, as the lake stores them), numpy
datetime64 or an Arrow timestamp array; internally they are float64 epoch seconds.

The integration rules are the warehouse's (DESIGN.md "Integration semantics",
sql/13_trapezoid.sql): a channel's intervals are its consecutive readings; an interval longer
than `max_gap_s` is a gap and is not integrated; where the two ends have opposite signs the
trapezoid is split at the (linear) zero crossing, so positive and negative totals are exact for
piecewise-linear signals.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Channel = tuple[np.ndarray, np.ndarray]  # (epoch seconds float64, values float64)


def to_epoch_s(ts: Any) -> np.ndarray:
    """Timestamps as float64 epoch seconds: int epoch ms, datetime64, or Arrow timestamps."""
    if isinstance(ts, pa.ChunkedArray | pa.Array):
        if pa.types.is_timestamp(ts.type):
            ts = pc.cast(pc.cast(ts, pa.timestamp("ms", tz="UTC")), pa.int64())
        ts = ts.to_numpy(zero_copy_only=False)
    arr = np.asarray(ts)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ms]").astype(np.int64) / 1000.0
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64) / 1000.0
    raise TypeError(f"timestamps must be epoch ms integers or datetime64, not {arr.dtype}")


def channel(ts: Any, values: Any) -> Channel:
    """A clean channel: epoch seconds, sorted, one reading per instant (the last), finite values."""
    t = to_epoch_s(ts)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape:
        raise ValueError("timestamps and values differ in length")
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    if t.size > 1 and not np.all(t[1:] > t[:-1]):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        last = np.r_[t[1:] != t[:-1], True]  # a repeated instant keeps its last reading
        t, v = t[last], v[last]
    return t, v


def readings_channel(readings: pa.Table, type_code: int, sign: float = 1.0) -> tuple:
    """One sensor type of a readings table (columns type, ts, value) as (epoch ms int64,
    values float64), the pair every kernel takes; values multiplied by `sign`."""
    if not type_code:
        return np.empty(0, dtype=np.int64), np.empty(0)
    rows = readings.filter(pc.equal(readings["type"], type_code))
    ts = pc.cast(pc.cast(rows["ts"], pa.timestamp("ms", tz="UTC")), pa.int64())
    values = rows["value"].to_numpy(zero_copy_only=False).astype(np.float64) * sign
    return ts.to_numpy(zero_copy_only=False), values


def pick_channel(readings: pa.Table, type_code: int, sign: float = 1.0) -> tuple | None:
    """readings_channel, or None when the BESS does not report that type (or it is disabled)."""
    t, v = readings_channel(readings, type_code, sign)
    return (t, v) if t.size else None


def table_from_columns(schema: pa.Schema, cols: dict[str, Any]) -> pa.Table:
    """A table of `schema` from its columns by name (Arrow arrays, or numpy / lists, NaN
    meaning null)."""
    arrays = [
        c if isinstance(c, pa.Array) else pa.array(c, type=f.type, from_pandas=True)
        for f, c in zip(schema, (cols[f.name] for f in schema), strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def areas(
    t0: np.ndarray, t1: np.ndarray, v0: np.ndarray, v1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid areas above (>= 0) and below (<= 0) zero of straight pieces, in value·s,
    split at the zero crossing like sql/13_trapezoid.sql. NaN ends give 0 (not integrated)."""
    dt_s = t1 - t0
    whole = (v0 + v1) * 0.5 * dt_s
    # same-sign pieces are all on one side (fmax/fmin also turn NaN into 0)
    pos, neg = np.fmax(whole, 0.0), np.fmin(whole, 0.0)
    cross = np.flatnonzero((v0 * v1) < 0)  # only these need the split: p²/(p+|n|)·dt/2
    if cross.size:
        a, b, d = v0[cross], v1[cross], dt_s[cross]
        denom = np.abs(a) + np.abs(b)
        pos[cross] = np.maximum(a, b) ** 2 / denom * d / 2
        neg[cross] = -(np.minimum(a, b) ** 2) / denom * d / 2
    return pos, neg


class Integral:
    """Running trapezoid integral of one channel, for exact totals over any [ta, tb].

    `pos(t)` / `neg(t)` are the integrals of the positive / negative part from the first reading
    to t (value·s), gaps excluded; `gap_count(t)` counts gap intervals (and intervals with a
    missing end) that start before t. Query times inside an interval cut it with the value
    linearly interpolated there, as bucket edges do in the warehouse.
    """

    def __init__(self, t: np.ndarray, v: np.ndarray, max_gap_s: float):
        self.t, self.v = t, v
        t0, t1, v0, v1 = t[:-1], t[1:], v[:-1], v[1:]
        self.is_gap = ((t1 - t0) > max_gap_s) | ~(np.isfinite(v0) & np.isfinite(v1))
        pos, neg = areas(t0, t1, v0, v1)
        pos[self.is_gap] = 0.0
        neg[self.is_gap] = 0.0
        self.cum_pos = np.concatenate(([0.0], np.cumsum(pos)))
        self.cum_neg = np.concatenate(([0.0], np.cumsum(neg)))
        self.cum_gaps = np.concatenate(([0], np.cumsum(self.is_gap)))
        self.cum_covered = np.concatenate(([0.0], np.cumsum(np.where(self.is_gap, 0.0, t1 - t0))))

    def _locate(self, tq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interval index k with t[k] <= tq < t[k+1] (clipped), and the value at tq."""
        tq = np.asarray(tq, dtype=np.float64)
        n = self.t.size
        k = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, max(n - 2, 0))
        if n < 2:
            return k, tq, np.full(tq.shape, np.nan)
        tq = np.clip(tq, self.t[0], self.t[-1])
        t0, t1, v0, v1 = self.t[k], self.t[k + 1], self.v[k], self.v[k + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(t1 > t0, (tq - t0) / (t1 - t0), 0.0)
        return k, tq, v0 + (v1 - v0) * frac

    def at(self, tq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pos, neg) integrals from the first reading to each tq."""
        if self.t.size < 2:
            z = np.zeros(np.shape(tq))
            return z, z
        k, tq, vq = self._locate(tq)
        pos, neg = areas(self.t[k], tq, self.v[k], vq)
        gap = self.is_gap[k]
        return (
            self.cum_pos[k] + np.where(gap, 0.0, pos),
            self.cum_neg[k] + np.where(gap, 0.0, neg),
        )

    def between(self, ta: np.ndarray, tb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pos, neg) integrals over [ta, tb], value·s."""
        pa_, na_ = self.at(ta)
        pb, nb = self.at(tb)
        return pb - pa_, nb - na_

    def covered_between(self, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        """Seconds of [ta, tb] inside non-gap intervals."""
        if self.t.size < 2:
            return np.zeros(np.shape(ta))

        def cov(tq: np.ndarray) -> np.ndarray:
            k, tq, _ = self._locate(tq)
            return self.cum_covered[k] + np.where(self.is_gap[k], 0.0, tq - self.t[k])

        return cov(tb) - cov(ta)

    def gaps_between(self, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
        """Number of gap intervals overlapping [ta, tb]."""
        if self.t.size < 2:
            return np.zeros(np.shape(ta), dtype=np.int64)
        ka = np.clip(np.searchsorted(self.t, ta, side="right") - 1, 0, self.t.size - 2)
        kb = np.clip(np.searchsorted(self.t, tb, side="left"), 0, self.t.size - 1)
        return self.cum_gaps[np.maximum(kb, ka)] - self.cum_gaps[ka]


def asof(t_src: np.ndarray, v_src: np.ndarray, tq: np.ndarray, max_age_s: float) -> np.ndarray:
    """The latest reading at or before each tq, if at most max_age_s older; else NaN."""
    out = np.full(np.shape(tq), np.nan)
    if t_src.size == 0:
        return out
    k = np.searchsorted(t_src, tq, side="right") - 1
    ok = (k >= 0) & (tq - t_src[np.maximum(k, 0)] <= max_age_s)
    out[ok] = v_src[k[ok]]
    return out


def window_reduce(
    t: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray, how: str, closed: str = "both"
) -> np.ndarray:
    """min / max / mean of the readings with lo <= t <= hi (closed="both") or lo <= t < hi
    (closed="left"), per window; NaN for empty windows. Windows may overlap; cost is
    O(n + windows)."""
    a = np.searchsorted(t, lo, side="left")
    b = np.searchsorted(t, hi, side="right" if closed == "both" else "left")
    empty = b <= a
    if how == "mean":
        cum = np.r_[0.0, np.cumsum(v)]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(empty, np.nan, (cum[b] - cum[a]) / (b - a))
    if v.size == 0:
        return np.full(np.shape(lo), np.nan)
    ufunc = {"min": np.minimum, "max": np.maximum}[how]
    padded = np.r_[v, 0.0]  # reduceat needs indices < len
    idx = np.empty(2 * a.size, dtype=np.int64)
    idx[0::2], idx[1::2] = a, np.maximum(b, a)
    red = ufunc.reduceat(padded, idx)[0::2] if idx.size else np.empty(0)
    return np.where(empty, np.nan, red)


def time_above(
    t0: np.ndarray, t1: np.ndarray, v0: np.ndarray, v1: np.ndarray, threshold: float
) -> np.ndarray:
    """Seconds of each straight piece during which the value is >= threshold."""
    hi, lo = np.maximum(v0, v1), np.minimum(v0, v1)
    out = np.where(lo >= threshold, t1 - t0, 0.0)
    part = np.flatnonzero((hi >= threshold) & (lo < threshold))  # crosses: linear fraction
    h, low = hi[part], lo[part]
    out[part] = (h - threshold) / (h - low) * (t1[part] - t0[part])
    return out


def split_at(
    t: np.ndarray, v: np.ndarray, edges: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, ...]:
    """The channel's non-gap intervals cut at `edges` (value interpolated there), each tagged
    with its bucket: returns (t0, t1, v0, v1, bucket) where bucket i is [edges[i], edges[i+1]).
    Edges are few (days): only the intervals that straddle one are cut."""
    if t.size < 2:
        e = np.empty(0)
        return e, e, e, e, np.empty(0, dtype=np.int64)
    b = np.searchsorted(edges, t, side="right") - 1
    t0, t1, v0, v1, b0, b1 = t[:-1], t[1:], v[:-1], v[1:], b[:-1], b[1:]
    keep = (t1 - t0) <= max_gap_s
    if np.any(keep & (b1 - b0 > 1)):  # an interval over several edges: cut at every edge
        inner = edges[(edges > t[0]) & (edges < t[-1])]
        tt = np.union1d(t, inner)
        orig = np.searchsorted(t, tt[:-1], side="right") - 1
        ok = (t[orig + 1] - t[orig]) <= max_gap_s
        vv = np.interp(tt, t, v)
        t0, t1, v0, v1 = tt[:-1][ok], tt[1:][ok], vv[:-1][ok], vv[1:][ok]
        return t0, t1, v0, v1, np.searchsorted(edges, t0, side="right") - 1
    cut = np.flatnonzero(keep & (b1 != b0) & (edges[np.clip(b1, 0, edges.size - 1)] > t0))
    uncut = keep.copy()
    uncut[cut] = False
    whole = np.flatnonzero(uncut)
    e = edges[b1[cut]]
    ve = v0[cut] + (v1[cut] - v0[cut]) * (e - t0[cut]) / (t1[cut] - t0[cut])
    return (
        np.concatenate((t0[whole], t0[cut], e)),
        np.concatenate((t1[whole], e, t1[cut])),
        np.concatenate((v0[whole], v0[cut], ve)),
        np.concatenate((v1[whole], ve, v1[cut])),
        np.concatenate((b0[whole], b0[cut], b1[cut])),
    )


def local_day_edges(
    t_first_s: float, t_last_s: float, tz: str | ZoneInfo
) -> tuple[list, np.ndarray]:
    """Site-local calendar days covering [t_first_s, t_last_s]: (dates, edges) with
    len(edges) == len(dates) + 1, edges in epoch seconds (local midnights; DST days are 23 or
    25 h long)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    first = dt.datetime.fromtimestamp(t_first_s, zone).date()
    last = dt.datetime.fromtimestamp(t_last_s, zone).date()
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    edges = np.array(
        [
            dt.datetime.combine(d, dt.time(0), tzinfo=zone).timestamp()
            for d in [*dates, last + dt.timedelta(days=1)]
        ]
    )
    return dates, edges
