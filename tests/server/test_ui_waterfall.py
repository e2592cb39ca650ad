"""The trace view's waterfall in headless Chromium: time axis, tokens and cost per row, the selected span's
critical path, collapse/expand, keyboard navigation, a LangChain model step merged with its provider call,
event markers and status words. The trace is written to a real SQLite file with exact times."""

from __future__ import annotations

import pytest

from traceglass.store import TraceStore

from .test_browser import _open_trace, _screenshot, browser, page  # noqa: F401 - fixtures

T0 = 1_800_000_000 * 10**9  # ns
MS = 10**6
TRACE = "ab" * 16
IDS = {name: f"{i + 1:016x}" for i, name in enumerate(
    ["agent_run", "retrieve", "ChatOpenAI", "chat gpt-4o-mini", "lookup", "answer", "format"])}


def _span(name, parent, start_ms, end_ms, **fields):
    body = {"trace_id": TRACE, "span_id": IDS[name], "name": name, "start_ns": T0 + start_ms * MS,
            "end_ns": T0 + end_ms * MS, **fields}
    if parent:
        body["parent_id"] = IDS[parent]
    return body


@pytest.fixture
def server(db_path, serve_app):
    """One 1-second trace: a retriever, a LangChain chat_model step over the OpenAI chat span (same model,
    a streamed call with its first token at 150 ms), a failing tool with an exception event, and a chain."""
    spans = [
        _span("agent_run", None, 0, 1000, type="agent"),
        _span("retrieve", "agent_run", 0, 200, type="retriever"),
        _span("ChatOpenAI", "agent_run", 200, 700, type="chat_model", model="gpt-4o-mini", provider="langchain",
              input_tokens=120, output_tokens=30),
        _span("chat gpt-4o-mini", "ChatOpenAI", 210, 690, type="llm", model="gpt-4o-mini", provider="openai",
              input_tokens=120, output_tokens=30, cost_usd=0.000045, status="OK",
              attributes={"gen_ai.response.time_to_first_chunk": 0.15}),
        _span("lookup", "agent_run", 300, 400, type="tool", status="ERROR", status_message="ValueError: index offline",
              events=[{"name": "exception", "time_unix_nano": T0 + 350 * MS,
                       "attributes": {"exception.type": "ValueError", "exception.message": "index offline"}}]),
        _span("answer", "agent_run", 700, 1000, type="chain"),
        _span("format", "answer", 700, 800, type="custom"),
    ]
    with TraceStore(db_path) as store:
        for body in spans:
            store.upsert_span(body)
        trace = store.get_trace(TRACE)
        assert trace.span("ChatOpenAI").usage_superseded is True  # the provider span's usage counts
    return serve_app(db_path)


def _names(page):
    return page.locator(".span-row .span-name").all_inner_texts()


def _row(page, name):
    return page.locator(f".span-row[data-span-id='{IDS[name]}']")


def _selected(page):
    return page.locator(".span-row[aria-selected='true'] .span-name").inner_text()


def test_time_axis_tokens_cost_and_status_per_row(page, server):
    _open_trace(page, server.url, TRACE)
    # A 1-second trace on a timeline about 300 px wide (ticks at least 100 px apart): a tick every 0.5 s,
    # from the trace's start to its end.
    width = page.eval_on_selector(".wf-axis .wf-ticks", "t => t.clientWidth")
    assert 300 <= width < 400
    assert page.locator(".wf-axis .tick").all_inner_texts() == ["0.0 s", "0.5 s", "1.0 s"]
    lefts = page.eval_on_selector_all(".wf-axis .tick", "ts => ts.map(t => parseFloat(t.style.left))")
    assert lefts == pytest.approx([0, 50, 100])
    assert page.locator(".wf-grid .tick-line").count() == 3
    # The LangChain step and its OpenAI span are one row, so six rows for seven spans.
    assert _names(page) == ["agent_run", "retrieve", "ChatOpenAI", "lookup", "answer", "format"]
    assert page.get_attribute("#waterfall", "data-rows") == "6"
    cells = {name: (_row(page, name).locator(".tok").inner_text(), _row(page, name).locator(".cost").inner_text(),
                    _row(page, name).locator(".dur").inner_text())
             for name in ("agent_run", "ChatOpenAI", "lookup")}
    assert cells == {"agent_run": ("–", "–", "1.00 s"), "ChatOpenAI": ("150", "$0.000045", "500 ms"),
                     "lookup": ("–", "–", "100 ms")}
    # Status words, not the enum: only the failed row says so, with its message on hover.
    status = page.locator(".span-row .row-status")
    assert status.all_inner_texts() == ["error"]
    assert status.get_attribute("title") == "ValueError: index offline"
    assert page.locator("#details dd.status").inner_text() == "ok"  # the root: UNSET in a trace with an error
    assert page.locator("#trace-summary dd.status").inner_text() == "error (1 span)"
    _row(page, "lookup").click()
    assert page.locator("#details dd.status").inner_text() == "error: ValueError: index offline"
    _screenshot(page, "dashboard-waterfall.png")
    assert page.console_errors == []


