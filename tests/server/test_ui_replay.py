"""Replay in the dashboard (issue 19), in real headless Chromium: a real OpenAI call (the openai SDK against the
bundled fake server on 127.0.0.1) is recorded, its request opens in the editor as it was sent, an edited message
goes out through POST /api/replay, and the answer shows with a link to the new trace, which is stored linked to
the original span. Without --replay-base-url there is no button."""

from __future__ import annotations

import json

import httpx
import pytest

from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.instrumentors.openai import TracedOpenAI
from traceglass.store import TraceStore

from .test_browser import _open_trace, _screenshot, browser, page  # noqa: F401 - the browser fixtures

FRANCE = "What is the capital of France?"
ITALY = "What is the capital of Italy?"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture
def fake():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def recorded(recorder, db_path, fake):
    """One chat call made with the real SDK, traced into the test's SQLite file: the span to replay."""
    client = TracedOpenAI(base_url=fake.base_url, api_key="recording-key", tracer_provider=recorder.tracer_provider)
    client.chat.completions.create(model="gpt-4o-mini", temperature=0.2, max_tokens=50, seed=3, tools=TOOLS,
                                   tool_choice="none", messages=[{"role": "system", "content": "Be terse."},
                                                                 {"role": "user", "content": FRANCE}])
    client.close()
    with TraceStore(db_path) as store:
        [summary] = store.list_traces(limit=5).traces
        return store.get_trace(summary.trace_id).span("chat gpt-4o-mini")


def _editor(page) -> dict:
    return page.evaluate("""() => {
        const d = document.getElementById('replay-dialog');
        return {open: d.open, model: d.querySelector('#replay-model').value,
                roles: [...d.querySelectorAll('.replay-role')].map(s => s.value),
                contents: [...d.querySelectorAll('.replay-content')].map(t => t.value),
                params: JSON.parse(d.querySelector('#replay-params').value),
                tools: JSON.parse(d.querySelector('#replay-tools').value || 'null')};
    }""")


