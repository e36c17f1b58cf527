"""The simulated account as a queryable object: devices, day models, and the readings of any
window, as the API returns them. The HTTP layer (server.py) and the ground truth (truth.py) sit
on top of it; tests may use it directly.

Windows are answered from per-(device, local day) chunks kept in a small LRU cache, so the
pages of a split window and a backfill's neighbouring windows reuse each other's work.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bess_etl.config import Settings
from bess_etl.lake import READINGS_SCHEMA, TS_TYPE
from bess_etl.simulator import signals
from bess_etl.simulator.day import DayTrace, simulate_day
from bess_etl.simulator.encode import encode_readings
from bess_etl.simulator.fleet import Device, bess_spec, build_fleet
from bess_etl.simulator.plan import BessSpec, Plan, build_plan
from bess_etl.simulator.sampling import CURRENT_DEADBAND_A, Chunk, Reporting, build_chunk
from bess_etl.timeutil import local_dates_between, local_midnight_ms, now_ms

PLAN_MARGIN_DAYS = 400  # plans are built this far past the day asked for, then reused


@dataclass(frozen=True, eq=False)
class Rows:
    """Readings in response order (timestamp order, but for out-of-order swaps)."""

    ts: np.ndarray
    type: np.ndarray
    value: np.ndarray  # NaN = null

    def __len__(self) -> int:
        return len(self.ts)


class Simulator:
    """The simulated fleet of `settings`. Thread-safe; `clock` returns epoch ms (no reading
    after it is ever returned)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], int] = now_ms,
        cache_days: int = 128,
    ):
        self.settings = settings
        self.clock = clock
        self.devices: dict[int, Device] = build_fleet(settings)
        self.reporting = Reporting.from_settings(settings)
        self.tz = settings.tz
        self.commissioned = dt.date.fromisoformat(settings.simulator.commissioned)
        self.commissioned_ms = local_midnight_ms(self.commissioned, self.tz)
        self.specs: dict[int, BessSpec] = {
            mac: bess_spec(settings, d) for mac, d in self.devices.items() if d.kind == "bess"
        }
        self._plans: dict[int, Plan] = {}
        self._chunks: OrderedDict[tuple[int, dt.date], Chunk] = OrderedDict()
        self._cache_days = cache_days
        self._lock = threading.RLock()
        sign = settings.channels.sign
        self._negate = frozenset({"current", "power"}) if sign < 0 else frozenset()

    # ------------------------------------------------------------------ model

    def spec(self, mac: int) -> BessSpec:
        if mac not in self.specs:
            raise KeyError(f"MAC {mac} is not a simulated BESS")
        return self.specs[mac]

    def plan(self, mac: int, through: dt.date) -> Plan:
        """The duty plan of a BESS covering commissioning .. `through` (at least)."""
        with self._lock:
            plan = self._plans.get(mac)
            if plan is None or plan.first_day + dt.timedelta(days=plan.n_days - 1) < through:
                last = max(through, dt.date.today()) + dt.timedelta(days=PLAN_MARGIN_DAYS)
                plan = self._plans[mac] = build_plan(self.spec(mac), last)
            return plan

    def trace(self, mac: int, day: dt.date) -> DayTrace:
        """The true state of a BESS over a local day (on or after commissioning)."""
        if day < self.commissioned:
            raise ValueError(f"{day} is before the fleet's commissioning on {self.commissioned}")
        plan = self.plan(mac, day)
        return simulate_day(plan, plan.index(day))

    # ------------------------------------------------------------------ readings

    def chunk(self, mac: int, day: dt.date) -> Chunk:
        """Everything `mac` reports over local day `day` (regardless of the clock)."""
        key = (mac, day)
        with self._lock:
            if key in self._chunks:
                self._chunks.move_to_end(key)
                return self._chunks[key]
        chunk = self._build_chunk(self.devices[mac], day)
        with self._lock:
            self._chunks[key] = chunk
            while len(self._chunks) > self._cache_days:
                self._chunks.popitem(last=False)
        return chunk

    def _build_chunk(self, device: Device, day: dt.date) -> Chunk:
        start_ms = local_midnight_ms(day, self.tz)
        end_ms = local_midnight_ms(day + dt.timedelta(days=1), self.tz)
        if day < self.commissioned:
            return Chunk.empty(start_ms, end_ms)
        seed = self.reporting.seed
        if device.kind == "bess":
            trace = self.trace(device.mac, day)
            return build_chunk(
                self.reporting, device, start_ms, end_ms, _battery_values(trace), self._negate
            )
        if device.kind == "env":

            def env(ts_by_name: dict[str, np.ndarray]):
                return {
                    n: (signals.env_values(device, n, ts, seed), None)
                    for n, ts in ts_by_name.items()
                }

            return build_chunk(self.reporting, device, start_ms, end_ms, env)

        def machine(ts_by_name: dict[str, np.ndarray]):
            values = signals.machine_values(
                device, list(ts_by_name), ts_by_name, seed, start_ms, self.tz, day
            )
            return {n: (v, None) for n, v in values.items()}

        return build_chunk(self.reporting, device, start_ms, end_ms, machine)

    def select(
        self,
        mac: int,
        begin_ms: int,
        end_ms: int,
        types: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> Rows:
        """The readings with begin_ms <= ts <= end_ms (both inclusive), of `types` (all when
        empty), capped at now: the first `limit` in timestamp order, then out-of-order
        swaps applied within the page. Raises KeyError for a MAC not in the fleet."""
        if mac not in self.devices:
            raise KeyError(f"MAC {mac} is not a device of this account")
        wanted = np.array(sorted(set(types or ())), dtype=np.int32)
        lo = max(begin_ms, self.commissioned_ms)
        hi = min(end_ms, self.clock())
        limit = limit if limit is not None else np.iinfo(np.int64).max
        parts: list[tuple[Chunk, np.ndarray]] = []
        count = 0
        if lo <= hi and limit > 0:
            for day in local_dates_between(lo, hi + 1, self.tz):
                chunk = self.chunk(mac, day)
                a = np.searchsorted(chunk.ts, lo, side="left")
                b = np.searchsorted(chunk.ts, hi, side="right")
                idx = np.arange(a, b)
                if len(wanted):
                    idx = idx[np.isin(chunk.type[a:b], wanted)]
                parts.append((chunk, idx))
                count += len(idx)
                if count >= limit:
                    break
        if not parts:
            return Rows(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0))
        ts = np.concatenate([c.ts[i] for c, i in parts])[:limit]
        types_ = np.concatenate([c.type[i] for c, i in parts])[:limit]
        value = np.concatenate([c.value[i] for c, i in parts])[:limit]
        swap = np.concatenate([c.swap[i] for c, i in parts])[:limit]
        order = _swapped_order(types_, swap)
        return Rows(ts[order], types_[order], value[order])

    def body(
        self,
        mac: int,
        begin_ms: int,
        end_ms: int,
        types: Iterable[int] | None = None,
        limit: int | None = None,
    ) -> bytes:
        """The byrange response body (JSON array)."""
        rows = self.select(mac, begin_ms, end_ms, types, limit)
        return encode_readings(mac, rows.ts, rows.type, rows.value)

    def table(
        self,
        mac: int,
        begin_ms: int,
        end_ms: int,
        types: Iterable[int] | None = None,
    ) -> pa.Table:
        """The same readings as a READINGS_SCHEMA table, in response order."""
        rows = self.select(mac, begin_ms, end_ms, types)
        return pa.table(
            {
                "mac": pa.array(np.full(len(rows), mac, np.int64)),
                "type": pa.array(rows.type, pa.int32()),
                "ts": pa.array(rows.ts, pa.int64()).cast(TS_TYPE),
                "value": pa.array(rows.value, pa.float64(), from_pandas=True),
            },
            schema=READINGS_SCHEMA,
        )

    def last_report_ms(self, mac: int) -> int | None:
        """Timestamp of the device's latest reading up to now (None before commissioning or
        during an outage longer than an hour, which the simulator never makes)."""
        now = self.clock()
        rows = self.select(mac, now - 3_600_000, now)
        return int(rows.ts.max()) if len(rows) else None


