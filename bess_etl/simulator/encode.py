"""The byrange JSON array, formatted with vectorised numpy byte operations.

Each row is `{"mac":M,"type":T,"timestamp":TS,"data":V},` built as a few fixed-width byte
segments (prefix per type, 13 timestamp digits, the value's sign, integer and fraction digits,
or `null`), each with a mask of the bytes that belong to the row; masking the stacked segments
drops the padding and leaves the rows back to back. Values print like Python's repr of a float
rounded to at most three decimals (55.2, 0.0, -12.345), which is what the sampler produces;
negative zero prints as 0.0. About 2.5 M rows/s on one core, 4x json.dumps over dicts.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 65_536  # rows formatted at once (bounds the temporary byte matrices)
_INT_DIGITS = 7  # values below 10 million
_FRAC_DIGITS = 3
_TS_DIGITS = 13  # epoch ms from 2001-09-09 to 2286-11-20
_POW10_INT = 10 ** np.arange(_INT_DIGITS - 1, -1, -1, dtype=np.int64)
_ZERO = ord("0")


def _fixed(rows: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Byte strings -> (padded matrix, mask of real bytes)."""
    width = max(len(r) for r in rows)
    mat = np.zeros((len(rows), width), dtype=np.uint8)
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, r in enumerate(rows):
        mat[i, : len(r)] = np.frombuffer(r, dtype=np.uint8)
        mask[i, : len(r)] = True
    return mat, mask


def _const(text: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    row = np.frombuffer(text, dtype=np.uint8)
    return np.broadcast_to(row, (n, len(row))), np.ones((n, len(row)), dtype=bool)


# the 5 ASCII digits of every number below 100000: digit rows are gathered, not computed
_DIGITS5 = (
    (np.arange(100_000)[:, None] // 10 ** np.arange(4, -1, -1)[None, :]) % 10 + _ZERO
).astype(np.uint8)


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints (width <= 15) as an (n, width) array."""
    parts = []
    for _ in range((width + 4) // 5):
        x, low = np.divmod(x, 100_000)
        parts.append(_DIGITS5[low])
    return np.hstack(parts[::-1])[:, -width:]


def _block(mac: int, ts: np.ndarray, types: np.ndarray, values: np.ndarray) -> bytes:
    n = len(ts)
    codes, type_idx = np.unique(types, return_inverse=True)
    prefix, prefix_mask = _fixed(
        [b'{"mac":%d,"type":%d,"timestamp":' % (mac, int(c)) for c in codes]
    )
    null = np.isnan(values)
    v = np.where(null, 0.0, values)
    scaled = np.rint(np.abs(v) * 10**_FRAC_DIGITS).astype(np.int64)
    whole, frac = np.divmod(scaled, 10**_FRAC_DIGITS)
    frac_digits = _digits(frac, _FRAC_DIGITS)
    # keep fraction digits up to the last non-zero one, and at least one (55.0, not 55.)
    n_frac = np.ones(n, dtype=np.int64)
    n_frac[frac % 10 != 0] = 3
    n_frac[(frac % 10 == 0) & (frac % 100 != 0)] = 2
    int_mask = (whole[:, None] >= _POW10_INT[None, :]) | (np.arange(_INT_DIGITS) == _INT_DIGITS - 1)
    number = ~null[:, None]
    segments = [
        (prefix[type_idx], prefix_mask[type_idx]),
        (_digits(ts, _TS_DIGITS), np.ones((n, _TS_DIGITS), dtype=bool)),
        _const(b',"data":', n),
        (_const(b"-", n)[0], ((v < 0) & (scaled > 0) & ~null)[:, None]),
        (_digits(whole, _INT_DIGITS), int_mask & number),
        (_const(b".", n)[0], number),
        (frac_digits, (np.arange(_FRAC_DIGITS)[None, :] < n_frac[:, None]) & number),
        (_const(b"null", n)[0], np.repeat(null[:, None], 4, axis=1)),
        _const(b"},", n),
    ]
    mat = np.hstack([s for s, _ in segments])
    mask = np.hstack([m for _, m in segments])
    return mat[mask].tobytes()


def encode_readings(mac: int, ts: np.ndarray, types: np.ndarray, values: np.ndarray) -> bytes:
    """`[{"mac":..,"type":..,"timestamp":..,"data":..},...]` for the rows in the given order;
    NaN values are written as null."""
    n = len(ts)
    if n == 0:
        return b"[]"
    ts = np.asarray(ts, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if ts.min() < 10 ** (_TS_DIGITS - 1) or ts.max() >= 10**_TS_DIGITS:
        raise ValueError("timestamps outside 2001..2286 cannot be encoded")
    if np.any(np.isinf(values)) or np.nanmax(np.abs(values), initial=0.0) >= 10**_INT_DIGITS:
        raise ValueError("values must be finite and below 1e7 in magnitude")
    types = np.asarray(types)
    blocks = []
    for i in range(0, n, BLOCK_ROWS):
        rows = slice(i, i + BLOCK_ROWS)
        blocks.append(_block(mac, ts[rows], types[rows], values[rows]))
    blocks[-1] = blocks[-1][:-1]  # the last row's comma
    return b"".join([b"[", *blocks, b"]"])
