"""Sessions and users in the store (issue 19): per-session and per-user totals with exact rows,
newest first with cursor paging and filters, one session's turns in order read as a chat exchange
(the root's captured input/output, else the model calls' messages), and what each turn says."""

from __future__ import annotations

import json
import sqlite3

import pytest

from traceglass.store import TraceStore
from traceglass.store._turn_text import TEXT_LIMIT, chat_text, turn_texts

from ._helpers import BASE_S, make_sdk, ns


def _turn(sdk, start_s: float, *, session: str | None, user: str | None, question: str, answer: str,
          project_attrs: dict | None = None, error: bool = False, root_io: bool = True, cost: float = 0.001,
          tokens: tuple[int, int] = (100, 20)) -> str:
    """A chat turn: root chain (captured input/output when ``root_io``) -> one model call with messages."""
    attributes = {"traceglass.span.type": "chain", **(project_attrs or {})}
    if session:
        attributes["session.id"] = session
    if user:
        attributes["user.id"] = user
    if root_io:
        attributes["traceglass.input"] = json.dumps({"history": [], "question": question})
        attributes["traceglass.output"] = json.dumps(answer)

    def children(root):
        sdk.span("chat gpt-4o-mini", start_s + 0.1, start_s + 0.9, parent=root, attributes={
            "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1],
            "traceglass.cost.total_usd": cost,
            "gen_ai.input.messages": json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]}]),
            "gen_ai.output.messages": json.dumps([
                {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]),
        }, error="RateLimitError" if error else None)

    root = sdk.span("chat_turn", start_s, start_s + 1.0, attributes=attributes, children=children,
                    error="RateLimitError" if error else None)
    return format(root.get_span_context().trace_id, "032x")


@pytest.fixture
def chats(store_target):
    """Two users, three sessions, five turns (one failed), one trace without a session, and scores
    (on each backend: a SQLite file, a PostgreSQL database)."""
    path = store_target
    sdk = make_sdk(path)
    ids = {
        "a1": _turn(sdk, BASE_S + 0, session="s-a", user="ann", question="Hi?", answer="Hello!"),
        "a2": _turn(sdk, BASE_S + 10, session="s-a", user="ann", question="Price?", answer="Ten euros.",
                    cost=0.002, tokens=(200, 40)),
        "b1": _turn(sdk, BASE_S + 20, session="s-b", user="bob", question="Broken?", answer="Sorry.", error=True),
        "a3": _turn(sdk, BASE_S + 30, session="s-c", user="ann", question="Again?", answer="Yes.", root_io=False),
        "b2": _turn(sdk, BASE_S + 40, session="s-b", user="bob", question="Now?", answer="Works."),
        "none": _turn(sdk, BASE_S + 50, session=None, user=None, question="Alone?", answer="Yes."),
    }
    sdk.provider.shutdown()
    with TraceStore(path) as store:
        store.add_score("user_feedback", True, trace_id=ids["a1"], id="f1")
        store.add_score("user_feedback", False, trace_id=ids["a2"], id="f2")
        store.add_score("tone", "friendly", trace_id=ids["b2"], id="t1")
    return path, ids


def test_sessions_newest_first_with_exact_totals(chats):
    path, ids = chats
    with TraceStore(path) as store:
        page = store.sessions()
    assert page.next_cursor is None
    assert [s.to_dict() for s in page] == [
        {"session_id": "s-b", "turn_count": 2, "users": ["bob"], "first_seen_ns": ns(BASE_S + 20),
         "last_seen_ns": ns(BASE_S + 40), "errors": 1, "input_tokens": 200, "output_tokens": 40,
         "total_tokens": 240, "cost_usd": pytest.approx(0.002), "scores": {
             "tone": {"mean": None, "count": 1, "labels": {"friendly": 1}}}},
        {"session_id": "s-c", "turn_count": 1, "users": ["ann"], "first_seen_ns": ns(BASE_S + 30),
         "last_seen_ns": ns(BASE_S + 30), "errors": 0, "input_tokens": 100, "output_tokens": 20,
         "total_tokens": 120, "cost_usd": pytest.approx(0.001), "scores": {}},
        {"session_id": "s-a", "turn_count": 2, "users": ["ann"], "first_seen_ns": ns(BASE_S),
         "last_seen_ns": ns(BASE_S + 10), "errors": 0, "input_tokens": 300, "output_tokens": 60,
         "total_tokens": 360, "cost_usd": pytest.approx(0.003), "scores": {
             "user_feedback": {"mean": 0.5, "count": 2, "labels": {"false": 1, "true": 1}}}},
    ]


