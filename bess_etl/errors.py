"""Exceptions that the CLI turns into one line on stderr and a non-zero exit."""


class BessEtlError(Exception):
    """Base class: a failure we can explain in one line."""

    exit_code = 1


class UsageError(BessEtlError):
    """Bad input from the user: a date, a MAC, a range. Nothing has been written."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration file or environment is invalid."""


class SourceError(BessEtlError):
    """The Aretas API (or the simulator) could not give us what we asked for."""


class AuthError(SourceError):
    """Credentials were refused."""


class LockBusyError(BessEtlError):
    """Another run holds the data directory's lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class DataCheckError(BessEtlError):
    """A data check found violating rows after a rebuild."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
