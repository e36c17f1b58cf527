"""The `bess-etl` command.

Heavy modules (Prefect, pyarrow, pandas) are imported inside the commands that need them, so
`bess-etl sql` and `bess-etl status` start in well under a second.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys

import click

from bess_etl.errors import BessEtlError, UsageError


def common_options(fn):
    """--config and --data-dir on every command (after the command name, where users type them)."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="BESS_ETL_CONFIG",
        help="Config file (default: ./bess-etl.toml if present).",
    )
    @click.option(
        "--data-dir",
        type=str,
        envvar="BESS_ETL_DATA_DIR",
        help="Where lake/ and warehouse.duckdb live (overrides data_dir).",
    )
    @functools.wraps(fn)
    def wrapper(*args, config_path=None, data_dir=None, **kwargs):
        return fn(*args, config_path=config_path, data_dir=data_dir, **kwargs)

    return wrapper


def _settings(config_path, data_dir):
    from bess_etl.config import load_settings

    return load_settings(config_path, data_dir)


def _check_macs(macs: tuple[int, ...]) -> list[int]:
    bad = [m for m in macs if m <= 0]
    if bad:
        raise UsageError(f"--mac {bad[0]} is not a MAC (a positive integer)")
    return list(macs)


HUGE_RANGE_DAYS = 3660  # a backfill over ten years gets a warning before it starts


def _prefect_option(fn):
    return click.option(
        "--prefect/--no-prefect",
        "prefect",
        default=None,
        help="Run through Prefect (tracked, needs a server to be quick) or directly. "
        "Default: through Prefect when PREFECT_API_URL is set.",
    )(fn)


def _not_nan(ctx, param, value):
    # FloatRange lets NaN through (every comparison with it is false): it would wait forever
    if value != value:
        raise click.BadParameter("must be a number of seconds, not nan")
    return value


def _wait_option(fn):
    return click.option(
        "--wait",
        "wait_s",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        callback=_not_nan,
        help="Seconds to wait for another run's lock before giving up (inf: no limit).",
    )(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="bess-etl")
def cli(verbose: int) -> None:
    """bess-etl: energy, cost and capacity history for battery storage on Aretas.

    With no [api] url configured, every command runs against the built-in simulator.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ---------------------------------------------------------------------- devices


@cli.command()
@common_options
def devices(config_path, data_dir):
    """List the account's devices and which are batteries (like the original notebook)."""
    from bess_etl.ingest import discover

    settings = _settings(config_path, data_dir)
    fleet = discover(settings)
    rows = sorted(fleet.devices, key=lambda d: (d.get("location") or "", d["mac"]))
    _print_rows(
        [
            {
                "location": d.get("location"),
                "city": d.get("city"),
                "description": d.get("description"),
                "mac": d["mac"],
                "bess": "yes" if d["is_bess"] else "no",
                "last_report": d["last_report_time"].isoformat(timespec="seconds")
                if d.get("last_report_time")
                else "",
            }
            for d in rows
        ]
    )


# ---------------------------------------------------------------------- the jobs


@cli.command()
@common_options
@click.option("--mac", "macs", type=int, multiple=True, help="Only these BESS (repeatable).")
@_wait_option
@_prefect_option
def daily(config_path, data_dir, macs, wait_s, prefect):
    """The scheduled job: pull every BESS since its watermark, recompute what changed."""
    from bess_etl.orchestration import run_flow
    from flows.jobs import run_daily

    settings = _settings(config_path, data_dir)
    _install_progress()
    summary = run_flow(
        "flows.daily:daily",
        run_daily,
        settings,
        prefect=prefect,
        macs=_check_macs(macs),
        config=config_path,
        data_dir=data_dir,
        wait_s=wait_s,
    )
    _print_summary(summary)


