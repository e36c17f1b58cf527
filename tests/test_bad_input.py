"""Bad input refused well: one line on stderr, exit status 2, nothing written (the data
directory stays absent, or unchanged). Every case here was accepted, or failed with an
`unexpected ...` error after writing files, before it was refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bess_etl.cli import main

BACKFILL = ["backfill", "--start", "2026-10-01", "--end", "2026-10-01"]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime: 'unchanged' means this is equal."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _refused(capsys, rc: int, needle: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert rc == 2, err
    assert err and "\n" not in err, err
    assert needle in err, err
    assert "unexpected" not in err and "Traceback" not in err
    assert captured.out == ""
    return err


CONFIGS = [
    ("[integration]\nmax_gap_s = nan\n", "max_gap_s must be a finite number"),
    ("[integration]\nmax_gap_s = inf\n", "max_gap_s must be a finite number"),
    ("[tariff]\nimport_per_kwh = nan\n", "tariff.import_per_kwh must be a finite number"),
    (
        '[[tariff.periods]]\nname = "peak"\nexport_per_kwh = -nan\n',
        "export_per_kwh must be a finite number",
    ),
    ("[ingest]\nlookback_hours = -5.0\n", "lookback_hours"),
    ("[ingest]\ninitial_days = -3\n", "initial_days"),
    ("[api]\ntimeout_s = -5.0\n", "api.timeout_s must be > 0"),
    ("[api]\ntimeout_s = 0\n", "api.timeout_s must be > 0"),
]


@pytest.mark.parametrize(("toml", "needle"), CONFIGS, ids=[c[0][:40] for c in CONFIGS])
def test_a_config_value_that_cannot_be_meant_is_refused(toml, needle, tmp_path, capsys):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text(toml)
    data = tmp_path / "data"
    for args in (["daily", "--mac", "303721690"], BACKFILL):
        rc = main([*args, "--config", str(cfg), "--data-dir", str(data)])
        _refused(capsys, rc, needle)
    assert not data.exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x00\x01\x02\xff\xfe\x89PNG", "not UTF-8"),
        ('data_dir = "été"\n'.encode("latin-1"), "not UTF-8"),
        (b"\x00\x00\x00", "invalid TOML"),  # valid UTF-8, but control characters
    ],
    ids=["binary", "latin-1", "nul-bytes"],
)
def test_a_config_file_that_is_not_utf8_text_is_refused(content, needle, tmp_path, capsys):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_bytes(content)
    data = tmp_path / "data"
    rc = main(["daily", "--config", str(cfg), "--data-dir", str(data)])
    _refused(capsys, rc, needle)
    assert not data.exists()


def test_a_data_dir_that_is_a_file_or_empty_is_refused(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text("")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me\n")
    rc = main([*BACKFILL, "--config", str(cfg), "--data-dir", str(a_file)])
    _refused(capsys, rc, "is a file, not a directory")
    assert a_file.read_text() == "keep me\n"
    # "" used to fall back to the config's data_dir and run there
    monkeypatch.chdir(tmp_path)
    rc = main([*BACKFILL, "--config", str(cfg), "--data-dir", ""])
    _refused(capsys, rc, "--data-dir is empty")
    cfg.write_text('data_dir = ""\n')
    rc = main([*BACKFILL, "--config", str(cfg)])
    _refused(capsys, rc, "data_dir is empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bess-etl.toml", "notes.txt"]


@pytest.mark.parametrize(
    ("start", "end", "needle"),
    [
        ("0001-01-01", "0001-01-02", "--start 0001-01-01 is out of range"),
        ("2026-10-01", "9999-12-31", "--end 9999-12-31 is out of range"),
        ("1969-12-31", "1970-01-05", "--start 1969-12-31 is out of range"),
        ("2026-10-01", "2101-01-01", "--end 2101-01-01 is out of range"),
    ],
)
@pytest.mark.parametrize("command", ["backfill", "rebuild"])
def test_dates_outside_1970_to_2100_are_refused(command, start, end, needle, tmp_path, capsys):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text("")
    data = tmp_path / "data"
    args = [command, "--start", start, "--end", end, "--config", str(cfg), "--data-dir", str(data)]
    _refused(capsys, main(args), needle)
    assert not data.exists()


def test_a_huge_range_is_warned_about_before_it_is_planned(tmp_path, capsys):
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text("")
    data = tmp_path / "data"
    args = ["backfill", "--start", "1990-01-01", "--end", "2026-10-01", "--dry-run"]
    assert main([*args, "--mac", "303721690", "--config", str(cfg), "--data-dir", str(data)]) == 0
    captured = capsys.readouterr()
    warning = captured.err.strip().splitlines()[0]
    assert warning.startswith("warning: 1990-01-01..2026-10-01 is 13,423 days"), warning
    # 13,423 local days span 13,424 UTC days (the last local day ends on the next UTC day)
    assert "13424 of 13424 partitions would be pulled" in captured.out
    # a year is no warning
    args = ["backfill", "--start", "2025-10-01", "--end", "2026-09-30", "--dry-run"]
    assert main([*args, "--mac", "303721690", "--config", str(cfg), "--data-dir", str(data)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert not data.exists()


def test_wait_nan_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    for command in (["daily"], BACKFILL, ["rebuild"], ["import", str(tmp_path / "x.csv")]):
        rc = main([*command, "--wait", "nan", "--data-dir", str(data)])
        _refused(capsys, rc, "--wait")
    assert not data.exists()


def test_a_mac_that_is_not_a_bess_is_refused_by_backfill_and_daily(tmp_path, capsys):
    """7725398 is the account's environment sensor: it reports, but no battery channels."""
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text("")
    data = tmp_path / "data"
    for args in (BACKFILL, ["daily"]):
        rc = main([*args, "--mac", "7725398", "--config", str(cfg), "--data-dir", str(data)])
        _refused(capsys, rc, "MAC 7725398 is not a BESS")
    assert not data.exists()


