"""The database schema, its version (``PRAGMA user_version``) and forward migrations.

Two span tables: ``spans`` holds the narrow, indexed columns every query filters and groups on,
``span_data`` the bulky JSON (attributes, events, links, resource) under its span's row id. Keeping
them apart keeps a full scan of ``spans`` (stats over a million spans) a scan of tens of megabytes,
not gigabytes. ``traces`` is one summary row per trace, rewritten on each write that touches the
trace, so the trace list never aggregates spans. ``scores`` (schema 5) holds scores under their own
id, joined to a trace by its id text, so a score may arrive before its trace. ``alert_state`` and
``alert_events`` (schema 6) keep what the alert rules found and their history. ``eval_*`` (schema
7) hold saved evaluation datasets (immutable named versions) and evaluation runs with their results.
Schema 8 widens the user index so a user's totals read the index alone. Schema 9 stores large
``span_data`` values as zstd frames (see :mod:`._packed`): no table changes, but an older traceglass
must not read such a value as JSON. Schema 10 adds the content search's word index
(``span_words``, ``search_index``; see :mod:`._search`). Schema 12 keeps the zstd dictionaries the
large values are compressed with (``zstd_dicts``), which an older traceglass could not read. Schema 13
counts the spans deleted from the word index since it was last merged (``search_index.forgotten``).
Schema 14 stores each distinct resource once (``resources``; see :mod:`._resources`). Schema 15 counts, in a
count that only grows, the changes to the word index that a process's copy of its vocabulary cannot follow
(``search_index.changes``; see :mod:`._vocabulary`).

Write speed is mostly a matter of where inserts land: an index keyed by something random (a trace
id, a duration) dirties a different page for nearly every row, and every dirty page is written to
the WAL whole. So a trace id is looked up once per trace, in ``traces``, whose integer ``id`` the
trace's spans carry as ``trace_no``: their (trace_no, span_id) key, which lets a re-exported span
replace itself, grows at its end like the row ids do. The stats indexes are ordered by start time
within each model or type, and ``span_data`` is appended in row-id order into large pages.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from traceglass.store import _packed, _resources, _search
from traceglass.store._transaction import write_transaction

logger = logging.getLogger("traceglass")

SCHEMA_VERSION = 15
DEFAULT_BUSY_TIMEOUT_MS = 10_000
# Of a new database (an existing one keeps its own). A span's JSON (~2 KB) fills half of a 4 KiB
# page; six of them share a 16 KiB page, which halves the bytes written per span.
PAGE_SIZE = 16384


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer traceglass with a schema this one does not know."""


class SchemaTooOldError(RuntimeError):
    """A read-only open found an older schema: a writer must open the database once to migrate it."""


class NotATraceDatabaseError(sqlite3.DatabaseError):
    """The file is a SQLite database of another application (or an empty file opened read-only)."""


OUR_TABLES = frozenset({"spans", "span_data", "traces"})


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


_STATS_COVER = "start_ns, duration_ns, superseded, status, input_tokens, output_tokens, cost_usd, project"
_SPAN_FIELDS = """trace_id, span_id, parent_id, name, kind, span_type, project, start_ns, end_ns, duration_ns, status,
    status_message, error_type, model, provider, operation, input_tokens, output_tokens, total_tokens, cost_usd,
    session_id, user_id, superseded"""
_TRACE_FIELDS = """trace_id, root_span_id, name, project, start_ns, end_ns, duration_ns, status, span_count,
    error_count, input_tokens, output_tokens, total_tokens, cost_usd, session_id, user_id"""