def test_event_markers_on_the_bars(page, server):
    _open_trace(page, server.url, TRACE)
    exception = _row(page, "lookup").locator(".ev-exception")
    assert exception.count() == 1
    assert float(exception.evaluate("m => parseFloat(m.style.left)")) == pytest.approx(35)
    assert exception.get_attribute("title") == "exception ValueError: index offline (at 50 ms)"
    # The stream's first token, 150 ms after the provider call started at 210 ms, on the merged row.
    first = _row(page, "ChatOpenAI").locator(".ev-first-token")
    assert first.count() == 1
    assert float(first.evaluate("m => parseFloat(m.style.left)")) == pytest.approx(36)
    assert first.get_attribute("title") == "first token after 150 ms"
    assert page.locator(".span-row .ev").count() == 2


def test_critical_path_of_the_selected_span(page, server):
    _open_trace(page, server.url, TRACE)
    critical = lambda: page.locator(".span-row.critical .span-name").all_inner_texts()  # noqa: E731
    # The root is selected: its end is set by answer (and format), before that by the model call, before
    # that by retrieve; the failing tool ran alongside the model call and is off the path.
    assert _selected(page) == "agent_run"
    assert critical() == ["agent_run", "retrieve", "ChatOpenAI", "answer", "format"]
    _row(page, "answer").click()
    assert critical() == ["answer", "format"]
    _row(page, "lookup").click()
    assert critical() == ["lookup"]


def test_merged_model_call_expands_into_both_spans(page, server):
    _open_trace(page, server.url, TRACE)
    merged = _row(page, "ChatOpenAI")
    assert merged.get_attribute("aria-expanded") == "false"
    assert merged.locator(".call-tag").inner_text() == "+ openai"
    merged.click()
    # The merged row's details are the provider's span (the request, the usage that counts), saying so.
    assert page.locator("#details h2.span-name").inner_text() == "llm chat gpt-4o-mini"
    assert "One model call: ChatOpenAI (chat_model)" in page.locator("#details .merged-note").inner_text()
    merged.locator(".twisty").click()
    assert _names(page) == ["agent_run", "retrieve", "ChatOpenAI", "chat gpt-4o-mini", "lookup", "answer", "format"]
    assert _row(page, "ChatOpenAI").get_attribute("aria-expanded") == "true"
    assert _row(page, "chat gpt-4o-mini").get_attribute("aria-level") == "3"
    # Expanded, the framework step shows its own (superseded) usage apart from the counted one.
    assert _row(page, "ChatOpenAI").locator(".tok.superseded").inner_text() == "150"
    assert _row(page, "ChatOpenAI").locator(".call-tag").count() == 0
    assert page.locator("#details h2.span-name").inner_text() == "chat_model ChatOpenAI"
    assert page.locator("#details .merged-note").count() == 0
    assert _row(page, "chat gpt-4o-mini").locator(".ev-first-token").count() == 1
    _screenshot(page, "dashboard-waterfall-expanded.png")


