"""upsert_span, delete_trace, prune and retention, JSONL export, and schema migrations."""

from __future__ import annotations

import io
import json
import logging
import secrets
import sqlite3
import time

import pytest

from traceglass.store import SCHEMA_VERSION, SchemaTooNewError, TraceStore, _schema

from ._helpers import BASE_S, make_sdk, ns, rows

TRACE = "0af7651916cd43dd8448eb211c80319c"
ROOT = "b7ad6b7169203331"
CHILD = "00f067aa0ba902b7"


def test_upsert_span_creates_then_updates(db_path):
    store = TraceStore(db_path)
    created = store.upsert_span({
        "trace_id": TRACE, "span_id": ROOT, "name": "support chat", "type": "agent", "project": "helpdesk",
        "start": "2027-01-15T08:00:00Z", "session": "s9", "user": "eve", "attributes": {"tier": "gold"},
    })
    assert (created.trace_id, created.span_id, created.name, created.type, created.project, created.start_ns,
            created.end_ns, created.status, created.session, created.user) == (
        TRACE, ROOT, "support chat", "agent", "helpdesk", ns(BASE_S), None, "UNSET", "s9", "eve")
    assert created.attributes == {"tier": "gold", "traceglass.span.type": "agent", "session.id": "s9",
                                  "user.id": "eve"}
    updated = store.upsert_span({
        "trace_id": TRACE, "span_id": ROOT, "end_ns": ns(BASE_S + 3), "status": "error",
        "status_message": "gave up", "attributes": {"turns": 4},
        "events": [{"name": "escalated", "timestamp": BASE_S + 2, "attributes": {"to": "human"}}],
    })
    assert (updated.name, updated.type, updated.duration_ms, updated.status, updated.status_message) == (
        "support chat", "agent", 3000.0, "ERROR", "gave up")
    assert updated.attributes == {"tier": "gold", "traceglass.span.type": "agent", "session.id": "s9",
                                  "user.id": "eve", "turns": 4}
    assert updated.events == [{"name": "escalated", "time_unix_nano": ns(BASE_S + 2), "attributes": {"to": "human"}}]
    # A child with usage below a parent with the same usage: the trace counts it once.
    store.upsert_span({"trace_id": TRACE, "span_id": CHILD, "parent_id": ROOT, "name": "chat m", "model": "m",
                       "start_ns": ns(BASE_S + 1), "end_ns": ns(BASE_S + 2), "input_tokens": 7, "output_tokens": 3,
                       "cost_usd": 0.5})
    store.upsert_span({"trace_id": TRACE, "span_id": ROOT, "input_tokens": 7, "output_tokens": 3, "cost_usd": 0.5})
    trace = store.get_trace(TRACE)
    assert (trace.span_count, trace.total_tokens, trace.cost_usd, trace.status, trace.latency_ms) == (
        2, 10, 0.5, "ERROR", 3000.0)
    assert [c.name for c in trace.root.children] == ["chat m"]
    assert trace.root.usage_superseded is True
    assert rows(db_path, "SELECT count(*) AS n FROM spans") == [{"n": 2}]
    store.close()


def test_upsert_span_generates_missing_ids(db_path):
    with TraceStore(db_path) as store:
        span = store.upsert_span({"name": "note"})
        assert len(span.trace_id) == 32 and len(span.span_id) == 16 and span.parent_id is None
        assert store.get_trace(span.trace_id).root.name == "note"


def test_upsert_span_lists_every_problem(db_path):
    with TraceStore(db_path) as store:
        with pytest.raises(ValueError) as info:
            store.upsert_span({"trace_id": "xyz", "span_id": 12, "kind": "SIDEWAYS", "input_tokens": -1,
                               "start": "soon", "attributes": {"ok": 1, "bad": {"nested": True}}, "colour": "red"})
        message = str(info.value)
        assert message.startswith("invalid span: ")
        for part in ["unknown field(s) ['colour']", "trace_id must be 32 hex digits, got 'xyz'",
                     "span_id must be 16 hex digits, got 12", "name is required for a new span",
                     "kind must be one of ['INTERNAL', 'CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']",
                     "start must be an ISO 8601 time", "attribute 'bad' must map a string",
                     "input_tokens must be a non-negative integer, got -1"]:
            assert part in message, part
        with pytest.raises(ValueError, match="end is before start"):
            store.upsert_span({"name": "x", "start_ns": 10, "end_ns": 5})
        with pytest.raises(ValueError, match="must be a JSON object"):
            store.upsert_span(["not", "a", "dict"])
        assert store.count() == {"traces": 0, "spans": 0}


