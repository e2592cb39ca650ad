"""Compare in the dashboard (issue 19), in real headless Chromium against the real server and SQLite file:
two traces picked in the list, or two spans picked with "Compare with…", side by side with their figures and
differences, and the prompts and outputs diffed word by word; stored text stays text."""

from __future__ import annotations

import pytest

from traceglass.store import TraceStore

from .conftest import HOSTILE_PROMPT, rag_agent
from .test_browser import _open_trace, _screenshot, browser, page  # noqa: F401 - the browser fixtures

FRANCE = "What is the capital of France?"
ITALY = "What is the capital of Italy?"


@pytest.fixture
def two_runs(recorder, db_path, serve_app):
    """Two runs of the same RAG app, one question apart (and more tokens the second time)."""
    rag_agent(FRANCE, 120, 30)
    rag_agent(ITALY, 150, 45)
    with TraceStore(db_path) as store:
        first, second = sorted((store.get_trace(t.trace_id) for t in store.list_traces(limit=10).traces),
                               key=lambda t: t.start_ns)
    return serve_app(db_path), first, second


def _cells(page, scope: str, field: str) -> list[str]:
    row = page.locator(f"{scope} tr[data-field='{field}']")
    return [row.locator(f"td.{c}").inner_text() for c in ("a", "b", "delta")]


def test_compare_two_traces_picked_in_the_list(page, two_runs):
    server, first, second = two_runs
    page.goto(server.url + "/")
    page.wait_for_selector("tr.trace-row td.pick input")
    assert page.locator("#compare-go").is_disabled()
    page.check(f"input.compare-pick[data-trace-id='{first.trace_id}']")
    page.check(f"input.compare-pick[data-trace-id='{second.trace_id}']")
    assert page.evaluate("location.hash") in ("", "#/")  # ticking a box does not open the trace
    assert page.locator("#compare-go").inner_text() == "Compare the 2 selected"
    page.click("#compare-go")
    page.wait_for_selector(f"body[data-compared='{first.trace_id}/{second.trace_id}']")

    overview = "table.cmp-overview"
    assert _cells(page, overview, "name") == ["rag_agent", "rag_agent", "="]
    assert _cells(page, overview, "model") == ["gpt-4o-mini", "gpt-4o-mini", "="]
    assert _cells(page, overview, "total_tokens") == ["150", "195", "+45 (+30%)"]
    assert _cells(page, overview, "input_tokens") == ["120", "150", "+30 (+25%)"]
    assert _cells(page, overview, "cost") == [f"${first.cost_usd:.6f}", f"${second.cost_usd:.6f}",
                                              f"+${second.cost_usd - first.cost_usd:.6f} (+"
                                              f"{round((second.cost_usd - first.cost_usd) / first.cost_usd * 100)}%)"]
    assert _cells(page, overview, "calls") == ["1", "1", "="]
    assert page.locator(f"{overview} tr[data-field='total_tokens']").get_attribute("class") == "differs"

    call = page.locator(".cmp-call[data-index='0']")
    assert _cells(page, ".cmp-call[data-index='0']", "span") == ["chat gpt-4o-mini", "chat gpt-4o-mini", "="]
    prompt = call.locator(".diff.prompt")
    assert prompt.locator(".diff-line.same .diff-text").all_inner_texts() == ["system: You are terse."]
    assert prompt.locator("del.diff-word").all_inner_texts() == ["France?"]
    assert prompt.locator("ins.diff-word").all_inner_texts() == ["Italy?"]
    assert prompt.locator(".diff-line.del .diff-text").inner_text() == f"user: {FRANCE}"
    assert prompt.locator(".diff-line.add .diff-text").inner_text() == f"user: {ITALY}"
    output = call.locator(".diff.output")
    assert output.locator("del.diff-word").all_inner_texts() == ["France?"]
    assert output.locator("ins.diff-word").all_inner_texts() == ["Italy?"]
    assert output.get_attribute("data-changed") == "2"
    _screenshot(page, "dashboard-compare.png")
    assert page.console_errors == []


def test_compare_two_spans_with_compare_with(page, two_runs):
    server, first, second = two_runs
    a, b = first.span("chat gpt-4o-mini"), second.span("chat gpt-4o-mini")
    _open_trace(page, server.url, first.trace_id)
    page.click(f".span-row[data-span-id='{a.span_id}']")
    page.click("#details button.compare-with.span")
    _open_trace(page, server.url, second.trace_id)
    page.click(f".span-row[data-span-id='{b.span_id}']")
    button = page.locator("#details button.compare-with.span")
    assert button.inner_text() == "Compare with span llm chat gpt-4o-mini"
    button.click()
    page.wait_for_selector(f"body[data-compared='{first.trace_id}:{a.span_id}/{second.trace_id}:{b.span_id}']")
    assert page.evaluate("location.hash") == f"#/compare/{first.trace_id}:{a.span_id}/{second.trace_id}:{b.span_id}"
    assert _cells(page, "table.cmp-overview", "latency")[2] != ""
    assert _cells(page, "table.cmp-overview", "output_tokens") == ["30", "45", "+15 (+50%)"]
    assert page.locator(".cmp-call").count() == 1
    assert page.locator(".cmp-call .diff.prompt ins.diff-word").all_inner_texts() == ["Italy?"]
    assert page.locator(".cmp-head.a a").get_attribute("href") == f"#/trace/{first.trace_id}/{a.span_id}"
    assert page.console_errors == []


def test_a_hostile_prompt_in_a_comparison_stays_text(page, recorder, db_path, serve_app):
    rag_agent(FRANCE)
    rag_agent(HOSTILE_PROMPT)
    server = serve_app(db_path)
    with TraceStore(db_path) as store:
        older, newer = sorted(store.list_traces(limit=10).traces, key=lambda t: t.start_ns)
    page.goto(f"{server.url}/#/compare/{older.trace_id}/{newer.trace_id}")
    page.wait_for_selector(f"body[data-compared='{older.trace_id}/{newer.trace_id}']")
    added = page.locator(".cmp-call .diff.prompt .diff-line.add .diff-text").inner_text()
    assert added == f"user: {HOSTILE_PROMPT}"
    assert page.locator("#compare-body img, #compare-body script").count() == 0
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    page.goto(f"{server.url}/#/compare/{older.trace_id}/not-an-id")
    page.wait_for_selector("#compare-body p.error")
    assert page.locator("#compare-body p.error").inner_text() == "Could not compare: not a trace id or TRACE:SPAN: " \
                                                                "not-an-id"
