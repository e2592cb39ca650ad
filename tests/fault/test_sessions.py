"""Sessions and users under hostile input (issue 19): ids and captured content no app should send, odd
rows, hostile query parameters, a database that disappears. Each is read back as stored (or refused
with a 4xx naming the problem), never a 500 and never a crash."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.server.app import create_app
from traceglass.store import TraceStore
from traceglass.store._turn_text import chat_text, turn_texts

from ..server.conftest import RunningServer, serve_app  # noqa: F401 - the fixture

BASE_NS = 1_800_000_000 * 10**9
HOSTILE_IDS = ["x" * 5000, "ünï\u202ecode", "a/b/../c", "%2F%00", "'; DROP TABLE traces; --", "\u0000nul", "  ",
               "<script>alert(1)</script>", "🙂" * 100, "?q=1#frag"]


def _turn(store: TraceStore, n: int, session: str, user: str, **extra) -> None:
    store.upsert_span({"trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}", "name": "turn",
                       "start_ns": BASE_NS + n * 10**9, "end_ns": BASE_NS + n * 10**9 + 10**8, "session": session,
                       "user": user, **extra})


@pytest.fixture
def hostile_db(tmp_path):
    path = tmp_path / "h.db"
    with TraceStore(path) as store:
        for n, session in enumerate(HOSTILE_IDS):
            _turn(store, n, session, session[::-1], input=session, output={"answer": session})
    return path


def test_hostile_ids_read_back_as_stored(hostile_db):
    with TraceStore(hostile_db) as store:
        listed = [s.session_id for s in store.sessions(limit=100)]
        users = [u.user_id for u in store.users(limit=100)]
        turns = {sid: store.session(sid).turns for sid in HOSTILE_IDS}
    assert sorted(listed) == sorted(HOSTILE_IDS) and len(users) == len(HOSTILE_IDS)
    assert {sid: [(t.input, t.output) for t in ts] for sid, ts in turns.items()} == {
        sid: [(sid, sid)] for sid in HOSTILE_IDS}


def test_hostile_ids_over_rest(hostile_db, serve_app):
    server = serve_app(hostile_db)
    listed = httpx.get(server.url + "/api/sessions", params={"limit": 100}, timeout=10)
    assert listed.status_code == 200
    assert sorted(s["session_id"] for s in listed.json()["sessions"]) == sorted(HOSTILE_IDS)
    for sid in HOSTILE_IDS:
        one = httpx.get(server.url + "/api/sessions/" + quote(sid, safe=""), timeout=10)
        assert (one.status_code, one.json().get("session_id")) == (200, sid), sid
    for params in ({"since": "9" * 40}, {"limit": "1e9"}, {"cursor": "\x00"}, {"cursor": "9" * 30 + ".x"},
                   {"until": "2262-04-12"}, {"project": "\x00" * 3}, {"user": "'"}):
        answer = httpx.get(server.url + "/api/sessions", params=params, timeout=10)
        assert answer.status_code in (200, 400), (params, answer.text)
        assert "error" in answer.json() if answer.status_code == 400 else "sessions" in answer.json()


def test_a_deleted_database_is_a_503_not_a_crash(tmp_path, serve_app):
    path = tmp_path / "gone.db"
    with TraceStore(path) as store:
        _turn(store, 0, "s", "u")
    app = create_app(path)
    server = RunningServer(app).start()
    try:
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"gone.db{suffix}").unlink(missing_ok=True)
        answers = [httpx.get(server.url + path, timeout=10) for path in ("/api/sessions", "/api/sessions/s",
                                                                         "/api/users")]
    finally:
        server.stop()
    # The app's own connection still reads the unlinked file (its inode), or the database is reported gone.
    for answer in answers:
        assert answer.status_code in (200, 404, 503), answer.text
        assert answer.json()


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: (st.lists(inner, max_size=4)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=st.dictionaries(st.sampled_from(["traceglass.input", "traceglass.output", "x"]),
                            _JSON.map(json.dumps) | st.text(max_size=30), max_size=3),
       calls=st.lists(st.dictionaries(st.sampled_from(["gen_ai.input.messages", "gen_ai.output.messages"]),
                                      _JSON.map(json.dumps) | _JSON, max_size=2), max_size=3))
def test_any_captured_value_gives_text_or_none(root, calls):
    said, answered = turn_texts(root, calls)
    assert said is None or isinstance(said, str)
    assert answered is None or isinstance(answered, str)


def test_deeply_nested_messages_do_not_recurse_without_bound():
    value: object = "deep"
    for _ in range(5000):
        value = {"messages": value}
    assert chat_text(value, "user") is None or isinstance(chat_text(value, "user"), str)