def test_delete_trace_removes_every_row(sdk, db_path):
    keep, gone = sdk.rag_trace(BASE_S), sdk.rag_trace(BASE_S + 5)
    with TraceStore(db_path) as store:
        assert store.delete_trace(gone) is True
        assert store.delete_trace(gone) is False
        assert store.get_trace(gone) is None and store.get_trace(keep) is not None
    for table in ("spans", "traces"):
        assert rows(db_path, f"SELECT DISTINCT trace_id FROM {table}") == [{"trace_id": keep}]
    # span_data rows are keyed by their span's row id: exactly the kept spans' rows remain.
    assert rows(db_path, "SELECT id FROM span_data ORDER BY id") == rows(db_path, "SELECT id FROM spans ORDER BY id")
    assert len(rows(db_path, "SELECT id FROM span_data")) == 4


def test_prune_by_age(sdk, db_path):
    now = time.time()
    old = [sdk.rag_trace(now - 40 * 86400 + i) for i in range(3)]
    recent = sdk.rag_trace(now - 3600)
    with TraceStore(db_path) as store:
        assert store.prune(older_than="30d") == 3
        assert [t.trace_id for t in store.list_traces().traces] == [recent]
        assert all(store.get_trace(t) is None for t in old)
        assert store.prune(older_than=30 * 86400) == 0
        with pytest.raises(ValueError, match="needs older_than and/or max_size"):
            store.prune()


def test_prune_counts_every_trace_it_deletes_by_age_and_by_size(sdk, db_path):
    now = time.time()
    for i in range(5):
        sdk.rag_trace(now - 40 * 86400 + i)
    for i in range(40):
        sdk.rag_trace(now - 3600 + i, question=secrets.token_urlsafe(9000))
    with TraceStore(db_path) as store:
        # Five by age, then some of the rest by size, in one call: it counts both.
        deleted = store.prune(older_than="30d", max_size=int(store.size_bytes() * 0.7))
        left = len(store.list_traces(limit=100).traces)
        assert 0 < left < 40 and deleted == 45 - left


@pytest.mark.sqlite_only("SQLite's retention takes its chunk as an argument")
def test_prune_by_age_counts_the_traces_of_every_chunk(sdk, db_path):
    from traceglass.store import _retention

    for i in range(5):
        sdk.rag_trace(time.time() - 40 * 86400 + i)
    with TraceStore(db_path) as store:
        assert _retention.prune_older(store._db.conn, 30 * 86400, chunk=2) == 5  # chunks of 2, 2 and 1
        assert store.list_traces().traces == []


def test_prune_ages_that_are_not_a_positive_number_raise_and_a_huge_one_keeps_everything(sdk, db_path):
    kept = sdk.rag_trace(time.time() - 86400)
    with TraceStore(db_path) as store:
        for age in (True, float("nan"), -1, 0, b"30", [30]):
            with pytest.raises(ValueError, match="age must be"):
                store.prune(older_than=age)
        for age in (float("inf"), 1e300, 10**30):  # beyond what a 64-bit nanosecond clock holds: nothing is older
            assert store.prune(older_than=age) == 0
        assert [t.trace_id for t in store.list_traces().traces] == [kept]


def test_prune_by_size_deletes_the_oldest_and_shrinks_the_file(sdk, db_path):
    # Questions large enough that the traces, not the empty tables of a new schema, fill the file
    # (random text: large values are stored compressed, and "q" * 12000 would take a few bytes).
    ids = [sdk.rag_trace(BASE_S + i, question=secrets.token_urlsafe(9000)) for i in range(60)]
    with TraceStore(db_path) as store:
        before = store.size_bytes()
        limit = before // 2
        deleted = store.prune(max_size=limit)
        assert 0 < deleted < 60
        assert store.size_bytes() <= limit
        remaining = [t.trace_id for t in store.list_traces(limit=100).traces]
        assert remaining == list(reversed(ids))[:len(remaining)]  # the newest survive
        assert len(remaining) == 60 - deleted
    if not isinstance(db_path, str):  # SQLite: free pages go back to the file system (PostgreSQL reuses them)
        assert db_path.stat().st_size <= limit + 4096 * 4


