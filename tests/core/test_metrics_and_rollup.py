"""GenAI client metrics from the handler, and the one no-double-counting rule."""

from __future__ import annotations

from traceglass.rollup import UsageTotals, own_usage, subtree_totals, trace_total, tree_totals

from .._functions import llm_function


def test_token_usage_and_duration_histograms(captured):
    llm_function("one", 100, 20)()
    metrics = captured.metrics()
    tokens = sorted(metrics["gen_ai.client.token.usage"], key=lambda p: p["attributes"]["gen_ai.token.type"])
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    assert [p["attributes"] for p in tokens] == [
        {**base, "gen_ai.token.type": "input"},
        {**base, "gen_ai.token.type": "output"},
    ]
    assert [p["sum"] for p in tokens] == [100, 20]
    assert tokens[0]["unit"] == "{token}"
    assert tokens[0]["explicit_bounds"] == [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ]
    (duration,) = metrics["gen_ai.client.operation.duration"]
    assert duration["attributes"] == base
    assert duration["unit"] == "s"
    assert duration["count"] == 1
    assert duration["explicit_bounds"] == [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]


def test_two_layers_reporting_one_call_count_tokens_once(captured):
    inner = llm_function("inner", 50, 5)
    llm_function("outer", 50, 5, inner=inner)()
    tokens = captured.metrics()["gen_ai.client.token.usage"]
    assert sorted((p["attributes"]["gen_ai.token.type"], p["sum"]) for p in tokens) == [("input", 50), ("output", 5)]
    (duration,) = captured.metrics()["gen_ai.client.operation.duration"]
    assert duration["count"] == 1  # one model call, one operation
    # both spans still carry their own usage attributes, as each layer reported it
    assert captured.span("outer")["attributes"]["gen_ai.usage.input_tokens"] == 50
    assert captured.span("inner")["attributes"]["gen_ai.usage.input_tokens"] == 50


def test_rule_innermost_layer_wins():
    call = own_usage(10, 2, 0.5)
    assert subtree_totals(call, []) == UsageTotals(10, 2, 0.5, 1)
    # a framework span reporting the same call as its child: counted once
    assert subtree_totals(own_usage(10, 2, 0.5), [subtree_totals(call, [])]) == UsageTotals(10, 2, 0.5, 1)
    # a chain with two calls and a tool without usage
    chain = subtree_totals(None, [UsageTotals(10, 2, 0.5, 1), UsageTotals(), UsageTotals(3, 1, None, 1)])
    assert chain == UsageTotals(13, 3, 0.5, 2)
    assert subtree_totals(None, []) == UsageTotals()


def test_tree_totals_over_a_trace():
    parents = {"root": None, "lc-chat": "root", "openai": "lc-chat", "tool": "root", "llm2": "root"}
    own = {
        "lc-chat": own_usage(100, 10, 1.0),
        "openai": own_usage(100, 10, 1.0),
        "llm2": own_usage(5, 5, None),
    }
    totals = tree_totals(parents, own)
    assert totals["lc-chat"] == UsageTotals(100, 10, 1.0, 1)
    assert totals["tool"] == UsageTotals()
    assert totals["root"] == UsageTotals(105, 15, 1.0, 2)
    assert trace_total(parents, own) == totals["root"]
    # an orphan whose parent is not in this process counts as a root
    assert trace_total({"a": "remote", "b": "a"}, {"b": own_usage(1, 1, 0.1)}) == UsageTotals(1, 1, 0.1, 1)


def test_deep_trace_does_not_recurse():
    depth = 5000
    parents = {i: (i - 1 if i else None) for i in range(depth)}
    totals = tree_totals(parents, {depth - 1: own_usage(1, 0, None)})
    assert totals[0] == UsageTotals(1, 0, None, 1)