def test_collapse_and_keyboard_navigation(page, server):
    _open_trace(page, server.url, TRACE)
    page.focus("#waterfall")
    assert page.get_attribute("#waterfall", "role") == "tree"
    assert page.get_attribute("#waterfall", "aria-activedescendant") == "row-" + IDS["agent_run"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert _selected(page) == "ChatOpenAI"
    page.keyboard.press("ArrowRight")  # un-merge: both spans shown, the selection stays
    assert _selected(page) == "ChatOpenAI"
    assert page.get_attribute("#waterfall", "data-rows") == "7"
    page.keyboard.press("ArrowRight")  # expanded already: into the first child
    assert _selected(page) == "chat gpt-4o-mini"
    page.keyboard.press("ArrowLeft")  # a leaf: up to its parent
    assert _selected(page) == "ChatOpenAI"
    page.keyboard.press("ArrowLeft")  # merged again
    assert page.get_attribute("#waterfall", "data-rows") == "6"
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    assert _selected(page) == "answer"
    page.keyboard.press("ArrowLeft")  # collapse answer: format is hidden
    assert _names(page) == ["agent_run", "retrieve", "ChatOpenAI", "lookup", "answer"]
    assert _row(page, "answer").get_attribute("aria-expanded") == "false"
    page.keyboard.press("ArrowRight")
    assert _names(page)[-1] == "format"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")  # collapse the root: one row left
    assert _names(page) == ["agent_run"]
    assert page.get_attribute("#waterfall", "aria-activedescendant") == "row-" + IDS["agent_run"]
    page.keyboard.press("ArrowRight")
    assert len(_names(page)) == 6
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "details"
    assert page.locator("#details h2.span-name").inner_text() == "retriever retrieve"


def test_collapse_by_mouse_and_a_hidden_span_in_the_url(page, server):
    _open_trace(page, server.url, TRACE)
    _row(page, "format").click()
    _row(page, "answer").locator(".twisty").click()  # hides the selected span: the selection moves up
    assert _names(page) == ["agent_run", "retrieve", "ChatOpenAI", "lookup", "answer"]
    assert _selected(page) == "answer"
    # A link to the provider span inside the merged call opens it un-merged, with that span selected.
    page.goto("about:blank")
    page.goto(f"{server.url}/#/trace/{TRACE}/{IDS['chat gpt-4o-mini']}")
    page.wait_for_selector(f"body[data-rendered='{TRACE}']")
    assert _selected(page) == "chat gpt-4o-mini"
    assert page.get_attribute("#waterfall", "data-rows") == "7"


def test_a_real_langchain_call_over_the_openai_client_is_one_row(page, recorder, db_path, serve_app):  # noqa: F811
    """ChatOpenAI streaming through the instrumented OpenAI SDK against a local fake API: LangChain's
    chat_model span and the OpenAI client's llm span are one row with the counted tokens and the first token."""
    from langchain_core.runnables import RunnableLambda
    from langchain_openai import ChatOpenAI

    from traceglass.instrumentors.langchain import LangChainInstrumentor
    from traceglass.instrumentors.openai import OpenAIInstrumentor
    from tests.langchain._lc_support import OpenAIServer, stream_chunks

    api = OpenAIServer()
    langchain, openai = LangChainInstrumentor(), OpenAIInstrumentor()
    langchain.instrument()
    openai.instrument()
    try:
        api.replies.append(stream_chunks("Hi there", prompt_tokens=10, completion_tokens=2))
        model = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=api.base_url, max_retries=0,
                           stream_usage=True)
        list((RunnableLambda(lambda q: q, name="prepare") | model).stream("hello"))
    finally:
        openai.uninstrument()
        langchain.uninstrument()
        api.close()
    server = serve_app(db_path)
    with TraceStore(db_path) as store:
        [summary] = store.list_traces(limit=5).traces
        trace = store.get_trace(summary.trace_id)
    client = next(s for s in trace.spans if s.type == "llm")
    assert client.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    _open_trace(page, server.url, trace.trace_id)
    assert page.locator(".span-row .span-name").all_inner_texts() == ["RunnableSequence", "prepare", "chat gpt-4o-mini"]
    merged = page.locator(".span-row.merged")
    assert merged.locator(".badge").inner_text() == "chat_model"
    assert merged.locator(".call-tag").inner_text() == "+ openai"
    assert (merged.locator(".tok").inner_text(), merged.locator(".cost").inner_text()) == (
        "12", "–" if client.cost_usd is None else f"${client.cost_usd:.6f}")
    assert merged.locator(".ev-first-token").count() == 1
    merged.locator(".twisty").click()
    assert page.locator(".span-row .badge").all_inner_texts() == ["chain", "chain", "chat_model", "llm"]
    assert page.console_errors == []


def test_a_short_trace_in_milliseconds_and_a_span_that_never_ended(page, db_path, serve_app):
    trace_id = "cd" * 16
    with TraceStore(db_path) as store:
        store.upsert_span({"trace_id": trace_id, "span_id": "1" * 16, "name": "quick", "type": "chain",
                           "start_ns": T0, "end_ns": T0 + 30 * MS, "status": "OK"})
        store.upsert_span({"trace_id": trace_id, "span_id": "2" * 16, "parent_id": "1" * 16, "name": "lost",
                           "type": "tool", "start_ns": T0 + 5 * MS})  # no end: still running, or its end was lost
    server = serve_app(db_path)
    _open_trace(page, server.url, trace_id)
    # 30 ms over a timeline of 200-399 px: ticks at least 100 px apart, 10 or 20 ms, labelled in ms.
    width = page.eval_on_selector(".wf-axis .wf-ticks", "t => t.clientWidth")
    expected = ["0 ms", "10 ms", "20 ms", "30 ms"] if width >= 300 else ["0 ms", "20 ms"]
    assert 200 <= width < 400
    assert page.locator(".wf-axis .tick").all_inner_texts() == expected
    assert page.locator("#details dd.status").inner_text() == "ok"  # set OK: reads the same as unset
    page.locator(".span-row[data-span-id='2222222222222222']").click()
    assert page.locator("#details dd.status").inner_text() == (
        "open: no end time recorded: still running, or its end was lost")
    assert page.locator(".span-row .row-status").count() == 0
    assert page.console_errors == []
