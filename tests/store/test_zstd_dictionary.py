"""A store's zstd dictionary (store/_packed.py, schema 12): trained from its first large batch, stored
with the values compressed with it, and used by every reader, also one in another process that opened
the store before the dictionary existed."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import zstandard
from opentelemetry.sdk.trace.export import SpanExportResult

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _packed
from traceglass.store._rows import row_from_span

from ._helpers import chat_spans, downgrade_to_13

# Captured content with a real vocabulary: 3,000 made-up words, drawn unevenly (as words are used).
_rng = random.Random(11)
VOCABULARY = ["".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_rng.randint(2, 11)))
              for _ in range(3000)]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(VOCABULARY[min(int(rng.paretovariate(0.7)) - 1, len(VOCABULARY) - 1)] for _ in range(words))


def _spans(count: int, seed: int) -> list:
    """One trace: an agent span and ``count`` chat spans, each with large attributes and a large event."""
    rng = random.Random(seed)

    def asked(i: int) -> dict:
        content = json.dumps([{"role": "user", "parts": [{"type": "text", "content": _text(rng, 250)}]}])
        return {"gen_ai.input.messages": content, "gen_ai.output.messages": f"{seed}-{i}-unique"}

    return chat_spans(count, asked, lambda i: _text(rng, 250), f"chat {seed}-{{}}".format)


def _export(path, spans, **options) -> None:
    exporter = SQLiteSpanExporter(path, **options)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def _dictionaries(path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [dict_id for (dict_id,) in conn.execute("SELECT dict_id FROM zstd_dicts")]
    finally:
        conn.close()


def _frames(path) -> dict[str, tuple[int, int]]:
    """Per span name, the dictionary id its attributes' frame names (0: none) and the frame's size."""
    conn = sqlite3.connect(path)
    try:
        found = conn.execute("SELECT s.name, d.attributes FROM spans s JOIN span_data d ON d.id = s.id "
                             "WHERE typeof(d.attributes) = 'blob'").fetchall()
    finally:
        conn.close()
    return {name: (zstandard.get_frame_parameters(frame).dict_id, len(frame)) for name, frame in found}


def _expected(spans) -> dict[str, tuple[dict, list]]:
    return {s.name: (dict(s.attributes), [dict(e.attributes) for e in s.events]) for s in spans}


def _read(path, trace_ids) -> dict[str, tuple[dict, list]]:
    with TraceStore(path) as store:
        return {s.name: (s.attributes, [e["attributes"] for e in s.events])
                for trace_id in trace_ids for s in store.get_trace(trace_id).spans}


def _trace_id(spans) -> str:
    return format(spans[0].context.trace_id, "032x")


def _forget_dictionaries(monkeypatch) -> None:
    """This process as one that has never seen a dictionary (its caches are per process and thread)."""
    monkeypatch.setattr(_packed, "_dicts", {})
    monkeypatch.setattr(_packed, "_missing", set())
    monkeypatch.setattr(_packed, "_local", __import__("threading").local())


def test_a_stores_first_large_batch_trains_its_dictionary_and_every_value_reads_back(tmp_path):
    path = tmp_path / "t.db"
    spans = _spans(150, seed=1)  # 300 large values: attributes and events
    _export(path, spans)
    (dict_id,) = _dictionaries(path)
    frames = _frames(path)
    assert len(frames) == 150 and {d for d, _ in frames.values()} == {dict_id}
    assert _read(path, [_trace_id(spans)]) == _expected(spans)
    # Smaller than each value compressed alone without it.
    plain = zstandard.ZstdCompressor(level=1)
    alone = sum(len(plain.compress(row_from_span(s).data[0].encode())) for s in spans if s.name != "agent")
    assert sum(size for _, size in frames.values()) < 0.8 * alone
    with TraceStore(path) as store:
        assert [t.trace_id for t in store.list_traces(search="1-77-unique").traces] == [_trace_id(spans)]


def test_values_before_the_dictionary_and_after_it_read_back_and_are_searched_together(tmp_path, monkeypatch):
    path = tmp_path / "t.db"
    small, large, later = _spans(10, seed=2), _spans(150, seed=3), _spans(10, seed=4)
    _export(path, small)  # 20 large values: too few to train on
    assert _dictionaries(path) == [] and {d for d, _ in _frames(path).values()} == {0}
    _export(path, large)
    _export(path, later)
    (dict_id,) = _dictionaries(path)
    frames = _frames(path)
    assert {name.split("-")[0]: d for name, (d, _) in frames.items()} == {"chat 2": 0, "chat 3": dict_id,
                                                                           "chat 4": dict_id}
    traces = [_trace_id(small), _trace_id(large), _trace_id(later)]
    assert _read(path, traces) == _expected(small + large + later)
    _forget_dictionaries(monkeypatch)  # read by a process that finds the dictionary in the file
    word = VOCABULARY[0]  # in nearly every value: the candidates of all three traces are checked
    with TraceStore(path) as store:
        assert {t.trace_id for t in store.list_traces(search=f" {word} ").traces} == set(traces)
        assert store.root_io(traces) == {trace_id: (None, None) for trace_id in traces}
    assert _read(path, traces) == _expected(small + large + later)


def test_a_reader_in_another_process_reads_values_of_a_dictionary_made_after_it_opened(tmp_path):
    path = tmp_path / "t.db"
    _export(path, _spans(3, seed=5))  # the store exists, with no dictionary
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import json, sys
        from traceglass.store import TraceStore
        with TraceStore(sys.argv[1]) as store:
            store.list_traces()
            print("open", flush=True)
            trace_id = sys.stdin.readline().strip()
            print(json.dumps({s.name: [s.attributes, [e["attributes"] for e in s.events]]
                              for s in store.get_trace(trace_id).spans}))
    """), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "open\n"
        spans = _spans(150, seed=6)
        _export(path, spans)
        assert len(_dictionaries(path)) == 1
        out, err = reader.communicate(_trace_id(spans) + "\n", timeout=60)
    finally:
        reader.kill()
    assert (reader.returncode, err) == (0, "")
    assert {name: (a, e) for name, (a, e) in json.loads(out).items()} == _expected(spans)


