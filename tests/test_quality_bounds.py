"""The physical bounds of every channel, not only voltage: each channel's readings just inside
its [lo, hi] are kept, just outside are quarantined as out_of_range; every channel has bounds
of its own here, so a channel checked against another's bounds (or none) is caught."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from bess_etl import lake
from bess_etl.lake import READINGS_SCHEMA, TS_TYPE
from bess_etl.store import store_readings

MAC = 303721690
DAY = dt.date(2026, 10, 1)
D0 = int(dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC).timestamp() * 1000)
TOML = """
[channels]
voltage = 532
current = 531
power = 533
soc = 529
battery_temp = 530
ambient_temp = 520
humidity = 514

[quality]
voltage_v = [40.0, 60.0]
current_a = [-50.0, 60.0]
power_kw = [-3.0, 4.0]
soc_pct = [5.0, 95.0]
temperature_c = [-20.0, 45.0]
humidity_pct = [10.0, 90.0]
"""
BOUNDS = {  # type code -> (lo, hi), as configured above
    532: (40.0, 60.0),
    531: (-50.0, 60.0),
    533: (-3.0, 4.0),
    529: (5.0, 95.0),
    530: (-20.0, 45.0),
    520: (-20.0, 45.0),
    514: (10.0, 90.0),
}
EPS = 1e-6


def test_every_channel_has_its_own_bounds(make_settings):
    settings = make_settings(TOML)
    rows, expect_out = [], []
    for n, (code, (lo, hi)) in enumerate(BOUNDS.items()):
        t = D0 + n * 10_000
        for k, value in enumerate((lo - EPS, lo, (lo + hi) / 2, hi, hi + EPS)):
            rows.append((code, t + k * 1000, value))
            if value < lo or value > hi:
                expect_out.append((code, value))
    table = pa.table(
        {
            "mac": pa.array([MAC] * len(rows), pa.int64()),
            "type": pa.array([r[0] for r in rows], pa.int32()),
            "ts": pa.array([r[1] for r in rows], pa.int64()).cast(TS_TYPE),
            "value": pa.array([r[2] for r in rows], pa.float64()),
        },
        schema=READINGS_SCHEMA,
    )
    write = store_readings(settings, table)[(MAC, DAY)]
    assert write.invalid == {"out_of_range": 2 * len(BOUNDS)}
    assert write.rows_valid == 3 * len(BOUNDS)
    held = lake.read_partition(lake.quarantine_root(settings.lake_dir), MAC, DAY)
    got = sorted(zip(held["type"].to_pylist(), held["value"].to_pylist(), strict=True))
    assert got == sorted(expect_out)
    assert set(held["reason"].to_pylist()) == {"out_of_range"}
    kept = lake.read_partition(lake.readings_root(settings.lake_dir), MAC, DAY)
    for code, (lo, hi) in BOUNDS.items():
        values = sorted(v for c, v in zip(kept["type"].to_pylist(), kept["value"].to_pylist(),
                                          strict=True) if c == code)  # fmt: skip
        assert values == pytest.approx([lo, (lo + hi) / 2, hi]), code
