"""One settings object, loaded from `bess-etl.toml`; every key has a default that works with the
built-in simulator. Secrets come only from the environment and never appear in repr().

Lookup order for the file: `--config`, then `BESS_ETL_CONFIG`, then `./bess-etl.toml` if present.
`--data-dir` / `BESS_ETL_DATA_DIR` override `data_dir`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bess_etl.errors import ConfigError

DEFAULT_CONFIG_NAME = "bess-etl.toml"
# The account's 10 kW unit (DESIGN.md); a [devices.303721691] table in the file overrides it.
DEFAULT_DEVICE_OVERRIDES: dict[str, dict[str, float]] = {
    "303721691": {"nameplate_ah": 200.0, "nameplate_kwh": 10.2},
}
FAULT_KINDS = ("5xx", "429", "timeout", "truncated", "expiry")


@dataclass(frozen=True)
class ApiSettings:
    url: str = ""  # empty: the built-in simulator
    # "j": POST authentication/j, the password in a JSON body; "g": GET authentication/g, the
    # password in the query string, which proxies and server access logs record
    login: str = "j"
    limit: int = 100_000  # rows per byrange call; a full window is split, never truncated
    concurrency: int = 4  # requests in flight at once, over one connection pool
    timeout_s: float = 60.0
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    # secrets: from BESS_ETL_API_USERNAME / BESS_ETL_API_PASSWORD only
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SiteSettings:
    timezone: str = "America/Vancouver"


@dataclass(frozen=True)
class ChannelSettings:
    """Aretas sensor type codes per physical channel; 0 = absent."""

    voltage: int = 532
    current: int = 531
    power: int = 533
    soc: int = 0
    battery_temp: int = 530
    ambient_temp: int = 520
    humidity: int = 514
    current_sign: str = "charge_positive"  # or "discharge_positive"; power follows current

    def by_name(self) -> dict[str, int]:
        """Channel name -> type code, for the channels that are present."""
        names = ("voltage", "current", "power", "soc", "battery_temp", "ambient_temp", "humidity")
        return {n: getattr(self, n) for n in names if getattr(self, n)}

    @property
    def sign(self) -> float:
        """Multiplier that makes current and power charge-positive."""
        return 1.0 if self.current_sign == "charge_positive" else -1.0


@dataclass(frozen=True)
class IntegrationSettings:
    max_gap_s: float = 120.0
    interval_minutes: int = 15


@dataclass(frozen=True)
class QualitySettings:
    """Physical bounds [lo, hi]; readings outside are quarantined, not integrated."""

    voltage_v: tuple[float, float] = (0.0, 1500.0)
    current_a: tuple[float, float] = (-10000.0, 10000.0)
    power_kw: tuple[float, float] = (-10000.0, 10000.0)
    soc_pct: tuple[float, float] = (0.0, 100.0)
    temperature_c: tuple[float, float] = (-60.0, 150.0)
    humidity_pct: tuple[float, float] = (0.0, 100.0)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class TariffPeriod:
    """A time-of-use period: local wall-clock [start, end) on the given weekdays."""

    name: str = "peak"
    days: tuple[str, ...] = WEEKDAYS
    start: str = "00:00"
    end: str = "24:00"
    import_per_kwh: float = 0.0
    export_per_kwh: float = 0.0


@dataclass(frozen=True)
class TariffSettings:
    import_per_kwh: float = 0.11  # paid per kWh charged into the battery
    export_per_kwh: float = 0.05  # earned per kWh discharged out of it
    currency: str = "CAD"
    periods: tuple[TariffPeriod, ...] = ()  # first matching period wins; else the flat prices


@dataclass(frozen=True)
class CapacitySettings:
    nameplate_ah: float = 100.0
    nameplate_kwh: float = 5.1
    v_full: float = 56.0
    v_empty: float = 48.0
    soc_full_pct: float = 98.0
    soc_empty_pct: float = 5.0
    min_delta_soc_pct: float = 40.0  # partial cycles give capacity as dAh/dSoC above this
    rest_current_a: float = 0.0  # |I| below this is rest; 0: 1 % of nameplate_ah (C/100)
    eol_soh_pct: float = 80.0
    high_voltage_v: float = 0.0  # time above it is a stress metric; 0: v_full
    high_c_rate: float = 0.5
    fade_window_days: int = 90  # trailing window of the robust fade fit


@dataclass(frozen=True)
class IngestSettings:
    macs: tuple[int, ...] = ()  # empty: every device that reports the battery channels
    lookback_hours: float = 6.0  # daily runs re-pull this much before the watermark (late data)
    initial_days: int = 7  # a first daily run with no watermark pulls this many days
    probe_hours: float = 24.0  # how far back device selection looks for battery channels
    days_per_task: int = 7  # partitions per pull task: the unit of retry and of what a kill loses
    parallel_tasks: int = 2  # pull tasks at once (each with its own api.concurrency requests)


@dataclass(frozen=True)
class SimulatorSettings:
    seed: int = 7
    fade_pct_per_year: float = 4.0  # calendar fade
    fade_pct_per_1000_cycles: float = 4.0  # cycling fade per 1000 equivalent full cycles
    commissioned: str = "2024-01-01"  # site-local date the simulated fleet starts
    cadence_s: float = 20.0
    jitter_s: float = 1.0
    dropout_rate: float = 0.002
    duplicate_rate: float = 0.002
    out_of_order_rate: float = 0.002
    invalid_rate: float = 0.0005
    deep_cycle_every_days: int = 7  # a full charge and a full discharge this often
    extra_bess: int = 0  # more simulated BESS (MACs 900000001...), for fleet-scale benchmarks
    faults: str = "none"  # comma list of FAULT_KINDS, "all" or "none"
    fault_rate: float = 0.1
    token_expiry_requests: int = 0  # >0: a token expires after this many data requests
    username: str = "demo"
    password: str = field(default="demo", repr=False)

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        return parse_faults(self.faults)


@dataclass(frozen=True)
class PrefectSettings:
    orchestrate: str = "auto"  # auto: through Prefect when PREFECT_API_URL is set; always; never
    task_runner: str = "threads"  # or "dask"
    dask_address: str = ""  # empty with task_runner = "dask": a local cluster
    dask_workers: int = 2


@dataclass(frozen=True)
class Settings:
    data_dir: str = "data"
    api: ApiSettings = ApiSettings()
    site: SiteSettings = SiteSettings()
    channels: ChannelSettings = ChannelSettings()
    integration: IntegrationSettings = IntegrationSettings()
    quality: QualitySettings = QualitySettings()
    tariff: TariffSettings = TariffSettings()
    capacity: CapacitySettings = CapacitySettings()
    devices: dict[int, CapacitySettings] = field(default_factory=dict)
    ingest: IngestSettings = IngestSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    prefect: PrefectSettings = PrefectSettings()
    config_path: str | None = None  # where these came from, for messages

    @property
    def use_simulator(self) -> bool:
        return not self.api.url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def is_remote(self) -> bool:
        """True when the data directory is an object-store URL (s3://...)."""
        return "://" in self.data_dir

    @property
    def lake_dir(self) -> str:
        return join_path(self.data_dir, "lake")

    @property
    def warehouse_path(self) -> str:
        """The DuckDB file; on an object store the warehouse stays local, beside the config."""
        if self.is_remote:
            return str(Path(os.environ.get("BESS_ETL_WAREHOUSE", "warehouse.duckdb")).resolve())
        return join_path(self.data_dir, "warehouse.duckdb")

    def capacity_for(self, mac: int) -> CapacitySettings:
        return self.devices.get(mac, self.capacity)


def join_path(base: str, *parts: str) -> str:
    """Join path parts for a local path or an object-store URL."""
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base, *parts))