def test_sessions_pages_follow_the_cursor_without_repeats_or_gaps(chats):
    path, _ = chats
    with TraceStore(path) as store:
        first = store.sessions(limit=1)
        second = store.sessions(limit=1, cursor=first.next_cursor)
        third = store.sessions(limit=1, cursor=second.next_cursor)
        two = store.sessions(limit=2)
    assert [s.session_id for s in (*first, *second, *third)] == ["s-b", "s-c", "s-a"]
    assert first.next_cursor == f"{ns(BASE_S + 40)}.s-b"
    assert third.next_cursor is None
    assert [s.session_id for s in two] == ["s-b", "s-c"] and two.next_cursor == f"{ns(BASE_S + 30)}.s-c"


def test_a_cursor_skips_a_session_listed_before_even_when_its_older_turns_follow(tmp_path):
    # s-x's turns are at 0 and 30, s-y's at 10 and 20: s-x is first (latest at 30) and must not
    # come back on page 2 when the walk from s-y's time meets its turn at 0.
    path = tmp_path / "t.db"
    sdk = make_sdk(path)
    for start, session in ((0, "s-x"), (10, "s-y"), (20, "s-y"), (30, "s-x")):
        _turn(sdk, BASE_S + start, session=session, user="u", question="q", answer="a")
    sdk.provider.shutdown()
    with TraceStore(path) as store:
        first = store.sessions(limit=1)
        second = store.sessions(limit=1, cursor=first.next_cursor)
    assert [s.session_id for s in first] == ["s-x"]
    assert [(s.session_id, s.turn_count) for s in second] == [("s-y", 2)]
    assert second.next_cursor is None


def test_sessions_at_the_same_time_page_by_id(tmp_path):
    path = tmp_path / "t.db"
    sdk = make_sdk(path)
    for session in ("s-1", "s-3", "s-2"):
        _turn(sdk, BASE_S, session=session, user="u", question="q", answer="a")
    sdk.provider.shutdown()
    with TraceStore(path) as store:
        seen, cursor = [], None
        for _ in range(5):
            page = store.sessions(limit=1, cursor=cursor)
            seen += [s.session_id for s in page]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ["s-3", "s-2", "s-1"]


def test_ties_are_all_read_before_a_page_is_cut(tmp_path):
    # Five sessions at the same time; the walk meets them in trace id order (s-1 first), so the page
    # of the two greatest ids (s-5, s-4) is right only when every tied trace is read.
    with TraceStore(tmp_path / "t.db") as store:
        for n in range(1, 6):
            store.upsert_span({"trace_id": f"{10 - n:032x}", "span_id": f"{n:016x}", "name": "turn",
                               "start_ns": ns(BASE_S), "end_ns": ns(BASE_S + 1), "session": f"s-{n}", "user": "u"})
        first = store.sessions(limit=2)
        rest = store.sessions(limit=5, cursor=first.next_cursor)
        users = store.users(limit=1)
    assert [s.session_id for s in first] == ["s-5", "s-4"]
    assert [s.session_id for s in rest] == ["s-3", "s-2", "s-1"] and rest.next_cursor is None
    assert [(u.user_id, u.calls, u.sessions) for u in users] == [("u", 5, 5)]


def test_sessions_filters_count_only_the_traces_in_scope(chats):
    path, _ = chats
    with TraceStore(path) as store:
        in_range = store.sessions(since=BASE_S + 10, until=BASE_S + 40)
        of_ann = store.sessions(user="ann")
        other_project = store.sessions(project="nowhere")
    assert [(s.session_id, s.turn_count, s.first_seen_ns, s.last_seen_ns) for s in in_range] == [
        ("s-c", 1, ns(BASE_S + 30), ns(BASE_S + 30)), ("s-b", 1, ns(BASE_S + 20), ns(BASE_S + 20)),
        ("s-a", 1, ns(BASE_S + 10), ns(BASE_S + 10))]
    assert in_range.sessions[2].scores == {"user_feedback": {"mean": 0.0, "count": 1, "labels": {"false": 1}}}
    assert [s.session_id for s in of_ann] == ["s-c", "s-a"]
    assert list(other_project) == []


