"""TraceWriter: the store's one public write side (the exporter, the OTLP receiver and upsert_span)."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from traceglass.store import TraceStore, TraceWriter

from ._helpers import BASE_S, rows

TRACE = 0x5B8EFFF798038103D269B633813FC60C
TRACE_HEX = "5b8efff798038103d269b633813fc60c"


def _span(span_id: int, name: str, parent: int | None = None, attributes: dict | None = None) -> ReadableSpan:
    context = SpanContext(TRACE, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent_context = SpanContext(TRACE, parent, is_remote=False) if parent else None
    return ReadableSpan(name=name, context=context, parent=parent_context, attributes=attributes or {},
                        resource=Resource.create({"service.name": "shop"}),
                        start_time=1_800_000_000_000_000_000 + span_id, end_time=1_800_000_001_000_000_000)


def test_writes_sdk_spans_and_upserts_dicts_into_one_trace(tmp_path):
    path = tmp_path / "w.db"
    with TraceWriter(path) as writer:
        assert writer.path == path and (writer.max_age, writer.max_size, writer.retry_for) == (None, None, 30.0)
        writer.write([_span(1, "agent"), _span(2, "chat gpt-4o", parent=1, attributes={
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})])
        node = writer.upsert_span({"trace_id": TRACE_HEX, "span_id": "0000000000000002",
                                   "attributes": {"acme.rating": 5}})
        assert node.attributes == {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10,
                                   "gen_ai.usage.output_tokens": 5, "acme.rating": 5}
        with pytest.raises(ValueError, match=r"^invalid span: kind must be one of"):
            writer.upsert_span({"name": "x", "kind": "SIDEWAYS"})
    with TraceStore(path, read_only=True) as store:
        trace = store.get_trace(TRACE_HEX)
        assert trace is not None
        assert [(s.name, s.parent_id, s.model, s.input_tokens) for s in trace.spans] == [
            ("agent", None, None, None), ("chat gpt-4o", "0000000000000001", "gpt-4o", 10)]
        assert (trace.span_count, trace.input_tokens, trace.output_tokens, trace.project) == (2, 10, 5, "shop")


def test_close_is_idempotent_and_a_closed_writer_refuses_to_write(tmp_path):
    writer = TraceWriter(tmp_path / "c.db")
    writer.write([_span(1, "one")])
    writer.close()
    writer.close()
    with pytest.raises(sqlite3.ProgrammingError, match="is closed"):
        writer.write([_span(2, "two")])
    assert rows(tmp_path / "c.db", "SELECT name FROM spans") == [{"name": "one"}]


def test_bad_retention_arguments_raise():
    with pytest.raises(ValueError, match="not a size"):
        TraceWriter("unused.db", max_size="lots")
    with pytest.raises(ValueError, match="age must be positive"):
        TraceWriter("unused.db", max_age=0)


def test_upsert_span_writes_through_the_writer_so_a_deleted_database_is_created_anew(tmp_path, caplog):
    # TraceStore.upsert_span used to write on its own connection: into the deleted file's inode,
    # where no later reader could find the span.
    path = tmp_path / "up.db"
    with TraceStore(path) as store:
        store.upsert_span({"trace_id": TRACE_HEX, "span_id": "0000000000000001", "name": "before"})
        os.remove(path)
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            node = store.upsert_span({"trace_id": TRACE_HEX, "span_id": "0000000000000002", "name": "after"})
    assert (node.name, node.trace_id) == ("after", TRACE_HEX)
    assert [r.getMessage() for r in caplog.records] == [
        f"traceglass: the database {path} was deleted or replaced while in use; writing to a new one there"]
    assert rows(path, "SELECT name FROM spans") == [{"name": "after"}]


def test_a_read_only_or_closed_store_does_not_write(tmp_path):
    path = tmp_path / "ro.db"
    with TraceStore(path) as store:
        store.upsert_span({"trace_id": TRACE_HEX, "span_id": "0000000000000001", "name": "one"})
    with TraceStore(path, read_only=True) as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.upsert_span({"name": "two"})
    store = TraceStore(path)
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.upsert_span({"name": "three"})
    assert rows(path, "SELECT name FROM spans") == [{"name": "one"}]


@pytest.mark.sqlite_only("compares the database file's bytes")
def test_types_and_models_per_trace_read_only(sdk, db_path):
    rag = sdk.rag_trace(BASE_S, model="gpt-4o")
    before = db_path.read_bytes()
    with TraceStore(db_path, read_only=True) as store:
        assert store.types_and_models([rag.upper(), "0" * 32]) == {rag: ("chain", ["gpt-4o", "gpt-4o-2024-07-18"])}
        assert store.types_and_models([]) == {}
    assert db_path.read_bytes() == before
