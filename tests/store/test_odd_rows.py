"""Rows the exporter would never write (written by hand, by another tool or an older bug) must
not break any read: an infinite cost, NaN, integers beyond 64 bits, text in number columns,
JSON that is not JSON. Each is put into a real database with sqlite3 directly."""

from __future__ import annotations

import json
import sqlite3

import pytest
from ._helpers import BASE_S, make_sdk

from traceglass.cli import main
from traceglass.store import TraceStore
from traceglass.store._queries import GROUPS

# PostgreSQL's typed columns refuse such values (text in a bigint, NaN in an integer) at the source.
pytestmark = pytest.mark.sqlite_only("writes values of the wrong type into columns, which only SQLite accepts")


def _strict(value):
    """JSON as strict parsers (browsers, jq) read it: no NaN or Infinity."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(json.dumps(value, default=str), parse_constant=refuse)


@pytest.fixture
def odd(db_path):
    sdk = make_sdk(db_path)
    good = sdk.rag_trace(BASE_S, user="ada", session="s1")
    bad = sdk.rag_trace(BASE_S + 60, user="bob", session="s2")
    sdk.provider.shutdown()
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    bad_no = conn.execute("SELECT id FROM traces WHERE trace_id = ?", (bad,)).fetchone()[0]
    spans = {name: span_id for name, span_id in conn.execute(
        "SELECT name, id FROM spans WHERE trace_no = ?", (bad_no,))}
    big = 2**63 - 1
    conn.execute("UPDATE spans SET cost_usd = 9e999, input_tokens = ?, output_tokens = 'many' WHERE id = ?",
                 (big, spans["chat gpt-4o-mini"]))
    conn.execute("UPDATE spans SET cost_usd = -9e999, input_tokens = ?, duration_ns = 'slow', "
                 "end_ns = 'later', model = X'00ff' WHERE id = ?", (big, spans["retrieve"]))
    conn.execute("UPDATE spans SET total_tokens = 1e30, span_type = 12, model = 42 WHERE id = ?", (spans["rag"],))
    conn.execute("UPDATE span_data SET attributes = 'not json {', events = '{\"a\": 1}', "
                 "resource = '[1, 2]', resource_id = NULL WHERE id = ?", (spans["chat gpt-4o-mini"],))
    conn.execute("UPDATE span_data SET attributes = '{\"x\": NaN, \"y\": Infinity}' WHERE id = ?", (spans["rag"],))
    conn.execute("UPDATE traces SET cost_usd = 9e999, input_tokens = 1e300, start_ns = start_ns, "
                 "end_ns = 'soon', user_id = 7 WHERE id = ?", (bad_no,))
    conn.close()
    return db_path, good, bad


def test_stats_survive_every_group(odd):
    db, _, _ = odd
    with TraceStore(db, read_only=True) as store:
        for group in GROUPS:
            rows = store.stats(group)
            _strict([row.to_dict() for row in rows])
        by_model = {r.key: (r.calls, r.input_tokens, r.output_tokens, r.cost_usd) for r in store.stats("model")}
        # The infinite cost and the out-of-range and textual token counts are left out of the sums.
        assert by_model == {"gpt-4o-mini": (2, 100, 20, 0.0012), "\x00\ufffd": (1, 0, 0, None), "42": (1, 0, 0, None)}
        by_user = {r.key: (r.calls, r.input_tokens, r.cost_usd, r.p50_ms) for r in store.stats("user")}
        assert by_user == {"ada": (1, 100, 0.0012, 2000.0), "7": (1, 0, None, 2000.0)}
        by_type = {r.key: (r.calls, r.input_tokens, r.cost_usd, r.p50_ms, r.p95_ms) for r in store.stats("type")}
        assert by_type == {"llm": (4, 100, 0.0012, 950.0, 1100.0), "chain": (1, 0, None, 2000.0, 2000.0),
                           "retriever": (2, 0, None, 200.0, 200.0), "12": (1, 0, None, 2000.0, 2000.0)}


def test_get_trace_and_list_traces_read_odd_values_as_unknown(odd):
    db, good, bad = odd
    with TraceStore(db, read_only=True) as store:
        trace = store.get_trace(bad)
        _strict(trace.to_dict())
        assert (trace.cost_usd, trace.input_tokens, trace.end_ns, trace.latency_ms, trace.user) == (
            None, 0, None, None, "7")
        client = trace.span("chat gpt-4o-mini")
        assert (client.cost_usd, client.input_tokens, client.output_tokens) == (None, 2**63 - 1, None)
        assert (client.attributes, client.events, client.resource) == ({}, [], {})
        retrieve = trace.span("retrieve")
        assert (retrieve.end_ns, retrieve.duration_ms, retrieve.end, retrieve.model) == (None, None, None, "\x00\ufffd")
        root = trace.span("rag")
        assert (root.total_tokens, root.type, root.model, root.attributes) == (None, "12", "42", {"x": None, "y": None})
        page = store.list_traces()
        _strict(page.to_dict())
        assert [t.trace_id for t in page.traces] == [bad, good]
        assert [t.trace_id for t in store.list_traces(user="ada", min_cost=0.001).traces] == [good]


def _refuse(name):
    raise ValueError(f"{name} is not JSON")


@pytest.mark.parametrize("args", [["traces"], ["show", "BAD"], ["stats", "--by", "type"], ["stats", "--by", "model"],
                                  ["stats", "--by", "user"], ["export"]])
def test_the_cli_reads_odd_rows(odd, args, capsys):
    db, _, bad = odd
    args = [bad if a == "BAD" else a for a in args]
    assert main([*args, "--db", str(db), "--json"]) == 0
    out = capsys.readouterr().out
    documents = out.splitlines() if args[0] == "export" else [out]
    assert len(documents) == (8 if args[0] == "export" else 1)
    for document in documents:  # strict JSON: no NaN or Infinity
        json.loads(document, parse_constant=_refuse)
    assert main([*args, "--db", str(db)]) == 0
    assert "Traceback" not in capsys.readouterr().err
