"""Large attribute and event values stored compressed (store/_packed.py): smaller on disk, read back
exactly, found by content search and the trace list's previews, on both backends."""

from __future__ import annotations

import base64
import json
import random
import sqlite3

import pytest
import zstandard
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _packed
from traceglass.store._schema import SCHEMA_VERSION

from ._helpers import BASE_S, rows

# Captured content as an application writes it: prose, some of it repeated (a chat history).
QUESTION = ("Which plan includes priority support for enterprise accounts in Europe, and does it cover "
            "refunds for delayed shipping? ") * 30 + "The order number is 84-2231-ZEBRA."
ANSWER = "Priority support is part of the premium plan. " * 40


def _trace(sdk) -> tuple[str, str]:
    def children(root):
        span = sdk.tracer.start_span("chat", context=trace.set_span_in_context(root),
                                     start_time=int((BASE_S + 0.1) * 1e9),
                                     attributes={"gen_ai.input.messages": QUESTION, "gen_ai.output.messages": ANSWER})
        span.add_event("streamed", {"chunk": ANSWER}, timestamp=int((BASE_S + 0.2) * 1e9))
        span.end(end_time=int((BASE_S + 0.3) * 1e9))

    root = sdk.span("agent", BASE_S, BASE_S + 1, attributes={"traceglass.input": QUESTION, "traceglass.output": ANSWER,
                                                            "small": "x"}, children=children)
    return format(root.get_span_context().trace_id, "032x"), format(root.get_span_context().span_id, "016x")


def test_large_values_read_back_exactly_and_are_found(sdk, db_path):
    trace_id, root_id = _trace(sdk)
    other = sdk.rag_trace(BASE_S + 10)
    with TraceStore(db_path) as store:
        trace = store.get_trace(trace_id)
        spans = {s.name: s for s in trace.spans}
        assert spans["agent"].attributes == {"traceglass.input": QUESTION, "traceglass.output": ANSWER, "small": "x"}
        assert spans["chat"].attributes == {"gen_ai.input.messages": QUESTION, "gen_ai.output.messages": ANSWER}
        assert [(e["name"], e["attributes"]) for e in spans["chat"].events] == [("streamed", {"chunk": ANSWER})]
        # Content search reads inside the stored values: text only in the question, only in an event.
        assert [t.trace_id for t in store.list_traces(search="84-2231-zebra").traces] == [trace_id]
        assert [t.trace_id for t in store.list_traces(search="priority support is part").traces] == [trace_id]
        assert store.list_traces(search="84-2231-zebras").traces == []
        assert store.root_io([trace_id, other]) == {trace_id: (QUESTION, ANSWER), other: (None, None)}
        # An upsert merges into the stored (compressed) attributes.
        store.upsert_span({"trace_id": trace_id, "span_id": root_id, "attributes": {"extra": 1}})
        assert store.upsert_span({"trace_id": trace_id, "span_id": root_id}).attributes == {
            "traceglass.input": QUESTION, "traceglass.output": ANSWER, "small": "x", "extra": 1}


@pytest.mark.sqlite_only("the stored form of a SQLite row")
def test_large_values_take_under_half_their_text(sdk, db_path):
    _trace(sdk)
    sdk.rag_trace(BASE_S + 10)
    stored = rows(db_path, "SELECT s.name, typeof(d.attributes) AS a, length(d.attributes) AS n, "
                           "typeof(d.events) AS e FROM spans s JOIN span_data d ON d.id = s.id ORDER BY s.name")
    by_name = {r["name"]: r for r in stored}
    agent_text = len(json.dumps({"traceglass.input": QUESTION, "traceglass.output": ANSWER, "small": "x"}))
    assert by_name["agent"]["a"] == "blob" and by_name["agent"]["n"] < agent_text / 2
    assert (by_name["chat"]["a"], by_name["chat"]["e"]) == ("blob", "blob")
    # Short values stay JSON text, readable with any SQLite tool.
    assert {r["name"]: (r["a"], r["e"]) for r in stored if r["name"] not in ("agent", "chat")} == {
        "retrieve": ("text", "text"), "generate": ("text", "text"), "chat gpt-4o-mini": ("text", "text"),
        "rag": ("text", "text")}


