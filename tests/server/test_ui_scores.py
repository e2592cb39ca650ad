"""Scores in the dashboard (issue 14), in real headless Chromium against the real server and SQLite file:
feedback posted from the page lands in the database and survives a reload; scores show per trace, span,
list row and aggregate group; user-supplied text stays text; a refused score shows the server's reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import traceglass
from traceglass.store import TraceStore

from .conftest import record_sample
from .test_browser import _open_trace, _traces, browser, page  # noqa: F401 - the browser fixtures

XSS_COMMENT = '<img src=x onerror="window.__xss = 3"> <script>window.__xss = 4</script> & "quotes"'


@pytest.fixture
def dashboard(recorder, db_path, serve_app):
    record_sample(recorder)
    return serve_app(db_path)


def _stored(db_path, trace_id):
    with TraceStore(db_path) as store:
        return sorted(store.scores(trace_id=trace_id, limit=100).scores, key=lambda s: s.created_ns)


def _local(score) -> str:
    return score.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _rows(page, scope: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in page.locator(f"{scope} table.scores tr.score").all()]


def _succeeded(page, scope: str, text: str) -> None:
    page.wait_for_function("([scope, text]) => { const s = document.querySelector(scope + ' .fb-status');"
                           " return s && s.textContent === text; }", arg=[scope, text], timeout=10_000)


def test_thumbs_down_on_a_trace_is_stored_and_survives_a_reload(page, dashboard, db_path):
    trace = next(t for t in _traces(db_path) if t.status == "ERROR")
    _open_trace(page, dashboard.url, trace.trace_id)
    panel = "#trace-scores"
    assert page.locator(f"{panel} .no-scores").inner_text() == "No scores yet."
    page.fill(f"{panel} .fb-comment", "wrong answer\nsecond line")
    page.fill(f"{panel} .fb-user", "carol")
    page.click(f"{panel} .fb-down")
    _succeeded(page, panel, "Saved: thumbs down.")
    assert page.input_value(f"{panel} .fb-comment") == ""  # ready for the next one

    [score] = _stored(db_path, trace.trace_id)  # in the database, exactly once
    assert (score.name, score.value, score.label, score.data_type, score.span_id, score.source, score.user_id,
            score.comment) == ("user_feedback", 0.0, "false", "boolean", None, "human", "carol",
                               "wrong answer\nsecond line")
    expected = [["user_feedback", "▼ false", "human", "wrong answer\nsecond line", "carol", _local(score)]]
    assert _rows(page, panel) == expected

    page.reload()
    page.wait_for_selector(f"body[data-rendered='{trace.trace_id}']")
    assert _rows(page, panel) == expected
    assert page.input_value(f"{panel} .fb-user") == "carol"  # the name is remembered in this browser
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    row = page.locator(f"tr.trace-row[data-trace-id='{trace.trace_id}']")
    assert row.locator("td.scores").inner_text() == "user_feedback 0.00 (1)"
    assert page.console_errors == []


def test_comment_and_thumbs_up_on_a_span(page, dashboard, db_path):
    first = next(t for t in _traces(db_path) if t.input_tokens == 120)
    with TraceStore(db_path) as store:
        chat = store.get_trace(first.trace_id).span("chat gpt-4o-mini")
    _open_trace(page, dashboard.url, first.trace_id)
    page.click(f".span-row[data-span-id='{chat.span_id}']")
    assert page.locator(f".span-row[data-span-id='{chat.span_id}'] .score-mark").count() == 0
    page.fill("#details .fb-comment", "good, but terse")
    page.fill("#details .fb-user", "")
    page.click("#details .fb-up")
    _succeeded(page, "#details", "Saved: thumbs up.")

    [score] = _stored(db_path, first.trace_id)
    assert (score.name, score.value, score.label, score.span_id, score.source, score.user_id, score.comment) == (
        "user_feedback", 1.0, "true", chat.span_id, "human", None, "good, but terse")
    expected = [["user_feedback", "▲ true", "human", "good, but terse", "–", _local(score)]]
    assert _rows(page, "#details") == expected
    assert page.locator(f".span-row[data-span-id='{chat.span_id}'] .score-mark").inner_text() == "★1"
    assert page.locator("#trace-scores .no-scores").count() == 1  # a span's score is not the trace's own

    page.goto(f"{dashboard.url}/#/trace/{first.trace_id}/{chat.span_id}")
    page.reload()
    page.wait_for_selector(f"body[data-rendered='{first.trace_id}']")
    assert page.locator("#details h2.span-name").inner_text() == "llm chat gpt-4o-mini"
    assert _rows(page, "#details") == expected
    assert page.locator("#trace-scores .on-spans").inner_text() == "1 more score on spans (★ in the waterfall)."
    assert page.locator(".span-row .score-mark").all_inner_texts() == ["★1"]
    page.click(".span-row[data-index='0']")  # the root span has none
    assert page.locator("#details .no-scores").inner_text() == "No scores yet."
    assert page.console_errors == []


def test_scores_column_and_score_filter(page, dashboard, db_path):
    low, high, judged = (t.trace_id for t in _traces(db_path))
    with TraceStore(db_path) as store:
        for value in (0.25, 0.75):
            store.add_score("helpfulness", value, trace_id=low, source="llm")
        for value in (False, False):
            store.add_score("user_feedback", value, trace_id=low, source="human")
        store.add_score("user_feedback", True, trace_id=high, source="human")
        for label in ("curt", "friendly", "curt"):
            store.add_score("tone", label, trace_id=judged, source="eval")
    page.goto(dashboard.url + "/")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 3")
    column = {row.get_attribute("data-trace-id"): row.locator("td.scores").inner_text()
              for row in page.locator("tr.trace-row").all()}
    assert column == {low: "helpfulness 0.50 (2) · user_feedback 0.00 (2)", high: "user_feedback 1.00 (1)",
                      judged: "tone curt 2, friendly 1"}

    def shown() -> list[str]:
        return [row.get_attribute("data-trace-id") for row in page.locator("tr.trace-row").all()]

    def apply(name: str, lo: str, hi: str, expected: list[str]) -> list[str]:
        page.fill("#f-score-name", name)
        page.fill("#f-min-score", lo)
        page.fill("#f-max-score", hi)
        with page.expect_response(lambda r: "/api/traces/?" in r.url and "score_name" in r.url) as answer:
            page.click("#filters button[type='submit']")
        assert answer.value.status == 200
        # Wait for this answer's rows, not merely a row count the previous filter may already show.
        wanted = ",".join(sorted(expected))
        try:
            page.wait_for_function(
                "wanted => Array.from(document.querySelectorAll('tr.trace-row'))"
                ".map(row => row.dataset.traceId).sort().join(',') === wanted", arg=wanted, timeout=10_000)
        except PlaywrightTimeout:
            pass  # the assertion below shows what the page shows instead
        return shown()

    assert apply("user_feedback", "0.5", "", [high]) == [high]
    assert apply("user_feedback", "", "0.5", [low]) == [low]
    assert apply("user_feedback", "0", "1", [low, high]) == [low, high]
    assert apply("tone", "", "", [judged]) == [judged]
    with TraceStore(db_path) as store:  # what the page shows is what the store answers
        assert [t.trace_id for t in store.list_traces(score_name="user_feedback", min_score=0.5).traces] == [high]
    page.click("#f-clear")
    page.wait_for_function("document.querySelectorAll('tr.trace-row').length === 3")
    assert page.console_errors == []


def test_user_supplied_score_text_is_inert(page, dashboard, db_path):
    trace = _traces(db_path)[0]
    with TraceStore(db_path) as store:
        store.add_score("<b>tone</b>", "<img src=x onerror=\"window.__xss = 5\">", trace_id=trace.trace_id,
                        source="eval", user_id="<script>window.__xss = 6</script>")
    _open_trace(page, dashboard.url, trace.trace_id)
    page.fill("#trace-scores .fb-comment", XSS_COMMENT)
    page.fill("#trace-scores .fb-user", "<i>mallory</i>")
    page.click("#trace-scores .fb-down")
    _succeeded(page, "#trace-scores", "Saved: thumbs down.")
    page.reload()
    page.wait_for_selector(f"body[data-rendered='{trace.trace_id}']")
    rows = [row[:5] for row in _rows(page, "#trace-scores")]
    assert rows == [["user_feedback", "▼ false", "human", XSS_COMMENT, "<i>mallory</i>"],
                    ["<b>tone</b>", '<img src=x onerror="window.__xss = 5">', "eval", "",
                     "<script>window.__xss = 6</script>"]]
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    cell = page.locator(f"tr.trace-row[data-trace-id='{trace.trace_id}'] td.scores").inner_text()
    assert cell == '<b>tone</b> <img src=x onerror="window.__xss = 5"> 1 · user_feedback 0.00 (1)'
    page.goto(dashboard.url + "/#/stats")
    page.wait_for_selector("table.by-project tbody tr")
    page.wait_for_timeout(300)  # give any onerror handler a chance to fire
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('img, b, i, main script').length") == 0
    assert page.dialogs == [] and page.console_errors == []


@pytest.mark.parametrize(("setup", "comment", "message"), [
    ("numeric", "", "Could not save the feedback: invalid score: value: scores named 'user_feedback' are numeric; "
                    "got a boolean value (1.0)"),
    (None, "x" * 10_001, "Could not save the feedback: invalid score: comment: must be at most 10000 characters, "
                         "got 10001"),
])
def test_a_refused_score_shows_the_servers_reason(page, dashboard, db_path, setup, comment, message):
    trace = _traces(db_path)[0]
    if setup == "numeric":  # the name already holds numbers: a thumb (a boolean) is refused
        with TraceStore(db_path) as store:
            store.add_score("user_feedback", 0.5, trace_id=trace.trace_id)
    before = _stored(db_path, trace.trace_id)
    _open_trace(page, dashboard.url, trace.trace_id)
    page.fill("#trace-scores .fb-comment", comment)
    with page.expect_response(lambda r: r.url.endswith(f"/api/traces/{trace.trace_id}/scores")) as answer:
        page.click("#trace-scores .fb-up")
    assert answer.value.status == 422
    status = page.locator("#trace-scores .fb-status")
    page.wait_for_function("document.querySelector('#trace-scores .fb-status').classList.contains('error')")
    assert status.inner_text() == message
    assert page.input_value("#trace-scores .fb-comment") == comment  # kept, to fix and send again
    assert page.is_enabled("#trace-scores .fb-up")
    assert _stored(db_path, trace.trace_id) == before  # nothing stored


def test_aggregates_show_scores_per_group(page, dashboard, db_path):
    traces = _traces(db_path)
    with TraceStore(db_path) as store:
        for trace, value in zip(traces, (True, False, True)):
            store.add_score("user_feedback", value, trace_id=trace.trace_id, source="human")
        store.add_score("tone", "curt", trace_id=traces[1].trace_id, source="eval")
        [model] = store.stats("model")
        projects = store.stats("project")
    page.goto(dashboard.url + "/#/stats")
    page.wait_for_selector("table.by-project tbody tr")
    assert page.locator("table.by-model thead th").all_inner_texts()[-1] == "Scores"
    shown = page.locator("table.by-model tbody tr").nth(0).locator("td").all_inner_texts()
    assert shown[0] == "gpt-4o-mini"
    expected = " · ".join(
        f"{name} {s['mean']:.2f} ({s['count']})" if s["mean"] is not None
        else f"{name} " + ", ".join(f"{k} {n}" for k, n in sorted(s["labels"].items(), key=lambda kv: (-kv[1], kv[0])))
        for name, s in sorted(model.scores.items()))
    assert shown[-1] == expected
    assert "user_feedback" in expected  # the model's traces carry feedback: the cell is not a vacuous "–"
    by_project = {row.locator("td").nth(0).inner_text(): row.locator("td.scores").inner_text()
                  for row in page.locator("table.by-project tbody tr").all()}
    assert len(by_project) == len(projects)
    assert any("user_feedback" in cell for cell in by_project.values())
    assert page.console_errors == []


def test_span_scores_come_inside_the_trace_json(page, recorder, db_path, serve_app):
    @traceglass.observe(type="tool", name="step")
    def step(i: int) -> int:
        return i

    @traceglass.observe(type="chain", name="big_run")
    def big_run() -> None:
        for i in range(300):
            step(i)

    big_run()
    [trace] = _traces(db_path)
    with TraceStore(db_path) as store:
        scored = [s for s in store.get_trace(trace.trace_id).spans if s.name == "step"][:3]
        for node in scored:
            store.add_score("correct", 1.0, trace_id=trace.trace_id, span_id=node.span_id, source="code")
    server = serve_app(db_path)
    requests: list[str] = []
    page.on("request", lambda r: "/api/" in r.url and requests.append(r.url))
    _open_trace(page, server.url, trace.trace_id)
    assert page.locator(".span-row .score-mark").all_inner_texts() == ["★1", "★1", "★1"]
    for node in scored:
        page.click(f".span-row[data-span-id='{node.span_id}']")
        assert [r[:3] for r in _rows(page, "#details")] == [["correct", "1", "code"]]
    page.focus("#waterfall")
    page.keyboard.press("End")
    assert page.locator("#details .no-scores").count() == 1
    assert [u for u in requests if "/api/traces/" in u] == [f"{server.url}/api/traces/{trace.trace_id}"]



def test_feedback_from_a_dashboard_opened_with_a_token(browser, recorder, db_path, serve_app):
    record_sample(recorder)
    server = serve_app(db_path, token="browser-token")
    trace = _traces(db_path)[0]
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?token=browser-token")  # sets the cookie the page's POST then carries
        page.wait_for_selector("tr.trace-row")
        _open_trace(page, server.url, trace.trace_id)
        page.click("#trace-scores .fb-up")
        _succeeded(page, "#trace-scores", "Saved: thumbs up.")
    finally:
        context.close()
    assert [(s.name, s.value, s.source) for s in _stored(db_path, trace.trace_id)] == [("user_feedback", 1.0, "human")]
