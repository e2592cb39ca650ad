"""The writer: a batch that brings whole new traces is summarized from the batch itself, and
gives the same rows as the same spans written one at a time (read back from the database)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store._forksafe import ForkGate

from ._helpers import BASE_S, make_sdk, rows

SPANS = "SELECT trace_id, span_id, parent_id, name, superseded, input_tokens, cost_usd FROM spans ORDER BY span_id"
TRACES = "SELECT * FROM traces ORDER BY trace_id"


def _two_traces(tmp_path):
    memory = InMemorySpanExporter()
    sdk = make_sdk(tmp_path / "source.db")
    sdk.provider.add_span_processor(SimpleSpanProcessor(memory))
    sdk.rag_trace(BASE_S, session="s1", user="ann")
    sdk.rag_trace(BASE_S + 60, model="gpt-4o", error=True)
    sdk.provider.shutdown()
    spans = memory.get_finished_spans()
    assert len(spans) == 8
    return spans


def test_a_batch_of_new_traces_gives_the_rows_of_spans_written_one_at_a_time(tmp_path):
    spans = _two_traces(tmp_path)
    whole, single = SQLiteSpanExporter(tmp_path / "whole.db"), SQLiteSpanExporter(tmp_path / "single.db")
    assert whole.export(spans) is SpanExportResult.SUCCESS
    for span in spans:
        assert single.export([span]) is SpanExportResult.SUCCESS
    whole.shutdown()
    single.shutdown()
    by_batch = rows(tmp_path / "whole.db", SPANS)
    assert by_batch == rows(tmp_path / "single.db", SPANS)
    assert sorted(r["superseded"] for r in by_batch) == [0] * 6 + [1] * 2  # the outer LLM layer of each
    assert rows(tmp_path / "whole.db", TRACES) == rows(tmp_path / "single.db", TRACES)
    assert [(t["span_count"], t["total_tokens"], t["status"]) for t in rows(tmp_path / "whole.db", TRACES)
            ] in ([(4, 120, "OK"), (4, 120, "ERROR")], [(4, 120, "ERROR"), (4, 120, "OK")])


def test_a_span_repeated_within_one_batch_of_a_new_trace_is_stored_once(tmp_path):
    spans = _two_traces(tmp_path)[:4]
    exporter = SQLiteSpanExporter(tmp_path / "repeat.db")
    assert exporter.export(spans + spans[:2]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(tmp_path / "repeat.db", "SELECT count(*) AS n FROM spans") == [{"n": 4}]
    assert rows(tmp_path / "repeat.db", "SELECT count(*) AS n FROM span_data") == [{"n": 4}]
    assert rows(tmp_path / "repeat.db", "SELECT span_count, total_tokens FROM traces") == [
        {"span_count": 4, "total_tokens": 120}]


def test_a_batch_mixing_a_known_and_a_new_trace(tmp_path):
    spans = _two_traces(tmp_path)
    first, second = spans[:4], spans[4:]
    exporter = SQLiteSpanExporter(tmp_path / "mixed.db")
    assert exporter.export(first[:2]) is SpanExportResult.SUCCESS  # the first trace becomes known
    assert exporter.export(first[2:] + second) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(tmp_path / "mixed.db", "SELECT t.span_count, t.total_tokens, sum(s.superseded) AS outer_layers "
                                        "FROM traces t JOIN spans s USING (trace_id) GROUP BY trace_id") == [
        {"span_count": 4, "total_tokens": 120, "outer_layers": 1}] * 2


def test_the_fork_gate_admits_threads_together_and_holds_a_fork_until_they_leave():
    gate = ForkGate()
    inside, release, events = threading.Event(), threading.Event(), []

    def hold():
        with gate, gate:  # re-entrant
            inside.set()
            release.wait(5)
            events.append("left")

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(5)
    with gate:  # a second thread gets in while the first is inside
        events.append("entered")
    threading.Timer(0.2, release.set).start()
    gate.before_fork()  # what os.fork runs first: waits for the holder
    events.append("forking")
    gate.after_fork_in_parent()
    thread.join(5)
    assert events == ["entered", "left", "forking"]
    with gate:
        pass


def test_a_fork_from_inside_the_gate_does_not_wait_for_itself():
    gate = ForkGate()
    with gate:
        start = time.monotonic()
        gate.before_fork()
        gate.after_fork_in_parent()
        assert time.monotonic() - start < 1
    assert gate._active == 0 and os.getpid() > 0


def test_spans_stored_without_their_trace_summary_are_replaced_not_duplicated(tmp_path):
    # The writer never leaves such spans behind; if something else did, exports still succeed.
    spans = _two_traces(tmp_path)[:4]
    path = tmp_path / "orphans.db"
    exporter = SQLiteSpanExporter(path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    conn = sqlite3.connect(str(path))
    conn.execute("DELETE FROM traces")
    conn.commit()
    conn.close()
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(path, "SELECT count(*) AS n FROM spans") == [{"n": 4}]
    assert rows(path, "SELECT id FROM span_data ORDER BY id") == rows(path, "SELECT id FROM spans ORDER BY id")
    assert rows(path, "SELECT span_count, total_tokens FROM traces") == [{"span_count": 4, "total_tokens": 120}]


def test_a_span_exported_again_in_a_later_batch_keeps_its_row_and_gets_its_new_content(tmp_path):
    spans = _two_traces(tmp_path)[:4]
    path = tmp_path / "again.db"
    exporter = SQLiteSpanExporter(path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    before = rows(path, "SELECT id, span_id FROM spans ORDER BY id")
    changed = ReadableSpan(name="renamed", context=spans[0].context, parent=spans[0].parent,
                           resource=spans[0].resource, attributes={"note": "second export"},
                           start_time=spans[0].start_time, end_time=spans[0].end_time)
    assert exporter.export([changed]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(path, "SELECT id, span_id FROM spans ORDER BY id") == before
    span_id = format(spans[0].context.span_id, "016x")
    assert rows(path, "SELECT s.name, d.attributes FROM spans s JOIN span_data d ON d.id = s.id WHERE s.span_id = ?",
                (span_id,)) == [{"name": "renamed", "attributes": '{"note":"second export"}'}]
    assert rows(path, "SELECT count(*) AS n FROM span_data") == [{"n": 4}]


def _rag_spans(tmp_path, traces: int) -> dict[str, list[ReadableSpan]]:
    """The spans of ``traces`` rag traces by the first word of their names, in trace order."""
    memory = InMemorySpanExporter()
    sdk = make_sdk(tmp_path / f"source-{traces}.db")
    sdk.provider.add_span_processor(SimpleSpanProcessor(memory))
    for i in range(traces):
        sdk.rag_trace(BASE_S + i)
    sdk.provider.shutdown()
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in memory.get_finished_spans():
        by_name.setdefault(span.name.split()[0], []).append(span)
    assert sorted((name, len(spans)) for name, spans in by_name.items()) == [
        ("chat", traces), ("generate", traces), ("rag", traces), ("retrieve", traces)]
    return by_name


def _statements_per_batch(tmp_path, traces: int) -> tuple[list[int], int]:
    """Statements run by each of two exports of ``traces`` traces: the first brings each trace's LLM
    span, the second its client span (which supersedes the stored one), its root and the LLM span again;
    and how many of them read stored values to train the store's zstd dictionary on (store/_packed.py:
    once each time the store's spans pass a multiple of 512 without one), which are not in the counts."""
    by_name = _rag_spans(tmp_path, traces)
    statements: list[str] = []
    exporter = SQLiteSpanExporter(tmp_path / f"counted-{traces}.db",
                                  _on_connect=lambda conn: conn.set_trace_callback(statements.append))
    # Statements a virtual table (the FTS5 word index) runs inside one step of ours show as "-- ...":
    # they run in SQLite's C code within that step and are not counted.
    counts, samples = [], 0
    for batch in (by_name["generate"] + by_name["retrieve"],
                  by_name["chat"] + by_name["rag"] + by_name["generate"]):
        statements.clear()
        assert exporter.export(batch) is SpanExportResult.SUCCESS
        ours = [s for s in statements if not s.startswith("-- ")]
        sampled = [s for s in ours if s.startswith("SELECT attributes, events FROM span_data ORDER BY id DESC")]
        counts.append(len(ours) - len(sampled))
        samples += len(sampled)
    exporter.shutdown()
    assert rows(tmp_path / f"counted-{traces}.db", "SELECT count(*) AS n, sum(superseded) AS outer_layers FROM spans"
                ) == [{"n": 4 * traces, "outer_layers": traces}]
    assert rows(tmp_path / f"counted-{traces}.db", "SELECT DISTINCT span_count, total_tokens FROM traces") == [
        {"span_count": 4, "total_tokens": 120}]
    return counts, samples


