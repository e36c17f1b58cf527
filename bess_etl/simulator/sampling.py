"""From true values to what the API reports: the reading grid, jitter, sensor noise, rounding
and data faults, one device and one local day ("chunk") at a time.

Reading k of a type is due at k * cadence + phase(mac, type) (epoch ms), moved by a jitter of
at most +-jitter_s; the phases of a device's types are TYPE_SPACING_MS apart. Noise, jitter and
every fault are drawn from counter-based hashes of (seed, MAC, type, k), and comm outages from
hashes of (seed, MAC, hour), so a reading is a pure function of its coordinates: any window
holds the same readings however a range is split.

Faults (each rate 0 disables it):
- dropout: half of `dropout_rate` as single lost readings, half as comm outages of 3..10 min
  (all types of the device; longer than the default max_gap_s of 120 s);
- duplicate: the reading is sent twice (the same row twice, adjacent);
- out of order: the reading trades places, in a response, with the next reading of its type;
- invalid: the value is null, or (as often) a sentinel far outside physical bounds
  (6553.5 for voltages, temperatures, humidity; 32767 for current and power).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bess_etl.config import Settings
from bess_etl.simulator import rng
from bess_etl.simulator.fleet import Device

TYPE_SPACING_MS = 350
OUTAGE_SLOT_MS = 3_600_000
OUTAGE_MIN_MS, OUTAGE_MAX_MS = 180_000, 600_000
CURRENT_DEADBAND_A = 0.05  # the BMS reports 0 below this, as the real sample's 0.0 at rest


@dataclass(frozen=True)
class ChannelFormat:
    decimals: int  # the reported resolution
    noise_sd: float  # zero-mean Gaussian sensor noise: sd = noise_sd + noise_rel * |value|
    noise_rel: float = 0.0
    sentinel: float = 6553.5  # an invalid reading's spike

    def noise(self, stream: int, k: np.ndarray, value: np.ndarray) -> np.ndarray:
        if self.noise_sd == 0.0 and self.noise_rel == 0.0:
            return np.zeros(len(k))
        return rng.normal(stream, k) * (self.noise_sd + self.noise_rel * np.abs(value))


FORMATS: dict[str, ChannelFormat] = {
    "voltage": ChannelFormat(2, 0.01),
    "current": ChannelFormat(2, 0.02, 0.002, sentinel=32767.0),
    "power": ChannelFormat(3, 0.001, 0.002, sentinel=32767.0),
    "soc": ChannelFormat(1, 0.0),
    "battery_temp": ChannelFormat(2, 0.03),
    "ambient_temp": ChannelFormat(2, 0.05),
    "humidity": ChannelFormat(1, 0.3),
    "supply_voltage": ChannelFormat(2, 0.02),
    "air_pressure": ChannelFormat(2, 0.02),
    "spindle_load": ChannelFormat(1, 0.5),
    "spindle_speed": ChannelFormat(0, 2.0),
}


@dataclass(frozen=True)
class Reporting:
    """The [simulator] keys that shape reporting, in integer ms."""

    seed: int
    cadence_ms: int
    jitter_ms: int
    dropout_rate: float
    duplicate_rate: float
    out_of_order_rate: float
    invalid_rate: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Reporting:
        sim = settings.simulator
        cadence_ms = max(1000, round(sim.cadence_s * 1000))
        # a jitter below half the cadence keeps each type's readings in order
        jitter_ms = min(round(sim.jitter_s * 1000), int(0.45 * cadence_ms))
        return cls(
            seed=sim.seed,
            cadence_ms=cadence_ms,
            jitter_ms=max(0, jitter_ms),
            dropout_rate=sim.dropout_rate,
            duplicate_rate=sim.duplicate_rate,
            out_of_order_rate=sim.out_of_order_rate,
            invalid_rate=sim.invalid_rate,
        )

    def phase_ms(self, mac: int, slot: int) -> int:
        base = rng.mix64(rng.key(self.seed, mac, "phase")) % self.cadence_ms
        return (base + slot * TYPE_SPACING_MS) % self.cadence_ms

    def reading_times(
        self, mac: int, type_code: int, slot: int, t0_ms: int, t1_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(k, ts) of the type's readings with t0_ms <= ts < t1_ms."""
        phase = self.phase_ms(mac, slot)
        cad, jit = self.cadence_ms, self.jitter_ms
        k = np.arange((t0_ms - phase - jit) // cad, (t1_ms - phase + jit) // cad + 1)
        u = rng.uniform(rng.key(self.seed, mac, type_code, "jitter"), k)
        ts = k * cad + phase + np.rint((2.0 * u - 1.0) * jit).astype(np.int64)
        keep = (ts >= t0_ms) & (ts < t1_ms)
        return k[keep], ts[keep]

    def in_outage(self, mac: int, ts: np.ndarray) -> np.ndarray:
        """True where a comm outage of the device swallows the reading."""
        out = np.zeros(len(ts), dtype=bool)
        mean_ms = 0.5 * (OUTAGE_MIN_MS + OUTAGE_MAX_MS)
        p_slot = min(1.0, 0.5 * self.dropout_rate * OUTAGE_SLOT_MS / mean_ms)
        if p_slot <= 0.0 or len(ts) == 0:
            return out
        j = np.arange((ts[0] - OUTAGE_MAX_MS) // OUTAGE_SLOT_MS, ts[-1] // OUTAGE_SLOT_MS + 1)
        hit = rng.uniform(rng.key(self.seed, mac, "outage"), j) < p_slot
        j = j[hit]
        start = j * OUTAGE_SLOT_MS + np.floor(
            rng.uniform(rng.key(self.seed, mac, "outage-at"), j) * OUTAGE_SLOT_MS
        ).astype(np.int64)
        length = OUTAGE_MIN_MS + np.floor(
            rng.uniform(rng.key(self.seed, mac, "outage-len"), j) * (OUTAGE_MAX_MS - OUTAGE_MIN_MS)
        ).astype(np.int64)
        for s, n in zip(start, length, strict=True):
            out |= (ts >= s) & (ts < s + n)
        return out


@dataclass(frozen=True, eq=False)
class Chunk:
    """What a device reports over [start_ms, end_ms) (one local day): rows in timestamp order
    (ties by type), a duplicated reading as two identical rows. `value` NaN means null;
    `swap` marks a reading that trades places with the next reading of its type."""

    start_ms: int
    end_ms: int
    ts: np.ndarray  # int64 epoch ms
    type: np.ndarray  # int32
    value: np.ndarray  # float64
    swap: np.ndarray  # bool

    @classmethod
    def empty(cls, start_ms: int, end_ms: int) -> Chunk:
        return cls(
            start_ms,
            end_ms,
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.float64),
            np.zeros(0, bool),
        )


# true values of named channels at their own timestamps: name -> (value, exact); `exact` rows
# are reported without noise (a BMS's zero current), None for none
TrueValues = Callable[[dict[str, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray | None]]]


def build_chunk(
    rep: Reporting,
    device: Device,
    start_ms: int,
    end_ms: int,
    true_values: TrueValues,
    negate: frozenset[str] = frozenset(),
) -> Chunk:
    """Readings of `device` with start_ms <= ts < end_ms. Channels named in `negate` are
    reported with the opposite sign (current and power under "discharge_positive")."""
    mac, seed = device.mac, rep.seed
    grid: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
    for slot, (code, name) in enumerate(device.channels):
        k, ts = rep.reading_times(mac, code, slot, start_ms, end_ms)
        if rep.dropout_rate > 0.0:
            lost = rng.uniform(rng.key(seed, mac, code, "drop"), k) < 0.5 * rep.dropout_rate
            keep = ~lost & ~rep.in_outage(mac, ts)
            k, ts = k[keep], ts[keep]
        grid[name] = (code, k, ts)
    truth = true_values({name: ts for name, (_, _, ts) in grid.items()})

    ts_parts, type_parts, value_parts, dup_parts, swap_parts = [], [], [], [], []
    for name, (code, k, ts) in grid.items():
        fmt = FORMATS[name]
        value, exact = truth[name]
        value = value + fmt.noise(rng.key(seed, mac, code, "noise"), k, value)
        if exact is not None:
            value = np.where(exact, 0.0, value)
        value = np.round(value, fmt.decimals)
        if name in negate:
            value = -value
        if rep.invalid_rate > 0.0:
            bad = rng.uniform(rng.key(seed, mac, code, "invalid"), k) < rep.invalid_rate
            null = rng.uniform(rng.key(seed, mac, code, "null"), k) < 0.5
            value = np.where(bad & null, np.nan, np.where(bad, fmt.sentinel, value))

        def flags(what: str, rate: float, k: np.ndarray = k, code: int = code) -> np.ndarray:
            if rate <= 0.0:
                return np.zeros(len(k), dtype=bool)
            return rng.uniform(rng.key(seed, mac, code, what), k) < rate

        dup = flags("dup", rep.duplicate_rate)
        ts_parts.append(ts)
        type_parts.append(np.full(len(ts), code, dtype=np.int32))
        value_parts.append(value)
        dup_parts.append(dup)
        swap_parts.append(flags("swap", rep.out_of_order_rate) & ~dup)

    if not ts_parts:
        return Chunk.empty(start_ms, end_ms)
    ts = np.concatenate(ts_parts)
    types = np.concatenate(type_parts)
    order = np.lexsort((types, ts))
    order = np.repeat(order, 1 + np.concatenate(dup_parts)[order])
    return Chunk(
        start_ms,
        end_ms,
        ts[order],
        types[order],
        np.concatenate(value_parts)[order],
        np.concatenate(swap_parts)[order],
    )
