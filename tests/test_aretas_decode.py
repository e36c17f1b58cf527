"""Pure parts of the client: decoding, backoff, redaction. The HTTP behaviour is tested against
the simulator in test_aretas.py."""

import json
import logging
import math

import pytest

from bess_etl.aretas import _Retryable, decode_readings, install_redaction, redact


def body(rows, **dumps):
    return json.dumps(rows, **dumps).encode()


ROWS = [
    {"mac": 303721690, "type": 532, "timestamp": 1688137326776, "data": 55.2},
    {"mac": 303721690, "type": 531, "timestamp": 1688137326500, "data": 0.0},
    {"mac": 303721690, "type": 533, "timestamp": 1688137326900, "data": None},
]


@pytest.mark.parametrize(
    "raw",
    [
        body(ROWS, separators=(",", ":")),  # compact: the fast path
        body(ROWS, indent=2),  # pretty-printed: the fallback
        body([{**r, "offset": 0} for r in ROWS], separators=(",", ":")),  # extra fields ignored
    ],
)
def test_decode_keeps_arrival_order_and_nulls(raw):
    t = decode_readings(raw)
    assert t.column("type").to_pylist() == [532, 531, 533]
    assert [int(x.timestamp() * 1000) for x in t.column("ts").to_pylist()] == [
        1688137326776,
        1688137326500,
        1688137326900,
    ]
    assert t.column("value").to_pylist() == [55.2, 0.0, None]


def test_decode_accepts_nan_literals_and_strings():
    raw = (
        b'[{"mac":1,"type":532,"timestamp":1,"data":NaN},'
        b'{"mac":1,"type":532,"timestamp":2,"data":"NaN"},'
        b'{"mac":1,"type":532,"timestamp":3,"data":"12.5"}]'
    )
    values = decode_readings(raw).column("value").to_pylist()
    assert math.isnan(values[0]) and math.isnan(values[1]) and values[2] == 12.5


@pytest.mark.parametrize("raw", [b"", b'[{"mac":1,"type":532,"timest', b'{"error": "x"}'])
def test_truncated_or_odd_bodies_are_retryable(raw):
    with pytest.raises(_Retryable):
        decode_readings(raw)


def test_empty_array():
    assert decode_readings(b"[]").num_rows == 0


def test_redaction_of_urls_and_log_records(caplog):
    install_redaction("hunter2-secret")
    url = "http://x/rest/authentication/g?username=demo&password=hunter2-secret"
    assert "hunter2-secret" not in redact(url)
    assert "password=***" in redact(url)
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        logging.getLogger("httpx").info("HTTP Request: GET %s", url)
    assert caplog.records and all("hunter2-secret" not in r.getMessage() for r in caplog.records)