def _v4(conn: sqlite3.Connection) -> None:
    # Every table is rebuilt (one copy of the data) so that only traces keeps a random key:
    # - traces gets a stable integer id (an upsert never renumbers it, VACUUM neither);
    # - spans are keyed by (trace_no, span_id), trace_no being that id: a new trace's spans land
    #   at the end of the index instead of at a random trace id;
    # - span_data rows sit under their span's row id, with no index of their own;
    # - the stats indexes are ordered by start time within each model or type.
    conn.execute("""CREATE TABLE traces_v4 (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL UNIQUE,
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
    )""")
    conn.execute(f"INSERT INTO traces_v4 ({_TRACE_FIELDS}) "
                 f"SELECT {_TRACE_FIELDS} FROM traces ORDER BY start_ns, trace_id")
    conn.execute("""CREATE TABLE spans_v4 (
        id INTEGER PRIMARY KEY,
        trace_no INTEGER NOT NULL,
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
        UNIQUE (trace_no, span_id)
    )""")
    # A span without a trace summary was never listed nor shown; it is not carried over.
    conn.execute(f"""INSERT INTO spans_v4 (id, trace_no, {_SPAN_FIELDS})
        SELECT s.id, t.id, {', '.join('s.' + f.strip() for f in _SPAN_FIELDS.split(','))}
        FROM spans s JOIN traces_v4 t ON t.trace_id = s.trace_id ORDER BY s.id""")
    conn.execute("""CREATE TABLE span_data_v4 (
        id INTEGER PRIMARY KEY,
        attributes TEXT NOT NULL,
        events TEXT NOT NULL,
        links TEXT NOT NULL,
        resource TEXT NOT NULL
    )""")
    conn.execute("""INSERT INTO span_data_v4 (id, attributes, events, links, resource)
        SELECT s.id, d.attributes, d.events, d.links, d.resource
        FROM span_data d JOIN spans s ON s.trace_id = d.trace_id AND s.span_id = d.span_id
        WHERE s.id IN (SELECT id FROM spans_v4) ORDER BY s.id""")
    for table in ("span_data", "spans", "traces"):  # their indexes go with them
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_v4 RENAME TO {table}")
    for statement in (
        "CREATE INDEX spans_start ON spans (start_ns)",
        f"CREATE INDEX spans_model ON spans (model, {_STATS_COVER}) WHERE model IS NOT NULL",
        f"CREATE INDEX spans_type ON spans (span_type, {_STATS_COVER})",
        "CREATE INDEX traces_start ON traces (start_ns, trace_id)",
        "CREATE INDEX traces_project ON traces (project, start_ns)",
        "CREATE INDEX traces_session ON traces (session_id, start_ns)",
        "CREATE INDEX traces_user ON traces (user_id, start_ns)",
    ):
        conn.execute(statement)


def _v5(conn: sqlite3.Connection) -> None:
    # Scores (issue 14). ``trace_id`` is text, not a reference to ``traces``: a score may arrive
    # before its trace's spans (feedback posted before the batch flushes) and joins the trace when
    # they do. The score's own ``id`` (a client's, or a random one) makes a write idempotent.
    conn.execute("""CREATE TABLE scores (
        no INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        trace_id TEXT NOT NULL,
        span_id TEXT,
        name TEXT NOT NULL,
        value REAL,
        label TEXT,
        data_type TEXT NOT NULL,
        comment TEXT,
        source TEXT NOT NULL,
        user_id TEXT,
        created_ns INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    )""")
    # A trace's scores (get_trace, the trace list's summaries, deletes); the trace list's score
    # filter, which reads only this index (name, then the value range, then the trace ids); the
    # newest-first score list and retention's orphans by age.
    conn.execute("CREATE INDEX scores_trace ON scores (trace_id, created_ns)")
    conn.execute("CREATE INDEX scores_name ON scores (name, value, trace_id)")
    conn.execute("CREATE INDEX scores_created ON scores (created_ns, id)")


def _v6(conn: sqlite3.Connection) -> None:
    # Alerts (issue 16). ``alert_state`` is one row per rule and group (a per-trace rule's group is
    # its trace): what the last evaluation found, so a transition is notified once however many
    # processes evaluate. ``alert_events`` is the history, appended to, newest read first.
    conn.execute("""CREATE TABLE alert_state (
        rule TEXT NOT NULL,
        group_key TEXT NOT NULL,
        status TEXT NOT NULL,
        value REAL,
        since_ns INTEGER NOT NULL,
        notified_ns INTEGER,
        updated_ns INTEGER NOT NULL,
        PRIMARY KEY (rule, group_key)
    )""")
    conn.execute("""CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        group_key TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ns INTEGER NOT NULL,
        delivery TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        event TEXT NOT NULL
    )""")
    conn.execute("CREATE INDEX alert_events_created ON alert_events (created_ns, id)")


