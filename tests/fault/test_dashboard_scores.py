"""Faults and hostile data around the dashboard's scores, in real headless Chromium: the server gone while
feedback is posted, and stored scores at the limits of what the store accepts."""

from __future__ import annotations

import pytest

from traceglass.store import TraceStore
from tests.server.conftest import db_path, recorder, record_sample, serve_app  # noqa: F401 - fixtures
from tests.server.test_browser import _open_trace, _traces, browser, page  # noqa: F401 - fixtures


@pytest.fixture
def dashboard(recorder, db_path, serve_app):  # noqa: F811 - the imported fixtures
    record_sample(recorder)
    return serve_app(db_path)


def test_feedback_while_the_server_is_gone_says_so_and_can_be_retried(page, dashboard, db_path):  # noqa: F811
    trace = _traces(db_path)[0]
    _open_trace(page, dashboard.url, trace.trace_id)
    page.fill("#trace-scores .fb-comment", "kept for a retry")
    dashboard.stop()
    page.click("#trace-scores .fb-down")
    page.wait_for_function("document.querySelector('#trace-scores .fb-status').classList.contains('error')",
                           timeout=15_000)
    status = page.locator("#trace-scores .fb-status").inner_text()
    assert status.startswith("Could not save the feedback: the server could not be reached ("), status
    assert page.input_value("#trace-scores .fb-comment") == "kept for a retry"
    assert page.is_enabled("#trace-scores .fb-down") and page.is_enabled("#trace-scores .fb-up")
    with TraceStore(db_path) as store:
        assert store.scores(trace_id=trace.trace_id).scores == []


def test_scores_at_the_limits_render_as_text(page, dashboard, db_path):  # noqa: F811
    trace = _traces(db_path)[0]
    long_comment = "line\n" * 1_999 + "€" * 5  # 10,000 characters, the longest accepted
    name = "n" * 200
    label = "\u202eevil\u200b" + "<" * 190  # bidi override, zero-width space, markup characters
    with TraceStore(db_path) as store:
        store.add_score(name, 1e308, trace_id=trace.trace_id, comment=long_comment, user_id="u" * 1_000)
        store.add_score("verdict", label, trace_id=trace.trace_id, source="llm")
        store.add_score("tiny", -1e-12, trace_id=trace.trace_id, source="code")
    _open_trace(page, dashboard.url, trace.trace_id)
    rows = {cells[0]: cells for cells in (row.locator("td").all_text_contents()
                                          for row in page.locator("#trace-scores table.scores tr.score").all())}
    assert set(rows) == {name, "verdict", "tiny"}
    assert rows[name][1:5] == ["1e+308", "api", long_comment, "u" * 1_000]
    assert rows["verdict"][1:3] == [label, "llm"]
    assert rows["tiny"][1] == "0"  # four decimals: -1e-12 reads as 0, never "-0" or an exponent
    page.goto(dashboard.url + "/")
    page.wait_for_selector("tr.trace-row")
    cell = page.locator(f"tr.trace-row[data-trace-id='{trace.trace_id}'] td.scores").text_content()
    assert cell == f"{name} 1e+308 (1) · tiny 0.00 (1) · verdict {label} 1"
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    assert page.console_errors == []
