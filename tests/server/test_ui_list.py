"""The trace list in headless Chromium: input/output previews, model families, numbers that never lie,
status words, columns that fit a 1400-px screen, and filters kept in the URL (links, back/forward)."""

from __future__ import annotations

import json

import pytest

from traceglass.store import TraceStore

from .conftest import HOSTILE_PROMPT, record_sample
from .test_browser import _screenshot, browser  # noqa: F401 - browser is a fixture

T0 = 1_800_000_000
LONG_PROJECT = "customer-support-assistant-production-eu-west-1-canary"
LONG_NAME = "summarise_the_quarterly_report_for_the_board_" * 4


@pytest.fixture
def page(browser):  # noqa: F811 - a 1400-px wide screen
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture
def server(db_path, serve_app):
    messages = [{"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
                {"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}]
    answer = [{"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": "Paris."}]}]
    with TraceStore(db_path) as store:
        store.upsert_span({"name": "chat gpt-4o", "type": "llm", "model": "gpt-4o-2024-08-06", "input_tokens": 12,
                           "output_tokens": 3, "cost_usd": 4.2e-7, "project": LONG_PROJECT, "start": T0,
                           "end": T0 + 0.5, "attributes": {"gen_ai.input.messages": json.dumps(messages),
                                                           "gen_ai.output.messages": json.dumps(answer)}})
        store.upsert_span({"name": LONG_NAME, "type": "chain", "input": {"question": "How did Q3 go?", "limit": 3},
                           "start": T0 + 1, "end": T0 + 2, "status": "ERROR", "status_message": "boom"})
        store.upsert_span({"name": "lookup", "type": "tool", "input": {}, "output": {"rows": 2, "source": "db"},
                           "model": "claude-3-5-sonnet-20241022", "input_tokens": 1000, "output_tokens": 200,
                           "cost_usd": 0.0123, "start": T0 + 3, "end": T0 + 3.25, "status": "OK"})
    return serve_app(db_path)


def _rows(page, count):
    page.wait_for_function(f"document.querySelectorAll('tr.trace-row').length === {count}", timeout=15_000)
    return page.locator("tr.trace-row").all()


def _cells(row):
    cls = ("name", "project", "model", "input-preview", "output-preview", "latency", "tokens", "cost", "status")
    return tuple(row.locator(f"td.{c}").inner_text() for c in cls)


def test_previews_models_numbers_and_status_words(page, server):
    page.goto(server.url + "/")
    rows = _rows(page, 3)
    assert [_cells(row) for row in rows] == [
        ("lookup", "–", "claude-3-5-sonnet", "–", '{"rows":2,"source":"db"}', "250 ms", "1,200", "$0.012300", "ok"),
        (LONG_NAME, "–", "–", "How did Q3 go?", "–", "1.00 s", "–", "–", "error (1)"),
        ("chat gpt-4o", LONG_PROJECT, "gpt-4o", "What is the capital of France?", "Paris.", "500 ms", "15",
         "$0.00000042", "ok"),
    ]
    # The full text is on hover: dated model names, long names and projects.
    assert rows[0].locator("td.model").get_attribute("title") == "claude-3-5-sonnet-20241022"
    assert rows[2].locator("td.model").get_attribute("title") == "gpt-4o-2024-08-06"
    assert rows[1].locator("td.name").get_attribute("title") == LONG_NAME
    assert rows[2].locator("td.project").get_attribute("title") == LONG_PROJECT
    assert rows[2].locator("td.input-preview").get_attribute("title") == "What is the capital of France?"
    assert rows[1].locator("td.status").get_attribute("title") == "1 span failed"
    # Every column fits a 1400-px screen: nothing scrolls sideways.
    overflow = page.evaluate("""() => {
        const wrap = document.querySelector('#view-list .table-wrap');
        return [wrap.scrollWidth, wrap.clientWidth];
    }""")
    assert overflow[0] <= overflow[1], overflow
    cut = rows[1].locator("td.name").evaluate("td => td.scrollWidth > td.clientWidth")
    assert cut is True  # the long name is cut (with an ellipsis), not allowed to widen the table
    _screenshot(page, "dashboard-list-1400.png")
    assert page.console_errors == []


def test_filters_round_trip_through_the_url(page, server):
    page.goto(server.url + "/")
    _rows(page, 3)
    page.select_option("#f-status", "error")
    _rows(page, 1)
    assert page.evaluate("location.hash") == "#/?status=error"
    page.fill("#f-q", "capital")
    page.select_option("#f-status", "")
    _rows(page, 1)
    page.wait_for_function("location.hash === '#/?q=capital'")

    # A shared link opens the same list, its form filled in.
    page.goto("about:blank")
    page.goto(server.url + "/#/?status=error&limit=10")
    rows = _rows(page, 1)
    assert rows[0].locator("td.status").inner_text() == "error (1)"
    assert (page.input_value("#f-status"), page.input_value("#f-limit"), page.input_value("#f-q")) == ("error", "10", "")

    # Back and forward step through the filters applied.
    page.click("#f-clear")
    _rows(page, 3)
    assert page.evaluate("location.hash") == "#/"
    page.go_back()
    _rows(page, 1)
    assert page.input_value("#f-status") == "error"
    page.go_forward()
    _rows(page, 3)
    assert page.input_value("#f-status") == ""

    # A trace opened from a filtered list goes back to that list (Escape, or the link).
    page.select_option("#f-status", "error")
    _rows(page, 1)[0].click()
    page.wait_for_selector("body[data-rendered]")
    assert page.get_attribute("#back", "href") == "#/?status=error"
    page.keyboard.press("Escape")
    _rows(page, 1)
    assert page.evaluate("location.hash") == "#/?status=error"
    assert page.console_errors == []


def test_a_hostile_input_preview_is_inert_text(page, recorder, db_path, serve_app):
    record_sample(recorder)
    server = serve_app(db_path)
    page.goto(server.url + "/")
    rows = _rows(page, 3)
    hostile = [row for row in rows if row.locator("td.input-preview").inner_text() == HOSTILE_PROMPT]
    assert len(hostile) == 1  # shown character for character, as text
    assert hostile[0].locator("td.output-preview").inner_text() == "Answer to: " + HOSTILE_PROMPT
    page.wait_for_timeout(300)  # give any onerror handler a chance to fire
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.console_errors == []
