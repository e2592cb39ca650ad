"""A page, a trace, a search, a session, a stored span and an evaluation run's judge cost are read without
a step of SQLite a row or a call back into Python (store/_one_step.py, store/_search.py, store/_evals_sql.py).

The sqlite3 module gives up the GIL around every step (one a row) and SQLite takes it for each call
of a Python SQL function (``tg_json``); beside an application thread that runs Python without pause,
each time costs up to the switch interval. These tests read through a connection that records how
many rows each statement hands to Python and every ``tg_json`` call, on a real store of compressed
values, and check that what comes back is what the rows hold.
"""

from __future__ import annotations

import itertools
import json
import sqlite3

import pytest
import zstandard
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _evals_sql, _packed, _search
from traceglass.store._one_step import fetch_all

from .test_packed import ANSWER, QUESTION, _batch

HOSTILE = [
    1, 0, -1, 2**63 - 1, -(2**63), 0.1 + 0.2, 1e-300, -0.5, 1e308, float("inf"), float("-inf"), 3.0,
    "", "text", "é東🙂", "with \x00 nul", '{"json": [1, 2]}', "\\ \" '",
    b"", b"\x00\xff\x01 bytes", bytes(range(256)), None,
]


@pytest.fixture
def memory():
    conn = sqlite3.connect(":memory:")
    yield conn
    conn.close()


def test_fetch_all_gives_what_the_cursor_gives_in_its_order(memory):
    memory.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v, w)")
    memory.executemany("INSERT INTO t VALUES (?, ?, ?)",
                       [(i, value, HOSTILE[-1 - i]) for i, value in enumerate(HOSTILE)])
    for sql, width in (("SELECT v, w, n FROM t ORDER BY n DESC", 3), ("SELECT v, w, n FROM t ORDER BY typeof(v), n", 3),
                       ("SELECT v FROM t WHERE n > 99", 1)):
        expected = memory.execute(sql).fetchall()
        got = fetch_all(memory, sql, (), width)
        assert [tuple(row) for row in got] == expected
        assert [[type(v) for v in row] for row in got] == [[type(v) for v in row] for row in expected]


def test_fetch_all_takes_parameters_and_a_recursive_query(memory):
    rows = fetch_all(memory, "WITH RECURSIVE m(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM m WHERE x < ?) "
                             "SELECT x, x * 0.5 FROM m", (3, 6), 2)
    assert rows == [[3, 1.5], [4, 2.0], [5, 2.5], [6, 3.0]]


class _Fetched(list):
    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


class _Recording:
    """The store's connection, recording the rows each statement hands to Python."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, int]] = []
        self.params: list[list] = []

    def execute(self, sql, params=()):
        rows = self.conn.execute(sql, params).fetchall()
        self.statements.append((sql, len(rows)))
        self.params.append(list(params))
        return _Fetched(rows)

    def __getattr__(self, name):
        return getattr(self.conn, name)


@pytest.fixture
def recorded(tmp_path):
    """A store of 12 traces (compressed values, scores) and an older one of another project, read through
    a recording connection; the list of its ``tg_json`` calls; the 12 traces' ids, newest first."""
    path = tmp_path / "reads.db"
    exporter = SQLiteSpanExporter(path)
    for _ in range(12):
        exporter.export(_batch(6))
    exporter.shutdown()
    store = TraceStore(path)
    trace_ids = [t.trace_id for t in store.list_traces().traces]
    store.upsert_span({"trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "older", "project": "second",
                       "start_ns": 1_000_000_000, "end_ns": 2_000_000_000})  # a second project, before the others
    store.add_score("helpful", 1.0, trace_id=trace_ids[0])
    store.add_score("tone", "kind", trace_id=trace_ids[0])
    for trace_id in trace_ids[1:3]:  # what an evaluation run stored
        store.add_score("judge", 0.5, trace_id=trace_id, source="eval")
    calls: list[object] = []

    def counting(value):
        calls.append(value)
        return _packed.unpacked(value)

    store._db.conn.create_function(_packed.FUNCTION, 1, counting, deterministic=True)
    recording = _Recording(store._db.conn)
    store._db.conn = recording
    yield store, recording, calls, trace_ids
    store._db.conn = recording.conn
    store.close()


def _one_row_each(recording: _Recording) -> list[tuple[str, int]]:
    return [(sql, count) for sql, count in recording.statements if count > 1]


