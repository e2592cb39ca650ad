"""Which backend opens a database: SQLite for a file path, PostgreSQL for a ``postgresql://`` URL.

The one place the choice is made (the store, its export connection, the writer and its
retention pass all open through here). The PostgreSQL backend, and with it psycopg, is imported
only when a URL is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traceglass.store import _sqlite
from traceglass.store._backend import Backend
from traceglass.store._postgres_url import DatabaseURL


def open_backend(target: Path | DatabaseURL, *, create: bool = True, read_only: bool = False,
                 **sqlite_options: Any) -> Backend:
    """A backend for reading and maintenance (``sqlite_options``: SQLite's own, e.g. its busy timeout)."""
    if isinstance(target, DatabaseURL):
        from traceglass.store import _postgres

        return _postgres.open_backend(target, create=create, read_only=read_only)
    return _sqlite.open_backend(target, create=create, read_only=read_only, **sqlite_options)


def open_writer(target: Path | DatabaseURL, **sqlite_options: Any) -> Backend:
    """A backend for a writer: created when missing (SQLite: checkpointed in a background thread)."""
    if isinstance(target, DatabaseURL):
        from traceglass.store import _postgres

        return _postgres.open_backend(target)
    return _sqlite.open_writer(target, **sqlite_options)


def schema_version(url: DatabaseURL) -> int | None:
    """The schema version of the PostgreSQL database at ``url`` (None: no traceglass schema), or the
    OSError (PostgresError) of a database that cannot be reached."""
    from traceglass.store import _postgres

    return _postgres.schema_version(url)


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` means another writer holds the database for now, whichever backend raised it."""
    return _sqlite.SQLiteBackend.is_busy(exc) or DatabaseURL.busy(exc)