@pytest.mark.sqlite_only("rows as an earlier traceglass or another tool wrote them")
def test_plain_text_rows_and_foreign_blobs_still_read(sdk, db_path):
    trace_id, root_id = _trace(sdk)
    big = json.dumps({"traceglass.input": QUESTION})  # as written before compression: plain text
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE span_data SET attributes = ? WHERE id = (SELECT id FROM spans WHERE span_id = ?)",
                     (big, root_id))
        conn.execute("UPDATE span_data SET attributes = ? WHERE id = (SELECT id FROM spans WHERE name = 'chat')",
                     (b"not a zstd frame",))
    conn.close()
    with TraceStore(db_path) as store:
        spans = {s.name: s for s in store.get_trace(trace_id).spans}
        assert spans["agent"].attributes == {"traceglass.input": QUESTION}
        assert spans["chat"].attributes == {}  # unreadable: unknown, as JSON that does not parse
        assert [t.trace_id for t in store.list_traces(search="84-2231-ZEBRA").traces] == [trace_id]
        assert store.root_io([trace_id]) == {trace_id: (QUESTION, None)}


@pytest.mark.sqlite_only("SQLite's schema version")
def test_a_schema_8_database_is_upgraded_to_9_and_reads_as_before(sdk, db_path):
    trace_id, _ = _trace(sdk)
    sdk.provider.shutdown()
    conn = sqlite3.connect(db_path, isolation_level=None)
    for table in ("span_words_vocab", "span_words", "search_index"):  # schema 10's
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 8")  # schema 9 changed no table: a schema 8 file looks like this
    conn.close()
    with TraceStore(db_path) as store:
        assert {s.name: s.attributes for s in store.get_trace(trace_id).spans}["agent"]["traceglass.input"] == QUESTION
    assert rows(db_path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]


class _CountingCompressor:
    """A real zstd compressor that records each call into it (each call gives up the GIL once)."""

    def __init__(self) -> None:
        self.real = zstandard.ZstdCompressor(level=1)
        self.calls: list[tuple[str, int]] = []

    def compress(self, data):
        self.calls.append(("compress", 1))
        return self.real.compress(data)

    def multi_compress_to_buffer(self, data, threads=0):
        self.calls.append(("multi_compress_to_buffer", len(data)))
        return self.real.multi_compress_to_buffer(data, threads=threads)


def _batch(count: int) -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.packed")
    with tracer.start_as_current_span("agent"):
        for i in range(count):
            span = tracer.start_span(f"chat {i}", attributes={"gen_ai.input.messages": f"{i} {QUESTION}", "n": i})
            span.add_event("streamed", {"chunk": f"{ANSWER} {i}"})
            span.end()
    return list(memory.get_finished_spans())


def _stored(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT s.name, d.attributes, d.events FROM spans s JOIN span_data d ON d.id = s.id "
                            "ORDER BY s.name").fetchall()
    finally:
        conn.close()


def test_a_batch_is_compressed_in_one_call_and_stored_as_one_by_one(tmp_path, monkeypatch):
    # Each call into zstd gives up the GIL; beside an application thread running Python without pause,
    # winning it back waits out the switch interval: a call per value made a 512-span batch take seconds.
    spans = _batch(30)
    counting = _CountingCompressor()
    monkeypatch.setattr(_packed, "_compressor", lambda: counting)
    exporter = SQLiteSpanExporter(tmp_path / "batch.db")
    exporter.export(spans)
    exporter.shutdown()
    assert counting.calls == [("multi_compress_to_buffer", 60)]  # attributes and events of 30 spans
    batch = _stored(tmp_path / "batch.db")
    assert len(batch) == 31 and all(type(a) is bytes and type(e) is bytes for n, a, e in batch if n != "agent")
    with TraceStore(tmp_path / "batch.db") as store:
        (summary,) = store.list_traces().traces
        by_name = {s.name: s for s in store.get_trace(summary.trace_id).spans}
    assert by_name["chat 7"].attributes == {"gen_ai.input.messages": f"7 {QUESTION}", "n": 7}
    assert by_name["chat 7"].events[0]["attributes"] == {"chunk": f"{ANSWER} 7"}
    # Where the zstd binding has no batch call (its cffi backend): one call a value, the same bytes.
    monkeypatch.setattr(_packed, "_MULTI", False)
    counting.calls.clear()
    exporter = SQLiteSpanExporter(tmp_path / "one-by-one.db")
    exporter.export(spans)
    exporter.shutdown()
    assert counting.calls == [("compress", 1)] * 60
    assert _stored(tmp_path / "one-by-one.db") == batch


