"""Where the trace database lives: ``$TRACEGLASS_DB``, else a per-user data directory.

Either may also be a PostgreSQL URL (``postgresql://`` or ``postgres://``), resolved to a
:class:`~traceglass.store._postgres_url.DatabaseURL` instead of a ``Path``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Union

from traceglass.store._postgres_url import DatabaseURL, as_target

DB_ENV = "TRACEGLASS_DB"
FILE_NAME = "traces.db"


def data_dir() -> Path:
    """The per-user data directory for traceglass (XDG on Linux, the platform's own elsewhere)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "traceglass"


def default_db_path() -> Path:
    """``$TRACEGLASS_DB`` when set, else ``<data dir>/traces.db``; read on each call."""
    env = os.environ.get(DB_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return data_dir() / FILE_NAME


def resolve(path: str | os.PathLike[str] | DatabaseURL | None) -> Union[Path, DatabaseURL]:
    """The database for an optional explicit ``path``: a file path, or a PostgreSQL URL."""
    if not path:
        path = os.environ.get(DB_ENV, "").strip() or None
        if path is None:
            return default_db_path()
    url = as_target(path)
    if url is not None:
        return url
    return Path(path).expanduser()