def test_a_trace_is_one_statement_of_one_row(recorded):
    store, recording, calls, trace_ids = recorded
    trace = store.get_trace(trace_ids[0])
    assert len(recording.statements) == 1 and _one_row_each(recording) == [] and calls == []
    assert [s.name for s in trace.spans] == ["agent"] + [f"chat {i}" for i in range(6)]
    assert trace.spans[3].attributes == {"gen_ai.input.messages": f"2 {QUESTION}", "n": 2}
    assert trace.spans[3].events[0]["attributes"] == {"chunk": f"{ANSWER} 2"}
    assert [(s.name, s.value, s.label) for s in trace.scores] == [("helpful", 1.0, None), ("tone", None, "kind")]
    assert trace.span_count == 7 and trace.root.name == "agent"


def test_a_page_with_its_columns_and_previews_reads_a_row_a_statement(recorded):
    store, recording, calls, trace_ids = recorded
    page = store.list_traces(limit=5)
    found = store.types_and_models(trace_ids)
    previews = store.root_io(trace_ids)
    assert _one_row_each(recording) == [] and calls == []
    assert len(recording.statements) == 4  # the page, its scores, the types and models, the root spans
    assert [t.trace_id for t in page.traces] == trace_ids[:5] and page.next_cursor is not None
    assert page.traces[0].scores["helpful"]["mean"] == 1.0 and page.traces[3].scores == {}
    assert set(found) == set(previews) == set(trace_ids)
    assert previews[trace_ids[0]] == (None, None)  # the root span captured no input or output


@pytest.mark.parametrize("mode", ["few", "many", "scan"])
def test_a_content_search_reads_a_row_a_statement_without_tg_json(recorded, monkeypatch, mode):
    store, recording, calls, trace_ids = recorded
    if mode == "many":
        monkeypatch.setattr(_search, "MAX_CANDIDATES", 0)
    elif mode == "scan":
        monkeypatch.setattr(_search, "MANY_CANDIDATES", 0)
    monkeypatch.setattr(_search, "FIRST_CHUNK", 2)
    monkeypatch.setattr(_search, "MAX_CHUNK", 3)
    # "2 Which plan": only in the compressed attributes of each trace's span "chat 2"; "chunk" in no span.
    page = store.list_traces(search="2 which PLAN", limit=4)
    assert [t.trace_id for t in page.traces] == trace_ids[:4] and page.next_cursor is not None
    assert store.list_traces(search="2 which plan", cursor=page.next_cursor, limit=20).traces[-1].trace_id == \
        trace_ids[-1]
    assert store.list_traces(search="chunk \"x").traces == []
    assert _one_row_each(recording) == [] and calls == []
    # However many traces a page asks for, a chunk of at most MAX_CHUNK (its values are in memory at once).
    recording.statements.clear()
    recording.params.clear()
    assert len(store.list_traces(search="2 which plan", limit=1000).traces) == 12
    chunks = [params[params.index("%2 which plan%") - 1] if "%2 which plan%" in params else params[-1]
              for (sql, _), params in zip(recording.statements, recording.params)
              if "SELECT t.id, t.start_ns, t.trace_id FROM traces t" in sql]
    assert chunks and max(chunks) == 3


def test_previews_read_the_root_spans_values_as_json_extract_does(recorded):
    store, recording, calls, trace_ids = recorded
    roots = {"not json {": None, "[1, 2]": None, b"not a zstd frame": None,
             '{"traceglass.input": true, "gen_ai.output.messages": [{"role": "assistant"}]}':
                 (1, '[{"role":"assistant"}]'),
             '{"gen_ai.input.messages": "asked", "traceglass.output": {"a": 1.5}}': ("asked", '{"a":1.5}'),
             '{"traceglass.input": null, "gen_ai.input.messages": "fallback"}': ("fallback", None)}
    conn = recording.conn
    for trace_id, stored in zip(trace_ids, roots):
        conn.execute("UPDATE span_data SET attributes = ? WHERE id = (SELECT s.id FROM spans s JOIN traces t ON "
                     "s.trace_no = t.id AND s.span_id = t.root_span_id WHERE t.trace_id = ?)", (stored, trace_id))
    conn.commit()
    found = store.root_io(trace_ids[:len(roots)])
    assert found == {trace_id: value for trace_id, value in zip(trace_ids, roots.values()) if value is not None}
    assert type(found[trace_ids[3]][0]) is int  # a JSON true as 1, not True
    assert _one_row_each(recording) == [] and calls == []