@cli.command()
@common_options
@click.option("--start", required=True, help="First site-local day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last site-local day (inclusive), YYYY-MM-DD.")
@click.option("--mac", "macs", type=int, multiple=True, help="Only these BESS (repeatable).")
@click.option(
    "--mode",
    default="missing,failed",
    show_default=True,
    help="Which partitions to pull: missing, failed, all (comma-separated).",
)
@click.option("--dry-run", is_flag=True, help="Print the per-(MAC, day) plan and stop.")
@_wait_option
@_prefect_option
def backfill(config_path, data_dir, start, end, macs, mode, dry_run, wait_s, prefect):
    """Pull a range of days; resumable (re-running skips complete partitions)."""
    from bess_etl.ingest import parse_modes
    from bess_etl.orchestration import run_flow
    from bess_etl.timeutil import parse_range
    from flows.jobs import run_backfill

    settings = _settings(config_path, data_dir)
    d0, d1 = parse_range(start, end)  # bad dates fail here, before anything is written
    parse_modes(mode)
    days = (d1 - d0).days + 1
    if days > HUGE_RANGE_DAYS:
        click.echo(
            f"warning: {start}..{end} is {days:,} days, a partition per day and BESS; "
            "an interrupted backfill resumes where it stopped",
            err=True,
        )
    _install_progress()
    summary = run_flow(
        "flows.backfill:backfill",
        run_backfill,
        settings,
        prefect=prefect,
        start=start,
        end=end,
        macs=_check_macs(macs),
        mode=mode,
        dry_run=dry_run,
        config=config_path,
        data_dir=data_dir,
        wait_s=wait_s,
    )
    if dry_run:
        plan = summary["plan"]
        _print_rows(plan)
        n = sum(r["action"] == "pull" for r in plan)
        click.echo(f"{n} of {len(plan)} partitions would be pulled (UTC days of the lake)")
        return
    _print_summary(summary)


@cli.command()
@common_options
@click.option("--start", help="First site-local day, YYYY-MM-DD (with --end).")
@click.option("--end", help="Last site-local day (inclusive), YYYY-MM-DD.")
@click.option("--mac", "macs", type=int, multiple=True, help="Only these BESS (repeatable).")
@_wait_option
@_prefect_option
def rebuild(config_path, data_dir, start, end, macs, wait_s, prefect):
    """Recompute the derived tables from the lake (no API calls)."""
    from bess_etl.orchestration import run_flow
    from bess_etl.timeutil import parse_range
    from flows.jobs import run_rebuild

    if bool(start) != bool(end):
        raise UsageError("give both --start and --end, or neither (everything)")
    settings = _settings(config_path, data_dir)
    if start:
        parse_range(start, end)
    summary = run_flow(
        "flows.rebuild:rebuild",
        run_rebuild,
        settings,
        prefect=prefect,
        start=start,
        end=end,
        macs=_check_macs(macs),
        config=config_path,
        data_dir=data_dir,
        wait_s=wait_s,
    )
    _print_summary(summary)


@cli.command("import")
@common_options
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_wait_option
@_prefect_option
def import_(config_path, data_dir, files, wait_s, prefect):
    """Load readings exported in the API's shape (mac,type,timestamp,data) from CSV, CSV.gz,
    JSON or Parquet into the lake, then recompute."""
    from bess_etl.orchestration import run_flow
    from flows.jobs import run_import

    settings = _settings(config_path, data_dir)
    summary = run_flow(
        "flows.import_files:import_files",
        run_import,
        settings,
        prefect=prefect,
        files=[os.path.abspath(f) for f in files],
        config=config_path,
        data_dir=data_dir,
        wait_s=wait_s,
    )
    _print_summary(summary)


# ---------------------------------------------------------------------- looking at results


@cli.command()
@common_options
@click.argument("query", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-p", "--param", "params", multiple=True, help="Named parameter NAME=VALUE for $NAME."
)
def sql(config_path, data_dir, query, fmt, params):
    """Run read-only SQL on the warehouse. QUERY, or - for stdin; none: interactive."""
    from bess_etl import sqlcmd

    settings = _settings(config_path, data_dir)
    named = {}
    for p in params:
        name, sep, value = p.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {p!r} is not NAME=VALUE")
        named[name] = value
    if query is None:
        sqlcmd.interactive(settings, fmt, sys.stdin, sys.stdout)
        return
    if query == "-":
        query = sys.stdin.read()
    sqlcmd.run(settings, query, fmt, sys.stdout, named)


@cli.command()
@common_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def status(config_path, data_dir, fmt):
    """Per BESS: watermark, days in the lake, last run, data-quality counts."""
    from bess_etl import statuscmd

    settings = _settings(config_path, data_dir)
    rows = statuscmd.status_rows(settings)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        _print_rows(rows)