def _battery_values(trace: DayTrace):
    def values(ts_by_name: dict[str, np.ndarray]):
        out = {}
        for name, ts in ts_by_name.items():
            if name in ("current", "power"):
                current = trace.at(ts, trace.current_a)
                quiet = np.abs(current) < CURRENT_DEADBAND_A
                if name == "power":  # V*I of the model at the power channel's own instants
                    current = trace.at(ts, trace.voltage_v) * current / 1000.0
                out[name] = (current, quiet)
            else:
                source = {
                    "voltage": trace.voltage_v,
                    "soc": trace.soc * 100.0,
                    "battery_temp": trace.battery_temp_c,
                    "ambient_temp": trace.ambient_c,
                    "humidity": trace.humidity_pct,
                }[name]
                out[name] = (trace.at(ts, source), None)
        return out

    return values


def _swapped_order(types: np.ndarray, swap: np.ndarray) -> np.ndarray:
    """Response order: row p marked `swap` trades places with the next row of its type (if that
    row is in the page). A row already moved by a swap is not swapped again."""
    order = np.arange(len(types))
    flagged = np.nonzero(swap)[0]
    if len(flagged) == 0:
        return order
    by_type = np.lexsort((order, types))
    successor = np.full(len(types), -1)
    same = types[by_type][1:] == types[by_type][:-1]
    successor[by_type[:-1][same]] = by_type[1:][same]
    moved = np.zeros(len(types), dtype=bool)
    for p in flagged:
        q = successor[p]
        if q < 0 or moved[p] or moved[q]:
            continue
        order[p], order[q] = order[q], order[p]
        moved[p] = moved[q] = True
    return order
