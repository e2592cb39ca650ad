"""The dashboard in real headless Chromium (Debian's package), driven by Playwright."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from traceglass.store import TraceStore

from .conftest import HOSTILE_PROMPT, rag_agent, record_sample

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]



def in_ci(environ=os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def no_browser(reason: str, environ=os.environ) -> None:
    """Under CI, where the workflow installs Chromium, a missing or broken browser fails the tests
    (a skip would hide that the dashboard went untested); elsewhere they skip, saying why."""
    if in_ci(environ):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        no_browser(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure: say which
            no_browser(f"chromium at {CHROMIUM} cannot launch: {exc}")
        yield browser
        browser.close()


@pytest.mark.parametrize(("environ", "outcome"), [
    ({"CI": "true"}, pytest.fail.Exception), ({"CI": "1"}, pytest.fail.Exception), ({}, pytest.skip.Exception),
    ({"CI": "false"}, pytest.skip.Exception),
])
def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(environ, outcome):
    with pytest.raises(BaseException) as info:  # a skip or a failure: both are BaseExceptions
        no_browser("chromium is missing", environ)
    assert info.type is outcome
    assert "chromium is missing" in str(info.value)


@pytest.fixture
def page(browser):
    # bypass_csp: the inert-content checks must hold on the page's own merit, not because the
    # server's Content-Security-Policy blocks inline script (and Playwright's polling needs eval).
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture
def dashboard(recorder, db_path, serve_app):
    record_sample(recorder)
    return serve_app(db_path)


def _traces(db_path):
    with TraceStore(db_path) as store:
        return store.list_traces(limit=10).traces


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


def _open_trace(page, url: str, trace_id: str) -> None:
    page.goto(f"{url}/#/trace/{trace_id}")
    page.wait_for_selector(f"body[data-rendered='{trace_id}']")


def test_trace_list_shows_the_stored_traces(page, dashboard, db_path):
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    rows = page.locator("tr.trace-row")
    assert rows.count() == 3
    stored = _traces(db_path)
    for i, trace in enumerate(stored):
        row = rows.nth(i)
        assert row.get_attribute("data-trace-id") == trace.trace_id
        assert row.locator("td.name").inner_text() == trace.name
        assert row.locator("td.tokens").inner_text() == (f"{trace.total_tokens:,}" if trace.total_tokens else "–")
        expected_cost = "–" if trace.cost_usd is None else f"${trace.cost_usd:.6f}"
        assert row.locator("td.cost").inner_text() == expected_cost
    assert rows.nth(0).locator("td.status").inner_text() == "error (1)"
    assert rows.nth(1).locator("td.model").inner_text() == "gpt-4o-mini"
    _screenshot(page, "dashboard-list.png")
    assert page.console_errors == []


def test_find_a_trace_and_open_its_waterfall(page, dashboard, db_path):
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    page.fill("#f-q", "capital of France?")  # the documents of both traces say "capital of France."
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 1")
    page.click("tr.trace-row")
    page.wait_for_selector("body[data-rendered]")
    trace_id = page.evaluate("document.body.dataset.rendered")
    with TraceStore(db_path) as store:
        trace = store.get_trace(trace_id)
    assert trace.session == "sess-1"

    assert page.locator(".span-row .span-name").all_inner_texts() == [
        "rag_agent", "retrieve", "lookup_weather", "chat gpt-4o-mini"]
    assert page.locator(".span-row .badge").all_inner_texts() == ["agent", "retriever", "tool", "llm"]
    levels = [page.locator(".span-row").nth(i).get_attribute("aria-level") for i in range(4)]
    assert levels == ["1", "2", "2", "2"]
    summary = page.locator("#trace-summary")
    assert summary.locator("dd.total-tokens").inner_text() == f"{trace.total_tokens:,}" == "150"
    assert summary.locator("dd.input-tokens").inner_text() == f"{trace.input_tokens:,}"
    assert summary.locator("dd.cost").inner_text() == f"${trace.cost_usd:.6f}"

    page.click(f".span-row[data-span-id='{trace.span('chat gpt-4o-mini').span_id}']")
    chat = trace.span("chat gpt-4o-mini")
    details = page.locator("#details")
    assert details.locator("h2.span-name").inner_text() == "llm chat gpt-4o-mini"
    assert details.locator("dd.model").inner_text() == chat.model
    assert details.locator("dd.input-tokens").inner_text() == str(chat.input_tokens) == "120"
    assert details.locator("dd.output-tokens").inner_text() == str(chat.output_tokens) == "30"
    assert details.locator("dd.cost").inner_text() == f"${chat.cost_usd:.6f}"
    messages = details.locator(".conversation.input .msg")
    assert messages.count() == 2
    assert messages.nth(0).locator(".role").inner_text().lower() == "system"
    assert messages.nth(1).locator(".part").inner_text() == "What is the capital of France?"
    assert details.locator(".conversation.output .msg .role").inner_text().lower() == "assistant · finish: stop"

    # The retriever's documents and the tool call render in their own sections.
    page.click(f".span-row[data-span-id='{trace.span('retrieve').span_id}']")
    assert details.locator(".documents .doc").count() == 2
    assert "Paris is the capital of France." in details.locator(".documents").inner_text()
    page.click(f".span-row[data-span-id='{trace.span('lookup_weather').span_id}']")
    assert '"city": "Paris"' in details.locator(".tool").inner_text()
    _screenshot(page, "dashboard-trace.png")
    assert page.console_errors == []


def test_hostile_prompt_renders_as_inert_text(page, dashboard, db_path):
    hostile = next(t for t in _traces(db_path) if t.input_tokens == 200)
    with TraceStore(db_path) as store:
        chat_id = store.get_trace(hostile.trace_id).span("chat gpt-4o-mini").span_id
    _open_trace(page, dashboard.url, hostile.trace_id)
    page.click(f".span-row[data-span-id='{chat_id}']")
    user_message = page.locator("#details .conversation.input .msg").nth(1).locator(".part")
    assert user_message.inner_text() == HOSTILE_PROMPT  # shown, character for character
    page.wait_for_timeout(300)  # give any onerror handler a chance to fire
    assert page.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0  # no <img> was created
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    _screenshot(page, "dashboard-hostile-prompt.png")
    # The root span's input (the function arguments) carries the same text, also as text.
    page.click(".span-row[data-index='0']")
    shown = page.locator("#details pre.input-value").inner_text()
    assert f'"question": {json.dumps(HOSTILE_PROMPT)}' in shown  # pretty-printed JSON, as text
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.dialogs == [] and page.console_errors == []


def test_error_span_shows_its_message(page, dashboard, db_path):
    failed = next(t for t in _traces(db_path) if t.status == "ERROR")
    _open_trace(page, dashboard.url, failed.trace_id)
    text = page.locator("#details .errors .error-box").inner_text()
    assert "RuntimeError: the model refused: quota exceeded" in text


def test_new_traces_appear_without_a_reload(page, dashboard, recorder):
    page.goto(dashboard.url + "/")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 3")
    rag_agent("A question asked after the page was opened", 7, 3)
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 4", timeout=15_000)
    assert page.locator("tr.trace-row").nth(0).locator("td.tokens").inner_text() == "10"


def test_keyboard_navigation(page, dashboard):
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    page.locator("tr.trace-row").nth(1).focus()
    focused = page.evaluate("document.activeElement.dataset.traceId")
    with page.expect_response(lambda r: "/api/traces/?" in r.url, timeout=15_000):
        pass  # the list refreshes itself...
    page.wait_for_timeout(100)
    assert page.evaluate("document.activeElement.dataset.traceId") == focused  # ...without stealing the focus
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-rendered]")
    page.focus("#waterfall")
    assert page.locator(".span-row[aria-selected='true']").get_attribute("data-index") == "0"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator(".span-row[aria-selected='true']").get_attribute("data-index") == "2"
    assert page.locator("#details h2.span-name").inner_text() == "tool lookup_weather"
    page.keyboard.press("End")
    assert page.locator("#details h2.span-name").inner_text() == "llm chat gpt-4o-mini"
    page.keyboard.press("Escape")
    page.wait_for_selector("#view-list:not([hidden]) tr.trace-row")


def test_aggregates_view(page, dashboard, db_path):
    page.goto(dashboard.url + "/#/stats")
    page.wait_for_selector("table.by-model tbody tr")
    with TraceStore(db_path) as store:
        [model] = store.stats("model")
    cells = page.locator("table.by-model tbody tr").nth(0).locator("td").all_inner_texts()
    assert cells[:6] == ["gpt-4o-mini", "2", "0", "0.0%", f"{model.input_tokens:,}", f"{model.output_tokens:,}"]
    assert cells[6] == f"${model.cost_usd:.6f}"
    assert page.locator("table.by-day tbody tr").count() >= 1
    assert "llm" in page.locator("table.by-type").inner_text()
    _screenshot(page, "dashboard-aggregates.png")


def test_dashboard_with_a_token(browser, recorder, db_path, serve_app):
    record_sample(recorder)
    server = serve_app(db_path, token="browser-token")
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?token=browser-token")
        page.wait_for_selector("tr.trace-row")
        assert page.url == f"{server.url}/"  # the token is gone from the address bar
        assert page.locator("tr.trace-row").count() == 3
    finally:
        context.close()


def test_large_trace_renders_only_the_rows_in_view(page, recorder, db_path, serve_app):
    import traceglass

    @traceglass.observe(type="tool", name="step")
    def step(i: int) -> int:
        return i

    @traceglass.observe(type="chain", name="big_run")
    def big_run() -> None:
        for i in range(400):
            step(i)

    big_run()
    server = serve_app(db_path)
    [trace] = _traces(db_path)
    _open_trace(page, server.url, trace.trace_id)
    assert page.get_attribute("#waterfall", "data-rows") == "401"
    in_dom = page.locator(".span-row").count()
    assert 20 < in_dom < 120  # the visible rows and some overscan, not all 401
    page.focus("#waterfall")
    page.keyboard.press("End")
    assert page.locator(".span-row[aria-selected='true']").get_attribute("data-index") == "400"
    assert page.locator("#details h2.span-name").inner_text() == "tool step"
    assert '"i": 399' in page.locator("#details .tool").inner_text()
    page.keyboard.press("Home")
    assert page.locator(".span-row[data-index='0'] .span-name").inner_text() == "big_run"
    page.evaluate("document.getElementById('waterfall').scrollTop = 200 * 24")
    page.wait_for_selector(".span-row[data-index='200']")
    page.click(".span-row[data-index='205']")
    assert '"i": 204' in page.locator("#details .tool").inner_text()


def test_paging_and_filters_in_the_list(page, dashboard, db_path, recorder):
    for n in range(9):
        rag_agent(f"extra question {n}", 1, 1)
    stored = [t.trace_id for t in _traces(db_path)]  # newest first, 10 at most
    page.goto(dashboard.url + "/")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 12")
    page.select_option("#f-limit", "10")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 10")
    ids = lambda: [r.get_attribute("data-trace-id") for r in page.locator("tr.trace-row").all()]
    assert ids() == stored
    assert page.is_disabled("#page-newer") and not page.is_disabled("#page-older")
    page.click("#page-older")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 2")
    assert page.locator("tr.trace-row td.name").all_inner_texts() == ["rag_agent", "rag_agent"]
    assert page.locator("#page-info").inner_text() == "page 2"
    assert page.is_disabled("#page-older")
    page.click("#page-newer")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 10")
    assert ids() == stored
    page.select_option("#f-status", "error")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 1")
    assert page.locator("tr.trace-row td.name").inner_text() == "failing_chain"
    page.click("#f-clear")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 12")


def test_tiny_costs_and_missing_usage(page, db_path, serve_app):
    server = serve_app(db_path)
    import httpx

    def post(body):
        response = httpx.post(f"{server.url}/api/traces/", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["span"]

    tiny = post({"name": "tiny call", "type": "llm", "model": "m", "input_tokens": 3, "output_tokens": 1,
                 "cost_usd": 4.2e-7, "start": 1_800_000_000})
    post({"name": "no usage", "type": "tool", "start": 1_800_000_001})
    post({"name": "free call", "type": "llm", "model": "m", "input_tokens": 5, "output_tokens": 0, "cost_usd": 0,
          "start": 1_800_000_002})
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 3")
    cells = [(row.locator("td.name").inner_text(), row.locator("td.tokens").inner_text(),
              row.locator("td.cost").inner_text()) for row in page.locator("tr.trace-row").all()]
    assert cells == [("free call", "5", "$0"), ("no usage", "–", "–"), ("tiny call", "4", "$0.00000042")]

    _open_trace(page, server.url, tiny["trace_id"])
    summary = page.locator("#trace-summary")
    assert summary.locator("dd.cost").inner_text() == "$0.00000042"
    assert summary.locator("dd.total-tokens").inner_text() == "4"
    assert page.locator("#details dd.cost").inner_text() == "$0.00000042"
    no_usage = httpx.get(f"{server.url}/api/traces/", params={"q": "no usage"}, timeout=10).json()["traces"][0]
    _open_trace(page, server.url, no_usage["trace_id"])
    assert [summary.locator(f"dd.{k}").inner_text() for k in ("input-tokens", "output-tokens", "total-tokens",
                                                              "cost")] == ["–", "–", "–", "–"]
    assert page.locator("#details dd.cost").count() == 0  # no cost row for a span without one

    page.goto(server.url + "/#/stats")
    page.wait_for_selector("table.by-type tbody tr")
    by_type = {cells[0]: cells for cells in (row.locator("td").all_inner_texts()
                                             for row in page.locator("table.by-type tbody tr").all())}
    assert by_type["tool"][4:7] == ["–", "–", "–"]
    assert by_type["llm"][4:7] == ["8", "1", "$0.00000042"]
    assert page.console_errors == []
