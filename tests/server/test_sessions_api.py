"""GET /api/sessions, /api/sessions/{session_id} and /api/users (issue 19) over a real server and a
real SQLite file written by the traced sample app: exact bodies, cursor paging, and every refusal."""

from __future__ import annotations

from urllib.parse import quote

import pytest

import traceglass
from traceglass.store import TraceStore

from .conftest import get, rag_agent


@pytest.fixture
def server(recorder, db_path, serve_app):
    """Session "chat/1" (alice, two turns), "chat-2" (bob, one turn) and a trace with no session."""
    with traceglass.session("chat/1", user_id="alice"):
        rag_agent("What is the capital of France?", 120, 30)
    with traceglass.session("chat/1", user_id="alice"):
        rag_agent("And of Italy?", 100, 20)
    with traceglass.session("chat-2", user_id="bob"):
        rag_agent("Hello?", 10, 5)
    rag_agent("No session", 10, 5)
    recorder.tracer_provider.force_flush()
    with TraceStore(db_path) as store:
        first = store.sessions(limit=5).sessions[1].session_id
        assert first == "chat/1"
        turn = store.session("chat/1").turns[0].trace_id
        store.add_score("user_feedback", True, trace_id=turn, id="fb-1")
    return serve_app(db_path)


def test_sessions_list_newest_first_with_totals(server, db_path):
    response = get(server.url + "/api/sessions")
    assert response.status_code == 200
    body = response.json()
    with TraceStore(db_path) as store:
        times = {s.session_id: (s.first_seen_ns, s.last_seen_ns) for s in store.sessions()}
        costs = {s.session_id: s.cost_usd for s in store.sessions()}
    assert body == {"next_cursor": None, "sessions": [
        {"session_id": "chat-2", "turn_count": 1, "users": ["bob"], "first_seen_ns": times["chat-2"][0],
         "last_seen_ns": times["chat-2"][1], "errors": 0, "input_tokens": 10, "output_tokens": 5,
         "total_tokens": 15, "cost_usd": costs["chat-2"], "scores": {}},
        {"session_id": "chat/1", "turn_count": 2, "users": ["alice"], "first_seen_ns": times["chat/1"][0],
         "last_seen_ns": times["chat/1"][1], "errors": 0, "input_tokens": 220, "output_tokens": 50,
         "total_tokens": 270, "cost_usd": costs["chat/1"],
         "scores": {"user_feedback": {"mean": 1.0, "count": 1, "labels": {"true": 1}}}},
    ]}
    # Priced by the cost processor from the decorator's per-1k prices: (input * 0.15 + output * 0.6) / 1000.
    assert body["sessions"][1]["cost_usd"] == pytest.approx((220 * 0.15 + 50 * 0.6) / 1000)


def test_sessions_page_by_cursor_and_filter_by_user(server):
    first = get(server.url + "/api/sessions", params={"limit": 1}).json()
    second = get(server.url + "/api/sessions", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [s["session_id"] for s in first["sessions"] + second["sessions"]] == ["chat-2", "chat/1"]
    assert first["next_cursor"] is not None and second["next_cursor"] is None
    alice = get(server.url + "/api/sessions", params={"user": "alice", "since": "1d", "project": ""}).json()
    assert [s["session_id"] for s in alice["sessions"]] == ["chat/1"]


def test_one_session_with_its_turns_in_order(server, db_path):
    response = get(server.url + "/api/sessions/" + quote("chat/1", safe=""))
    assert response.status_code == 200
    body = response.json()
    with TraceStore(db_path) as store:
        expected = store.session("chat/1").to_dict()
    assert body == expected
    assert [(t["input"], t["output"], t["user"], t["status"], t["input_tokens"], t["span_count"])
            for t in body["turns"]] == [
        ("What is the capital of France?", "Answer to: What is the capital of France?", "alice", "OK", 120, 4),
        ("And of Italy?", "Answer to: And of Italy?", "alice", "OK", 100, 4)]
    assert body["turns"][0]["start_ns"] < body["turns"][1]["start_ns"]
    limited = get(server.url + "/api/sessions/chat%2F1", params={"limit": 1}).json()
    assert (limited["turn_count"], [t["input"] for t in limited["turns"]]) == (2, ["What is the capital of France?"])


def test_users_with_calls_sessions_and_scores(server):
    body = get(server.url + "/api/users").json()
    assert [(u["user_id"], u["calls"], u["sessions"], u["errors"], u["input_tokens"], u["scores"])
            for u in body["users"]] == [
        ("bob", 1, 1, 0, 10, {}),
        ("alice", 2, 1, 0, 220, {"user_feedback": {"mean": 1.0, "count": 1, "labels": {"true": 1}}})]
    assert body["next_cursor"] is None
    page = get(server.url + "/api/users", params={"limit": 1}).json()
    assert [u["user_id"] for u in page["users"]] == ["bob"] and page["next_cursor"].endswith(".bob")


@pytest.mark.parametrize("path, params, status, message", [
    ("/api/sessions", {"limit": 0}, 400, "limit must be between 1 and 500, got '0'"),
    ("/api/sessions", {"limit": "ten"}, 400, "limit must be a number, got 'ten'"),
    ("/api/sessions", {"since": "never"}, 400, "since: not a time: 'never' (use epoch seconds, an ISO date/time "
                                               "or an age such as 1h, 7d)"),
    ("/api/sessions", {"cursor": "nope"}, 400, "invalid cursor 'nope'; pass back a next_cursor from sessions()"),
    ("/api/sessions", {"colour": "red"}, 400, "unknown query parameter(s) ['colour']; known: ['cursor', 'limit', "
                                              "'project', 'since', 'until', 'user']"),
    ("/api/users", {"user": "bob"}, 400, "unknown query parameter(s) ['user']; known: ['cursor', 'limit', "
                                         "'project', 'since', 'until']"),
    ("/api/users", {"until": "soon"}, 400, "until: not a time: 'soon' (use epoch seconds, an ISO date/time or an "
                                           "age such as 1h, 7d)"),
    ("/api/sessions/chat-2", {"limit": 5001}, 400, "limit must be between 1 and 5000, got '5001'"),
    ("/api/sessions/chat-2", {"cursor": "x"}, 400, "unknown query parameter(s) ['cursor']; known: ['limit']"),
    ("/api/sessions/nope", {}, 404, "no session with id 'nope'"),
    ("/api/sessions/chat", {}, 404, "no session with id 'chat'"),
])
def test_refusals_say_what_is_wrong(server, path, params, status, message):
    response = get(server.url + path, params=params)
    assert (response.status_code, response.json()) == (status, {"error": message})


def test_pages_are_served_at_sessions_and_users(server):
    index = get(server.url + "/").text
    for path in ("/sessions", "/users"):
        response = get(server.url + path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.text == index
        assert '<script src="/static/sessions.js" defer></script>' in response.text


def test_pages_do_not_wait_for_the_apps_busy_store(server):
    # The app's store serializes its calls; the dashboard's heavy /api/stats (its counts, on every load)
    # held it for seconds over a large store. Sessions read on a connection of their own: they answer
    # while the shared store is held.
    store = server.server.config.app.app.state.store
    with store._lock:
        sessions = get(server.url + "/api/sessions")
        session = get(server.url + "/api/sessions/chat-2")
        users = get(server.url + "/api/users")
    assert [r.status_code for r in (sessions, session, users)] == [200, 200, 200]
    assert [s["session_id"] for s in sessions.json()["sessions"]] == ["chat-2", "chat/1"]
    assert session.json()["turn_count"] == 1 and [u["user_id"] for u in users.json()["users"]] == ["bob", "alice"]