def test_a_batch_costs_the_same_few_statements_however_many_spans_it_holds(tmp_path):
    # Each statement step releases the GIL and must win it back; beside a CPU-busy application
    # thread every win-back waits out the switch interval, so per-row statements stall the export.
    (small, sampled_small), (large, sampled_large) = (_statements_per_batch(tmp_path, 2),
                                                      _statements_per_batch(tmp_path, 150))
    assert small == large and (sampled_small, sampled_large) == (0, 1)  # 8 spans; 600, past 512
    assert max(large) <= 12  # 6 and 9 today; executemany took 755 and 1,206


def test_a_batch_replacing_spans_gives_the_word_index_its_rows_in_order(tmp_path):
    # FTS5 writes its pending entries out as a segment of its own whenever a row id is lower than the
    # last one: here each trace's replaced span (an old row id) comes between new ones.
    by_name = _rag_spans(tmp_path, 150)
    statements: list[str] = []
    exporter = SQLiteSpanExporter(tmp_path / "ordered.db", _on_connect=lambda conn: conn.set_trace_callback(
        statements.append))
    assert exporter.export(by_name["generate"]) is SpanExportResult.SUCCESS
    statements.clear()
    interleaved = [span for spans in zip(by_name["chat"], by_name["generate"], by_name["rag"]) for span in spans]
    assert exporter.export(interleaved) is SpanExportResult.SUCCESS
    exporter.shutdown()
    inner = [s for s in statements if s.startswith("-- ")]  # the word index's own statements
    assert len(inner) <= 30, len(inner)
    assert rows(tmp_path / "ordered.db", "SELECT count(*) AS n FROM spans") == [{"n": 450}]
