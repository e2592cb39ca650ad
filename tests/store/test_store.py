"""TraceStore over a database filled by the real exporter: trees, totals, filters, cursor, stats."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from ._helpers import BASE_S, make_sdk, ns
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import traceglass
from traceglass import LlmAttributes
from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import SpanNode, Trace, TraceStore


@pytest.fixture
def dataset(db_path):
    """Four traces: three RAG traces of project ``shop`` over two days and one ``billing`` tool call."""
    shop = make_sdk(db_path)
    billing = make_sdk(db_path, service="billing")
    ids = {
        "t0": shop.rag_trace(BASE_S, model="gpt-4o-mini", session="s1", user="ada"),
        "t1": shop.rag_trace(BASE_S + 10, model="gpt-4o", session="s1", user="bob", error=True),
        "t3": format(billing.span("execute_tool refund", BASE_S + 20, BASE_S + 20.5, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund"}).get_span_context().trace_id,
            "032x"),
        "t2": shop.rag_trace(BASE_S + 86400, model="gpt-4o-mini", session="s2", user="ada",
                             question="what is the refund policy?"),
    }
    shop.provider.shutdown()
    billing.provider.shutdown()
    store = TraceStore(db_path)
    yield store, ids
    store.close()


def _ids(page, ids):
    names = {v: k for k, v in ids.items()}
    return [names[t.trace_id] for t in page.traces]


def test_get_trace_returns_the_span_tree_and_totals_counted_once(dataset):
    store, ids = dataset
    trace = store.get_trace(ids["t0"])
    assert isinstance(trace, Trace)
    assert (trace.trace_id, trace.name, trace.project, trace.status, trace.session, trace.user) == (
        ids["t0"], "rag", "shop", "OK", "s1", "ada")
    # The LLM call is reported by the "generate" span and by the client span below it: counted once.
    assert (trace.input_tokens, trace.output_tokens, trace.total_tokens, trace.cost_usd) == (100, 20, 120, 0.0012)
    assert trace.latency_ms == 2000.0
    assert trace.span_count == 4 and trace.error_count == 0
    root = trace.root
    assert isinstance(root, SpanNode) and trace.roots == [root]
    assert [(n.name, n.type, [c.name for c in n.children]) for n in root.walk()] == [
        ("rag", "chain", ["retrieve", "generate"]),
        ("retrieve", "retriever", []),
        ("generate", "llm", ["chat gpt-4o-mini"]),
        ("chat gpt-4o-mini", "llm", []),
    ]
    client = trace.span("chat gpt-4o-mini")
    assert (client.model, client.provider, client.operation, client.kind, client.status) == (
        "gpt-4o-mini-2024-07-18", "openai", "chat", "INTERNAL", "UNSET")
    assert (client.input_tokens, client.output_tokens, client.total_tokens, client.cost_usd) == (100, 20, 120, 0.0012)
    assert client.duration_ms == 950.0
    assert client.start == datetime.fromtimestamp(BASE_S + 0.45, tz=timezone.utc)
    assert client.end == datetime.fromtimestamp(BASE_S + 1.4, tz=timezone.utc)
    assert client.usage_superseded is False and trace.span("generate").usage_superseded is True
    assert client.attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20, "traceglass.cost.total_usd": 0.0012}
    assert client.events == [] and client.resource["service.name"] == "shop"
    as_dict = trace.to_dict()
    assert as_dict["spans"][0]["name"] == "rag" and len(as_dict["spans"][0]["children"]) == 2
    json.dumps(as_dict)  # plain JSON all the way down


def test_get_trace_of_an_error_trace_and_of_an_unknown_id(dataset):
    store, ids = dataset
    trace = store.get_trace(ids["t1"].upper())
    assert (trace.status, trace.error_count) == ("ERROR", 1)
    failed = trace.span("chat gpt-4o")
    assert (failed.status, failed.error_type, failed.status_message) == ("ERROR", "RateLimitError",
                                                                          "RateLimitError happened")
    assert store.get_trace("0" * 32) is None
    assert store.get_trace("not-an-id") is None


def test_list_traces_is_newest_first_with_every_filter(dataset):
    store, ids = dataset
    assert _ids(store.list_traces(), ids) == ["t2", "t3", "t1", "t0"]
    cases = [
        (dict(project="billing"), ["t3"]),
        (dict(span_type="tool"), ["t3"]),
        (dict(span_type="retriever"), ["t2", "t1", "t0"]),
        (dict(trace_id=ids["t0"][:10]), ["t0"]),
        (dict(trace_id=ids["t0"]), ["t0"]),
        (dict(session="s1"), ["t1", "t0"]),
        (dict(user="ada"), ["t2", "t0"]),
        (dict(model="gpt-4o"), ["t1"]),  # its family only: not gpt-4o-mini
        (dict(model="gpt-4o-mini"), ["t2", "t0"]),  # answered as gpt-4o-mini-2024-07-18
        (dict(model="GPT-4o-mini"), ["t2", "t0"]),
        (dict(model="gpt-4o-mini-2024-07-18"), ["t2", "t0"]),
        (dict(model="gpt-4o-2024-07-18"), ["t1"]),
        (dict(model="gpt-4o-mini-2024-08-06"), []),  # another snapshot
        (dict(model="gpt-4"), []),
        (dict(model="gpt"), []),
        (dict(status="error"), ["t1"]),
        (dict(status="OK"), ["t2", "t3", "t0"]),
        (dict(since=BASE_S + 5, until=BASE_S + 25), ["t3", "t1"]),
        (dict(since=datetime.fromtimestamp(BASE_S + 3600, tz=timezone.utc)), ["t2"]),
        (dict(until="2027-01-15T08:00:15+00:00"), ["t1", "t0"]),
        (dict(min_cost=0.001), ["t2", "t1", "t0"]),
        (dict(min_latency_ms=1000), ["t2", "t1", "t0"]),
        (dict(min_latency_ms=2001), []),
        (dict(search="refund policy"), ["t2"]),
        (dict(search="REFUND"), ["t2", "t3"]),
        (dict(search="100%"), []),
        (dict(project="shop", user="ada", model="gpt-4o-mini-2024-07-18", since=BASE_S + 1), ["t2"]),
    ]
    for filters, expected in cases:
        assert _ids(store.list_traces(**filters), ids) == expected, filters


def test_list_traces_rows_carry_the_trace_totals(dataset):
    store, ids = dataset
    (row,) = store.list_traces(trace_id=ids["t1"]).traces
    assert row.to_dict() == {
        "trace_id": ids["t1"], "name": "rag", "project": "shop", "start_ns": ns(BASE_S + 10),
        "end_ns": ns(BASE_S + 12), "latency_ms": 2000.0, "status": "ERROR", "span_count": 4, "error_count": 1,
        "input_tokens": 100, "output_tokens": 20, "total_tokens": 120, "cost_usd": 0.0012,
        "session": "s1", "user": "bob", "scores": {}}


def test_the_cursor_pages_stably_while_new_traces_arrive(dataset, db_path):
    store, ids = dataset
    first = store.list_traces(limit=2)
    assert _ids(first, ids) == ["t2", "t3"] and first.next_cursor
    late = make_sdk(db_path)
    ids["new"] = late.rag_trace(BASE_S + 999_999)  # newer than everything, arrives between pages
    late.provider.shutdown()
    second = store.list_traces(limit=2, cursor=first.next_cursor)
    assert _ids(second, ids) == ["t1", "t0"] and second.next_cursor is None
    assert _ids(store.list_traces(limit=10), ids) == ["new", "t2", "t3", "t1", "t0"]


def test_bad_list_arguments_raise_clear_errors(dataset):
    store, _ = dataset
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        store.list_traces(limit=0)
    with pytest.raises(ValueError, match="invalid cursor"):
        store.list_traces(cursor="garbage")
    with pytest.raises(ValueError, match="status must be 'ok' or 'error'"):
        store.list_traces(status="meh")
    with pytest.raises(ValueError, match="not a time"):
        store.list_traces(since="yesterday-ish")


def _stats(store, group_by, **kw):
    return {row.key: (row.calls, row.errors, row.input_tokens, row.output_tokens, row.cost_usd and round(row.cost_usd, 6),
                      row.p50_ms, row.p95_ms) for row in store.stats(group_by, **kw)}


def test_stats_by_model_counts_each_model_call_once(dataset):
    store, _ = dataset
    # The calls the API answered as gpt-4o-mini-2024-07-18 count under the model asked for.
    assert _stats(store, "model") == {
        "gpt-4o-mini": (2, 0, 200, 40, 0.0024, 950.0, 950.0),
        "gpt-4o": (1, 1, 100, 20, 0.0012, 950.0, 950.0),
    }
    rows = store.stats("model")
    assert [r.key for r in rows] == ["gpt-4o-mini", "gpt-4o"]  # most expensive first
    assert rows[1].error_rate == 1.0 and rows[1].total_tokens == 120


def test_stats_by_type_project_user_session_and_day(dataset):
    store, _ = dataset
    assert _stats(store, "type") == {
        "llm": (6, 1, 300, 60, 0.0036, 950.0, 1100.0),
        "chain": (3, 0, 0, 0, None, 2000.0, 2000.0),
        "retriever": (3, 0, 0, 0, None, 200.0, 200.0),
        "tool": (1, 0, 0, 0, None, 500.0, 500.0),
    }
    assert _stats(store, "project") == {"shop": (3, 1, 300, 60, 0.0036, 2000.0, 2000.0),
                                        "billing": (1, 0, 0, 0, None, 500.0, 500.0)}
    assert _stats(store, "user") == {"ada": (2, 0, 200, 40, 0.0024, 2000.0, 2000.0),
                                     "bob": (1, 1, 100, 20, 0.0012, 2000.0, 2000.0),
                                     None: (1, 0, 0, 0, None, 500.0, 500.0)}
    assert _stats(store, "session") == {"s1": (2, 1, 200, 40, 0.0024, 2000.0, 2000.0),
                                        "s2": (1, 0, 100, 20, 0.0012, 2000.0, 2000.0),
                                        None: (1, 0, 0, 0, None, 500.0, 500.0)}
    assert _stats(store, "day") == {"2027-01-15": (3, 1, 200, 40, 0.0024, 2000.0, 2000.0),
                                    "2027-01-16": (1, 0, 100, 20, 0.0012, 2000.0, 2000.0)}
    assert _stats(store, "day", since=BASE_S + 3600) == {"2027-01-16": (1, 0, 100, 20, 0.0012, 2000.0, 2000.0)}
    assert _stats(store, "model", until=BASE_S + 5, project="shop") == {
        "gpt-4o-mini": (1, 0, 100, 20, 0.0012, 950.0, 950.0)}
    with pytest.raises(ValueError, match="group_by must be one of"):
        store.stats("colour")


def test_percentiles_are_nearest_rank(db_path):
    sdk = make_sdk(db_path)
    for i in range(1, 21):  # durations 1..20 ms
        sdk.span("chat m", BASE_S + i, BASE_S + i + i / 1000, attributes={"gen_ai.request.model": "m"})
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        (row,) = store.stats("model")
    assert (row.calls, row.p50_ms, row.p95_ms) == (20, 10.0, 19.0)


def test_traces_made_by_the_decorators_are_stored(captured, db_path):
    captured.tracer_provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(db_path)))

    @traceglass.observe(type="tool")
    def search(q):
        return ["doc"]

    @traceglass.trace_llm(model="gpt-4o-mini")
    def answer(q):
        traceglass.update_current_span_attributes(LlmAttributes(input=q, output="a", input_token_count=10,
                                                                output_token_count=3))
        return "a"

    @traceglass.observe(type="chain", name="pipeline")
    def pipeline(q):
        search(q)
        return answer(q)

    with traceglass.session("s-42", user_id="u-1"):
        pipeline("why?")
    with TraceStore(db_path) as store:
        (summary,) = store.list_traces(session="s-42").traces
        trace = store.get_trace(summary.trace_id)
    assert [(n.name, n.type, n.model, n.input_tokens, n.output_tokens, n.session, n.user)
            for n in trace.root.walk()] == [
        ("pipeline", "chain", None, None, None, "s-42", "u-1"),
        ("search", "tool", None, None, None, "s-42", "u-1"),
        ("answer", "llm", "gpt-4o-mini", 10, 3, "s-42", "u-1"),
    ]
    assert (trace.total_tokens, trace.user, trace.session) == (13, "u-1", "s-42")
    assert json.loads(trace.span("answer").attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "why?"}]}]


def test_each_group_has_its_own_percentiles(db_path):
    sdk = make_sdk(db_path)
    for i in range(1, 21):  # model a: 1..20 ms; model b: 100, 200, 300 ms
        sdk.span("chat a", BASE_S + i, BASE_S + i + i / 1000, attributes={"gen_ai.request.model": "a"})
    for i in range(1, 4):
        sdk.span("chat b", BASE_S + 30 + i, BASE_S + 30 + i + i / 10, attributes={"gen_ai.request.model": "b"})
    sdk.span("chat c", BASE_S + 40, BASE_S + 40.25, attributes={"gen_ai.request.model": "c"})
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        assert {r.key: (r.calls, r.p50_ms, r.p95_ms) for r in store.stats("model")} == {
            "a": (20, 10.0, 19.0), "b": (3, 200.0, 300.0), "c": (1, 250.0, 250.0)}
        assert {r.key: (r.calls, r.p50_ms, r.p95_ms) for r in store.stats("model", since=BASE_S + 11)} == {
            "a": (10, 15.0, 20.0), "b": (3, 200.0, 300.0), "c": (1, 250.0, 250.0)}


def test_a_model_filter_and_stats_take_a_model_with_its_dated_snapshots(db_path):
    """Calls asked as gpt-4o-mini are answered as dated snapshots (or not at all, on an error)."""
    sdk = make_sdk(db_path)
    spans = [  # (name, request model, response model, duration s, tokens in, cost)
        ("a", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 0.1, 10, 0.001),
        ("b", "gpt-4o-mini", None, 0.2, 20, 0.002),  # failed before the API named a snapshot
        ("c", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", 0.3, 30, 0.003),
        ("d", "openai/gpt-4o-mini", None, 0.4, 40, 0.004),  # through a router
        ("e", "gpt-4o", "gpt-4o-2024-08-06", 0.5, 50, 0.005),
        ("f", "claude-3-5-sonnet-latest", "claude-3-5-sonnet-20241022", 0.6, 60, 0.006),
    ]
    ids = {}
    for i, (name, request, response, seconds, tokens, cost) in enumerate(spans):
        attributes = {"gen_ai.request.model": request, "gen_ai.usage.input_tokens": tokens,
                      "gen_ai.usage.output_tokens": 1, "traceglass.cost.total_usd": cost}
        if response:
            attributes["gen_ai.response.model"] = response
        span = sdk.span(name, BASE_S + i, BASE_S + i + seconds, attributes=attributes)
        ids[format(span.get_span_context().trace_id, "032x")] = name
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        def names(**filters):
            return sorted(ids[t.trace_id] for t in store.list_traces(**filters).traces)

        assert names(model="gpt-4o-mini") == ["a", "b", "c", "d"]
        assert names(model="gpt-4o-mini-2024-07-18") == ["a", "c"]
        assert names(model="openai/gpt-4o-mini") == ["d"]
        assert names(model="gpt-4o") == ["e"]
        assert names(model="claude-3-5-sonnet") == ["f"]
        assert names(model="claude-3-5-sonnet-20241022") == ["f"]
        assert names(model="gpt-4o-mini", since=BASE_S + 2) == ["c", "d"]
        assert {r.key: (r.calls, r.input_tokens, round(r.cost_usd, 6), r.p50_ms, r.p95_ms)
                for r in store.stats("model")} == {
            "gpt-4o-mini": (4, 100, 0.01, 200.0, 400.0),
            "gpt-4o": (1, 50, 0.005, 500.0, 500.0),
            "claude-3-5-sonnet": (1, 60, 0.006, 600.0, 600.0),
        }


def test_the_seeds_names_latency_and_total_tokens_and_the_trace_id_keyword(dataset):
    store, ids = dataset
    trace = store.get_trace(trace_id=ids["t0"])  # flowyml's example calls it with the keyword
    assert (trace.latency, trace.latency_ms, trace.total_tokens) == (2000.0, 2000.0, 120)
    (summary,) = store.list_traces(trace_id=ids["t0"]).traces
    assert (summary.latency, summary.total_tokens) == (2000.0, 120)


def test_bare_numbers_for_since_and_until_are_epoch_seconds_and_ages_need_a_unit(dataset):
    store, ids = dataset
    cases = [
        (dict(since=str(BASE_S + 5)), ["t2", "t3", "t1"]),
        (dict(since=f" {BASE_S + 5}.5 ", until=str(BASE_S + 86400)), ["t3", "t1"]),
        (dict(until=str(BASE_S + 15)), ["t1", "t0"]),
        (dict(since="0"), ["t2", "t3", "t1", "t0"]),  # the epoch, not "0 seconds ago"
        (dict(since="100000d"), ["t2", "t3", "t1", "t0"]),  # an age: 100,000 days back
        (dict(until="1d"), []),  # an age: before yesterday (the data is from 2027)
    ]
    for filters, expected in cases:
        assert _ids(store.list_traces(**filters), ids) == expected, filters
    assert set(_stats(store, "project", since=str(BASE_S + 15))) == {"shop", "billing"}
    assert set(_stats(store, "project", since=str(BASE_S + 25))) == {"shop"}


def test_traces_that_start_at_the_same_time_are_each_listed_once_across_pages(db_path):
    sdk = make_sdk(db_path)
    same = {format(sdk.span(f"tie {i}", BASE_S, BASE_S + 1).get_span_context().trace_id, "032x") for i in range(7)}
    later = format(sdk.span("later", BASE_S + 5, BASE_S + 6).get_span_context().trace_id, "032x")
    earlier = format(sdk.span("earlier", BASE_S - 5, BASE_S - 4).get_span_context().trace_id, "032x")
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        seen, cursor, pages = [], None, 0
        while pages < 20:
            page = store.list_traces(limit=2, cursor=cursor)
            seen += [t.trace_id for t in page.traces]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    assert pages == 5 and len(seen) == 9
    assert seen[0] == later and seen[-1] == earlier
    assert seen[1:-1] == sorted(same, reverse=True)  # the tie broken by trace id, every page boundary inside it


def test_the_true_root_wins_over_an_orphan_that_starts_first(db_path):
    """A span whose parent was never exported, starting before the real root: the trace keeps
    the root's name, and the tree's root is the span without a parent."""
    from opentelemetry import trace as otel
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    sdk = make_sdk(db_path)
    root = sdk.span("the root", BASE_S + 1, BASE_S + 3)
    trace_id = root.get_span_context().trace_id
    lost_parent = NonRecordingSpan(SpanContext(trace_id, 0xDEAD, is_remote=False, trace_flags=TraceFlags(1)))
    orphan = sdk.tracer.start_span("orphan", context=otel.set_span_in_context(lost_parent), start_time=ns(BASE_S))
    orphan.end(end_time=ns(BASE_S + 0.5))
    sdk.provider.shutdown()
    hex_id = format(trace_id, "032x")
    with TraceStore(db_path) as store:
        trace = store.get_trace(hex_id)
        assert [s.name for s in trace.spans] == ["orphan", "the root"]  # by start time
        assert trace.root.name == "the root" and trace.root.parent_id is None
        assert [r.name for r in trace.roots] == ["orphan", "the root"]
        assert trace.name == "the root"
        (summary,) = store.list_traces(trace_id=hex_id).traces
        assert (summary.name, summary.start_ns, summary.span_count) == ("the root", ns(BASE_S), 2)
