"""The database schema, its version (``PRAGMA user_version``) and forward migrations.

Two span tables: ``spans`` holds the narrow, indexed columns every query filters and groups on,
``span_data`` the bulky JSON (attributes, events, links, resource). Keeping them apart keeps a
full scan of ``spans`` (stats over a million spans) a scan of tens of megabytes, not gigabytes.
``traces`` is one summary row per trace, rewritten on each write that touches the trace, so the
trace list never aggregates spans.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 3
DEFAULT_BUSY_TIMEOUT_MS = 10_000


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer traceglass with a schema this one does not know."""


def _v1(conn: sqlite3.Connection) -> None:
    statements = [
        """CREATE TABLE spans (
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_id TEXT,
            name TEXT NOT NULL,
            kind TEXT,
            span_type TEXT,
            project TEXT,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER,
            duration_ns INTEGER,
            status TEXT NOT NULL,
            status_message TEXT,
            error_type TEXT,
            model TEXT,
            provider TEXT,
            operation TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            cost_usd REAL,
            session_id TEXT,
            user_id TEXT,
            superseded INTEGER NOT NULL DEFAULT 0,
            UNIQUE (trace_id, span_id)
        )""",
        "CREATE INDEX spans_start ON spans (start_ns)",
        "CREATE INDEX spans_model ON spans (model, duration_ns)",
        "CREATE INDEX spans_type ON spans (span_type, duration_ns)",
        """CREATE TABLE span_data (
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            attributes TEXT NOT NULL,
            events TEXT NOT NULL,
            links TEXT NOT NULL,
            resource TEXT NOT NULL,
            UNIQUE (trace_id, span_id)
        )""",
        """CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            root_span_id TEXT,
            name TEXT,
            project TEXT,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER,
            duration_ns INTEGER,
            status TEXT NOT NULL,
            span_count INTEGER NOT NULL,
            error_count INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            total_tokens INTEGER NOT NULL,
            cost_usd REAL,
            session_id TEXT,
            user_id TEXT
        )""",
        "CREATE INDEX traces_start ON traces (start_ns, trace_id)",
        "CREATE INDEX traces_project ON traces (project, start_ns)",
        "CREATE INDEX traces_session ON traces (session_id, start_ns)",
        "CREATE INDEX traces_user ON traces (user_id, start_ns)",
    ]
    for statement in statements:
        conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    # Covering indexes for stats by model and by type: the sums read only the index, and each
    # group's durations come out sorted, so a percentile is one OFFSET into it.
    conn.execute("DROP INDEX spans_model")
    conn.execute("DROP INDEX spans_type")
    conn.execute("""CREATE INDEX spans_model ON spans (model, duration_ns, superseded, status, input_tokens,
        output_tokens, cost_usd, start_ns, project)""")
    conn.execute("""CREATE INDEX spans_type ON spans (span_type, duration_ns, superseded, status, input_tokens,
        output_tokens, cost_usd, start_ns, project)""")


def _v3(conn: sqlite3.Connection) -> None:
    # The model index only holds spans that have a model (stats by model reads no others): spans
    # without one (tools, retrievers, agents, steps) no longer pay a random-key index insert each.
    conn.execute("DROP INDEX spans_model")
    conn.execute("""CREATE INDEX spans_model ON spans (model, duration_ns, superseded, status, input_tokens,
        output_tokens, cost_usd, start_ns, project) WHERE model IS NOT NULL""")


# Version N is reached by running MIGRATIONS[N] on a database at version N - 1. Append only:
# a released step never changes, later needs get a new step.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1, 2: _v2, 3: _v3}


def connect(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """Open ``path`` (creating it and its directory when ``create``), in WAL mode, migrated.

    Raises ``FileNotFoundError`` for a missing database when not ``create``, ``sqlite3.Error``
    for one that cannot be opened, ``SchemaTooNewError`` for one from a newer traceglass.
    """
    file = Path(path)
    if not file.exists():
        if not create:
            raise FileNotFoundError(f"no traceglass database at {file}")
        file.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE for every write).
    conn = sqlite3.connect(str(file), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _migrate(conn)
        else:
            _check_version(conn)
        # synchronous=NORMAL is durable across application crashes in WAL mode (not power loss).
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _check_version(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this traceglass supports "
            f"({SCHEMA_VERSION}); upgrade traceglass"
        )
    return version


def _migrate(conn: sqlite3.Connection) -> None:
    # Settings that must precede the first table; harmless no-ops on an existing database.
    if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = _check_version(conn)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
