"""Secrets never reach a log line or an error line: the API password, a password in a query
string, and the userinfo of a URL; the default login keeps the password out of URLs."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

import httpx
import pytest

from bess_etl.cli import main
from bess_etl.redaction import install_redaction, redact

SECRET = "s3cret-Pa55word"


def test_a_child_logger_and_every_handler_get_redacted_records():
    """Filters on the `bess_etl` logger never saw records made on `bess_etl.aretas`; the
    redaction is now made with the record, so a handler anywhere prints it redacted."""
    install_redaction(SECRET)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("bess_etl.aretas").warning("password=%s", SECRET)
        logging.getLogger("bess_etl.ingest.deep").error("login with %s failed", SECRET)
        logging.getLogger("some.library").info("GET http://user:%s@host/rest/", "pw-in-url")
        try:
            raise ValueError(f"cannot reach https://demo:{SECRET}@iot.example/rest/")
        except ValueError:
            logging.getLogger("bess_etl.aretas").exception("failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert "bess_etl.aretas password=***" in text
    assert "bess_etl.ingest.deep login with *** failed" in text
    assert "GET http://***@host/rest/" in text and "pw-in-url" not in text
    assert "ValueError: cannot reach https://***@iot.example/rest/" in text  # the traceback
    assert SECRET not in text


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("http://user:secret@host/rest/", "http://***@host/rest/"),
        ("url = 'https://token@iot.aretas.ca/rest/'", "url = 'https://***@iot.aretas.ca/rest/'"),
        ("a@b.c and http://host/x?y=1", "a@b.c and http://host/x?y=1"),  # no userinfo
        ("s3://bucket/lake, http://u:p@h:8080/", "s3://bucket/lake, http://***@h:8080/"),
        ("GET /g?username=al&password=x&z=1", "GET /g?username=al&password=***&z=1"),
    ],
)
def test_redact_removes_url_userinfo_and_query_passwords(text, want):
    assert redact(text) == want


def test_a_url_with_userinfo_is_not_echoed_in_an_error(tmp_path, capsys, monkeypatch):
    """The config's api.url with credentials in it: the error about missing credentials used to
    print it whole."""
    monkeypatch.delenv("BESS_ETL_API_USERNAME", raising=False)
    monkeypatch.delenv("BESS_ETL_API_PASSWORD", raising=False)
    cfg = tmp_path / "bess-etl.toml"
    cfg.write_text('[api]\nurl = "http://user:topsecret@127.0.0.1:9/rest/"\n')
    rc = main(["devices", "--config", str(cfg), "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert rc == 2 and "topsecret" not in err
    assert "http://***@127.0.0.1:9/rest/" in err


def test_the_default_login_sends_the_password_in_a_json_body(settings):
    """Against the simulator: the default settings log in with POST authentication/j; no
    request line carries the password (a proxy or an access log would keep it)."""
    import asyncio

    from bess_etl.ingest import make_client
    from bess_etl.simulator import asgi_transport

    assert settings.api.login == "j"
    seen: list[httpx.Request] = []

    class Recording(httpx.AsyncBaseTransport):
        def __init__(self, inner):
            self.inner = inner

        async def handle_async_request(self, request):
            seen.append(request)
            return await self.inner.handle_async_request(request)

    async def run():
        transport = Recording(asgi_transport(settings))
        async with make_client(settings, transport=transport) as client:
            await client.login()
            return await client.devices()

    devices = asyncio.run(run())
    assert len(devices) == 7
    login = seen[0]
    assert (login.method, login.url.path) == ("POST", "/rest/authentication/j")
    assert json.loads(login.content) == {"username": "demo", "password": "demo"}
    assert all("password" not in str(r.url) for r in seen)
    # the GET login stays available
    settings_g = replace(settings, api=replace(settings.api, login="g"))
    seen.clear()

    async def run_g():
        async with make_client(settings_g, transport=Recording(asgi_transport(settings_g))) as c:
            await c.login()

    asyncio.run(run_g())
    assert seen[0].method == "GET" and seen[0].url.path == "/rest/authentication/g"
    assert seen[0].url.params["password"] == "demo"
