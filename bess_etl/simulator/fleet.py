"""The simulated account: the real account's locations and devices (DESIGN.md), and which sensor
types each device reports.

Battery channels use the type codes of `settings.channels`, so a config that remaps codes (or
sets one to 0, absent) is simulated as configured. The other devices are there so that device
selection ("reports voltage and current or power") has something to reject: the environment
sensor reports a supply voltage but no current or power, the machine tools report power and
current but never voltage, and all of them report types no channel maps (kept as unknown).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bess_etl.config import ChannelSettings, Settings
from bess_etl.simulator.climate import Site
from bess_etl.simulator.lfp import Pack
from bess_etl.simulator.plan import BessSpec

CLIENT_ID = 10_417
QUALICUM = Site(key=1, lat_deg=49.32876, lon_deg=-124.55771, temp_offset_c=-0.3)
VICTORIA = Site(key=2, lat_deg=48.43211, lon_deg=-123.38891, temp_offset_c=0.0)


@dataclass(frozen=True)
class Location:
    id: int
    description: str
    city: str
    site: Site
    state: str = "BC"
    country: str = "Canada"


RND_2 = Location(40_511, "Rainhouse R&D 2", "Qualicum Beach", QUALICUM)
MFG_BESS = Location(40_512, "Rainhouse Manufacturing BESS", "Victoria", VICTORIA)
MFG = Location(40_513, "Rainhouse Manufacturing", "Victoria", VICTORIA)
EXTRA_BESS_MAC0 = 900_000_000  # simulator.extra_bess adds MACs 900000001, 900000002, ...

# Channels no [channels] key maps: name -> (preferred type code, label, units).
EXTRA_TYPES: dict[str, tuple[int, str, str]] = {
    "spindle_load": (1101, "Spindle Load", "%"),
    "spindle_speed": (1102, "Spindle Speed", "rpm"),
    "air_pressure": (1104, "Barometric Pressure", "kPa"),
}
# Labels of the mapped channels, as sensortype/list gives them.
CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "voltage": ("Voltage", "V"),
    "current": ("Current", "A"),
    "power": ("Power", "kW"),
    "soc": ("State of Charge", "%"),
    "battery_temp": ("Battery Temperature", "°C"),
    "ambient_temp": ("Temperature", "°C"),
    "humidity": ("Relative Humidity", "%"),
}


@dataclass(frozen=True)
class Device:
    """One sensor of the account. `channels` are (type code, channel name) in reporting order;
    for the ENV sensor the voltage code carries its 12 V supply, not a battery."""

    mac: int
    id: int
    description: str
    kind: str  # "bess", "env" or "machine"
    location: Location
    channels: tuple[tuple[int, str], ...]
    rated_kw: float = 0.0  # machines

    @property
    def types(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.channels)


def extra_type_codes(channels: ChannelSettings) -> dict[str, int]:
    """Codes of the unmapped channels, moved past any code the config uses."""
    taken = set(channels.by_name().values())
    out = {}
    for name, (code, _, _) in EXTRA_TYPES.items():
        while code in taken:
            code += 1000
        out[name] = code
        taken.add(code)
    return out


def _present(channels: ChannelSettings, *names: str) -> tuple[tuple[int, str], ...]:
    return tuple((getattr(channels, n), n) for n in names if getattr(channels, n))


def build_fleet(settings: Settings) -> dict[int, Device]:
    """The account's devices by MAC, in the order the location view lists them."""
    ch = settings.channels
    extra = extra_type_codes(ch)
    battery = _present(
        ch, "voltage", "current", "power", "battery_temp", "ambient_temp", "humidity", "soc"
    )
    env = (
        *_present(ch, "ambient_temp", "humidity"),
        *((ch.voltage, "supply_voltage"),)[: 1 if ch.voltage else 0],
        (extra["air_pressure"], "air_pressure"),
    )

    def machine(*names: str) -> tuple[tuple[int, str], ...]:
        mapped = _present(ch, *[n for n in names if n in ("current", "power")])
        return (*mapped, *((extra[n], n) for n in names if n in extra))

    devices = [
        Device(7_725_398, 61_001, "BESS 3.5KW - ENV", "env", RND_2, env),
        Device(303_721_690, 61_002, "BESS 3.5KW", "bess", RND_2, battery),
        Device(303_721_691, 61_003, "BESS 10KW", "bess", MFG_BESS, battery),
        Device(
            3_162_989, 61_004, "Puma 240M Lathe", "machine", MFG,
            machine("power", "spindle_load"), rated_kw=18.5,
        ),
        Device(
            14_339_560, 61_005, "Matsuura", "machine", MFG,
            machine("current", "power", "spindle_speed"), rated_kw=15.0,
        ),
        Device(
            16_624_087, 61_006, "Fanuc Robodrill", "machine", MFG,
            machine("power", "spindle_speed"), rated_kw=11.0,
        ),
        Device(
            14_302_884, 61_007, "Nakamura-Tome WT 150ii Lathe", "machine", MFG,
            machine("current", "spindle_load"), rated_kw=15.0,
        ),
    ]  # fmt: skip
    for k in range(settings.simulator.extra_bess):  # a bigger fleet, for benchmarks
        location = (RND_2, MFG_BESS)[k % 2]
        devices.append(
            Device(
                EXTRA_BESS_MAC0 + k + 1, 70_001 + k, f"BESS SIM {k + 1}", "bess", location, battery
            )
        )
    return {d.mac: d for d in devices}


def bess_spec(settings: Settings, device: Device) -> BessSpec:
    """The model parameters of a simulated battery, from the config."""
    cap = settings.capacity_for(device.mac)
    sim = settings.simulator
    return BessSpec(
        mac=device.mac,
        site=device.location.site,
        pack=Pack(nameplate_ah=cap.nameplate_ah, v_full=cap.v_full),
        seed=sim.seed,
        commissioned=dt.date.fromisoformat(sim.commissioned),
        tz_name=settings.site.timezone,
        fade_pct_per_year=sim.fade_pct_per_year,
        fade_pct_per_1000_cycles=sim.fade_pct_per_1000_cycles,
        deep_every_days=sim.deep_cycle_every_days,
    )


def sensor_types(settings: Settings) -> list[dict]:
    """sensortype/list: every type the fleet reports, with label and units."""
    names: dict[int, str] = {}
    for device in build_fleet(settings).values():
        for code, name in device.channels:
            names.setdefault(code, name)
    rows = []
    for code, name in sorted(names.items()):
        if name in EXTRA_TYPES:
            _, label, units = EXTRA_TYPES[name]
        elif name == "supply_voltage":
            label, units = CHANNEL_LABELS["voltage"]
        else:
            label, units = CHANNEL_LABELS[name]
        rows.append({"type": code, "label": label, "units": units})
    return rows