def _v7(conn: sqlite3.Connection) -> None:
    # Evaluations (issue 15). A dataset version is written once and never changed: saving a name
    # again adds the next version. Items and results are keyed by their position, so a dataset or
    # a run reads back in its own order. Results keep their trace id as text (no reference): a run
    # stays readable after retention deletes the traces it evaluated.
    conn.execute("""CREATE TABLE eval_datasets (
        no INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        item_count INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        UNIQUE (name, version)
    )""")
    conn.execute("""CREATE TABLE eval_dataset_items (
        dataset_no INTEGER NOT NULL,
        position INTEGER NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (dataset_no, position)
    ) WITHOUT ROWID""")
    conn.execute("""CREATE TABLE eval_runs (
        no INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_ns INTEGER NOT NULL,
        finished_ns INTEGER,
        status TEXT NOT NULL,
        item_count INTEGER NOT NULL,
        judge_cost_usd REAL,
        run TEXT NOT NULL DEFAULT '{}'
    )""")
    conn.execute("""CREATE TABLE eval_run_items (
        run_no INTEGER NOT NULL,
        position INTEGER NOT NULL,
        trace_id TEXT,
        span_id TEXT,
        item TEXT NOT NULL,
        PRIMARY KEY (run_no, position)
    ) WITHOUT ROWID""")
    conn.execute("""CREATE TABLE eval_results (
        run_no INTEGER NOT NULL,
        position INTEGER NOT NULL,
        scorer TEXT NOT NULL,
        trace_id TEXT,
        span_id TEXT,
        value REAL,
        label TEXT,
        explanation TEXT,
        error TEXT,
        score_id TEXT,
        PRIMARY KEY (run_no, position, scorer)
    ) WITHOUT ROWID""")
    # What a schedule asks before each run: which of these traces a scorer already evaluated.
    conn.execute("CREATE INDEX eval_results_trace ON eval_results (trace_id, scorer)")


def _v8(conn: sqlite3.Connection) -> None:
    # Sessions and users (issue 19): a page of users totals each user's traces (sessions, statuses,
    # tokens, cost). Covered by the user index, that reads the index alone instead of every trace
    # row at random: 50 users of 400 traces each, 650 -> 35 ms on a 1,000,000-span store. Same key
    # as before, so the trace list's user filter and a new trace's insert are as they were.
    conn.execute("DROP INDEX traces_user")
    conn.execute("CREATE INDEX traces_user ON traces (user_id, start_ns, session_id, status, input_tokens, "
                 "output_tokens, total_tokens, cost_usd, project)")


def _v9(conn: sqlite3.Connection) -> None:
    """Large span_data values stored compressed: no table changes (see below)."""
    # Large attributes and events are written as zstd frames (BLOBs) from now on (store/_packed.py);
    # stored text stays as it is, and reads either. Nothing to change in the tables: the version
    # makes an older traceglass refuse the file (SchemaTooNewError) instead of reading a frame as
    # JSON that does not parse, i.e. showing large spans with no attributes.


def _v10(conn: sqlite3.Connection) -> None:
    # The content search's word index (store/_search.py), empty: the spans already stored stay
    # below its watermark and are scanned until `traceglass migrate --search-index` (TraceStore.
    # backfill_search_index) adds them in short steps, or retention ages them out. Indexing them here measured
    # 22 us of CPU a span on bench_store's spans (decompress + tokenize; ~36 us of it tokenizing on text
    # with a larger vocabulary): 22-45 s at the first open of a 1,000,000-span store, under the write
    # lock the application's exports wait on. Without FTS5 in this SQLite, the watermark is NULL: scan.
    _search.create(conn)


def _v11(conn: sqlite3.Connection) -> None:
    """PostgreSQL's step: its stats indexes cover the sums (SQLite's spans_model and spans_type have
    since step 2). Nothing to change here."""


def _v12(conn: sqlite3.Connection) -> None:
    # The zstd dictionaries large values are compressed with from now on (store/_packed.py), by the id
    # each frame names; a store trains its first from a large batch. The version makes an older
    # traceglass refuse the file instead of reading such values as missing.
    conn.execute(f"CREATE TABLE {_packed.DICT_TABLE} (dict_id INTEGER PRIMARY KEY, data BLOB NOT NULL)")


def _v13(conn: sqlite3.Connection) -> None:
    # How many spans' words the index has deleted since it was last merged (retention merges it
    # when they are many: until then a deletion takes space in a contentless index).
    _search.add_forgotten(conn)


def _v14(conn: sqlite3.Connection) -> None:
    # Each distinct resource stored once (store/_resources.py); spans stored before keep their own text.
    _resources.create(conn)