def test_statistics_and_the_evaluations_trace_reads_read_a_row_a_statement(recorded):
    store, recording, calls, trace_ids = recorded
    by_model = store.stats("model")
    by_type = {row.key: row for row in store.stats("type")}
    by_project = store.stats("project")
    spans = store.trace_spans(trace_ids[:3])
    done = store.evaluated(trace_ids, ["judge", "helpful"])
    assert _one_row_each(recording) == [] and calls == []
    assert done == {(trace_ids[1], None, "judge"), (trace_ids[2], None, "judge")}
    assert by_model == [] and by_type[None].calls == 85 and by_type[None].scores["helpful"]["mean"] == 1.0
    assert [(row.key, row.calls, row.p50_ms) for row in by_project][1:] == [("second", 1, 1000.0)]
    assert by_project[0].calls == 12 and by_project[0].p50_ms is not None
    assert [[s.name for s in spans[t]] for t in trace_ids[:3]] == [["agent"] + [f"chat {i}" for i in range(6)]] * 3
    assert spans[trace_ids[1]][1].attributes == {"gen_ai.input.messages": f"0 {QUESTION}", "n": 0}


def test_reads_too_big_for_one_value_fall_back_to_a_row_a_step(recorded):
    """SQLite refuses a value over its length limit (1 GB unless built otherwise; here 6 KB): a read
    whose document would be longer reads its rows one by one, a search reads fewer traces a chunk."""
    store, recording, calls, trace_ids = recorded
    conn = recording.conn
    before = (store.get_trace(trace_ids[2]), store.list_traces(limit=20), store.list_traces(search="2 which plan"),
              store.root_io(trace_ids), store.trace_spans(trace_ids[:4]))
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 6_000)
    after = (store.get_trace(trace_ids[2]), store.list_traces(limit=20), store.list_traces(search="2 which plan"),
             store.root_io(trace_ids), store.trace_spans(trace_ids[:4]))
    assert after == before
    assert max(count for _, count in recording.statements) > 1  # some read fell back
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)  # not even one trace's values fit
    with pytest.raises(sqlite3.DataError):
        store.list_traces(search="2 which plan")


