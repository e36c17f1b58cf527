"""`bess-etl sql`: read-only queries printed as a table, CSV or JSON; the interactive prompt."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from bess_etl import sqlcmd, warehouse
from bess_etl.errors import BessEtlError, UsageError

MAC = 303721690


@pytest.fixture
def built(settings, store_rows, open_warehouse):
    store_rows(
        settings,
        [
            (MAC, 533, "2025-01-15T12:00:00", 2.0),
            (MAC, 533, "2025-01-15T12:01:00", -1.0),
            (MAC, 532, "2025-01-15T12:00:00", 50.0),
        ],
    )
    con = open_warehouse(settings)
    warehouse.rebuild(con, settings)
    con.close()  # the sql command opens it read-only, like another process would
    return settings


def run(settings, query, fmt="table", params=None) -> str:
    out = io.StringIO()
    sqlcmd.run(settings, query, fmt, out, params)
    return out.getvalue()


QUERY = (
    "select mac, local_date, round(charge_kwh * 3600, 6) as charge_kws, n_readings, "
    "'a,b' as note, null as nothing from daily_energy"
)


def test_table_output_is_aligned(built):
    assert run(built, QUERY) == (
        "      mac  local_date  charge_kws  n_readings  note  nothing\n"
        "---------  ----------  ----------  ----------  ----  -------\n"
        "303721690  2025-01-15          40           3  a,b   NULL\n"
        "(1 row)\n"
    )


def test_csv_output(built):
    assert run(built, QUERY, "csv") == (
        'mac,local_date,charge_kws,n_readings,note,nothing\n303721690,2025-01-15,40.0,3,"a,b",\n'
    )


def test_json_output(built):
    text = run(built, QUERY + " union all " + QUERY, "json")
    assert json.loads(text) == 2 * [
        {
            "mac": MAC,
            "local_date": "2025-01-15",
            "charge_kws": 40.0,
            "n_readings": 3,
            "note": "a,b",
            "nothing": None,
        }
    ]
    assert text.count("\n") == 4  # one row a line


def test_named_parameters(built):
    q = "select count(*) as n from daily_energy where mac = $mac and local_date = $day"
    assert run(built, q, "csv", {"mac": str(MAC), "day": "2025-01-15"}) == "n\n1\n"
    assert run(built, "select $x + 1 as y", "csv", {"x": "41"}) == "y\n42\n"
    with pytest.raises(sqlcmd.SqlError, match=r"no value for \$day; pass --param day=VALUE"):
        run(built, q, params={"mac": "1"})


def test_query_errors_are_one_line(built):
    with pytest.raises(BessEtlError) as err:
        run(built, "select * from no_such_table")
    assert isinstance(err.value, sqlcmd.SqlError)
    assert str(err.value).startswith("Catalog Error: Table with name no_such_table does not exist")
    assert "\n" not in str(err.value)
    with pytest.raises(sqlcmd.SqlError, match="read-only"):
        run(built, "delete from daily_energy")


def test_missing_warehouse_is_explained(settings):
    with pytest.raises(UsageError, match=r"no warehouse at .* yet"):
        run(settings, "select 1")


def test_several_statements_print_each_result(built):
    assert run(built, "select 1 as a; select 2 as b;", "csv") == "a\n1\nb\n2\n"


def test_interactive_reads_until_eof_and_survives_errors(built):
    stdin = io.StringIO("select 1\n  as a;\nselect * from nowhere;\n.tables\nselect 'last' as b")
    out = io.StringIO()
    sqlcmd.interactive(built, "csv", stdin, out)
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[:3] == ["a", "1", "error: Catalog Error: Table with name nowhere does not exist!"]
    assert "daily_energy,BASE TABLE" in lines and "energy_between" not in text
    assert "reading_intervals,VIEW" in lines
    assert lines[-2:] == ["b", "last"]


def test_cli_sql_command(built, capsys):
    from bess_etl.cli import main

    code = main(["sql", "--data-dir", built.data_dir, "--format", "csv", "select 40 + 2 as x"])
    assert (code, capsys.readouterr().out) == (0, "x\n42\n")
    code = main(["sql", "--data-dir", built.data_dir, "select nonsense from"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: Parser Error") and err.count("\n") == 1


def test_sql_module_starts_without_heavy_imports():
    code = (
        "import sys, bess_etl.sqlcmd, bess_etl.cli; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'prefect') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
