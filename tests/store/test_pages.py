"""The four page classes (TracePage, ScorePage, SessionPage, UserPage) are public API: their
fields, constructors, iteration, equality, repr and to_dict stay exactly as they were."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass

import pytest

from traceglass.store import ScorePage, SessionPage, TracePage, TraceStore, UserPage


@dataclass
class Row:
    """A stand-in row: pages only iterate their rows and call ``to_dict``."""

    n: int

    def to_dict(self):
        return {"n": self.n}


PAGES = [(TracePage, "traces", "TraceSummary"), (ScorePage, "scores", "Score"),
         (SessionPage, "sessions", "SessionSummary"), (UserPage, "users", "UserSummary")]


@pytest.mark.parametrize(("page_class", "rows", "row_type"), PAGES)
def test_a_page_keeps_its_shape(page_class, rows, row_type):
    assert [(f.name, f.type) for f in dataclasses.fields(page_class)] == [
        (rows, f"list[{row_type}]"), ("next_cursor", "str | None")]
    page = page_class([Row(1), Row(2)], "c2")
    assert page == page_class(**{rows: [Row(1), Row(2)], "next_cursor": "c2"})
    assert page != page_class([Row(1)], "c2") and page != page_class([Row(1), Row(2)], None)
    assert repr(page) == f"{page_class.__name__}({rows}=[Row(n=1), Row(n=2)], next_cursor='c2')"
    assert getattr(page, rows) == [Row(1), Row(2)] and page.next_cursor == "c2"
    assert (list(page), len(page), bool(page)) == ([Row(1), Row(2)], 2, True)
    assert page.to_dict() == {rows: [{"n": 1}, {"n": 2}], "next_cursor": "c2"}
    assert list(page.to_dict()) == [rows, "next_cursor"]  # key order, as the JSON shows them
    empty = page_class([], None)
    assert (list(empty), len(empty), bool(empty), empty.to_dict()) == ([], 0, False, {rows: [], "next_cursor": None})
    assert pickle.loads(pickle.dumps(page)) == page
    assert dataclasses.replace(page, next_cursor=None) == page_class([Row(1), Row(2)], None)
    with pytest.raises(TypeError):
        page_class([Row(1)])  # both fields are required
    assert page.__hash__ is None  # an eq dataclass, unhashable as before


def test_the_store_returns_its_pages(tmp_path, sdk):
    trace_id = sdk.rag_trace(0, session="s1", user="u1")
    with TraceStore(sdk.path) as store:
        store.add_score("quality", 0.5, trace_id=trace_id)
        traces, scores = store.list_traces(), store.scores()
        sessions, users = store.sessions(), store.users()
    assert [type(p) for p in (traces, scores, sessions, users)] == [TracePage, ScorePage, SessionPage, UserPage]
    assert [t.trace_id for t in traces] == [trace_id] and [s.name for s in scores] == ["quality"]
    assert [s.session_id for s in sessions] == ["s1"] and [u.user_id for u in users] == ["u1"]
    assert traces.to_dict() == {"traces": [traces.traces[0].to_dict()], "next_cursor": None}
    assert scores.to_dict() == {"scores": [scores.scores[0].to_dict()], "next_cursor": None}
    assert sessions.to_dict() == {"sessions": [sessions.sessions[0].to_dict()], "next_cursor": None}
    assert users.to_dict() == {"users": [users.users[0].to_dict()], "next_cursor": None}
