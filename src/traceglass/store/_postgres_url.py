"""A PostgreSQL database named by URL: telling one from a file path, and never showing its password.

Nothing here imports the driver: a SQLite user never loads psycopg. ``DatabaseURL`` stands where a
``Path`` stands for SQLite (``TraceStore.path``, ``TraceWriter.path``): it prints, formats and
reprs with the password as ``***``, and only the backend reads the real URL (``secret()``), so a
log line, an error message, the CLI or the dashboard showing a store's path shows no password.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from traceglass._secrets import mask_secrets

SCHEMES = ("postgresql", "postgres")
# Serialization failure, deadlock, lock not available, too many connections: another writer (or
# client) is in the way for now.
BUSY_STATES = frozenset({"40001", "40P01", "55P03", "53300"})


def is_url(value: Any) -> bool:
    """Whether ``value`` names a PostgreSQL database (a ``postgresql://`` or ``postgres://`` URL)."""
    if isinstance(value, DatabaseURL):
        return True
    if not isinstance(value, str):
        return False
    scheme, sep, _ = value.strip().partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def mask(text: str) -> str:
    """``text`` with every password in it (of a URL, any scheme, or a ``password=`` keyword) as ``***``."""
    return mask_secrets(text)


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return mask(url)
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return mask(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))


class DatabaseURL:
    """A PostgreSQL URL that shows itself with its password masked (``str``, ``repr``, formatting).

    Passed back to ``TraceStore``/``TraceWriter`` (as ``store.path`` is, by the server) it opens the
    same database; ``secret()`` is the real URL, for the driver alone.
    """

    __slots__ = ("_shown", "_url")

    def __init__(self, url: str | DatabaseURL) -> None:
        real = url.secret() if isinstance(url, DatabaseURL) else url.strip()
        if not is_url(real):
            raise ValueError("not a postgresql:// URL")
        self._url = real
        self._shown = _masked_url(real)

    def secret(self) -> str:
        """The URL with its password: hand it to the driver, never to a log or a user."""
        return self._url

    def exists(self) -> bool:
        """Always True: a server database is checked when it is opened (the CLI asks a Path this)."""
        return True

    def __str__(self) -> str:
        return self._shown

    def __repr__(self) -> str:
        return f"DatabaseURL({self._shown!r})"

    def __format__(self, spec: str) -> str:
        return format(self._shown, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseURL) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    @staticmethod
    def busy(exc: BaseException) -> bool:
        """Whether ``exc`` is a PostgreSQL failure worth another try (another writer won a race)."""
        return isinstance(exc, PostgresError) and exc.sqlstate in BUSY_STATES

    def __reduce__(self) -> Any:  # pickled (to a child process) it stays a URL, not a masked text
        return (DatabaseURL, (self._url,))


def as_target(value: str | os.PathLike[str] | DatabaseURL) -> DatabaseURL | None:
    """``value`` as a DatabaseURL when it names a PostgreSQL database, else None."""
    if isinstance(value, DatabaseURL):
        return value
    if isinstance(value, str) and is_url(value):
        return DatabaseURL(value)
    return None


class PostgresError(OSError):
    """A PostgreSQL failure, its message with passwords masked; ``sqlstate`` is the server's code.

    An ``OSError``, so every caller that treats a SQLite file's I/O failure as the database's (the
    exporters, the CLI, the server) treats this alike, without importing the driver."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(mask(message))
        self.sqlstate = sqlstate


class DriverMissingError(ImportError):
    """psycopg is not installed: PostgreSQL needs the ``traceglass[postgres]`` extra."""