def parse_faults(spec: str) -> tuple[str, ...]:
    spec = spec.strip().lower()
    if spec in ("", "none"):
        return ()
    if spec == "all":
        return FAULT_KINDS
    kinds = tuple(k.strip() for k in spec.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ConfigError(
            f"unknown fault kind {unknown[0]!r} in simulator.faults; "
            f"use 'none', 'all' or a comma list of {', '.join(FAULT_KINDS)}"
        )
    return kinds


# ---------------------------------------------------------------- loading


def load_settings(
    config_path: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate. Raises ConfigError."""
    env = os.environ if environ is None else environ
    path = config_path or env.get("BESS_ETL_CONFIG")
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        raw = _read_toml(p)
        base_dir = p.resolve().parent
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        p = Path(DEFAULT_CONFIG_NAME)
        path = str(p)
        raw = _read_toml(p)

    settings = _build(Settings, raw, "", exclude=("devices", "config_path"))
    devices = _build_devices(raw.get("devices", {}), settings.capacity)
    api = replace(
        settings.api,
        username=env.get("BESS_ETL_API_USERNAME") or None,
        password=env.get("BESS_ETL_API_PASSWORD") or None,
    )

    if data_dir is not None and not str(data_dir).strip():
        raise ConfigError("--data-dir is empty; give a directory")
    if not settings.data_dir.strip():
        raise ConfigError("data_dir is empty; give a directory")
    dd = data_dir or env.get("BESS_ETL_DATA_DIR")
    if dd:
        dd = str(dd)
        resolved = dd if "://" in dd else str(Path(dd).resolve())
    elif "://" in settings.data_dir:
        resolved = settings.data_dir
    else:
        resolved = str((base_dir / settings.data_dir).resolve())

    if "://" not in resolved and Path(resolved).exists() and not Path(resolved).is_dir():
        raise ConfigError(f"data directory {resolved} is a file, not a directory")

    settings = replace(
        settings,
        api=api,
        devices=devices,
        data_dir=resolved,
        config_path=str(path) if path else None,
    )
    validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _build(cls: type, table: Any, where: str, exclude: tuple[str, ...] = ()) -> Any:
    """Build a settings dataclass from a TOML table, checking keys and types."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls) if f.name not in exclude}
    secret = {"username", "password"} if cls is ApiSettings else set()
    unknown = sorted(set(table) - names - ({"devices"} if cls is Settings else set()))
    if unknown:
        label = f"[{where}]" if where else "top level"
        raise ConfigError(f"unknown key {unknown[0]!r} at {label} of the config")
    bad_secret = secret & set(table)
    if bad_secret:
        raise ConfigError(
            "api credentials do not belong in the config file; "
            "set BESS_ETL_API_USERNAME and BESS_ETL_API_PASSWORD"
        )
    kwargs = {}
    for name in names & set(table):
        kwargs[name] = _coerce(hints[name], table[name], f"{where}.{name}" if where else name)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = getattr(hint, "__origin__", None)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, not {value!r}")
        if not math.isfinite(value):  # TOML has nan and inf literals
            raise ConfigError(f"{key} must be a finite number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, not {value!r}")
        return value
    if origin is tuple:
        args = hint.__args__
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, not {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key} must be a list of {len(args)} values, not {value!r}")
        return tuple(_coerce(a, v, key) for a, v in zip(args, value, strict=True))
    if hint == str | None:
        return _coerce(str, value, key)
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover


def _build_devices(table: Any, defaults: CapacitySettings) -> dict[int, CapacitySettings]:
    if not isinstance(table, dict):
        raise ConfigError("[devices] must be a table of [devices.<MAC>] tables")
    out: dict[int, CapacitySettings] = {}
    merged = {k: dict(v) for k, v in DEFAULT_DEVICE_OVERRIDES.items()}
    for key, overrides in table.items():
        if not isinstance(overrides, dict):
            raise ConfigError(f"[devices.{key}] must be a table")
        merged.setdefault(str(key), {}).update(overrides)
    for key, overrides in merged.items():
        try:
            mac = int(key)
        except ValueError:
            raise ConfigError(f"[devices.{key}]: the key must be a numeric MAC") from None
        partial = _build(CapacitySettings, overrides, f"devices.{key}")
        given = {k: getattr(partial, k) for k in overrides}
        out[mac] = replace(defaults, **given)
    return out


def validate(s: Settings) -> None:
    """Checks that span fields; each failure names the key."""
    try:
        tz = ZoneInfo(s.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"site.timezone: unknown time zone {s.site.timezone!r}") from None
    if s.channels.current_sign not in ("charge_positive", "discharge_positive"):
        raise ConfigError("channels.current_sign must be 'charge_positive' or 'discharge_positive'")
    codes = [c for c in s.channels.by_name().values()]
    if any(c < 0 for c in codes):
        raise ConfigError("channel type codes must be positive (0 = absent)")
    if len(set(codes)) != len(codes):
        raise ConfigError("two channels share one sensor type code in [channels]")
    if not (s.channels.current or s.channels.power):
        raise ConfigError("[channels] needs a current or a power type to integrate")
    if s.integration.max_gap_s <= 0:
        raise ConfigError("integration.max_gap_s must be > 0")
    _check_interval(s.integration.interval_minutes, tz, s.site.timezone)
    for f in fields(QualitySettings):
        lo, hi = getattr(s.quality, f.name)
        if not lo < hi:
            raise ConfigError(f"quality.{f.name}: lower bound must be below upper bound")
    for p in s.tariff.periods:
        _check_period(p)
    if s.api.login not in ("g", "j"):
        raise ConfigError("api.login must be 'g' or 'j'")
    if s.api.url and not s.api.url.startswith(("http://", "https://")):
        raise ConfigError("api.url must start with http:// or https://")
    for name in ("limit", "concurrency", "max_attempts"):
        if getattr(s.api, name) < 1:
            raise ConfigError(f"api.{name} must be >= 1")
    if s.api.timeout_s <= 0:
        raise ConfigError("api.timeout_s must be > 0")
    if s.api.backoff_initial_s < 0 or s.api.backoff_max_s < 0:
        raise ConfigError("api.backoff_initial_s and api.backoff_max_s must be >= 0")
    for mac, cap in {0: s.capacity, **s.devices}.items():
        where = f"devices.{mac}" if mac else "capacity"
        if cap.nameplate_ah <= 0 or cap.nameplate_kwh <= 0:
            raise ConfigError(f"{where}: nameplate_ah and nameplate_kwh must be > 0")
        if not cap.v_empty < cap.v_full:
            raise ConfigError(f"{where}: v_empty must be below v_full")
    parse_faults(s.simulator.faults)
    if not 0 <= s.simulator.extra_bess <= 10_000:
        raise ConfigError("simulator.extra_bess must be between 0 and 10000")
    if not 0 <= s.simulator.fault_rate <= 1:
        raise ConfigError("simulator.fault_rate must be between 0 and 1")
    try:
        dt.date.fromisoformat(s.simulator.commissioned)
    except ValueError:
        raise ConfigError("simulator.commissioned must be a date, YYYY-MM-DD") from None
    if s.prefect.orchestrate not in ("auto", "always", "never"):
        raise ConfigError("prefect.orchestrate must be 'auto', 'always' or 'never'")
    if s.prefect.task_runner not in ("threads", "dask"):
        raise ConfigError("prefect.task_runner must be 'threads' or 'dask'")
    if s.ingest.days_per_task < 1 or s.ingest.parallel_tasks < 1:
        raise ConfigError("ingest.days_per_task and ingest.parallel_tasks must be >= 1")
    # a negative lookback would start a daily run after its watermark and skip the days between
    if s.ingest.lookback_hours < 0 or s.ingest.initial_days < 0:
        raise ConfigError("ingest.lookback_hours and ingest.initial_days must be >= 0")
    if s.ingest.probe_hours <= 0:
        raise ConfigError("ingest.probe_hours must be > 0")
    if any(m <= 0 for m in s.ingest.macs):
        raise ConfigError("ingest.macs must be positive MACs")


def _check_interval(minutes: int, tz: ZoneInfo, tz_name: str) -> None:
    """Buckets are cut on the UTC grid, which equals the local grid only when every UTC offset
    of the zone is a whole number of buckets."""
    if minutes <= 0 or 1440 % minutes:
        raise ConfigError("integration.interval_minutes must divide a day (e.g. 5, 15, 30, 60)")
    for year in range(2000, 2041):
        for month in (1, 4, 7, 10):
            off = dt.datetime(year, month, 15, 12, tzinfo=tz).utcoffset()
            if off is not None and (off.total_seconds() / 60) % minutes:
                raise ConfigError(
                    f"integration.interval_minutes={minutes} does not fit {tz_name}'s UTC offset "
                    f"{off}; use a divisor of it such as 15"
                )


def _check_period(p: TariffPeriod) -> None:
    bad = [d for d in p.days if d not in WEEKDAYS]
    if bad:
        raise ConfigError(f"tariff period {p.name!r}: unknown weekday {bad[0]!r}")
    for t in (p.start, p.end):
        try:
            h, m = (int(x) for x in t.split(":"))
        except ValueError:
            raise ConfigError(f"tariff period {p.name!r}: time {t!r} is not HH:MM") from None
        if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
            raise ConfigError(f"tariff period {p.name!r}: time {t!r} is out of range")
    if _minutes(p.start) >= _minutes(p.end):
        raise ConfigError(f"tariff period {p.name!r}: start must be before end")


def _minutes(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return h * 60 + m
