"""The SQLite exporter: rows, derived columns, idempotent re-export, failure modes, suppression."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from importlib.metadata import entry_points

import pytest
from ._helpers import BASE_S, SEC, make_sdk, ns, rows
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import SCHEMA_VERSION


def test_a_genai_span_becomes_one_row_with_every_column(sdk, db_path):
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
        "traceglass.cost.total_usd": 0.000036, "session.id": "sess-1", "user.id": "ada",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
    }
    span = sdk.span("chat gpt-4o-mini", BASE_S, BASE_S + 1.5, attributes=attributes, error="RateLimitError")
    trace_id = format(span.get_span_context().trace_id, "032x")
    span_id = format(span.get_span_context().span_id, "016x")
    stored = rows(db_path, "SELECT * FROM spans")
    assert stored == [{
        "id": 1, "trace_no": 1, "trace_id": trace_id, "span_id": span_id, "parent_id": None, "name": "chat gpt-4o-mini",
        "kind": "INTERNAL", "span_type": "llm", "project": "shop", "start_ns": BASE_S * SEC,
        "end_ns": ns(BASE_S + 1.5), "duration_ns": 1_500_000_000, "status": "ERROR",
        "status_message": "RateLimitError happened", "error_type": "RateLimitError",
        "model": "gpt-4o-mini-2024-07-18", "provider": "openai", "operation": "chat", "input_tokens": 120,
        "output_tokens": 30, "total_tokens": 150, "cost_usd": 0.000036, "session_id": "sess-1",
        "user_id": "ada", "superseded": 0,
    }]
    data = rows(db_path, "SELECT * FROM span_data")[0]
    assert json.loads(data["attributes"]) == {**attributes, "error.type": "RateLimitError"}
    assert json.loads(data["events"]) == []
    assert json.loads(data["links"]) == []
    if str(db_path).startswith("postgresql://"):
        assert json.loads(data["resource"])["service.name"] == "shop"
    else:  # SQLite stores each distinct resource once and names it by id (schema 14)
        assert data["resource"] == "" and data["resource_id"] == 1
        (resource,) = rows(db_path, "SELECT id, resource FROM resources")
        assert resource["id"] == 1 and json.loads(resource["resource"])["service.name"] == "shop"
    assert rows(db_path, "SELECT trace_id, name, status, span_count, error_count, input_tokens, output_tokens, "
                         "total_tokens, cost_usd, session_id, user_id FROM traces") == [{
        "trace_id": trace_id, "name": "chat gpt-4o-mini", "status": "ERROR", "span_count": 1, "error_count": 1,
        "input_tokens": 120, "output_tokens": 30, "total_tokens": 150, "cost_usd": 0.000036,
        "session_id": "sess-1", "user_id": "ada"}]


@pytest.mark.parametrize(("operation", "span_type"), [
    ("chat", "llm"), ("text_completion", "llm"), ("generate_content", "llm"), ("embeddings", "embedding"),
    ("execute_tool", "tool"), ("invoke_agent", "agent"), ("retrieval", "retriever"), ("create_agent", None),
])
def test_foreign_spans_get_a_type_from_the_operation(sdk, db_path, operation, span_type):
    sdk.span("op", BASE_S, BASE_S + 1, attributes={"gen_ai.operation.name": operation})
    assert rows(db_path, "SELECT span_type, operation FROM spans") == [{"span_type": span_type,
                                                                        "operation": operation}]


def test_our_span_type_wins_over_the_operation(sdk, db_path):
    sdk.span("op", BASE_S, BASE_S + 1, attributes={"gen_ai.operation.name": "chat",
                                                   "traceglass.span.type": "chat_model"})
    assert rows(db_path, "SELECT span_type FROM spans") == [{"span_type": "chat_model"}]


@pytest.mark.parametrize(("attributes", "cost"), [
    ({"traceglass.cost.total_usd": 0.5, "gen_ai.usage.cost": 0.7, "gen_ai.usage.cost.amount": 0.9}, 0.5),
    ({"gen_ai.usage.cost": 0.7, "gen_ai.usage.cost.amount": 0.9}, 0.7),
    ({"gen_ai.usage.cost.amount": 0.9}, 0.9),
    ({}, None),
])
def test_cost_is_read_from_ours_then_the_baseline_then_the_latest_key(sdk, db_path, attributes, cost):
    sdk.span("x", BASE_S, BASE_S + 1, attributes={"gen_ai.usage.input_tokens": 1, **attributes})
    assert rows(db_path, "SELECT cost_usd FROM spans") == [{"cost_usd": cost}]


def test_request_model_is_used_when_there_is_no_response_model(sdk, db_path):
    sdk.span("x", BASE_S, BASE_S + 1, attributes={"gen_ai.request.model": "m-req"})
    assert rows(db_path, "SELECT model FROM spans") == [{"model": "m-req"}]


def test_events_and_links_are_stored_as_json(sdk, db_path):
    first = sdk.span("first", BASE_S, BASE_S + 1)

    def children(span):
        span.add_event("gen_ai.client.inference.operation.details", {"k": "v"}, timestamp=(BASE_S + 2) * SEC)

    context = first.get_span_context()
    span = sdk.tracer.start_span("second", start_time=(BASE_S + 1) * SEC, links=[Link(context, {"why": "retry"})])
    children(span)
    span.end(end_time=(BASE_S + 3) * SEC)
    data = rows(db_path, "SELECT d.events, d.links FROM span_data d JOIN spans s ON s.id = d.id WHERE s.span_id = ?",
                (format(span.get_span_context().span_id, "016x"),))[0]
    assert json.loads(data["events"]) == [{"name": "gen_ai.client.inference.operation.details",
                                           "time_unix_nano": (BASE_S + 2) * SEC, "attributes": {"k": "v"}}]
    assert json.loads(data["links"]) == [{"trace_id": format(context.trace_id, "032x"),
                                          "span_id": format(context.span_id, "016x"),
                                          "attributes": {"why": "retry"}}]


def test_re_exporting_a_batch_never_duplicates(db_path):
    memory = InMemorySpanExporter()
    sdk = make_sdk(db_path)
    sdk.provider.add_span_processor(SimpleSpanProcessor(memory))
    sdk.rag_trace(BASE_S)
    spans = memory.get_finished_spans()
    assert len(spans) == 4
    for _ in range(3):  # what an SDK retry does
        assert sdk.exporter.export(spans) is SpanExportResult.SUCCESS
    assert rows(db_path, "SELECT count(*) AS n FROM spans") == [{"n": 4}]
    assert rows(db_path, "SELECT count(*) AS n FROM span_data") == [{"n": 4}]
    assert rows(db_path, "SELECT span_count, total_tokens, cost_usd FROM traces") == [
        {"span_count": 4, "total_tokens": 120, "cost_usd": 0.0012}]
    sdk.provider.shutdown()


def test_superseded_marks_the_outer_layer_of_a_doubly_reported_call(sdk, db_path):
    sdk.rag_trace(BASE_S)
    assert rows(db_path, "SELECT name, superseded FROM spans ORDER BY start_ns") == [
        {"name": "rag", "superseded": 0}, {"name": "retrieve", "superseded": 0},
        {"name": "generate", "superseded": 1}, {"name": "chat gpt-4o-mini", "superseded": 0}]


@pytest.mark.sqlite_only("SQLite's user_version and WAL journal mode")
def test_schema_version_and_wal(sdk, db_path):
    sdk.span("x", BASE_S, BASE_S + 1)
    conn = sqlite3.connect(str(db_path))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.sqlite_only("the _on_connect seam hooks a sqlite3 connection's statements; PostgreSQL writes run under the same suppression in TraceWriter.write")
def test_export_runs_with_instrumentation_suppressed(db_path):
    seen = []

    def on_connect(conn):
        # Runs for every statement, on the exporting thread, inside export().
        conn.set_trace_callback(lambda sql: seen.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY)))

    sdk = make_sdk(db_path, _on_connect=on_connect)
    sdk.span("x", BASE_S, BASE_S + 1)
    sdk.provider.shutdown()
    assert seen and all(value is True for value in seen)


def test_the_entry_point_builds_it_with_no_arguments_from_traceglass_db(tmp_path, monkeypatch):
    path = tmp_path / "from-env.db"
    monkeypatch.setenv("TRACEGLASS_DB", str(path))
    (entry,) = [e for e in entry_points(group="opentelemetry_traces_exporter") if e.name == "traceglass_sqlite"]
    exporter = entry.load()()
    assert isinstance(exporter, SQLiteSpanExporter)
    assert exporter.path == path
    memory = InMemorySpanExporter()
    other = make_sdk(tmp_path / "scratch.db")
    other.provider.add_span_processor(SimpleSpanProcessor(memory))
    other.span("via entry point", BASE_S, BASE_S + 1)
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    assert rows(path, "SELECT name FROM spans") == [{"name": "via entry point"}]
    exporter.shutdown()
    other.provider.shutdown()


def test_default_path_honors_traceglass_db_then_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACEGLASS_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert SQLiteSpanExporter().path == tmp_path / "xdg" / "traceglass" / "traces.db"
    monkeypatch.setenv("TRACEGLASS_DB", str(tmp_path / "env.db"))
    assert SQLiteSpanExporter().path == tmp_path / "env.db"
    assert SQLiteSpanExporter(tmp_path / "arg.db").path == tmp_path / "arg.db"


# -- failures: FAILURE and a log line, never an exception ----------------------------------------

def _one_span(tmp_path):
    memory = InMemorySpanExporter()
    sdk = make_sdk(tmp_path / "scratch" / "s.db")
    sdk.provider.add_span_processor(SimpleSpanProcessor(memory))
    sdk.span("x", BASE_S, BASE_S + 1)
    sdk.provider.shutdown()
    return memory.get_finished_spans()


def test_a_missing_directory_that_cannot_be_created_fails_cleanly(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    exporter = SQLiteSpanExporter(blocker / "traces.db")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(_one_span(tmp_path)) is SpanExportResult.FAILURE
    assert "could not export 1 span(s)" in caplog.text


def test_a_locked_database_fails_then_recovers(tmp_path, caplog):
    path = tmp_path / "locked.db"
    spans = _one_span(tmp_path)
    exporter = SQLiteSpanExporter(path, _busy_timeout_ms=50, _retry_for=0.2)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(spans) is SpanExportResult.FAILURE
    assert "database is locked" in caplog.text
    holder.execute("ROLLBACK")
    holder.close()
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert rows(path, "SELECT count(*) AS n FROM spans") == [{"n": 1}]
    exporter.shutdown()


def test_a_read_only_database_fails_cleanly(tmp_path, caplog):
    exporter = SQLiteSpanExporter(tmp_path / "ro.db", _on_connect=lambda c: c.execute("PRAGMA query_only = 1"))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(_one_span(tmp_path)) is SpanExportResult.FAILURE
    assert "readonly" in caplog.text


def test_a_full_database_fails_cleanly(tmp_path, caplog):
    exporter = SQLiteSpanExporter(tmp_path / "full.db", _on_connect=lambda c: c.execute("PRAGMA max_page_count = 12"))
    spans = _one_span(tmp_path)  # one small span fits
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    big = []
    for i in range(40):
        memory = InMemorySpanExporter()
        sdk = make_sdk(tmp_path / "scratch" / f"{i}.db")
        sdk.provider.add_span_processor(SimpleSpanProcessor(memory))
        # Random text: large values are stored compressed, and "x" * 4000 would fit in a few bytes.
        sdk.span("big", BASE_S, BASE_S + 1, attributes={"gen_ai.input.messages": secrets.token_urlsafe(6000)})
        sdk.provider.shutdown()
        big.extend(memory.get_finished_spans())
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(big) is SpanExportResult.FAILURE
    assert "database or disk is full" in caplog.text
    # The failed batch was rolled back as a whole.
    assert rows(tmp_path / "full.db", "SELECT count(*) AS n FROM spans") == [{"n": 1}]


def test_a_database_from_a_newer_traceglass_fails_cleanly(tmp_path, caplog):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert SQLiteSpanExporter(path).export(_one_span(tmp_path)) is SpanExportResult.FAILURE
    assert "newer than this traceglass supports" in caplog.text


def test_shutdown_is_idempotent_and_later_exports_fail(tmp_path):
    spans = _one_span(tmp_path)
    exporter = SQLiteSpanExporter(tmp_path / "x.db")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.force_flush() is True
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE
