"""The scores REST API over a real SQLite store, through a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from traceglass.store import TraceStore

from .conftest import get, record_sample

TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "b7ad6b7169203331"


@pytest.fixture
def server(db_path, serve_app):
    return serve_app(db_path)


def post(server: Any, trace_id: str, body: Any = None, *, content: bytes | None = None,
         content_type: str = "application/json", **headers: str) -> httpx.Response:
    raw = content if content is not None else json.dumps(body).encode()
    return httpx.post(f"{server.url}/api/traces/{trace_id}/scores", content=raw, timeout=10,
                      headers={"content-type": content_type, **headers})


def stored(db_path: Any) -> list[dict[str, Any]]:
    with TraceStore(db_path) as store:
        return [score.to_dict() for score in store.scores(limit=500)]


def test_post_a_score_to_a_recorded_trace_and_read_it_back(recorder, db_path, server):
    record_sample(recorder)
    with TraceStore(db_path) as store:
        trace_id = store.list_traces(limit=1).traces[0].trace_id
    body = {"name": "helpfulness", "value": 0.75, "comment": "mostly right", "source": "human",
            "user_id": "alice", "metadata": {"app": "chat", "turn": 3}}
    response = post(server, trace_id.upper(), body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    score = response.json()
    assert stored(db_path) == [score]
    created_at, score_id = score.pop("created_at"), score.pop("id")
    assert score == {"name": "helpfulness", "value": 0.75, "label": None, "data_type": "numeric",
                     "trace_id": trace_id, "span_id": None, "comment": "mostly right", "source": "human",
                     "user_id": "alice", "metadata": {"app": "chat", "turn": 3}}
    assert len(score_id) == 32 and created_at.endswith("+00:00")

    listed = get(f"{server.url}/api/traces/{trace_id}/scores")
    assert listed.status_code == 200
    assert listed.json() == {"scores": stored(db_path), "next_cursor": None}
    trace = get(f"{server.url}/api/traces/{trace_id}").json()
    assert [s["id"] for s in trace["scores"]] == [score_id]


def test_the_same_id_updates_instead_of_adding(db_path, server):
    first = post(server, TRACE, {"name": "thumbs", "value": True, "id": "fb-1", "source": "human"})
    assert first.status_code == 201, first.text
    again = post(server, TRACE, {"name": "thumbs", "value": False, "id": "fb-1", "source": "human",
                                 "comment": "changed my mind", "span_id": SPAN.upper()})
    assert again.status_code == 200, again.text
    rows = stored(db_path)
    assert rows == [again.json()]
    assert {k: rows[0][k] for k in ("id", "value", "label", "data_type", "comment", "span_id")} == {
        "id": "fb-1", "value": 0.0, "label": "false", "data_type": "boolean", "comment": "changed my mind",
        "span_id": SPAN}


def test_a_trace_not_seen_yet_is_accepted(db_path, server):
    response = post(server, OTHER, {"name": "tone", "value": "polite"})
    assert response.status_code == 201, response.text
    assert (response.json()["label"], response.json()["value"], response.json()["data_type"]) == (
        "polite", None, "categorical")
    assert get(f"{server.url}/api/traces/{OTHER}").status_code == 404  # no spans yet
    assert get(f"{server.url}/api/traces/{OTHER}/scores").json()["scores"] == [response.json()]


def _problems(response: httpx.Response) -> list[tuple[str, str]]:
    body = response.json()
    assert body["error"] == "invalid score", body
    return [(p["field"], p["message"]) for p in body["problems"]]


@pytest.mark.parametrize(
    ("trace_id", "content", "problems"),
    [
        (TRACE, b"{", [("body", ("is not valid JSON: Expecting property name enclosed in double quotes: "
                                "line 1 column 2 (char 1)"))]),
        (TRACE, b"[1, 2]", [("body", "must be a JSON object (one score), got list")]),
        (TRACE, b'{"name": "q", "value": NaN}', [("value", "must be a finite number, got nan")]),
        (TRACE, b'{"name": "q", "value": 1e999}', [("value", "must be a finite number, got inf")]),
        (TRACE, b'{"name": "q", "value": ' + b"9" * 5000 + b"}",
         [("body", ("is not valid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has "
                   "5000 digits; use sys.set_int_max_str_digits() to increase the limit"))]),
        (TRACE, b'{"name": "q"}', [("value", "is required")]),
        (TRACE, b'{"name": "q", "value": [1]}', [("value", "must be a number, a bool or a label string, got list")]),
        (TRACE, json.dumps({"name": " ", "value": 1}).encode(), [("name", "must not be empty")]),
        (TRACE, json.dumps({"name": "n" * 201, "value": 1}).encode(),
         [("name", "must be at most 200 characters, got 201")]),
        (TRACE, json.dumps({"name": "q", "value": 1, "comment": "c" * 10_001}).encode(),
         [("comment", "must be at most 10000 characters, got 10001")]),
        (TRACE, json.dumps({"name": 7, "value": 1, "trace_id": OTHER}).encode(),
         [("trace_id", f"must be left out or equal the path's trace id, got '{OTHER}'"),
          ("name", "must be a string, got int")]),
        # Every problem at once, the path's trace id first.
        ("xyz", json.dumps({"name": "", "value": "", "span_id": "zz", "source": "robot", "colour": "red",
                            "metadata": [1]}).encode(),
         [("trace_id", "must be 32 hex digits, not all zero, got 'xyz'"),
          ("colour", "is not a score field (known: name, value, span_id, comment, source, user_id, metadata, id)"),
          ("name", "must not be empty"), ("value", "a label must not be empty"),
          ("span_id", "must be 16 hex digits, not all zero, got 'zz'"),
          ("source", "must be one of human, api, llm, code, eval, got 'robot'"),
          ("metadata", "must be a mapping with string keys")]),
        ("0" * 32, json.dumps({"name": "q", "value": 1}).encode(),
         [("trace_id", f"must be 32 hex digits, not all zero, got '{'0' * 32}'")]),
    ],
)
def test_a_bad_score_is_a_422_listing_every_problem_and_nothing_is_stored(db_path, server, trace_id, content,
                                                                           problems):
    response = post(server, trace_id, content=content)
    assert response.status_code == 422, response.text
    assert _problems(response) == problems
    assert stored(db_path) == []


def test_a_value_of_another_data_type_than_the_names_is_a_422(db_path, server):
    assert post(server, TRACE, {"name": "helpfulness", "value": 4}).status_code == 201
    response = post(server, OTHER, {"name": "helpfulness", "value": "great"})
    assert response.status_code == 422
    assert _problems(response) == [("value", ("scores named 'helpfulness' are numeric; got a categorical value "
                                             "('great')"))]
    assert [s["value"] for s in stored(db_path)] == [4.0]


def test_only_json_is_accepted(db_path, server):
    response = post(server, TRACE, content=b'{"name": "q", "value": 1}', content_type="text/plain")
    assert response.status_code == 415
    assert response.json() == {"error": "Content-Type must be application/json, got 'text/plain'"}
    assert stored(db_path) == []


def test_list_scores_filters_and_pages(db_path, server):
    made = [post(server, TRACE, {"name": "helpfulness", "value": 1, "source": "human"}).json(),
            post(server, TRACE, {"name": "tone", "value": "rude", "source": "llm"}).json(),
            post(server, OTHER, {"name": "helpfulness", "value": 0.5, "source": "code"}).json()]
    newest_first = stored(db_path)
    assert sorted(s["id"] for s in newest_first) == sorted(s["id"] for s in made)
    by_id = {s["id"]: s for s in newest_first}

    def ids(query: dict[str, Any], path: str = "/api/scores") -> list[str]:
        response = get(server.url + path, params=query)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["scores"]]

    assert ids({}) == [s["id"] for s in newest_first]
    assert ids({"name": "helpfulness"}) == [s["id"] for s in newest_first if s["name"] == "helpfulness"]
    assert ids({"source": "llm"}) == [made[1]["id"]]
    assert ids({"trace_id": OTHER.upper()}) == [made[2]["id"]]
    assert ids({"name": "tone"}, f"/api/traces/{TRACE}/scores") == [made[1]["id"]]
    assert ids({"since": "1h", "until": "2200-01-01T00:00:00Z"}) == [s["id"] for s in newest_first]
    assert ids({"until": "2000-01-01T00:00:00Z"}) == []

    first = get(f"{server.url}/api/scores", params={"limit": 2}).json()
    assert [s["id"] for s in first["scores"]] == [s["id"] for s in newest_first[:2]]
    rest = get(f"{server.url}/api/scores", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert rest == {"scores": [by_id[newest_first[2]["id"]]], "next_cursor": None}


@pytest.mark.parametrize(
    ("path", "query", "status", "error"),
    [
        ("/api/scores", {"colour": "red"}, 400,
         ("unknown query parameter(s) ['colour']; known: ['cursor', 'limit', 'name', 'since', 'source', 'trace_id', "
         "'until']")),
        (f"/api/traces/{TRACE}/scores", {"trace_id": OTHER}, 400,
         "unknown query parameter(s) ['trace_id']; known: ['cursor', 'limit', 'name', 'since', 'source', 'until']"),
        ("/api/scores", {"limit": "0"}, 400, "limit must be between 1 and 500, got '0'"),
        ("/api/scores", {"cursor": "nonsense"}, 400,
         "invalid cursor 'nonsense'; pass back a next_cursor from scores()"),
    ],
)
def test_bad_list_queries_are_400(server, path, query, status, error):
    response = get(server.url + path, params=query)
    assert response.status_code == status
    assert response.json() == {"error": error}


def test_bad_since_is_a_400_naming_it(server):
    response = get(server.url + "/api/scores", params={"since": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("since: ")


@pytest.mark.parametrize("path", ["/api/traces/xyz/scores", "/api/scores?trace_id=xyz"])
def test_a_malformed_trace_id_in_a_list_is_a_422(server, path):
    response = get(server.url + path)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid trace_id", "problems": [
        {"field": "trace_id", "message": "must be 32 hex digits, not all zero, got 'xyz'"}]}


def test_delete_a_score(db_path, server):
    keep = post(server, TRACE, {"name": "q", "value": 1}).json()
    gone = post(server, TRACE, {"name": "q", "value": 2, "id": "to delete"}).json()
    response = httpx.delete(f"{server.url}/api/scores/to%20delete", timeout=10)
    assert (response.status_code, response.content) == (204, b"")
    assert stored(db_path) == [keep]
    again = httpx.delete(f"{server.url}/api/scores/{gone['id']}", timeout=10)
    assert again.status_code == 404
    assert again.json() == {"error": "no score with id 'to delete'"}