@cli.command()
@common_options
@click.option("--mac", type=int, required=True, help="The BESS.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@click.option("--day", help="The day whose voltage/current/kW traces to plot (default: latest).")
def report(config_path, data_dir, mac, out, day):
    """Write one self-contained HTML page of energy, cost and capacity history plots."""
    from bess_etl import report as report_mod

    settings = _settings(config_path, data_dir)
    _check_macs((mac,))
    path = report_mod.write_report(settings, mac, out, day)
    click.echo(f"wrote {path}")


# ---------------------------------------------------------------------- simulator


@cli.group()
def simulator():
    """The built-in simulator of the Aretas API and its BESS fleet."""


@simulator.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="TCP port (0: any free port).",
)
def serve(config_path, data_dir, host, port):
    """Serve the simulated Aretas REST API over HTTP (base URL http://HOST:PORT/rest/)."""
    from bess_etl.simulator import serve as serve_app

    settings = _settings(config_path, data_dir)
    click.echo(f"simulator at http://{host}:{port}/rest/ (user {settings.simulator.username})")
    serve_app(settings, host, port)


@simulator.command()
@common_options
@click.option("--mac", type=int, required=True, help="The BESS.")
@click.option("--start", required=True, help="First site-local day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last site-local day (inclusive), YYYY-MM-DD.")
def truth(config_path, data_dir, mac, start, end):
    """Print the simulator's ground truth as CSV, one row per site-local day."""
    from bess_etl.simulator import write_truth_csv
    from bess_etl.timeutil import parse_range

    settings = _settings(config_path, data_dir)
    d0, d1 = parse_range(start, end)
    write_truth_csv(settings, mac, d0, d1, sys.stdout)


@simulator.command()
@click.option(
    "--profile",
    "profile_path",
    required=True,
    help="CSV or CSV.gz with columns t_s (s), soc (0..1), temp_c (battery °C), regular spacing.",
)
@click.option(
    "--model",
    default="lfp_250ah_prismatic",
    show_default=True,
    help="Aging model: lfp_250ah_prismatic or lfp_sony_3ah (NREL BLAST-Lite's LFP models).",
)
@click.option(
    "--calendar-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier of the calendar-aging rate.",
)
@click.option(
    "--cycle-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier of the cycling-aging rate.",
)
def aging(profile_path, model, calendar_scale, cycle_scale):
    """Run the aging model alone on a SoC/temperature profile: CSV on stdout, one row a day."""
    from bess_etl import aging as aging_mod

    try:
        result = aging_mod.run_profile_file(profile_path, model, calendar_scale, cycle_scale)
    except ValueError as exc:  # a bad file or model: the user's input
        raise UsageError(str(exc)) from None
    aging_mod.write_trajectory_csv(result, sys.stdout)


# ---------------------------------------------------------------------- output helpers


def _install_progress() -> None:
    from bess_etl import progress

    progress.set_reporter(progress.for_stream(sys.stderr))


def _print_rows(rows: list[dict]) -> None:
    if not rows:
        click.echo("(no rows)")
        return
    cols = list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3f}"
    return str(v)


def _print_summary(summary: dict) -> None:
    from bess_etl.pipeline import RunSummary, summary_text

    click.echo(summary_text(RunSummary(**summary)))


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and a non-zero status for every failure we can explain."""
    from bess_etl.redaction import install_redaction, redact

    install_redaction()  # every log record, from here on
    try:
        cli.main(args=argv, prog_name="bess-etl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # bad arguments: one line, like every other error
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(redact(f"error: {exc.format_message()}{where}"), err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(redact(f"error: {exc.format_message()}"), err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BessEtlError as exc:
        click.echo(redact(f"error: {exc}"), err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # an unexpected failure: still one line, unless debugging
        if os.environ.get("BESS_ETL_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(
            redact(
                f"error: unexpected {type(exc).__name__}: {first} "
                "(set BESS_ETL_DEBUG=1 for the traceback)"
            ),
            err=True,
        )
        return 1
    finally:
        from bess_etl import progress

        progress.set_reporter(None)  # the reporter writes to this run's stderr only
    return 0


if __name__ == "__main__":
    sys.exit(main())
