"""Readers open the database read-only: the CLI's read commands and TraceStore(read_only=True)
never create, migrate, re-journal or otherwise change the file they are given."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest
from ._helpers import BASE_S, make_sdk, rows

from traceglass.store import (
    SCHEMA_VERSION,
    NotATraceDatabaseError,
    SchemaTooOldError,
    TraceStore,
    _schema,
)


def run(*args):
    return subprocess.run([sys.executable, "-m", "traceglass", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})


def _fingerprint(path):
    """Everything a reader must leave alone: the bytes, the mtime and the files beside it."""
    return (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns,
            sorted(p.name for p in path.parent.iterdir()))


def _foreign(path):
    """Another application's SQLite file: a table of its own, its own user_version, rollback journal."""
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()


READERS = [("traces",), ("show", "abcd"), ("stats",), ("export",)]


@pytest.mark.parametrize("command", READERS)
def test_read_commands_refuse_a_foreign_database_and_leave_it_untouched(tmp_path, command):
    path = tmp_path / "other.db"
    _foreign(path)
    before = _fingerprint(path)
    result = run(*command, "--db", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"traceglass: {path} is not a traceglass database (it holds another application's "
                             "tables)\n")
    assert _fingerprint(path) == before  # no -wal, no -journal, no tables, same bytes
    assert rows(path, "PRAGMA user_version") == [{"user_version": 0}]
    assert rows(path, "PRAGMA journal_mode") == [{"journal_mode": "delete"}]


@pytest.mark.parametrize("command", READERS)
def test_read_commands_do_not_turn_an_empty_file_into_a_database(tmp_path, command):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    result = run(*command, "--db", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"traceglass: {path} is not a traceglass database (it has no traces tables)\n"
    assert path.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_foreign_database_with_a_user_version_of_its_own_is_refused(tmp_path):
    path = tmp_path / "app.db"
    _foreign(path)
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    before = _fingerprint(path)
    for read_only in (True, False):  # a writer refuses it too, before switching its journal mode
        with pytest.raises(NotATraceDatabaseError, match="user_version 2 but no traces tables"):
            TraceStore(path, read_only=read_only)
    assert _fingerprint(path) == before
    assert rows(path, "PRAGMA journal_mode") == [{"journal_mode": "delete"}]


def test_a_writer_refuses_a_foreign_database_without_switching_it_to_wal(tmp_path):
    path = tmp_path / "other.db"
    _foreign(path)
    before = _fingerprint(path)
    with pytest.raises(NotATraceDatabaseError, match="another application's tables"):
        TraceStore(path)
    assert _fingerprint(path) == before
    assert rows(path, "SELECT body FROM notes") == [{"body": "keep me"}]


def test_a_file_holding_only_another_applications_view_is_refused(tmp_path):
    path = tmp_path / "views.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW answer AS SELECT 42 AS value")
    conn.close()
    for read_only in (True, False):
        with pytest.raises(NotATraceDatabaseError, match="another application's tables"):
            TraceStore(path, read_only=read_only)
    assert rows(path, "SELECT value FROM answer") == [{"value": 42}]


@pytest.mark.sqlite_only("compares the database file's bytes and directory listing")
def test_reading_our_database_changes_nothing_in_it(sdk, db_path):
    trace_id = sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()  # closes the writer: the WAL is folded in and removed
    before = _fingerprint(db_path)
    assert before[2] == ["traces.db"]
    for command in (("traces", "--json"), ("show", trace_id[:8]), ("stats", "--by", "type"), ("export",)):
        result = run(*command, "--db", str(db_path))
        assert result.returncode == 0, (command, result.stderr)
    with TraceStore(db_path, read_only=True) as store:
        assert store.get_trace(trace_id).total_tokens == 120
        assert store.read_only is True
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.delete_trace(trace_id)
    digest, mtime, _ = _fingerprint(db_path)
    assert (digest, mtime) == before[:2]
    assert rows(db_path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]


def test_an_older_schema_is_not_migrated_by_a_reader_but_by_migrate(tmp_path):
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for version in (1, 2, 3):
        _schema.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    before = _fingerprint(path)
    with pytest.raises(SchemaTooOldError, match=f"schema version 3, older than this traceglass's {SCHEMA_VERSION}"):
        TraceStore(path, read_only=True)
    listed = run("traces", "--db", str(path))
    assert (listed.returncode, listed.stderr) == (
        1, f"traceglass: {path} has schema version 3, older than this traceglass's {SCHEMA_VERSION}; open it once "
           "for writing to upgrade it (run your traced app, or `traceglass migrate`)\n")
    assert _fingerprint(path) == before
    migrated = run("migrate", "--db", str(path))
    assert (migrated.returncode, migrated.stdout) == (0, f"{path}: schema 3 -> {SCHEMA_VERSION}\n")
    assert rows(path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]
    again = run("migrate", "--db", str(path), "--json")
    assert again.returncode == 0 and f'"schema_before": {SCHEMA_VERSION}' in again.stdout
    assert run("traces", "--db", str(path)).returncode == 0


def test_a_reader_sees_what_a_live_writer_commits(db_path):
    sdk = make_sdk(db_path)
    first = sdk.rag_trace(BASE_S)
    with TraceStore(db_path, read_only=True) as store:  # the writer's connection is still open
        assert [t.trace_id for t in store.list_traces()] == [first]
        second = sdk.rag_trace(BASE_S + 10)
        assert [t.trace_id for t in store.list_traces()] == [second, first]
    sdk.provider.shutdown()


@pytest.mark.sqlite_only("SQLite's -shm file in a read-only directory")
def test_a_read_only_directory_is_read_without_a_shared_memory_file(sdk, db_path, monkeypatch):
    trace_id = sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()
    before = _fingerprint(db_path)
    real_access = os.access
    # Tests run as root, whom chmod does not stop: the directory is made to look read-only.
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(db_path.parent) and mode == os.W_OK
                        else real_access(p, mode, **kw))
    with TraceStore(db_path, read_only=True) as store:
        assert store.get_trace(trace_id).span_count == 4
        assert sorted(p.name for p in db_path.parent.iterdir()) == ["traces.db"]  # immutable: no -shm, no -wal
    assert _fingerprint(db_path) == before


def test_read_only_never_creates_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no traceglass database"):
        TraceStore(tmp_path / "missing" / "traces.db", read_only=True)
    assert list(tmp_path.iterdir()) == []
