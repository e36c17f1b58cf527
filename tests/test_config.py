from dataclasses import replace
from pathlib import Path

import pytest

from bess_etl.config import load_settings
from bess_etl.errors import ConfigError


def test_defaults_work_with_the_simulator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.use_simulator
    assert s.data_dir == str(tmp_path / "data")
    assert s.warehouse_path == str(tmp_path / "data" / "warehouse.duckdb")
    assert s.lake_dir == str(tmp_path / "data" / "lake")
    assert (s.channels.voltage, s.channels.current, s.channels.power) == (532, 531, 533)
    assert s.integration.max_gap_s == 120.0
    assert s.site.timezone == "America/Vancouver"
    # the account's 10 kW unit has its own nameplate; others use [capacity]
    assert s.capacity_for(303721691).nameplate_ah == 200.0
    assert s.capacity_for(303721691).nameplate_kwh == 10.2
    assert s.capacity_for(303721690).nameplate_ah == 100.0


def test_file_values_env_and_data_dir_override(make_settings, tmp_path):
    s = make_settings(
        """
data_dir = "elsewhere"
[integration]
max_gap_s = 60
interval_minutes = 5
[channels]
current_sign = "discharge_positive"
[devices.303721690]
v_full = 57.5
[[tariff.periods]]
name = "peak"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "16:00"
end = "21:00"
import_per_kwh = 0.30
export_per_kwh = 0.20
""",
        BESS_ETL_API_USERNAME="alice",
        BESS_ETL_API_PASSWORD="s3cret-pw",
    )
    assert s.integration.max_gap_s == 60.0 and s.integration.interval_minutes == 5
    assert s.channels.sign == -1.0
    assert s.capacity_for(303721690).v_full == 57.5
    assert s.capacity_for(303721690).nameplate_ah == 100.0  # untouched keys keep defaults
    assert s.tariff.periods[0].days == ("mon", "tue", "wed", "thu", "fri")
    assert s.api.username == "alice" and s.api.password == "s3cret-pw"
    assert "s3cret-pw" not in repr(s)
    # --data-dir given to load_settings wins over the file
    assert s.data_dir == str(tmp_path / "data")


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path):
    cfg = tmp_path / "conf" / "bess-etl.toml"
    cfg.parent.mkdir()
    cfg.write_text('data_dir = "store"\n')
    s = load_settings(cfg, environ={})
    assert s.data_dir == str(tmp_path / "conf" / "store")
    assert load_settings(cfg, environ={"BESS_ETL_DATA_DIR": "s3://bucket/x"}).data_dir == (
        "s3://bucket/x"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[integration]\nmax_gap = 1", "unknown key 'max_gap'"),
        ("[site]\ntimezone = 'Mars/Olympus'", "unknown time zone"),
        ("[integration]\nmax_gap_s = 'ten'", "integration.max_gap_s must be a number"),
        ("[api]\npassword = 'x'", "credentials do not belong in the config file"),
        (
            "[site]\ntimezone = 'Asia/Kolkata'\n[integration]\ninterval_minutes = 60",
            "does not fit Asia/Kolkata",
        ),
        ("[integration]\ninterval_minutes = 7", "must divide a day"),
        ("[channels]\ncurrent_sign = 'sideways'", "current_sign"),
        ("[channels]\npower = 532", "share one sensor type"),
        ("[capacity]\nv_full = 40.0", "v_empty must be below v_full"),
        ("[simulator]\nfaults = 'lightning'", "unknown fault kind 'lightning'"),
        ("[[tariff.periods]]\nstart = '25:00'", "out of range"),
        ("[devices.abc]\nnameplate_ah = 1", "numeric MAC"),
        ("this is = = not toml", "invalid TOML"),
    ],
)
def test_bad_config_gets_one_clear_line(make_settings, toml, message):
    with pytest.raises(ConfigError) as err:
        make_settings(toml)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(Path(tmp_path / "nope.toml"), environ={})


def test_the_readme_configuration_example_is_valid_and_is_the_defaults(tmp_path, monkeypatch):
    """The README's configuration block must load, and (apart from the commented examples) say
    what the defaults are, so the README cannot drift from the code."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    block = section.split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "readme.toml"
    path.write_text(block)
    monkeypatch.chdir(tmp_path)
    from_readme = load_settings(path, environ={})
    defaults = load_settings(environ={})
    assert replace(from_readme, config_path=None) == replace(defaults, config_path=None)
