"""Large attribute and event values stored compressed (store/_packed.py): smaller on disk, read back
exactly, found by content search and the trace list's previews, on both backends."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import threading
import time

import pytest
import zstandard
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExportResult

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _packed
from traceglass.store._schema import SCHEMA_VERSION

from ._helpers import BASE_S, chat_spans, downgrade_to_13, rows

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
    downgrade_to_13(conn)
    for table in ("zstd_dicts", "span_words_vocab", "span_words", "search_index"):  # schema 12's and 10's
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
    return chat_spans(count, lambda i: {"gen_ai.input.messages": f"{i} {QUESTION}", "n": i}, f"{ANSWER} {{}}".format)


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
    monkeypatch.setattr(_packed, "_compressor", lambda dictionary=None: counting)
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


class _Watched:
    """The real pack_all, recording which thread runs it and, for a batch, whether the batch's words
    went into the index (the statement traced on the writer's connection) before it finished."""

    def __init__(self, monkeypatch, wait_for_words: bool = False, fail: BaseException | None = None) -> None:
        self.real = _packed.pack_all
        self.threads: list[int] = []
        self.finished: list[bool] = []
        self.words_first: list[bool] = []
        self.words_in = threading.Event()
        self.wait_for_words = wait_for_words
        self.fail = fail
        monkeypatch.setattr(_packed, "pack_all", self)

    def on_connect(self, conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda sql: self.words_in.set() if sql.startswith("INSERT INTO span_words") else None)

    def __call__(self, texts, dictionary=None):
        self.threads.append(threading.get_ident())
        if self.wait_for_words:  # bounded: the index's insert comes within milliseconds, or never
            self.words_first.append(self.words_in.wait(5.0))
        if self.fail is not None:
            raise self.fail
        packed = self.real(texts, dictionary)
        self.finished.append(True)
        return packed


def test_a_batch_is_compressed_while_its_spans_and_words_go_in(tmp_path, monkeypatch):
    # zstd and SQLite both give the GIL up: compressing on a thread of its own while the writer's
    # statements run takes the second core (bench_store: 20,000-20,400 -> 22,300-23,100 spans/s).
    spans = _batch(30)  # ~165 KB to compress: over _BACKGROUND
    watched = _Watched(monkeypatch, wait_for_words=True)
    exporter = SQLiteSpanExporter(tmp_path / "overlap.db", _on_connect=watched.on_connect)
    exporter.export(spans)
    exporter.shutdown()
    assert watched.words_first == [True]
    assert watched.threads[0] != threading.get_ident()
    stored = _stored(tmp_path / "overlap.db")
    assert len(stored) == 31 and all(type(a) is bytes and type(e) is bytes for n, a, e in stored if n != "agent")
    with TraceStore(tmp_path / "overlap.db") as store:
        (summary,) = store.list_traces().traces
        by_name = {s.name: s for s in store.get_trace(summary.trace_id).spans}
        assert [t.trace_id for t in store.list_traces(search="84-2231-ZEBRA").traces] == [summary.trace_id]
    assert by_name["chat 29"].attributes == {"gen_ai.input.messages": f"29 {QUESTION}", "n": 29}
    assert by_name["chat 29"].events[0]["attributes"] == {"chunk": f"{ANSWER} 29"}


def test_a_few_spans_are_compressed_on_the_writers_thread(tmp_path, monkeypatch):
    # Below _BACKGROUND a thread's start costs more than it saves (and beside a busy application
    # thread, a wait for the GIL).
    watched = _Watched(monkeypatch)
    exporter = SQLiteSpanExporter(tmp_path / "few.db")
    exporter.export(_batch(3))
    exporter.shutdown()
    assert watched.threads == [threading.get_ident()]
    assert sum(type(a) is bytes for n, a, e in _stored(tmp_path / "few.db")) == 3


def test_a_batch_is_compressed_on_the_writers_thread_where_no_thread_can_start(tmp_path, monkeypatch):
    def refused(*args):
        raise RuntimeError("can't create new thread at interpreter shutdown")

    watched = _Watched(monkeypatch)
    monkeypatch.setattr(_packed._thread, "start_new_thread", refused)
    exporter = SQLiteSpanExporter(tmp_path / "no-thread.db")
    assert exporter.export(_batch(30)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert watched.threads == [threading.get_ident()]
    stored = _stored(tmp_path / "no-thread.db")
    assert len(stored) == 31 and sum(type(a) is bytes for n, a, e in stored) == 30


def test_a_compression_that_fails_on_its_thread_fails_the_batch_on_the_writers(tmp_path, monkeypatch):
    exporter = SQLiteSpanExporter(tmp_path / "failed.db")
    exporter.export(_batch(1))  # the file and its schema
    _Watched(monkeypatch, fail=MemoryError("zstd could not allocate"))
    with pytest.raises(MemoryError, match="zstd could not allocate"):  # internal faults raise under tests
        exporter.export(_batch(30))
    assert [n for n, a, e in _stored(tmp_path / "failed.db")] == ["agent", "chat 0"]  # nothing of it stored
    monkeypatch.setattr(_packed, "pack_all", _packed.pack_all.real)
    assert exporter.export(_batch(30)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert len(_stored(tmp_path / "failed.db")) == 2 + 31


def test_a_batch_whose_statements_fail_returns_once_its_compression_has_finished(tmp_path, monkeypatch):
    # No thread of ours outlives a write: here the word index refuses the batch while zstd still works.
    def no_words(action, table, *args):
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_INSERT and table == "span_words" else sqlite3.SQLITE_OK

    watched = _Watched(monkeypatch)
    slow = watched.real
    monkeypatch.setattr(watched, "real", lambda texts, dictionary: (time.sleep(0.3), slow(texts, dictionary))[1])
    exporter = SQLiteSpanExporter(tmp_path / "denied.db", _retry_for=0,
                                  _on_connect=lambda conn: conn.set_authorizer(no_words))
    assert exporter.export(_batch(30)) is SpanExportResult.FAILURE
    assert watched.finished == [True] and watched.threads[0] != threading.get_ident()
    exporter.shutdown()


def test_packing_returns_the_same_list_each_call_and_raises_each_time():
    texts = [QUESTION * 30, "short"]
    packing = _packed.Packing(texts)
    first = packing.result()
    assert packing.result() is first and _packed.unpacked(bytes(first[0])) == QUESTION * 30 and first[1] == "short"
    for texts in ([b"not text" * 10_000], [b"not text" * 200]):  # on a thread of its own, then here
        failing = _packed.Packing(texts)  # type: ignore[arg-type]
        for _ in range(2):
            with pytest.raises(AttributeError, match="encode"):
                failing.result()


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
    monkeypatch.setattr(_packed, "_decompressor", lambda dict_id=0: counting)
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