@pytest.mark.sqlite_only("the SQLite word index's deletions: PostgreSQL has no such index")
def test_prune_by_size_deletes_no_more_traces_than_needed(sdk, db_path, tmp_path):
    # Random words: the word index is a large share of the file, and its deletions take space until merged.
    ids = [sdk.rag_trace(BASE_S + i, question=secrets.token_urlsafe(9000)) for i in range(60)]
    sdk.provider.shutdown()

    def size_without_oldest(count):
        copy = tmp_path / f"copy{count}.db"
        with sqlite3.connect(db_path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        with TraceStore(copy) as store:
            for trace_id in ids[:count]:
                store.delete_trace(trace_id)
        with sqlite3.connect(copy) as conn:
            conn.execute("INSERT INTO span_words (span_words) VALUES ('optimize')")
            pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                 for p in ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size

    with TraceStore(db_path) as store:
        limit = store.size_bytes() // 2
    low, high = 0, 60  # the fewest oldest traces whose deletion fits the limit: in (low, high]
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if size_without_oldest(middle) <= limit else (middle, high)
    fewest = high
    with TraceStore(db_path) as store:
        deleted = store.prune(max_size=limit)
        assert store.size_bytes() <= limit
        assert [t.trace_id for t in store.list_traces(limit=100).traces] == list(reversed(ids[deleted:]))
    assert fewest <= deleted <= fewest + 1, (fewest, deleted)


def test_exporter_retention_runs_in_the_background(db_path):
    sdk = make_sdk(db_path, max_age=3600, _retention_interval=0)
    now = time.time()
    sdk.rag_trace(now - 7200)
    sdk.exporter._wait_for_retention()
    fresh = sdk.rag_trace(now - 60)
    sdk.exporter._wait_for_retention()
    with TraceStore(db_path) as store:
        assert [t.trace_id for t in store.list_traces().traces] == [fresh]
    sdk.provider.shutdown()


def test_exporter_retention_with_an_age_beyond_any_clock_keeps_everything(db_path, caplog):
    sdk = make_sdk(db_path, max_age=float("inf"), _retention_interval=0)
    old = sdk.rag_trace(time.time() - 10 * 365 * 86400)
    sdk.exporter._wait_for_retention()
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        assert [t.trace_id for t in store.list_traces().traces] == [old]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("age", [float("nan"), True, -5.0])
def test_an_exporter_age_that_is_not_a_positive_number_is_refused(tmp_path, age):
    from traceglass.exporters import SQLiteSpanExporter

    with pytest.raises(ValueError, match="age"):
        SQLiteSpanExporter(tmp_path / "x.db", max_age=age)


def test_exporter_retention_from_the_environment(tmp_path, monkeypatch):
    from traceglass.exporters import SQLiteSpanExporter

    monkeypatch.setenv("TRACEGLASS_DB_MAX_AGE", "7d")
    monkeypatch.setenv("TRACEGLASS_DB_MAX_SIZE", "1GB")
    exporter = SQLiteSpanExporter(tmp_path / "x.db")
    assert (exporter.max_age, exporter.max_size) == (7 * 86400, 10**9)


def test_export_writes_one_json_line_per_span(sdk, db_path, tmp_path):
    first, second = sdk.rag_trace(BASE_S), sdk.rag_trace(BASE_S + 5)
    with TraceStore(db_path) as store:
        buffer = io.StringIO()
        calls = []
        assert store.export(buffer, progress=lambda done, total: calls.append((done, total))) == 8
        lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
        assert len(lines) == 8 and calls == [(8, 8)]
        assert {line["trace_id"] for line in lines} == {first, second}
        client = next(line for line in lines if line["name"] == "chat gpt-4o-mini" and line["trace_id"] == first)
        assert (client["model"], client["input_tokens"], client["cost_usd"], client["type"]) == (
            "gpt-4o-mini-2024-07-18", 100, 0.0012, "llm")
        assert client["attributes"]["gen_ai.provider.name"] == "openai" and "children" not in client
        out = tmp_path / "one.jsonl"
        assert store.export(out, trace_id=second) == 4
        assert {json.loads(line)["trace_id"] for line in out.read_text().splitlines()} == {second}
        assert store.export(io.StringIO(), since=BASE_S + 1) == 4


def test_an_empty_database_is_migrated_to_the_current_version(tmp_path):
    path = tmp_path / "old.db"
    sqlite3.connect(str(path)).close()
    with TraceStore(path) as store:
        assert store.count() == {"traces": 0, "spans": 0}
    assert rows(path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]


@pytest.mark.sqlite_only("builds SQLite databases of schemas 1-6 by hand; PostgreSQL's migration is tested in test_postgres.py")
def test_migrations_run_forward_and_keep_the_data(sdk, db_path, monkeypatch):
    trace_id = sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()

    def v_next(conn):
        conn.execute("ALTER TABLE traces ADD COLUMN starred INTEGER NOT NULL DEFAULT 0")

    monkeypatch.setattr(_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(_schema.MIGRATIONS, SCHEMA_VERSION + 1, v_next)
    with TraceStore(db_path) as store:
        assert store.get_trace(trace_id).total_tokens == 120
    assert rows(db_path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION + 1}]
    assert rows(db_path, "SELECT starred FROM traces") == [{"starred": 0}]


def test_a_newer_schema_is_refused_and_a_missing_file_is_not_created(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="upgrade traceglass"):
        TraceStore(path)
    with pytest.raises(FileNotFoundError, match="no traceglass database"):
        TraceStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_version_1_database_gets_the_covering_stats_indexes(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    _schema.MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    sdk = make_sdk(path)  # writing opens (and migrates) the file
    sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()
    assert rows(path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]
    assert [r["name"] for r in rows(path, "PRAGMA index_info(spans_model)")] == [
        "model", "start_ns", "duration_ns", "superseded", "status", "input_tokens", "output_tokens", "cost_usd",
        "project"]
    with TraceStore(path) as store:
        assert [(r.key, r.calls, r.total_tokens) for r in store.stats("model")] == [("gpt-4o-mini", 1, 120)]


def _v3_database(path):
    """A database as traceglass with schema 3 wrote it: span_data keyed by (trace_id, span_id)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for version in (1, 2, 3):
        _schema.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 3")
    spans = [(TRACE, ROOT, None, "agent", "agent", ns(BASE_S), ns(BASE_S + 2), None, None, None),
             (TRACE, CHILD, ROOT, "chat gpt-4o", "llm", ns(BASE_S), ns(BASE_S + 1), "gpt-4o", 7, 3)]
    for span_id in (CHILD, ROOT):  # row ids in another order than the spans: the data must follow its span
        trace_id, span_id, parent, name, kind, start, end, model, tin, tout = next(s for s in spans if s[1] == span_id)
        conn.execute("""INSERT INTO spans (trace_id, span_id, parent_id, name, kind, span_type, start_ns, end_ns,
            duration_ns, status, model, input_tokens, output_tokens, total_tokens) VALUES (?, ?, ?, ?, 'INTERNAL', ?,
            ?, ?, ?, 'OK', ?, ?, ?, ?)""", (trace_id, span_id, parent, name, kind, start, end, end - start, model, tin,
                                           tout, None if tin is None else tin + tout))
    for span_id in (ROOT, CHILD):
        conn.execute("INSERT INTO span_data (trace_id, span_id, attributes, events, links, resource) "
                     "VALUES (?, ?, ?, '[]', '[]', '{}')", (TRACE, span_id, json.dumps({"which": span_id})))
    conn.execute("""INSERT INTO traces (trace_id, root_span_id, name, start_ns, end_ns, duration_ns, status,
        span_count, error_count, input_tokens, output_tokens, total_tokens) VALUES (?, ?, 'agent', ?, ?, ?, 'OK', 2,
        0, 7, 3, 10)""", (TRACE, ROOT, ns(BASE_S), ns(BASE_S + 2), ns(2)))
    conn.close()


def test_a_version_3_database_keeps_its_spans_and_their_data(tmp_path, caplog):
    path = tmp_path / "v3.db"
    _v3_database(path)
    with caplog.at_level("INFO", logger="traceglass"), TraceStore(path) as store:
        trace = store.get_trace(TRACE)
        assert [(s.name, s.attributes) for s in trace.root.walk()] == [
            ("agent", {"which": ROOT}), ("chat gpt-4o", {"which": CHILD})]
        assert [(r.key, r.calls, r.total_tokens, r.p50_ms) for r in store.stats("model")] == [
            ("gpt-4o", 1, 10, 1000.0)]
        assert [(r.key, r.calls) for r in store.stats("type")] == [("agent", 1), ("llm", 1)]
        assert [t.trace_id for t in store.list_traces(search="which").traces] == [TRACE]
        plan = store._db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT model, count(*) FROM spans WHERE model IS NOT NULL AND superseded = 0 "
            "GROUP BY model").fetchall()
    assert f"upgrading the trace database from schema 3 to {SCHEMA_VERSION} (once)" in caplog.text
    assert rows(path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]
    assert [r["name"] for r in rows(path, "PRAGMA table_info(span_data)")] == [
        "id", "attributes", "events", "links", "resource", "resource_id"]
    assert rows(path, "SELECT s.span_id, s.trace_no = t.id AS linked FROM spans s, traces t ORDER BY s.id") == [
        {"span_id": CHILD, "linked": 1}, {"span_id": ROOT, "linked": 1}]
    assert rows(path, "SELECT sql FROM sqlite_master WHERE name = 'spans_model'")[0]["sql"].endswith(
        "WHERE model IS NOT NULL")
    assert any("COVERING INDEX spans_model" in row[-1] for row in plan)
    # A write after the migration takes the next row id; the migrated rows keep theirs.
    sdk = make_sdk(path)
    sdk.rag_trace(BASE_S + 10)
    sdk.provider.shutdown()
    assert rows(path, "SELECT count(*) AS n FROM span_data d JOIN spans s ON s.id = d.id") == [{"n": 6}]


@pytest.mark.sqlite_only("SQLite's page size")
def test_a_new_database_uses_large_pages(db_path, sdk):
    sdk.rag_trace(BASE_S)
    assert rows(db_path, "PRAGMA page_size") == [{"page_size": _schema.PAGE_SIZE}]
