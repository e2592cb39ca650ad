"""PostgreSQL store faults: text PostgreSQL cannot hold, a batch of thousands of spans, connections
the server ends under us, a server that is gone, and a writer that loses a race (is_busy)."""

from __future__ import annotations

import logging

import pytest

from tests._postgres import PASSWORD
from traceglass.store import TraceStore, TraceWriter
from traceglass.store._postgres_url import PostgresError


def _span(trace: int, span: int, name: str = "step", **extra):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    context = SpanContext(0xFA0000 + trace, 0x10 + span, is_remote=False, trace_flags=TraceFlags(1))
    parent = None if span == 0 else SpanContext(0xFA0000 + trace, 0x10, is_remote=False)
    return ReadableSpan(name=name, context=context, parent=parent, resource=Resource.create({"service.name": "f"}),
                        attributes=extra, start_time=1_800_000_000 * 10**9 + span, end_time=1_800_000_001 * 10**9)


def test_nul_characters_are_stored_as_replacement_characters(postgres_url):
    with TraceWriter(postgres_url) as writer:
        writer.write([_span(1, 0, name="bad\x00name", note="in\x00json")])
    with TraceStore(postgres_url) as store:
        trace = store.get_trace(f"{0xFA0001:032x}")
        assert (trace.root.name, trace.root.attributes) == ("bad\ufffdname", {"note": "in\x00json"})
        # A search for text with a NUL finds nothing rather than failing (the JSON holds it escaped).
        assert store.list_traces(search="in\x00json").traces == []


def test_a_batch_of_thousands_of_spans_is_stored_whole(postgres_url):
    # One array per column: no statement parameter cap (65,535) limits the batch, nor the row count.
    spans = [_span(t, s) for t in range(60) for s in range(50)]
    with TraceWriter(postgres_url) as writer:
        writer.write(spans)
    with TraceStore(postgres_url) as store:
        assert store.count() == {"traces": 60, "spans": 3000}
        assert {t.span_count for t in store.list_traces(limit=100).traces} == {50}


def test_connections_the_server_ends_are_replaced(postgres_url, postgres_cluster):
    import psycopg

    store = TraceStore(postgres_url)
    writer = TraceWriter(postgres_url)
    try:
        writer.write([_span(2, 0)])
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()",
                                  (postgres_url.rsplit("/", 1)[1],)).fetchone()[0]
        assert ended >= 2  # the store's and the writer's
        writer.write([_span(2, 1)])  # the pool checks a connection before lending it: a fresh one
        assert store.count() == {"traces": 1, "spans": 2}
    finally:
        writer.close()
        store.close()


def test_a_server_that_is_gone_is_an_oserror_naming_no_password(postgres_cluster, caplog):
    caplog.set_level(logging.DEBUG)
    gone = f"postgresql://traceglass:{PASSWORD}@127.0.0.1:1/nothing?connect_timeout=2"
    with pytest.raises(OSError) as raised:
        TraceStore(gone)
    assert isinstance(raised.value, PostgresError)
    assert "traceglass:***@127.0.0.1:1/nothing" in str(raised.value)
    assert PASSWORD not in str(raised.value) + caplog.text
    writer = TraceWriter(gone, retry_for=0)
    with pytest.raises(TraceWriter.STORAGE_ERRORS):  # what the exporters catch and report as FAILURE
        writer.write([_span(3, 0)])
    writer.close()


def test_a_deadlock_is_retried_and_any_other_error_is_not(postgres_url, monkeypatch):
    from traceglass.store import _postgres_write

    real, calls = _postgres_write.write_rows, []

    def racing(conn, rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise __import__("psycopg").errors.DeadlockDetected("deadlock detected")
        if len(calls) == 3:
            raise __import__("psycopg").errors.UndefinedTable('relation "spans" does not exist')
        return real(conn, rows)

    monkeypatch.setattr(_postgres_write, "write_rows", racing)
    with TraceWriter(postgres_url, retry_for=30) as writer:
        writer.write([_span(4, 0)])  # the deadlock (40P01) is retried: stored on the second try
        assert calls == [1, 1]
        with pytest.raises(PostgresError, match='relation "spans" does not exist') as raised:
            writer.write([_span(4, 1)])
        assert raised.value.sqlstate == "42P01" and calls == [1, 1, 1]
    with TraceStore(postgres_url) as store:
        assert store.count() == {"traces": 1, "spans": 1}