def test_replay_an_edited_message_and_open_the_new_trace(page, recorded, db_path, serve_app, fake, monkeypatch):
    monkeypatch.setenv("TRACEGLASS_REPLAY_API_KEY", "sk-ui-test")
    server = serve_app(db_path, replay=fake.base_url)
    _open_trace(page, server.url, recorded.trace_id)
    page.wait_for_selector("body[data-replay='on']")
    page.click(f".span-row[data-span-id='{recorded.span_id}']")
    page.click("#details button.replay-open")
    page.wait_for_selector("#replay-dialog[open] .replay-msg")
    assert _editor(page) == {"open": True, "model": "gpt-4o-mini", "roles": ["system", "user"],
                             "contents": ["Be terse.", FRANCE],
                             "params": {"max_tokens": 50, "seed": 3, "temperature": 0.2}, "tools": TOOLS}

    assert page.evaluate("[...document.getElementById('replay-dialog').childNodes].filter(n => n.nodeType === 3)"
                         ".map(n => n.textContent)") == []  # nothing but elements (no stray 'null')
    page.locator(".replay-msg").nth(1).locator("textarea").fill(ITALY)
    page.fill("#replay-params", json.dumps({"temperature": 0.5, "max_tokens": 50, "seed": 3, "tool_choice": "none"}))
    page.click("#replay-send")
    page.wait_for_selector("#replay-result pre.replay-answer")
    assert fake.requests[-1] == ("/v1/chat/completions", {
        "model": "gpt-4o-mini", "temperature": 0.5, "max_tokens": 50, "seed": 3, "tool_choice": "none",
        "tools": TOOLS, "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": ITALY}]})

    link = page.locator("a.replay-trace-link").get_attribute("href")
    new_trace_id = link.removeprefix("#/trace/")
    with TraceStore(db_path) as store:
        trace = store.get_trace(new_trace_id)
    root, chat = trace.spans
    assert root.links == [{"trace_id": recorded.trace_id, "span_id": recorded.span_id,
                           "attributes": {"traceglass.replay.source.span_id": recorded.span_id}}]
    answer = json.loads(chat.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"]
    assert page.locator("pre.replay-answer").inner_text() == answer
    assert page.locator("dd.replay-tokens").inner_text() == f"{chat.input_tokens} in · {chat.output_tokens} out"
    assert page.locator("dd.replay-finish").inner_text() == "stop"
    assert page.locator("#replay-status").inner_text() == "Done: stored as a new trace."
    assert page.locator("a.replay-compare-link").get_attribute("href") == (
        f"#/compare/{recorded.trace_id}:{recorded.span_id}/{new_trace_id}")
    assert "sk-ui-test" not in page.content()
    _screenshot(page, "dashboard-replay.png")

    page.click("a.replay-trace-link")
    page.wait_for_selector(f"body[data-rendered='{new_trace_id}']")
    assert not page.evaluate("document.getElementById('replay-dialog').open")
    assert page.locator(".span-row .span-name").all_inner_texts() == ["replay gpt-4o-mini", "chat gpt-4o-mini"]
    assert page.console_errors == []


def test_a_failed_replay_says_why(page, recorded, db_path, serve_app, fake):
    server = serve_app(db_path, replay=fake.base_url)
    _open_trace(page, server.url, recorded.trace_id)
    page.wait_for_selector("body[data-replay='on']")
    page.click("#details button.replay-open")
    page.wait_for_selector("#replay-dialog[open]")
    page.fill("#replay-model", "error-429")
    page.click("#replay-send")
    page.wait_for_selector("#replay-status.error")
    assert page.locator("#replay-status").inner_text() == (
        "Replay failed (HTTP 502): the endpoint answered 429: Simulated error 429 for model error-429")
    assert page.locator("#replay-result a.replay-trace-link").count() == 1  # the failed call is traced too
    page.fill("#replay-params", "[1, 2]")
    page.click("#replay-send")
    assert page.locator("#replay-status").inner_text() == "Parameters must be a JSON object"


def test_no_replay_button_unless_the_server_has_an_endpoint(page, recorded, db_path, serve_app):
    server = serve_app(db_path)
    _open_trace(page, server.url, recorded.trace_id)
    page.wait_for_selector("body[data-replay='off']")
    page.click(f".span-row[data-span-id='{recorded.span_id}']")
    assert page.locator("#details .conversation.input").count() == 1  # an LLM span with its request
    assert page.locator("button.replay-open").count() == 0
    assert page.console_errors == []


def test_system_instructions_tool_calls_and_results_replay_in_the_chat_format(page, db_path, serve_app, fake):
    """A span from another instrumentor (system instructions apart, a tool call and its result in the
    history, stop sequences, a parameter OpenAI has not got), posted over REST."""
    server = serve_app(db_path, replay=fake.base_url)
    history = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather",
                                         "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "21C and sunny"}]},
    ]
    posted = httpx.post(server.url + "/api/traces/", timeout=10, json={
        "name": "chat claude", "type": "llm", "model": "gpt-4o-mini", "attributes": {
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.stop_sequences": ["\n\n"],
            "gen_ai.request.top_k": 5,
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Answer in French."}]),
            "gen_ai.input.messages": json.dumps(history)}}).json()["span"]
    _open_trace(page, server.url, posted["trace_id"])
    page.wait_for_selector("body[data-replay='on']")
    page.click("#details button.replay-open")
    page.wait_for_selector("#replay-dialog[open] .replay-msg")
    assert _editor(page) == {"open": True, "model": "gpt-4o-mini", "roles": ["system", "user", "assistant", "tool"],
                             "contents": ["Answer in French.", "Weather in Paris?", "", "21C and sunny"],
                             "params": {"stop": ["\n\n"]}, "tools": None}
    assert page.locator("#replay-dialog p.muted:not(#replay-status)").all_inner_texts()[1:] == [
        "+ 1 tool call(s): get_weather", "answers tool call call_1", "Not replayed: top_k"]
    page.click("#replay-send")
    page.wait_for_selector("#replay-result pre.replay-answer")
    assert fake.requests[-1] == ("/v1/chat/completions", {"model": "gpt-4o-mini", "stop": ["\n\n"], "messages": [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C and sunny"}]})
    assert page.console_errors == []