def test_report_refuses_a_mac_that_is_not_a_bess(make_settings, store_rows, tmp_path, capsys):
    """Readings of the environment sensor imported into the lake (import may load any MAC):
    the report would be empty plots, so it says what the MAC is instead."""
    from bess_etl import ingest, pipeline

    settings = make_settings()
    pipeline.prepare(settings, ingest.discover(settings))  # the devices table, with is_bess
    rows = [(7725398, 520, f"2026-10-01T{h:02d}:00:00", 12.5 + h) for h in range(0, 24)]
    rows += [(7725398, 514, f"2026-10-01T{h:02d}:00:00", 40.0) for h in range(0, 24)]
    store_rows(settings, rows)
    pipeline.rebuild(settings, None, None, [], time.monotonic())
    out = tmp_path / "r.html"
    args = ["report", "--mac", "7725398", "--out", str(out), "--data-dir", settings.data_dir]
    _refused(capsys, main([*args, "--config", settings.config_path]), "not a BESS")
    assert not out.exists()


def test_rebuild_of_an_unknown_mac_says_so(make_settings, store_rows, capsys):
    settings = make_settings()
    store_rows(settings, [(303721690, 533, "2026-10-01T12:00:00", 1.5)])
    before = _tree(Path(settings.data_dir))
    args = ["rebuild", "--mac", "12345", "--data-dir", settings.data_dir]
    _refused(capsys, main([*args, "--config", settings.config_path]), "--mac 12345")
    assert _tree(Path(settings.data_dir)) == before  # no lock file, no warehouse


def test_sql_without_a_statement_is_exit_2(make_settings, open_warehouse, capsys):
    settings = make_settings()
    open_warehouse(settings).close()
    before = _tree(Path(settings.data_dir))
    for text in ("", "   ", "/* only a comment */"):
        rc = main(["sql", text, "--data-dir", settings.data_dir])
        _refused(capsys, rc, "no SQL statement given")
    assert _tree(Path(settings.data_dir)) == before


# ---------------------------------------------------------------------- a device list askew


class _FakeAretas(BaseHTTPRequestHandler):
    """The few endpoints discovery calls, with a location view given by the test."""

    view: object = None

    def _send(self, body: object) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/client/locationview"):
            self._send(type(self).view)
        elif path.endswith("/sensortype/list") or path.endswith("/sensordata/byrange"):
            self._send([])
        else:
            self._send(b"token")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(b"token")

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up mid-answer (the discovery failed): not the test's output


@contextmanager
def _fake_api(view: object) -> Iterator[str]:
    handler = type("Handler", (_FakeAretas,), {"view": view})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rest/"
    finally:
        server.shutdown()
        server.server_close()


DEVICE = {"mac": 303721690, "description": "BESS", "lastReportTime": 1_790_000_000_000}
VIEWS = [
    ([], "expected an object, got an empty array"),
    ({"locationSensorViews": []}, "lists no devices"),
    (
        {"locationSensorViews": [{"location": {}, "sensorList": [{"description": "x"}]}]},
        "no numeric mac",
    ),
    (
        {"locationSensorViews": [{"location": {}, "sensorList": [{**DEVICE, "mac": None}]}]},
        "no numeric mac",
    ),
    ({"locationSensorViews": [{"location": "Victoria", "sensorList": [DEVICE]}]}, "not an object"),
    ({"locationSensorViews": {"a": 1}}, "expected an array of objects"),
]


@pytest.mark.parametrize(("view", "needle"), VIEWS, ids=[str(v[0])[:40] for v in VIEWS])
def test_a_location_view_of_the_wrong_shape_is_one_line(view, needle, tmp_path, capsys):
    """A protocol error of the API (exit 1, as every failure of the source is), never an
    `unexpected AttributeError`, and nothing written."""
    data = tmp_path / "data"
    with _fake_api(view) as url:
        cfg = tmp_path / "bess-etl.toml"
        cfg.write_text(f'[api]\nurl = "{url}"\nmax_attempts = 1\n')
        env = {"BESS_ETL_API_USERNAME": "u", "BESS_ETL_API_PASSWORD": "p4ss"}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            for args in (["devices"], BACKFILL):
                rc = main([*args, "--config", str(cfg), "--data-dir", str(data)])
                err = capsys.readouterr().err.strip()
                assert rc == 1 and "\n" not in err and needle in err, err
                assert "unexpected" not in err
    assert not data.exists()
