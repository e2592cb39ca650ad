"""Injected faults in the SQLite store's write path: a full disk, a deleted file, a lock held by
another process, and values SQLite cannot store. Real files in tmp_path, real second connections."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _packed, _search

from ..store._helpers import rows


def _span(n: int, name: str = "job", attributes: dict | None = None, size: int = 0) -> ReadableSpan:
    context = SpanContext(n, n, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    # Random text: large values are stored compressed, and "x" * size would take a few bytes.
    attrs = {"gen_ai.input.messages": secrets.token_urlsafe(size)} if size else {}
    attrs.update(attributes or {})
    return ReadableSpan(name=name, context=context, attributes=attrs, start_time=1_000 + n, end_time=2_000 + n)


def _names(path) -> list[str]:
    return [r["name"] for r in rows(path, "SELECT name FROM spans ORDER BY start_ns")]


# -- a full disk -------------------------------------------------------------------------------

def _full(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count = 12")  # SQLITE_FULL, as from a full disk


def test_a_full_disk_is_reported_as_such_not_as_a_failed_rollback(tmp_path, caplog):
    path = tmp_path / "full.db"
    exporter = SQLiteSpanExporter(path, _on_connect=_full)
    assert exporter.export([_span(1, "small")]) is SpanExportResult.SUCCESS
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export([_span(n, "big", size=50_000) for n in range(2, 41)]) is SpanExportResult.FAILURE
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"traceglass: could not export 39 span(s) to {path} (dropped): database or disk is full"]
    assert _names(path) == ["small"]  # the failed batch left nothing behind
    assert exporter.export([_span(50, "after")]) is SpanExportResult.SUCCESS  # small ones still fit
    exporter.shutdown()
    assert _names(path) == ["small", "after"]


# -- the database file deleted while the app runs ----------------------------------------------

def test_a_database_deleted_while_in_use_is_created_anew_and_said_so(tmp_path, caplog):
    path = tmp_path / "deleted.db"
    exporter = SQLiteSpanExporter(path)
    assert exporter.export([_span(1, "before")]) is SpanExportResult.SUCCESS
    os.remove(path)  # the WAL and shared-memory files stay: the connection still has them open
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export([_span(2, "after")]) is SpanExportResult.SUCCESS
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"traceglass: the database {path} was deleted or replaced while in use; writing to a new one there"]
    assert exporter.export([_span(3, "later")]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert _names(path) == ["after", "later"]  # a fresh database: nothing of the old one replayed into it
    assert rows(path, "SELECT name, span_count FROM traces ORDER BY start_ns") == [
        {"name": "after", "span_count": 1}, {"name": "later", "span_count": 1}]


def test_a_database_removed_with_its_wal_files_is_created_anew(tmp_path, caplog):
    path = tmp_path / "gone.db"
    exporter = SQLiteSpanExporter(path)
    assert exporter.export([_span(1, "before")]) is SpanExportResult.SUCCESS
    for suffix in ("", "-wal", "-shm"):
        os.remove(f"{path}{suffix}")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export([_span(2, "after")]) is SpanExportResult.SUCCESS
    assert "was deleted or replaced while in use" in caplog.text
    exporter.shutdown()
    assert _names(path) == ["after"]


def test_a_database_replaced_by_another_file_is_written_there(tmp_path):
    path, other = tmp_path / "replaced.db", tmp_path / "other.db"
    exporter, seeder = SQLiteSpanExporter(path), SQLiteSpanExporter(other)
    assert exporter.export([_span(1, "first")]) is SpanExportResult.SUCCESS
    assert seeder.export([_span(2, "seeded")]) is SpanExportResult.SUCCESS
    seeder.shutdown()
    os.replace(other, path)
    assert exporter.export([_span(3, "next")]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert _names(path) == ["seeded", "next"]


# -- another process holding the write lock ------------------------------------------------------

def _hold_lock(path, seconds: float | None) -> tuple[sqlite3.Connection, threading.Timer | None]:
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # what another process's write transaction does
    timer = None
    if seconds is not None:
        timer = threading.Timer(seconds, lambda: holder.execute("ROLLBACK"))
        timer.start()
    return holder, timer


def test_a_batch_locked_out_for_longer_than_the_busy_timeout_is_retried_not_lost(tmp_path, caplog):
    path = tmp_path / "locked.db"
    exporter = SQLiteSpanExporter(path, _busy_timeout_ms=50, _retry_for=60)
    assert exporter.export([_span(1, "first")]) is SpanExportResult.SUCCESS
    holder, timer = _hold_lock(path, 1.0)  # twenty busy timeouts
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            assert exporter.export([_span(n, f"during {n}") for n in range(2, 5)]) is SpanExportResult.SUCCESS
    finally:
        timer.join(10)
        holder.close()
    exporter.shutdown()
    assert caplog.records == []
    assert _names(path) == ["first", "during 2", "during 3", "during 4"]


def test_a_lock_held_past_the_retry_bound_drops_the_batch_with_one_warning(tmp_path, caplog):
    path = tmp_path / "held.db"
    exporter = SQLiteSpanExporter(path, _busy_timeout_ms=20, _retry_for=0.3)
    assert exporter.export([_span(1, "first")]) is SpanExportResult.SUCCESS
    holder, _ = _hold_lock(path, None)
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        assert exporter.export([_span(2), _span(3)]) is SpanExportResult.FAILURE
        assert exporter.export([_span(4)]) is SpanExportResult.FAILURE
    retries = [r for r in caplog.records if "retrying the write" in r.getMessage()]
    assert retries and all(r.levelno == logging.DEBUG for r in retries)
    dropped = [(r.levelno, r.getMessage()) for r in caplog.records if "could not export" in r.getMessage()]
    assert dropped == [
        (logging.WARNING, f"traceglass: could not export 2 span(s) to {path} (dropped): database is locked"),
        (logging.DEBUG, f"traceglass: could not export 1 span(s) to {path} (dropped): database is locked")]
    holder.execute("ROLLBACK")
    holder.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="traceglass"):
        assert exporter.export([_span(5, "again")]) is SpanExportResult.SUCCESS
    assert [r.getMessage() for r in caplog.records] == [
        f"traceglass: exporting to {path} works again (3 span(s) were lost meanwhile)"]
    exporter.shutdown()
    assert _names(path) == ["first", "again"]


def test_shutdown_ends_an_export_waiting_for_a_lock(tmp_path):
    path = tmp_path / "waiting.db"
    exporter = SQLiteSpanExporter(path, _busy_timeout_ms=20, _retry_for=600)
    assert exporter.export([_span(1, "first")]) is SpanExportResult.SUCCESS
    holder, _ = _hold_lock(path, None)
    results: list[SpanExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export([_span(2)])))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive()  # still retrying
    exporter.shutdown()
    worker.join(30)  # far below the 600 s retry bound
    assert not worker.is_alive() and results == [SpanExportResult.FAILURE]
    holder.execute("ROLLBACK")
    holder.close()
    assert _names(path) == ["first"]


# -- values SQLite cannot store ----------------------------------------------------------------

def test_one_unstorable_value_costs_only_that_value_never_the_batch(tmp_path, caplog):
    path = tmp_path / "poison.db"
    good = _span(1, "good", {"gen_ai.usage.input_tokens": 3, "traceglass.cost.total_usd": 0.5})
    surrogate = _span(2, "surrogate", {"note": "bad \udc80 text", "fine": "ok", "ratio": 0.5, "tags": ("a", "b")})
    bad_key = _span(3, "bad key", {"k\ud800": 1})
    huge = _span(4, "huge", {"gen_ai.usage.input_tokens": 2**70, "gen_ai.usage.output_tokens": 5,
                              "count": 2**64 + 1})
    infinite = _span(5, "infinite", {"traceglass.cost.total_usd": float("inf"), "ratio": float("nan")})
    named = _span(6, "name \udfff", {"fine": 1})
    exporter = SQLiteSpanExporter(path)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export([good, surrogate, bad_key, huge, infinite, named]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert caplog.records == []
    stored = rows(path, "SELECT s.name, s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd, d.attributes "
                        "FROM spans s JOIN span_data d ON d.id = s.id ORDER BY s.start_ns")
    assert [{**r, "attributes": json.loads(r["attributes"])} for r in stored] == [
        {"name": "good", "input_tokens": 3, "output_tokens": None, "total_tokens": 3, "cost_usd": 0.5,
         "attributes": {"gen_ai.usage.input_tokens": 3, "traceglass.cost.total_usd": 0.5}},
        {"name": "surrogate", "input_tokens": None, "output_tokens": None, "total_tokens": None, "cost_usd": None,
         "attributes": {"note": "bad \ufffd text", "fine": "ok", "ratio": 0.5, "tags": ["a", "b"],
                        "traceglass.sanitized": ["note"]}},  # only what was cleaned is named
        {"name": "bad key", "input_tokens": None, "output_tokens": None, "total_tokens": None, "cost_usd": None,
         "attributes": {"k\ufffd": 1, "traceglass.sanitized": ["k\ufffd"]}},
        {"name": "huge", "input_tokens": None, "output_tokens": 5, "total_tokens": 5, "cost_usd": None,
         "attributes": {"gen_ai.usage.input_tokens": 2**70, "gen_ai.usage.output_tokens": 5, "count": 2**64 + 1,
                        "traceglass.sanitized": ["gen_ai.usage.input_tokens"]}},
        {"name": "infinite", "input_tokens": None, "output_tokens": None, "total_tokens": None, "cost_usd": None,
         # a non-finite float is stored as null (JSON has no other word); listed where it fed a column
         "attributes": {"traceglass.cost.total_usd": None, "ratio": None,
                        "traceglass.sanitized": ["traceglass.cost.total_usd"]}},
        {"name": "name \ufffd", "input_tokens": None, "output_tokens": None, "total_tokens": None, "cost_usd": None,
         "attributes": {"fine": 1, "traceglass.sanitized": ["span.name"]}},
    ]
    assert rows(path, "SELECT name, input_tokens, total_tokens, cost_usd FROM traces ORDER BY start_ns")[3:5] == [
        {"name": "huge", "input_tokens": 0, "total_tokens": 5, "cost_usd": None},
        {"name": "infinite", "input_tokens": 0, "total_tokens": 0, "cost_usd": None}]


def test_unstorable_values_in_events_links_resource_and_times(tmp_path):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.trace import Link

    path = tmp_path / "parts.db"
    context = SpanContext(7, 7, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    linked = SpanContext(8, 8, is_remote=False)
    span = ReadableSpan(name="parts", context=context, attributes={"a": 1},
                        events=[Event("e", {"x": float("-inf"), "s": "\udc00"}, timestamp=5)],
                        links=[Link(linked, {"y": "\ud83d"})],
                        resource=Resource({"service.name": "svc \udc00"}),
                        start_time=10, end_time=2**64)
    exporter = SQLiteSpanExporter(path)
    assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    [row] = rows(path, "SELECT s.project, s.start_ns, s.end_ns, s.duration_ns, d.attributes, d.events, d.links, "
                       "r.resource FROM spans s JOIN span_data d ON d.id = s.id "
                       "JOIN resources r ON r.id = d.resource_id")
    assert json.loads(row.pop("attributes")) == {"a": 1, "traceglass.sanitized": [
        "span.events", "span.links", "span.resource.service.name", "span.end_time"]}
    assert json.loads(row.pop("events")) == [{"name": "e", "time_unix_nano": 5, "attributes": {"x": None, "s": "\ufffd"}}]
    assert json.loads(row.pop("links")) == [
        {"trace_id": format(8, "032x"), "span_id": format(8, "016x"), "attributes": {"y": "\ufffd"}}]
    assert json.loads(row.pop("resource"))["service.name"] == "svc \ufffd"
    assert row == {"project": "svc \ufffd", "start_ns": 10, "end_ns": 2**63 - 1, "duration_ns": 2**63 - 11}


@pytest.mark.parametrize(("start", "end", "stored", "sanitized"), [
    (0, 2**63 - 1, (0, 2**63 - 1), None),  # SQLite's 64 bits, to the last one: as they are
    (-(2**63), 5, (-(2**63), 5), None),
    (-(2**63) - 1, 5, (0, 5), ["span.start_time"]),  # beyond them: the nearest time a clock can hold
    (5, 2**63, (5, 2**63 - 1), ["span.end_time"]),
])
def test_times_at_and_beyond_sqlites_64_bits(tmp_path, start, end, stored, sanitized):
    path = tmp_path / "times.db"
    context = SpanContext(9, 9, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    exporter = SQLiteSpanExporter(path)
    assert exporter.export([ReadableSpan(name="t", context=context, attributes={"a": 1}, start_time=start,
                                         end_time=end)]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    [row] = rows(path, "SELECT s.start_ns, s.end_ns, d.attributes FROM spans s JOIN span_data d ON d.id = s.id")
    assert (row["start_ns"], row["end_ns"]) == stored
    assert json.loads(row["attributes"]).get("traceglass.sanitized") == sanitized
    duration = stored[1] - stored[0]
    assert rows(path, "SELECT duration_ns FROM traces") == [  # the trace's, as the span's: none past 64 bits
        {"duration_ns": duration if duration < 2**63 else None}]


def test_token_sums_past_sqlites_64_bits_cost_the_trace_its_exact_totals_not_the_batch(tmp_path):
    # Each count fits; their sums do not (a span's total, the trace's totals).
    path = tmp_path / "tokens.db"
    def span(trace_id: int, span_id: int, name: str, attributes: dict) -> ReadableSpan:
        context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        return ReadableSpan(name=name, context=context, attributes=attributes, start_time=span_id, end_time=10)

    huge = {"gen_ai.usage.input_tokens": 2**63 - 1, "gen_ai.usage.output_tokens": 5}
    exporter = SQLiteSpanExporter(path)
    assert exporter.export([span(7, 1, "call 1", huge), span(7, 2, "call 2", huge),
                            span(8, 3, "other", {"gen_ai.usage.input_tokens": 7})]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(path, "SELECT name, input_tokens, output_tokens, total_tokens FROM spans ORDER BY start_ns") == [
        {"name": "call 1", "input_tokens": 2**63 - 1, "output_tokens": 5, "total_tokens": None},
        {"name": "call 2", "input_tokens": 2**63 - 1, "output_tokens": 5, "total_tokens": None},
        {"name": "other", "input_tokens": 7, "output_tokens": None, "total_tokens": 7}]
    assert rows(path, "SELECT name, input_tokens, output_tokens, total_tokens FROM traces ORDER BY start_ns") == [
        {"name": "call 1", "input_tokens": 2**63 - 1, "output_tokens": 10, "total_tokens": 2**63 - 1},  # at most
        {"name": "other", "input_tokens": 7, "output_tokens": 0, "total_tokens": 7}]


# -- retention's word-index merge cut short ---------------------------------------------------------

def test_a_merge_cut_short_by_a_lock_resumes_at_the_next_prune_and_the_search_stays_exact(tmp_path, monkeypatch):
    path, now = tmp_path / "merge.db", time.time_ns()
    with TraceStore(path) as store:
        ids = [store.upsert_span({"trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}", "name": "step",
                                  "start_ns": now + n, "attributes": {"text": " ".join(
                                      f"w{n}x{i}" for i in range(3000))}}).trace_id for n in range(12)]
        for trace_id in ids[:8]:
            store.delete_trace(trace_id)
    monkeypatch.setattr(_search, "MERGE_PAGES", 2)  # many steps
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    _packed.register(conn)
    other = sqlite3.connect(path, isolation_level=None)

    class LockedAtTheThirdStep:
        entered = 0

        def __enter__(self):
            self.entered += 1
            if self.entered == 3:
                other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout

        def __exit__(self, *exc):
            return None

    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _search.merge(conn, step=LockedAtTheThirdStep())
        other.execute("ROLLBACK")
        assert conn.execute("SELECT forgotten FROM search_index").fetchone()[0] == 8  # nothing merged is counted
    finally:
        conn.close()
        other.close()
    with TraceStore(path) as store:
        assert store.prune(older_than="3650d") == 0  # the merge is due still, and finishes
        assert {t.trace_id for t in store.list_traces(search="x2999", limit=100).traces} == set(ids[8:])
        assert store.list_traces(search="w3x").traces == []
    assert rows(path, "SELECT forgotten FROM search_index") == [{"forgotten": 0}]


def test_a_damaged_value_among_spans_stored_since_the_vocabulary_was_kept_costs_only_its_own_words(tmp_path,
                                                                                                    monkeypatch):
    from traceglass.store import _vocabulary

    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 0)
    monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 0)  # the tail's words are added, not all read again
    path, now = tmp_path / "damaged.db", time.time_ns()

    def post(store: TraceStore, n: int, word: str) -> str:
        return store.upsert_span({"trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}", "name": "step",
                                  "start_ns": now + n, "attributes": {"text": f"{word} {secrets.token_urlsafe(1500)}"}})

    with TraceStore(path) as store:
        post(store, 0, "first")
        assert store.list_traces(search="irs").traces  # the vocabulary is kept
        post(store, 1, "damagedword")
        whole = post(store, 2, "wholeword").trace_id
        other = sqlite3.connect(path, isolation_level=None)  # the first tail span's value: not a zstd frame of ours
        other.execute("UPDATE span_data SET attributes = x'28b52ffd00deadbeef' WHERE id = 2")
        other.close()
        assert [t.trace_id for t in store.list_traces(search="oleword").traces] == [whole]
        assert store.list_traces(search="amagedwor").traces == []  # its value reads as nothing, as a scan finds
        # The words were added from the tail's values (the index itself still has the damaged span's).
        (kept,) = [words for key, words in _vocabulary._kept.items() if key[0] == str(path)]
        words = set(kept.text.split())
        assert "wholeword" in words and "damagedword" not in words and kept.through == 4
