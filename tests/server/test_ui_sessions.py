"""The Sessions and Users pages (issue 19) in real headless Chromium over a real SQLite file written by
the traced sample app: what the lists show, a session read as a transcript, a turn expanded into its
trace, the links between them, and markup from the store shown as text."""

from __future__ import annotations

import pytest

import traceglass
from traceglass.store import TraceStore

from .conftest import rag_agent
from .test_browser import _screenshot, browser, page  # noqa: F401 - the browser fixtures

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def dashboard(recorder, db_path, serve_app):
    """ann: one session of two turns; a hostile user and session id with one turn; a trace with no session."""
    with traceglass.session("trip-1", user_id="ann"):
        rag_agent("Where should I eat in Lisbon?", 120, 30)
    with traceglass.session("trip-1", user_id="ann"):
        rag_agent("And a museum?", 100, 20)
    with traceglass.session("x" + HOSTILE, user_id=HOSTILE):
        rag_agent(HOSTILE, 10, 5)
    rag_agent("No session", 10, 5)
    recorder.tracer_provider.force_flush()
    with TraceStore(db_path) as store:
        store.add_score("user_feedback", True, trace_id=store.session("trip-1").turns[0].trace_id)
    return serve_app(db_path)


def _cells(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(selector, "rows => rows.map(r => [...r.cells].map(c => c.innerText))")


def _cost(value) -> str:
    return f"${value:.6f}"


def test_sessions_page_lists_the_stored_sessions(page, dashboard, db_path):
    page.goto(dashboard.url + "/sessions")
    page.wait_for_selector("body[data-sessions-rendered='sessions']")
    with TraceStore(db_path) as store:
        stored = store.sessions().sessions
    assert [s.session_id for s in stored] == ["x" + HOSTILE, "trip-1"]
    rows = _cells(page, "tr.session-row")
    # Session, users, turns, first seen, last seen, tokens, cost, errors, scores (times are local).
    assert [[r[0], r[1], r[2], r[5], r[6], r[7], r[8]] for r in rows] == [
        ["x" + HOSTILE, HOSTILE, "1", "15", _cost(stored[0].cost_usd), "0", "–"],
        ["trip-1", "ann", "2", "270", _cost(stored[1].cost_usd), "0", "user_feedback 1.00 (1)"],
    ]
    assert page.locator("#nav-sessions").get_attribute("aria-current") == "page"
    assert page.locator("#view-list").is_hidden()
    # Markup from the store is text: no image element was made, no script ran.
    assert page.locator("#view-sessions img").count() == 0 and page.dialogs == []
    _screenshot(page, "dashboard-sessions.png")
    assert page.console_errors == []


def test_a_session_reads_as_a_transcript_and_opens_its_traces(page, dashboard, db_path):
    with TraceStore(db_path) as store:
        turns = store.session("trip-1").turns
    page.goto(dashboard.url + "/#/sessions")
    page.wait_for_selector("tr.session-row[data-session='trip-1']")
    page.click("tr.session-row[data-session='trip-1'] td.sessions-id a")
    page.wait_for_selector("body[data-sessions-rendered='session']")
    assert page.url.endswith("#/sessions/trip-1")
    assert page.locator("h2.session-id").inner_text() == "trip-1"
    articles = page.locator("article.turn")
    assert [articles.nth(i).get_attribute("data-trace-id") for i in range(articles.count())] == [
        t.trace_id for t in turns]
    assert [(articles.nth(i).locator(".msg-user .msg-text").inner_text(),
             articles.nth(i).locator(".msg-assistant .msg-text").inner_text()) for i in range(2)] == [
        ("Where should I eat in Lisbon?", "Answer to: Where should I eat in Lisbon?"),
        ("And a museum?", "Answer to: And a museum?")]
    assert "user_feedback 1.00 (1)" in articles.nth(0).locator(".turn-meta").inner_text()
    # Expanded into its trace: the spans of the turn's trace, in tree order.
    articles.nth(0).locator("summary").click()
    articles.nth(0).locator("li.turn-span").first.wait_for()
    names = articles.nth(0).locator("li.turn-span a").all_inner_texts()
    assert names == ["rag_agent", "retrieve", "lookup_weather", "chat gpt-4o-mini"]
    _screenshot(page, "dashboard-session.png")
    articles.nth(1).locator("a.turn-open").click()
    page.wait_for_selector(f"body[data-rendered='{turns[1].trace_id}']")
    assert page.locator("#view-trace").is_visible() and page.locator("#view-sessions").is_hidden()
    assert page.console_errors == []


def test_a_hostile_session_renders_as_text(page, dashboard):
    page.goto(dashboard.url + "/#/sessions")
    page.wait_for_selector("tr.session-row")
    page.locator("tr.session-row").first.locator("td.sessions-id a").click()
    page.wait_for_selector("body[data-sessions-rendered='session']")
    assert page.locator("h2.session-id").inner_text() == "x" + HOSTILE
    assert page.locator(".msg-user .msg-text").inner_text() == HOSTILE
    assert page.locator("#view-sessions img").count() == 0 and page.dialogs == []
    assert page.console_errors == []


def test_users_page_links_to_each_users_sessions(page, dashboard, db_path):
    page.goto(dashboard.url + "/users")
    page.wait_for_selector("body[data-sessions-rendered='users']")
    with TraceStore(db_path) as store:
        stored = store.users().users
    rows = _cells(page, "tr.user-row")
    # User, calls, sessions, errors, tokens, cost (then first/last seen and scores).
    assert [r[:6] + r[8:] for r in rows] == [
        [HOSTILE, "1", "1", "0", "15", _cost(stored[0].cost_usd), "–"],
        ["ann", "2", "1", "0", "270", _cost(stored[1].cost_usd), "user_feedback 1.00 (1)"],
    ]
    _screenshot(page, "dashboard-users.png")
    page.click("tr.user-row[data-user='ann'] td.sessions-id a")
    page.wait_for_selector("body[data-sessions-rendered='sessions']")
    assert page.url.endswith("#/sessions?user=ann")
    assert page.locator("#sessions-title").inner_text() == "Sessions of ann"
    assert [r[0] for r in _cells(page, "tr.session-row")] == ["trip-1"]
    assert page.locator("#nav-sessions").get_attribute("aria-current") == "page"
    assert page.console_errors == [] and page.dialogs == []


def test_an_unknown_session_says_so(page, dashboard):
    page.goto(dashboard.url + "/#/sessions/nope")
    page.wait_for_selector("#sessions-body p.error")
    assert page.locator("#sessions-body p.error").inner_text() == (
        "Could not load the session: HTTP 404: no session with id 'nope'")
