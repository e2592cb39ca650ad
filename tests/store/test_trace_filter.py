"""TraceFilter: the one definition of the trace filters, and everything derived from it agrees with it."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest

from traceglass.cli import build_parser
from traceglass.server import _rest
from traceglass.server._openapi import openapi_schema
from traceglass.store import TraceFilter, TraceStore

from ._helpers import BASE_S

# Spelled out by hand on purpose: a filter renamed or added in one place only makes these differ.
FILTERS = {  # keyword -> (CLI option, REST parameter)
    "project": ("--project", "project"), "span_type": ("--type", "type"), "trace_id": ("--trace-id", "trace_id"),
    "session": ("--session", "session"), "user": ("--user", "user"), "model": ("--model", "model"),
    "status": ("--status", "status"), "since": ("--since", "since"), "until": ("--until", "until"),
    "min_cost": ("--min-cost", "min_cost"), "min_latency_ms": ("--min-latency", "min_latency_ms"),
    "search": ("--search", "q"), "score_name": ("--score-name", "score_name"),
    "min_score": ("--min-score", "min_score"), "max_score": ("--max-score", "max_score"),
}
PAGE = {"limit": ("--limit", "limit"), "cursor": ("--cursor", "cursor")}


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _cli_options(name: str) -> dict[str, str]:
    """dest -> option string of the subcommand's own options (not --db, --json, --help)."""
    return {a.dest: a.option_strings[-1] for a in _subparser(name)._actions
            if a.option_strings and a.dest not in ("help", "db", "json")}


def _openapi_params(path: str) -> dict[str, dict]:
    return {p["name"]: p for p in openapi_schema()["paths"][path]["get"]["parameters"]}


def test_the_filter_fields_are_the_filters():
    assert [f.name for f in dataclasses.fields(TraceFilter)] == list(FILTERS)
    assert [(s.name, s.cli, s.param) for s in TraceFilter.specs()] == [(k, *v) for k, v in FILTERS.items()]


def test_list_traces_keywords_are_the_filter_fields_and_the_page():
    keywords = [name for name, p in inspect.signature(TraceStore.list_traces).parameters.items()
                if p.kind is p.KEYWORD_ONLY]
    assert keywords == [*FILTERS, "limit", "cursor", "filter"]


def test_cli_options_rest_parameters_and_openapi_parameters_all_equal_the_filter_fields():
    wanted = {**FILTERS, **PAGE}
    assert _cli_options("traces") == {name: cli for name, (cli, _) in wanted.items()}
    rest = {spec.param for spec in _rest.LIST_PARAMS}
    assert rest == {param for _, param in wanted.values()}
    documented = _openapi_params("/api/traces/")
    assert set(documented) == rest
    # Each documented parameter carries the field's own help and type.
    for spec in TraceFilter.specs():
        assert documented[spec.param]["description"] == spec.doc
    assert documented["min_cost"]["schema"] == {"type": "number", "minimum": 0}
    assert documented["since"]["schema"] == {"type": "string"}


def test_the_stats_groups_are_the_cli_choices_and_the_openapi_enum():
    groups = ["model", "project", "user", "session", "type", "day"]
    assert list(TraceStore.STATS_GROUPS) == groups
    by = next(a for a in _subparser("stats")._actions if a.dest == "by")
    assert list(by.choices) == groups
    assert _openapi_params("/api/stats")["group_by"]["schema"] == {"enum": groups}


def test_a_bad_value_is_refused_when_the_filter_is_made_naming_the_field():
    with pytest.raises(ValueError, match=r"^status must be 'ok' or 'error', got 'maybe'$"):
        TraceFilter(status="maybe")
    with pytest.raises(ValueError, match=r"^since: not a time"):
        TraceFilter(since="yesterday-ish")
    with pytest.raises(ValueError, match=r"^min_cost must be a finite number, got inf$"):
        TraceFilter(min_cost=float("inf"))
    with pytest.raises(ValueError, match=r"^min_latency_ms must be a number, got 'slow'$"):
        TraceFilter(min_latency_ms="slow")


def test_resolved_values():
    where = TraceFilter(status="ERROR", since=BASE_S, min_cost="0.5", min_latency_ms=1e30)
    assert (where.since_ns, where.until_ns, where.min_cost_usd, where.min_latency_ns) == (
        BASE_S * 10**9, None, 0.5, 2**63 - 1)
    assert where == TraceFilter(status="ERROR", since=BASE_S, min_cost="0.5", min_latency_ms=1e30)


def test_list_traces_takes_a_filter_or_keywords_not_both(sdk, db_path):
    slow = sdk.rag_trace(BASE_S, model="gpt-4o", user="bob")
    sdk.rag_trace(BASE_S + 60, model="gpt-4o-mini", user="alice", error=True)
    with TraceStore(db_path) as store:
        by_filter = store.list_traces(filter=TraceFilter(model="gpt-4o", user="bob", until=BASE_S + 30))
        by_keywords = store.list_traces(model="gpt-4o", user="bob", until=BASE_S + 30)
        assert [t.trace_id for t in by_filter.traces] == [t.trace_id for t in by_keywords.traces] == [slow]
        errors = store.list_traces(filter=TraceFilter(status="error"), limit=5)
        assert [t.status for t in errors.traces] == ["ERROR"]
        with pytest.raises(TypeError, match="not both"):
            store.list_traces(filter=TraceFilter(model="gpt-4o"), user="bob")
