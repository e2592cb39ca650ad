"""The one span-usage reader: every dialect we accept, read into one SpanUsage."""

from __future__ import annotations

import pytest

from traceglass._span_usage import count, read_span_model, read_span_usage


def _usage(**fields) -> dict:
    """SpanUsage.as_dict() of a usage with these fields (None for the others)."""
    base = dict(input_tokens=None, output_tokens=None, cache_read_tokens=None, cache_write_tokens=None,
                reasoning_tokens=None, total_tokens=None, model=None, request_model=None, response_model=None,
                provider=None, input_key=None, output_key=None)
    base.update(fields)
    return base


@pytest.mark.parametrize(("attributes", "expected"), [
    pytest.param({"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                  "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 1200,
                  "gen_ai.usage.output_tokens": 300, "gen_ai.usage.cache_read.input_tokens": 1000,
                  "gen_ai.usage.cache_creation.input_tokens": 20, "gen_ai.usage.reasoning.output_tokens": 100},
                 _usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000, cache_write_tokens=20,
                        reasoning_tokens=100, total_tokens=1500, model="gpt-4o-2024-08-06", request_model="gpt-4o",
                        response_model="gpt-4o-2024-08-06", provider="openai",
                        input_key="gen_ai.usage.input_tokens", output_key="gen_ai.usage.output_tokens"),
                 id="gen_ai v1.41"),
    pytest.param({"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude",
                  "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5,
                  "gen_ai.usage.cache_write.input_tokens": 7},
                 _usage(input_tokens=10, output_tokens=5, cache_write_tokens=7, total_tokens=15, model="claude",
                        request_model="claude", provider="anthropic", input_key="gen_ai.usage.input_tokens",
                        output_key="gen_ai.usage.output_tokens"),
                 id="latest experimental cache_write"),
    pytest.param({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 8,
                  "gen_ai.usage.completion_tokens": 2, "gen_ai.usage.cache_read_input_tokens": 4,
                  "gen_ai.usage.cache_creation_input_tokens": 3, "gen_ai.usage.reasoning_tokens": 1,
                  "llm.usage.total_tokens": 11},
                 _usage(input_tokens=8, output_tokens=2, cache_read_tokens=4, cache_write_tokens=3,
                        reasoning_tokens=1, total_tokens=11, model="gpt-4o", request_model="gpt-4o",
                        provider="openai", input_key="gen_ai.usage.prompt_tokens",
                        output_key="gen_ai.usage.completion_tokens"),
                 id="legacy gen_ai and OpenLLMetry"),
    pytest.param({"llm.model_name": "gpt-4o-mini", "llm.provider": "azure", "llm.system": "openai",
                  "llm.token_count.prompt": 100, "llm.token_count.completion": 40, "llm.token_count.total": 140,
                  "llm.token_count.prompt_details.cache_read": 60, "llm.token_count.prompt_details.cache_write": 5,
                  "llm.token_count.completion_details.reasoning": 12},
                 _usage(input_tokens=100, output_tokens=40, cache_read_tokens=60, cache_write_tokens=5,
                        reasoning_tokens=12, total_tokens=140, model="gpt-4o-mini", provider="azure",
                        input_key="llm.token_count.prompt", output_key="llm.token_count.completion"),
                 id="OpenInference"),
    pytest.param({"llm.system": "anthropic", "llm.token_count.completion": 3.0},
                 _usage(output_tokens=3, total_tokens=3, provider="anthropic",
                        output_key="llm.token_count.completion"),
                 id="OpenInference system only, a float count"),
])
def test_every_dialect(attributes, expected):
    assert read_span_usage(attributes).as_dict() == expected


def test_the_spec_names_win_over_the_others():
    attributes = {"gen_ai.usage.input_tokens": 1, "gen_ai.usage.prompt_tokens": 2, "llm.token_count.prompt": 3,
                  "gen_ai.usage.output_tokens": 4, "llm.token_count.completion": 5,
                  "gen_ai.provider.name": "openai", "gen_ai.system": "other", "llm.provider": "azure",
                  "gen_ai.request.model": "req", "llm.model_name": "oi"}
    usage = read_span_usage(attributes)
    assert (usage.input_tokens, usage.output_tokens, usage.provider, usage.model) == (1, 4, "openai", "req")


def test_no_token_key_reads_as_none_but_the_model_is_still_read():
    attributes = {"gen_ai.request.model": "gpt-4o", "llm.system": "openai", "gen_ai.usage.cache_read.input_tokens": 3}
    assert read_span_usage(attributes) is None
    assert read_span_model(attributes) == ("gpt-4o", "openai")
    assert read_span_model({"llm.model_name": "m", "gen_ai.response.model": 5}) == ("m", None)
    assert read_span_model({}) == (None, None)


@pytest.mark.parametrize("bad", [True, -1, -0.5, float("inf"), float("nan"), 2**63, 1e19, "12", [1], None])
def test_a_value_that_is_no_count_is_missing_and_its_key_is_named(bad):
    assert count(bad) is None
    usage = read_span_usage({"gen_ai.usage.input_tokens": bad, "gen_ai.usage.output_tokens": 5})
    assert usage.as_dict() == _usage(input_tokens=None, output_tokens=5, total_tokens=5,
                           input_key=None if bad is None else "gen_ai.usage.input_tokens",
                           output_key="gen_ai.usage.output_tokens")
    assert usage.counted
    only_bad = read_span_usage({"llm.token_count.prompt": bad})
    assert (None if only_bad is None else only_bad.as_dict()) == (
        None if bad is None else _usage(input_key="llm.token_count.prompt"))
    assert only_bad is None or not only_bad.counted


def test_counts_at_the_limits():
    assert [count(v) for v in (0, 1, 2**63 - 1, 7.9, 0.0)] == [0, 1, 2**63 - 1, 7, 0]


def test_the_store_fills_its_columns_from_the_reader_and_names_an_unstorable_count(tmp_path):
    import json
    import sqlite3

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    from traceglass.exporters.sqlite import SQLiteSpanExporter

    def span(number: int, attributes: dict) -> ReadableSpan:
        context = SpanContext(number, number, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        return ReadableSpan(name=f"s{number}", context=context, attributes=attributes,
                            start_time=number * 10, end_time=number * 10 + 5)

    path = tmp_path / "usage.db"
    exporter = SQLiteSpanExporter(path)
    exporter.export([
        span(1, {"llm.model_name": "m", "llm.system": "openai", "llm.token_count.prompt": float("inf"),
                 "llm.token_count.completion": 7}),
        span(2, {"gen_ai.system": "acme", "gen_ai.request.model": "r", "gen_ai.usage.prompt_tokens": -3}),
        span(3, {"gen_ai.provider.name": "p", "gen_ai.response.model": "x"}),
    ])
    exporter.shutdown()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT s.name, s.model, s.provider, s.input_tokens, s.output_tokens, s.total_tokens, "
                          "d.attributes FROM spans s JOIN span_data d ON d.id = s.id ORDER BY s.start_ns").fetchall()
    assert [(*row[:6], json.loads(row[6]).get("traceglass.sanitized")) for row in rows] == [
        ("s1", "m", "openai", None, 7, 7, ["llm.token_count.prompt"]),  # not finite: listed
        ("s2", "r", "acme", None, None, None, None),  # negative: no count, but storable as given
        ("s3", "x", "p", None, None, None, None),
    ]