def _v15(conn: sqlite3.Connection) -> None:
    # A count that only grows of the changes to the word index a process's copy of its vocabulary
    # (store/_vocabulary.py) cannot follow (_search.forget): the copy is read again when it moves.
    _search.add_changes(conn)


# Version N is reached by running MIGRATIONS[N] on a database at version N - 1. Append only:
# a released step never changes, later needs get a new step.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7,
                                                                8: _v8, 9: _v9, 10: _v10, 11: _v11, 12: _v12,
                                                                13: _v13, 14: _v14, 15: _v15}


def connect(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    read_only: bool = False,
) -> sqlite3.Connection:
    """Open ``path`` (creating it and its directory when ``create``), in WAL mode, migrated.

    With ``read_only`` the file is opened read-only and never changed: not created, not migrated,
    its journal mode left alone; it must already be a traceglass database of the current schema.

    Raises ``FileNotFoundError`` for a missing database when not ``create`` (or ``read_only``),
    ``NotATraceDatabaseError`` for a file another application owns, ``SchemaTooOldError`` for an
    older schema opened ``read_only``, ``SchemaTooNewError`` for one from a newer traceglass and
    ``sqlite3.Error`` for one that cannot be opened.
    """
    file = Path(path)
    if not file.exists():
        if not create or read_only:
            raise FileNotFoundError(f"no traceglass database at {file}")
        file.parent.mkdir(parents=True, exist_ok=True)
    if read_only:
        return _connect_read_only(file, busy_timeout_ms)
    # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE for every write).
    conn = sqlite3.connect(str(file), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        _packed.register(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        version, tables = _version_and_tables(conn)
        # Refuse another application's database before anything (the journal mode first) changes it.
        _check_ours(file, version, tables)
        if version < SCHEMA_VERSION:
            _migrate(conn)
        else:
            _check_version(conn)
        # synchronous=NORMAL is durable across application crashes in WAL mode (not power loss).
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_read_only(file: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # mode=ro: SQLite itself refuses every write, so no pragma or migration can change the file.
    # A WAL database needs its -shm file; where the directory is not writable and there is none,
    # nobody can be writing the file either, and immutable=1 reads it without one.
    uri = f"{file.absolute().as_uri()}?mode=ro"
    if not os.access(file.parent, os.W_OK) and not Path(f"{file}-shm").exists():
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        _packed.register(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        version, tables = _version_and_tables(conn)
        _check_ours(file, version, tables)
        if version == 0 or not OUR_TABLES <= (tables or set()):
            raise NotATraceDatabaseError(f"{file} is not a traceglass database (it has no traces tables)")
        if version < SCHEMA_VERSION:
            raise SchemaTooOldError(
                f"{file} has schema version {version}, older than this traceglass's {SCHEMA_VERSION}; "
                "open it once for writing to upgrade it (run your traced app, or `traceglass migrate`)")
        _check_version(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _version_and_tables(conn: sqlite3.Connection) -> tuple[int, set[str] | None]:
    """The schema version and the table names (None for a file without any schema object), read in
    one statement and so from one snapshot: read apart, another process creating the database in
    between makes its new tables look foreign."""
    version, names, empty = conn.execute(
        "SELECT user_version, (SELECT json_group_array(name) FROM sqlite_master WHERE type = 'table'), "
        "NOT EXISTS (SELECT 1 FROM sqlite_master) FROM pragma_user_version").fetchone()
    return version, None if empty else set(json.loads(names))


def _check_ours(file: Path, version: int, tables: set[str] | None) -> None:
    """Raise NotATraceDatabaseError for a database with tables that traceglass did not make:
    ours reach user_version 1 or more in the same transaction that creates the first table."""
    if version > SCHEMA_VERSION:
        return  # a newer traceglass's: _check_version says so
    if version == 0:
        if tables is not None:
            raise NotATraceDatabaseError(f"{file} is not a traceglass database (it holds another application's "
                                         "tables)")
    elif not OUR_TABLES <= (tables or set()):
        raise NotATraceDatabaseError(f"{file} is not a traceglass database (user_version {version} but no "
                                     "traces tables)")


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
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before auto_vacuum, which fixes the page size
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    with write_transaction(conn):
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = _check_version(conn)
        # An existing database: say why its first open takes a while. (Pages freed by a copying
        # step stay in the file for new spans: giving them back took 5x longer than the copy.)
        if version:
            logger.info("traceglass: upgrading the trace database from schema %d to %d (once)", version,
                        SCHEMA_VERSION)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