def test_session_turns_in_order_read_as_a_chat(chats):
    path, ids = chats
    with TraceStore(path) as store:
        session = store.session("s-a")
        ann_c = store.session("s-c")
        assert store.session("nope") is None
    data = session.to_dict()
    turns = data.pop("turns")
    assert data == {"session_id": "s-a", "turn_count": 2, "users": ["ann"], "first_seen_ns": ns(BASE_S),
                    "last_seen_ns": ns(BASE_S + 10), "errors": 0, "input_tokens": 300, "output_tokens": 60,
                    "total_tokens": 360, "cost_usd": pytest.approx(0.003),
                    "scores": {"user_feedback": {"mean": 0.5, "count": 2, "labels": {"false": 1, "true": 1}}}}
    assert turns == [
        {"trace_id": ids["a1"], "name": "chat_turn", "start_ns": ns(BASE_S), "end_ns": ns(BASE_S + 1),
         "latency_ms": 1000.0, "status": "OK", "user": "ann", "input": "Hi?", "output": "Hello!", "span_count": 2,
         "error_count": 0, "input_tokens": 100, "output_tokens": 20, "total_tokens": 120,
         "cost_usd": pytest.approx(0.001),
         "scores": {"user_feedback": {"mean": 1.0, "count": 1, "labels": {"true": 1}}}},
        {"trace_id": ids["a2"], "name": "chat_turn", "start_ns": ns(BASE_S + 10), "end_ns": ns(BASE_S + 11),
         "latency_ms": 1000.0, "status": "OK", "user": "ann", "input": "Price?", "output": "Ten euros.",
         "span_count": 2, "error_count": 0, "input_tokens": 200, "output_tokens": 40, "total_tokens": 240,
         "cost_usd": pytest.approx(0.002),
         "scores": {"user_feedback": {"mean": 0.0, "count": 1, "labels": {"false": 1}}}},
    ]
    # No captured input/output on the root: the model call's user message and answer.
    assert [(t.input, t.output) for t in ann_c.turns] == [("Again?", "Yes.")]


def test_session_limit_keeps_the_first_turns_and_counts_all(chats):
    path, ids = chats
    with TraceStore(path) as store:
        session = store.session("s-b", limit=1)
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            store.session("s-b", limit=0)
    assert session.turn_count == 2 and session.errors == 1
    assert [(t.trace_id, t.status, t.input, t.output, t.error_count) for t in session.turns] == [
        (ids["b1"], "ERROR", "Broken?", "Sorry.", 2)]


def test_users_with_calls_sessions_errors_and_scores(chats):
    path, _ = chats
    with TraceStore(path) as store:
        page = store.users()
        first = store.users(limit=1)
        second = store.users(limit=1, cursor=first.next_cursor)
        ranged = store.users(until=BASE_S + 15)
    assert [u.to_dict() for u in page] == [
        {"user_id": "bob", "calls": 2, "sessions": 1, "first_seen_ns": ns(BASE_S + 20),
         "last_seen_ns": ns(BASE_S + 40), "errors": 1, "input_tokens": 200, "output_tokens": 40,
         "total_tokens": 240, "cost_usd": pytest.approx(0.002),
         "scores": {"tone": {"mean": None, "count": 1, "labels": {"friendly": 1}}}},
        {"user_id": "ann", "calls": 3, "sessions": 2, "first_seen_ns": ns(BASE_S),
         "last_seen_ns": ns(BASE_S + 30), "errors": 0, "input_tokens": 400, "output_tokens": 80,
         "total_tokens": 480, "cost_usd": pytest.approx(0.004),
         "scores": {"user_feedback": {"mean": 0.5, "count": 2, "labels": {"false": 1, "true": 1}}}},
    ]
    assert page.next_cursor is None
    assert [u.user_id for u in (*first, *second)] == ["bob", "ann"] and second.next_cursor is None
    assert [(u.user_id, u.calls, u.sessions) for u in ranged] == [("ann", 2, 1)]


@pytest.mark.parametrize("cursor", ["nope", "12", "x.s-a", f"{2**70}.s-a"])
def test_a_bad_cursor_or_time_is_a_value_error_naming_it(chats, cursor):
    path, _ = chats
    with TraceStore(path) as store:
        with pytest.raises(ValueError, match="invalid cursor"):
            store.sessions(cursor=cursor)
        with pytest.raises(ValueError, match="invalid cursor"):
            store.users(cursor=cursor)
        with pytest.raises(ValueError, match="since"):
            store.sessions(since="never")
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            store.users(limit=True)


