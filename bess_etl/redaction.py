"""Secrets out of every log record and error line: the API password, a `password=` query
parameter, and the userinfo of any URL (`http://user:secret@host/` -> `http://***@host/`).

Redaction happens where each log record is made (a record factory), so it covers every logger,
child loggers such as `bess_etl.aretas` included, and every handler, whoever installs it and
whenever. Standard library only: the CLI imports it before anything heavy."""

from __future__ import annotations

import logging
import re
import traceback

_PASSWORD_IN_URL = re.compile(r"(password=)[^&\s'\"]*", re.IGNORECASE)
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#@'\"<>]+@")
_SECRETS: set[str] = set()
_base_factory = None


def redact(text: str) -> str:
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _PASSWORD_IN_URL.sub(r"\1***", text)
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Format the record's message (and traceback) now, redacted: handlers then print it as is."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: logging reports it later
        message = " ".join(str(x) for x in (record.msg, *(record.args or ())))
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    redact_record(record)
    return record


def install_redaction(password: str | None = None) -> None:
    """Redact every log record from now on (idempotent); `password` joins the secrets."""
    global _base_factory
    if password and len(password) >= 3:  # a 1–2 character password would mangle every line
        _SECRETS.add(password)
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_redacting_factory)