def _session_batch(turns: int) -> list:
    """``turns`` traces of session "s-1": the root holds the question (short: stored as text), a model call
    below it the answer (long: compressed)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.one_step")
    for i in range(turns):
        with tracer.start_as_current_span(f"turn {i}", attributes={"session.id": "s-1", "user.id": f"u{i % 2}",
                                                                   "traceglass.input": f"question {i}"}):
            messages = [{"role": "assistant", "parts": [{"type": "text", "content": f"{i} {ANSWER}"}]}]
            with tracer.start_as_current_span("chat", attributes={"traceglass.span.type": "llm",
                                                                   "gen_ai.output.messages": json.dumps(messages)}):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_a_session_and_a_span_are_read_a_row_a_statement_without_tg_json(recorded):
    store, recording, calls, trace_ids = recorded
    exporter = SQLiteSpanExporter(store.path)
    exporter.export(_session_batch(3))
    exporter.shutdown()
    assert recording.conn.execute("SELECT count(*) FROM span_data WHERE typeof(attributes) = 'blob'").fetchone()[0] > 3
    session = store.session("s-1")
    assert [(t.name, t.input, t.output[:10]) for t in session.turns] == [
        (f"turn {i}", f"question {i}", f"{i} Priority") for i in range(3)]
    assert session.users == ["u0", "u1"] and session.turn_count == 3
    root = store.get_trace(trace_ids[0]).spans[3]
    parts = store._db.span_parts(trace_ids[0], root.span_id)
    assert parts["attributes"] == {"gen_ai.input.messages": f"2 {QUESTION}", "n": 2}
    assert parts["events"][0]["attributes"] == {"chunk": f"{ANSWER} 2"} and parts["name"] == "chat 2"
    assert _one_row_each(recording) == [] and calls == []


# The judge cost as the statement before it read it (tg_json a span): the oracle for hostile stored values.
_OLD_COST = ("SELECT count(*), total(json_extract(d.a, '$.\"traceglass.rollup.cost_usd\"')) "
             "FROM spans s JOIN (SELECT id, tg_json(attributes) AS a FROM span_data) d ON d.id = s.id "
             "WHERE s.start_ns >= ? AND json_valid(d.a) AND json_extract(d.a, ?) = ?")
_PAD = "x" * 2000  # makes a value long enough to be stored compressed


def test_the_judge_cost_reads_compressed_spans_in_chunks_as_the_sql_did(recorded, monkeypatch):
    store, recording, calls, trace_ids = recorded
    conn = recording.conn
    costs = [0.0125, 3, "0.25", "12abc", True, [1], None, {"a": 1}, "", 1e-9]
    keys = ["run-1", 5, "5", ["run-1"], True, None]
    stored: list[object] = []
    for i, (cost, key) in enumerate(itertools.product(costs, keys)):
        attributes = {"traceglass.eval.run_id": key, "traceglass.rollup.cost_usd": cost}
        if i % 7 == 3:
            del attributes["traceglass.rollup.cost_usd"]
        if i % 2:  # every other one long, compressed
            attributes["pad"] = _PAD
        stored.append(json.dumps(attributes))
    # Escapes json_extract reads through, a list it reads as compact JSON, bad UTF-8 tg_json replaces:
    # a compressed value without the plain bytes of the value wanted is skipped only when it cannot match.
    stored += ['{"traceglass.eval.run_id": "\\u0072un-1", "traceglass.rollup.cost_usd": 0.5, "pad": "' + _PAD + '"}',
               '{"traceglass.eval.run_id": "a\\/b", "traceglass.rollup.cost_usd": 0.5, "pad": "' + _PAD + '"}',
               '{"traceglass.eval.run_id": [1, 2], "traceglass.rollup.cost_usd": 0.75, "pad": "' + _PAD + '"}',
               zstandard.ZstdCompressor().compress(b'{"traceglass.eval.run_id": "run-1", "bad": "\xff", '
                                                   b'"traceglass.rollup.cost_usd": 0.125}')]
    stored += ['{"traceglass.eval.run_id": "run-nan", "traceglass.rollup.cost_usd": NaN, "pad": "' + _PAD + '"}',
               '{"traceglass.eval.run_id": "run-1", "traceglass.rollup.cost_usd": 2, "pad": "' + _PAD + '"', "[1, 2]",
               b"not a zstd frame", "not json"]
    ids = [row[0] for row in conn.execute("SELECT id FROM spans ORDER BY id")]
    assert len(ids) >= len(stored)
    for row_id, text in zip(ids, stored):  # as the writer stores it: long JSON compressed
        value = text if type(text) is bytes else _packed.pack_all([text])[0]
        assert type(value) is not str or len(value) < _packed.MIN_PACKED  # long ones compressed
        conn.execute("UPDATE span_data SET attributes = ? WHERE id = ?", (value, row_id))
    conn.execute("UPDATE spans SET start_ns = 7 WHERE id % 3 = 0")  # ties the chunks walk through
    conn.commit()
    assert {t for (t,) in conn.execute("SELECT DISTINCT typeof(attributes) FROM span_data")} == {"text", "blob"}
    monkeypatch.setattr(_evals_sql, "COST_CHUNK", 2)
    for key, value, since in [("traceglass.eval.run_id", "run-1", 0), ("traceglass.eval.run_id", "5", 0),
                              ("traceglass.eval.run_id", "run-1", 8), ("traceglass.eval.run_id", "[\"run-1\"]", 7),
                              ("traceglass.eval.run_id", "absent", 0), ("traceglass.eval.run_id", "run-nan", 0),
                              ("traceglass.eval.run_id", "a/b", 0), ("traceglass.eval.run_id", "[1,2]", 0),
                              ("pad", _PAD, 0)]:
        count, total = conn.execute(_OLD_COST, (since, "$." + json.dumps(key), value)).fetchone()
        expected = round(float(total), 12) if count else None
        calls.clear()
        recording.statements.clear()
        assert store.attributed_cost(key, value, since_ns=since) == expected, (key, value, since)
        assert _one_row_each(recording) == [] and calls == []
    expected = store.attributed_cost("traceglass.eval.run_id", "run-1")
    assert expected is not None
    # json_extract(...) = NULL holds for no span, a JSON null or a missing key included (both are stored).
    assert conn.execute(_OLD_COST, (0, '$."traceglass.eval.run_id"', None)).fetchone()[0] == 0
    assert store.attributed_cost("traceglass.eval.run_id", None) is None
    # A chunk whose values together pass SQLite's limit on one value reads fewer spans at a time.
    sizes = [n for (n,) in conn.execute("SELECT length(attributes) FROM span_data WHERE typeof(attributes) = 'blob'")]
    monkeypatch.setattr(_evals_sql, "COST_CHUNK", 1024)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(sizes) * 3)
    recording.statements.clear()
    assert store.attributed_cost("traceglass.eval.run_id", "run-1") == expected
    assert len(recording.statements) > 4 and sum(sizes) > max(sizes) * 3