def test_hand_written_rows_read_as_unknown_not_as_a_failure(tmp_path):
    path = tmp_path / "odd.db"
    sdk = make_sdk(path)
    _turn(sdk, BASE_S, session="s-odd", user="u", question="q", answer="a")
    sdk.provider.shutdown()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE traces SET input_tokens = ?, cost_usd = 'lots', status = 'odd'", (2**62,))
        conn.execute("INSERT INTO traces (trace_id, start_ns, status, span_count, error_count, input_tokens, "
                     "output_tokens, total_tokens, session_id, user_id) VALUES (?, ?, 'OK', 0, 0, ?, 0, 0, 's-odd', "
                     "'u')", ("f" * 32, ns(BASE_S + 1), 2**62))
    conn.close()
    with TraceStore(path) as store:
        [summary] = store.sessions()
        session = store.session("s-odd")
        [user] = store.users()
    # The two huge counts overflow a 64-bit sum: it is redone over the plausible values only, as
    # stats does (text in the cost column is no cost).
    assert (summary.turn_count, summary.input_tokens, summary.output_tokens, summary.cost_usd) == (2, 0, 20, None)
    assert (user.calls, user.input_tokens, user.output_tokens) == (2, 0, 20)
    assert [(t.input, t.output, t.status) for t in session.turns] == [("q", "a", "odd"), (None, None, "OK")]


# -- what a turn says ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, role, expected", [
    ("plain text", "user", "plain text"),
    ({"question": "Why?", "history": [{"role": "user", "content": "old"}]}, "user", "Why?"),
    ([{"role": "system", "content": "sys"}, {"role": "user", "content": "first"},
      {"role": "assistant", "content": "mid"}, {"role": "user", "content": "last"}], "user", "last"),
    ({"messages": [{"type": "human", "content": "Paris?"}, {"type": "ai", "content": "Sunny."}]}, "assistant",
     "Sunny."),
    ({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "assistant",
     "a\nb"),
    ([{"role": "user", "parts": [{"type": "text", "content": "otel"}]}], "user", "otel"),
    ({"client": "<obj>", "n": 3}, "user", None),
    (["reply text", "trace-id"], "assistant", None),
    (42, "user", None),
])
def test_chat_text_finds_the_message_in_usual_shapes(value, role, expected):
    assert chat_text(value, role) == expected


def test_turn_texts_fall_back_to_model_calls_then_to_compact_json():
    call = {"gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Q1"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text",
                                                                                   "content": "A1"}]}])}
    last = {"gen_ai.input.messages": json.dumps([{"role": "user", "content": "Q2"}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "A2"}])}
    # The root's output is not chat-shaped (a tuple of reply and id): the last call's answer.
    root = {"traceglass.input": json.dumps({"client": "x", "n": 1}), "traceglass.output": json.dumps(["r", "id"])}
    assert turn_texts(root, [call, last]) == ("Q1", "A2")
    assert turn_texts(root, []) == ('{"client":"x","n":1}', '["r","id"]')
    assert turn_texts(None, []) == (None, None)
    assert turn_texts({"traceglass.input": "not json {"}, []) == ("not json {", None)
    long = "x" * (TEXT_LIMIT + 5)
    said, _ = turn_texts({"traceglass.input": json.dumps(long)}, [])
    assert len(said) == TEXT_LIMIT and said.endswith("…")


@pytest.mark.sqlite_only("reads SQLite's EXPLAIN QUERY PLAN")
def test_a_users_totals_read_the_user_index_alone(chats):
    # Schema 8: the user index covers what a page of users totals, so no trace row is read at random.
    path, _ = chats
    with TraceStore(path):
        pass  # opened (and migrated) by the store
    conn = sqlite3.connect(path)
    try:
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT user_id, count(*), count(DISTINCT session_id), min(start_ns), "
                            "max(start_ns), sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END), sum(input_tokens), "
                            "sum(output_tokens), sum(total_tokens), sum(cost_usd) FROM traces WHERE user_id IN "
                            "(SELECT value FROM json_each(?)) AND +project = ? GROUP BY user_id",
                            ('["ann"]', "shop")).fetchall()
    finally:
        conn.close()
    assert any("USING COVERING INDEX traces_user (user_id=?)" in row[3] for row in plan), plan
