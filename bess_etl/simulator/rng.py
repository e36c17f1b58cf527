"""Counter-based random numbers: every draw is a pure function of (key, counter).

The simulator never keeps a random stream that advances: reading k of a type, the weather of day
j or the fault on a reading are each drawn by hashing their own coordinates. That is what makes
any time window return the same readings however a range is split, and lets one day be
generated without generating the days before it.

The hash is SplitMix64's finaliser (Steele, Lea & Flood 2014), vectorised over numpy uint64
(overflowing multiplication wraps, which is what the finaliser wants).
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def mix64(x: int) -> int:
    """SplitMix64 finaliser on a Python int (mod 2**64)."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * _M1) & MASK64
    x = ((x ^ (x >> 27)) * _M2) & MASK64
    return x ^ (x >> 31)


def key(*parts: int | str) -> int:
    """Fold integers and short labels into one 64-bit stream key."""
    h = 0x6A09E667F3BCC908
    for part in parts:
        if isinstance(part, str):
            part = int.from_bytes(part.encode()[:8].ljust(8, b"\0"), "little")
        h = mix64(h ^ mix64(int(part) + _GOLDEN))
    return h


def _mix_array(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_M1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_M2)
    return x ^ (x >> np.uint64(31))


def bits(stream: int, counter: np.ndarray | int) -> np.ndarray:
    """64 random bits per counter (uint64)."""
    c = np.asarray(counter, dtype=np.int64).astype(np.uint64)
    return _mix_array(c * np.uint64(_GOLDEN) + np.uint64(stream & MASK64))


def uniform(stream: int, counter: np.ndarray | int) -> np.ndarray:
    """Uniform on [0, 1), one per counter."""
    return (bits(stream, counter) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def normal(stream: int, counter: np.ndarray | int) -> np.ndarray:
    """Standard normal, one per counter (Box-Muller on two independent uniforms)."""
    u1 = uniform(stream, counter)
    u2 = uniform(mix64(stream ^ 0x5851F42D4C957F2D), counter)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