def test_pack_all_packs_each_large_text_as_pack_does():
    incompressible = json.dumps({"k": base64.b64encode(random.Random(5).randbytes(3000)).decode()})
    texts = ["", "short", QUESTION, incompressible, ANSWER]
    packed = _packed.pack_all(texts)
    assert packed[:2] == ["", "short"]
    assert type(packed[2]) is bytearray and _packed.unpacked(bytes(packed[2])) == QUESTION
    # Base64 of random bytes: its frame is smaller (6 bits a character), so it is packed too.
    assert type(packed[3]) is bytearray and _packed.unpacked(bytes(packed[3])) == incompressible
    assert _packed.unpacked(bytes(packed[4])) == ANSWER
    assert [_packed.pack_all([text])[0] for text in texts] == packed  # the same frames one by one


class _CountingDecompressor:
    """A real zstd decompressor that records each call into it."""

    def __init__(self) -> None:
        self.real = zstandard.ZstdDecompressor()
        self.calls: list[tuple[str, int]] = []

    def decompress(self, data):
        self.calls.append(("decompress", 1))
        return self.real.decompress(data)

    def multi_decompress_to_buffer(self, frames, **kwargs):
        self.calls.append(("multi_decompress_to_buffer", len(frames)))
        return self.real.multi_decompress_to_buffer(frames, **kwargs)


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A store of one 13-span trace with compressed values, and the decompressor its reads call."""
    exporter = SQLiteSpanExporter(tmp_path / "read.db")
    exporter.export(_batch(12))
    exporter.shutdown()
    counting = _CountingDecompressor()
    monkeypatch.setattr(_packed, "_decompressor", lambda: counting)
    with TraceStore(tmp_path / "read.db") as store:
        yield store, counting


def _spoil(store: TraceStore, name: str) -> None:
    """The attributes of span ``name`` replaced by a value that is no frame of ours."""
    store._db.conn.execute("UPDATE span_data SET attributes = ? WHERE id = (SELECT id FROM spans WHERE name = ?)",
                           (b"not a zstd frame", name))


def test_a_trace_is_decompressed_in_one_call(counted):
    store, counting = counted
    (summary,) = store.list_traces().traces
    counting.calls.clear()
    by_name = {s.name: s for s in store.get_trace(summary.trace_id).spans}
    assert counting.calls == [("multi_decompress_to_buffer", 24)]  # attributes and events of 12 spans
    assert by_name["chat 11"].attributes == {"gen_ai.input.messages": f"11 {QUESTION}", "n": 11}
    assert by_name["chat 11"].events[0]["attributes"] == {"chunk": f"{ANSWER} 11"}
    # A value that is no frame of ours among them: each read on its own, that one as unknown.
    _spoil(store, "chat 3")
    counting.calls.clear()
    by_name = {s.name: s for s in store.get_trace(summary.trace_id).spans}
    assert counting.calls[0] == ("multi_decompress_to_buffer", 24) and len(counting.calls) == 25
    assert by_name["chat 3"].attributes == {} and by_name["chat 4"].attributes["n"] == 4


def test_a_content_search_decompresses_a_chunk_of_candidates_in_one_call(counted):
    store, counting = counted
    (summary,) = store.list_traces(search="11 which plan").traces
    # The spans' attributes and events (the needle is in neither name) in one call, one BLOB of frames.
    assert counting.calls == [("multi_decompress_to_buffer", 24)]
    _spoil(store, "chat 3")
    counting.calls.clear()
    assert [t.trace_id for t in store.list_traces(search="11 which plan").traces] == [summary.trace_id]
    assert store.list_traces(search="3 which plan").traces == []  # only in the value no longer readable
    assert counting.calls[:2] == [("multi_decompress_to_buffer", 24), ("decompress", 1)]