def test_a_writer_process_trains_the_dictionary_this_process_then_reads(tmp_path):
    path = tmp_path / "t.db"
    spans = _spans(150, seed=7)
    _export(path, spans, separate_process=True)
    (dict_id,) = _dictionaries(path)
    assert {d for d, _ in _frames(path).values()} == {dict_id}
    assert _read(path, [_trace_id(spans)]) == _expected(spans)


def test_values_whose_dictionary_is_gone_read_as_missing_with_one_warning(tmp_path, monkeypatch, caplog):
    path = tmp_path / "t.db"
    spans = _spans(150, seed=8)
    _export(path, spans)
    (dict_id,) = _dictionaries(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM zstd_dicts")  # another tool's doing: the frames are unreadable now
    conn.close()
    _forget_dictionaries(monkeypatch)
    caplog.set_level(logging.WARNING, logger="traceglass")
    for _ in range(2):
        read = _read(path, [_trace_id(spans)])
        assert read["agent"] == _expected(spans)["agent"]
        assert read["chat 8-0"] == ({}, [])  # as values that are no frames of ours
    conn = sqlite3.connect(path)
    frames = [bytes(f) for (f,) in conn.execute("SELECT attributes FROM span_data WHERE typeof(attributes) = 'blob'")]
    conn.close()
    assert _packed.decompressed_all(frames[:3]) == [None] * 3  # as for values that are no frames of ours
    assert list(_packed.decompressed_each(b"".join(frames[:3]), [len(f) for f in frames[:3]])) == [None] * 3
    assert caplog.text.count(f"zstd dictionary {dict_id} cannot be read") == 1


def test_a_training_that_fails_leaves_the_values_compressed_without_a_dictionary(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise zstandard.ZstdError("cannot train dict: Src size is incorrect")

    monkeypatch.setattr(zstandard, "train_dictionary", refused)
    path = tmp_path / "t.db"
    spans = _spans(150, seed=9)
    _export(path, spans)
    assert _dictionaries(path) == [] and {d for d, _ in _frames(path).values()} == {0}
    assert _read(path, [_trace_id(spans)]) == _expected(spans)


def test_a_dictionary_whose_id_another_one_has_is_not_used(tmp_path, monkeypatch):
    spans = _spans(150, seed=10)
    texts = [text for s in spans for text in row_from_span(s).data[:2]]
    taken = _packed.trained(texts).dict_id()  # the id training on this batch gives (it is deterministic)
    other = zstandard.train_dictionary(_packed._DICT_SIZE, [t.encode() for t in texts[::-1] if len(t) > 1024][:200],
                                       level=1, dict_id=taken)
    _forget_dictionaries(monkeypatch)
    _packed._dicts[taken] = other  # e.g. another store's, in this process
    path = tmp_path / "t.db"
    _export(path, spans)
    assert _dictionaries(path) == [] and {d for d, _ in _frames(path).values()} == {0}
    assert _read(path, [_trace_id(spans)]) == _expected(spans)


def test_a_schema_11_store_is_upgraded_and_gets_its_dictionary(tmp_path):
    path = tmp_path / "t.db"
    old = _spans(5, seed=12)
    _export(path, old)
    conn = sqlite3.connect(path, isolation_level=None)
    downgrade_to_13(conn)
    conn.execute("DROP TABLE zstd_dicts")
    conn.execute("ALTER TABLE search_index DROP COLUMN forgotten")  # schema 13's
    conn.execute("PRAGMA user_version = 11")
    conn.close()
    new = _spans(150, seed=13)
    _export(path, new)
    assert len(_dictionaries(path)) == 1
    assert _read(path, [_trace_id(old), _trace_id(new)]) == _expected(old + new)


@pytest.mark.parametrize("values", [10, 200])
def test_packing_trains_only_when_asked_and_given_enough_values(values):
    texts = [_text(random.Random(i), 250) for i in range(values)]
    assert _packed.Packing(texts).result() == _packed.Packing(texts).result()  # no dictionary: the same frames
    asked = _packed.Packing(texts, train=True)
    packed = asked.result()
    assert (asked.trained is not None) == (values >= _packed.TRAIN_FROM)
    assert [_packed.unpacked(bytes(p)) for p in packed] == texts


class _Counting:
    """The real decompressor of a dictionary, recording each call into zstd (each gives the GIL up)."""

    def __init__(self, inner, dict_id: int, calls: list) -> None:
        self.inner, self.dict_id, self.calls = inner, dict_id, calls

    def multi_decompress_to_buffer(self, frames, threads=0):
        self.calls.append((self.dict_id, len(frames)))
        return self.inner.multi_decompress_to_buffer(frames, threads=threads)

    def decompress(self, frame):
        self.calls.append((self.dict_id, 1))
        return self.inner.decompress(frame)


def _counted(monkeypatch) -> list:
    calls: list = []
    real = _packed._decompressor
    monkeypatch.setattr(_packed, "_decompressor", lambda dict_id=0: _Counting(real(dict_id), dict_id, calls))
    return calls


def test_a_traces_values_of_one_dictionary_are_decompressed_in_one_call(tmp_path, monkeypatch):
    # One call into zstd (one give-up of the GIL) for the values of a trace, as without a dictionary.
    path = tmp_path / "t.db"
    spans = _spans(150, seed=14)
    _export(path, spans)
    (dict_id,) = _dictionaries(path)
    calls = _counted(monkeypatch)
    assert _read(path, [_trace_id(spans)]) == _expected(spans)
    assert calls == [(dict_id, 300)]


def test_values_of_two_dictionaries_are_decompressed_in_one_call_each(tmp_path, monkeypatch):
    # A store upgraded, or one whose first batches were small, holds frames of both kinds side by side.
    path = tmp_path / "t.db"
    _export(path, _spans(10, seed=15))
    _export(path, _spans(150, seed=16))
    (dict_id,) = _dictionaries(path)
    conn = sqlite3.connect(path)
    frames = [bytes(f) for (f,) in conn.execute("SELECT attributes FROM span_data WHERE typeof(attributes) = 'blob'")]
    conn.close()
    frames = frames[::-1] + [b"not a frame of ours"]
    expected = [zstandard.ZstdDecompressor(dict_data=_packed.dictionary(zstandard.get_frame_parameters(f).dict_id))
                .decompress(f) for f in frames[:-1]] + [None]
    calls = _counted(monkeypatch)
    assert _packed.decompressed_all(frames) == expected
    assert sorted(calls) == [(0, 1) for _ in range(11)] + [(0, 11), (dict_id, 150)]  # the spoiled one: one by one
    calls.clear()
    each = _packed.decompressed_each(b"".join(frames), [len(f) for f in frames])
    assert [None if raw is None else bytes(raw) for raw in each] == expected
    assert sorted(calls) == [(0, 1) for _ in range(11)] + [(0, 11), (dict_id, 150)]
    calls.clear()
    alike = frames[:150]  # one dictionary's: one call on the blob itself
    each = _packed.decompressed_each(b"".join(alike), [len(f) for f in alike])
    assert [bytes(raw) for raw in each] == expected[:150] and calls == [(dict_id, 150)]


def test_a_store_fed_small_batches_trains_its_dictionary_once_its_spans_are_many_enough(tmp_path):
    # The usual application: a batch every few seconds, far below TRAIN_FROM large values each.
    path = tmp_path / "t.db"
    exporter = SQLiteSpanExporter(path)
    traces = []
    try:
        for seed in range(17):  # 31 spans (60 large values) a batch: the 17th passes 512 spans
            if seed == 16:
                assert _dictionaries(path) == [] and {d for d, _ in _frames(path).values()} == {0}
            traces.append(_spans(30, seed=100 + seed))
            assert exporter.export(traces[-1]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    (dict_id,) = _dictionaries(path)
    assert {name.split("-")[0] for name, (d, _) in _frames(path).items() if d == dict_id} == {"chat 116"}
    assert _read(path, [_trace_id(spans) for spans in traces]) == _expected([s for t in traces for s in t])


def test_a_store_without_large_values_reads_samples_once_every_512_spans(tmp_path):
    path = tmp_path / "t.db"
    reads = []

    def traced(conn):
        conn.set_trace_callback(lambda sql: reads.append(sql) if "ORDER BY id DESC LIMIT" in sql else None)

    exporter = SQLiteSpanExporter(path, _on_connect=traced)
    try:
        for _ in range(40):  # 1,240 spans: past 512 and 1,024 once each
            assert exporter.export(chat_spans(30, lambda i: {"n": i}, "short {}".format)) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert len(reads) == 2 and _dictionaries(path) == []
