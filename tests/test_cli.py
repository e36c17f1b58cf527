"""The `bess-etl` command through its entry point: help for every command, bad input (one line on
stderr, exit 2, nothing written) and `devices` over loopback HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bess_etl.cli import cli, main


def _commands(group: click.Group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


COMMANDS = list(_commands(cli))


def test_every_command_is_listed():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert names >= {
        "devices",
        "daily",
        "backfill",
        "rebuild",
        "import",
        "sql",
        "status",
        "report",
        "simulator",
        "simulator serve",
        "simulator truth",
        "simulator aging",
    }


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help(path, capsys):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: bess-etl {' '.join(path)}")
    cmd = dict(COMMANDS)[path]
    summary = cmd.get_short_help_str(limit=200)
    assert len(summary) > 15 and summary.rstrip(".")[:30] in " ".join(out.split())
    # simulator aging reads only its --profile file: no config, no data directory
    if not isinstance(cmd, click.Group) and path not in {
        ("simulator", "serve"),
        ("simulator", "aging"),
    }:
        assert "--data-dir" in out and "--config" in out
    for param in cmd.params:  # every option says what it is for
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, (path, param.name)


BAD_TOML = "[site\ntimezone = 'x'\n"

BAD_INPUT = [
    (["backfill", "--start", "2026-02-30", "--end", "2026-03-01"], "--start '2026-02-30'"),
    (["backfill", "--start", "yesterday", "--end", "2026-03-01"], "is not a date"),
    (["backfill", "--start", "2026-03-02", "--end", "2026-03-01"], "is after --end"),
    (["backfill", "--start", "2026-03-01", "--end", "2026-03-01", "--mac", "abc"], "abc"),
    (["backfill", "--start", "2026-03-01", "--end", "2026-03-01", "--mac", "-5"], "-5"),
    (["backfill", "--start", "2026-03-01", "--end", "2026-03-01", "--mac", "12345"], "12345"),
    (["backfill", "--start", "2026-03-01", "--end", "2026-03-01", "--mode", "some"], "--mode"),
    (["backfill", "--start", "2026-03-01"], "--end"),
    (["backfill", "--start", "2100-03-01", "--end", "2100-03-02"], "future"),
    (["daily", "--mac", "3O3721690"], "3O3721690"),
    (["rebuild", "--start", "2026-03-01"], "--end"),
    (["rebuild", "--start", "2026-03-01", "--end", "2026-01-01"], "is after --end"),
    (["import", "no-such-file.csv"], "no-such-file.csv"),
    (["report", "--mac", "x1", "--out", "r.html"], "x1"),
    (["simulator", "truth", "--mac", "303721690", "--start", "2026-1-1", "--end", "x"], "date"),
    (["status"], "no warehouse"),
    (["sql", "select 1", "-p", "novalue"], "NAME=VALUE"),
    (["backfill", "--start", "2026-03-01", "--end", "2026-03-01", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_INPUT, ids=lambda a: " ".join(a)[:60])
def test_bad_input_is_one_line_exit_2_nothing_written(args, needle, tmp_path, capsys):
    data = tmp_path / "data"
    (tmp_path / "bess-etl.toml").write_text("")
    tail = ["--config", str(tmp_path / "bess-etl.toml"), "--data-dir", str(data)]
    if args[0] == "simulator" or "--bogus" in args:
        tail = []
    assert main([*args, *tail]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err and "\n" not in err, err
    assert needle in err
    assert "Traceback" not in err and captured.out == ""
    assert not data.exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        (BAD_TOML, "invalid TOML"),
        ("[site]\ntimezone = 'Mars/Olympus'\n", "unknown time zone"),
        ("[integration]\nmax_gap = 3\n", "unknown key 'max_gap'"),
        ("[api]\npassword = 'x'\n", "do not belong in the config file"),
        ("[simulator]\nfaults = 'gremlins'\n", "unknown fault kind"),
    ],
)
def test_a_bad_config_is_one_line_exit_2_nothing_written(toml, needle, tmp_path, capsys):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text(toml)
    data = tmp_path / "data"
    for args in (["daily"], ["backfill", "--start", "2026-03-01", "--end", "2026-03-01"]):
        assert main([*args, "--config", str(cfg), "--data-dir", str(data)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and needle in err and "'x'" not in err
    assert main(["devices", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert not data.exists()


def test_devices_lists_the_fleet_over_http(simulator_url, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text(f'[api]\nurl = "{simulator_url}"\n')
    monkeypatch.setenv("BESS_ETL_API_USERNAME", "demo")
    monkeypatch.setenv("BESS_ETL_API_PASSWORD", "demo")
    assert main(["devices", "--config", str(cfg), "--data-dir", str(tmp_path / "d")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header == ["location", "city", "description", "mac", "bess", "last_report"]
    rows = lines[1:]
    assert len(rows) == 7

    def row(mac: int) -> str:
        (line,) = [r for r in rows if f"  {mac}  " in r]
        return line

    assert row(303721690).split("  ")[0].startswith("Rainhouse R&D 2")
    assert "BESS 3.5KW " in row(303721690) and "Qualicum Beach" in row(303721690)
    assert "BESS 10KW" in row(303721691) and "Victoria" in row(303721691)
    bess = {mac for mac in (7725398, 303721690, 303721691, 3162989, 14339560, 16624087,
                            14302884) if " yes " in row(mac)}  # fmt: skip
    assert bess == {303721690, 303721691}
    assert "BESS 3.5KW - ENV" in row(7725398) and "Puma 240M Lathe" in row(3162989)
    assert not Path(tmp_path / "d").exists()  # listing devices writes nothing


def test_a_run_without_prefect_never_imports_it(tmp_path):
    """Without a Prefect server a CLI run calls the job functions directly, so it must not pay
    for importing Prefect (~2–3 s here): guarded in a fresh interpreter."""
    code = (
        "import sys\n"
        "from bess_etl.cli import main\n"
        "rc = main(['backfill', '--start', '2026-10-01', '--end', '2026-10-01', '--dry-run',\n"
        f"           '--data-dir', {str(tmp_path / 'data')!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "would be pulled" in run.stdout
