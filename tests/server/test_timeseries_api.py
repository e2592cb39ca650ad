"""GET /api/timeseries and /api/timeseries/scores on a real server over a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from tests.store._helpers import BASE_S, make_sdk
from traceglass._scores import new_score
from traceglass.store import TraceWriter

HOUR = 3600


def _chat(sdk, start_s, ms, model, tokens, cost):
    sdk.span(f"chat {model}", start_s, start_s + ms / 1000, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": tokens[0],
        "gen_ai.usage.output_tokens": tokens[1], "traceglass.cost.total_usd": cost})


@pytest.fixture
def server(db_path, serve_app):
    shop = make_sdk(db_path)
    _chat(shop, BASE_S, 100, "gpt-4o-mini", (10, 2), 0.25)  # 2027-01-15 08:00
    _chat(shop, BASE_S + HOUR, 300, "gpt-4o", (20, 4), 0.5)  # 09:00
    shop.provider.shutdown()
    writer = TraceWriter(db_path)
    created = datetime.fromtimestamp(BASE_S + 30, tz=timezone.utc)
    writer.write_scores([new_score("relevance", 0.5, trace_id="a" * 32, source="eval", created_at=created),
                         new_score("relevance", 1.0, trace_id="b" * 32, source="eval", created_at=created)])
    writer.close()
    return serve_app(db_path)


def _get(server, path, **params):
    return httpx.get(server.url + path, params=params, timeout=10)


def _point(hour, calls=0, tokens=(0, 0), cost=None, ms=None):
    return {"start": f"2027-01-15T{hour:02d}:00:00+00:00", "start_ns": (BASE_S + (hour - 8) * HOUR) * 10**9,
            "calls": calls, "errors": 0, "error_rate": 0.0 if calls else None, "input_tokens": tokens[0],
            "output_tokens": tokens[1], "total_tokens": sum(tokens), "cost_usd": cost, "p50_ms": ms, "p95_ms": ms}


def test_calls_per_hour_and_model(server):
    response = _get(server, "/api/timeseries", bucket="hour", group_by="model")
    assert response.status_code == 200
    assert response.json() == {
        "kind": "calls", "bucket": "hour", "group_by": "model",
        "buckets": ["2027-01-15T08:00:00+00:00", "2027-01-15T09:00:00+00:00"],
        "buckets_ns": [BASE_S * 10**9, (BASE_S + HOUR) * 10**9],
        "series": [{"key": "gpt-4o", "points": [_point(8), _point(9, 1, (20, 4), 0.5, 300.0)]},
                   {"key": "gpt-4o-mini", "points": [_point(8, 1, (10, 2), 0.25, 100.0), _point(9)]}],
    }


def test_one_series_by_default_and_a_range(server):
    body = _get(server, "/api/timeseries", since=str(BASE_S), until=str(BASE_S + HOUR), group_by="none").json()
    assert body["bucket"] == "day" and body["group_by"] is None
    assert body["buckets"] == ["2027-01-15T00:00:00+00:00"]
    assert [(s["key"], [p["calls"] for p in s["points"]]) for s in body["series"]] == [(None, [1])]
    assert _get(server, "/api/timeseries", project="elsewhere").json()["series"] == []


def test_score_means_per_bucket(server):
    body = _get(server, "/api/timeseries/scores", bucket="hour", name="relevance").json()
    assert body == {"kind": "scores", "bucket": "hour", "group_by": None,
                    "buckets": ["2027-01-15T08:00:00+00:00"], "buckets_ns": [BASE_S * 10**9],
                    "series": [{"key": "relevance", "points": [
                        {"start": "2027-01-15T08:00:00+00:00", "start_ns": BASE_S * 10**9, "mean": 0.75,
                         "count": 2}]}]}
    assert _get(server, "/api/timeseries/scores", source="human").json()["series"] == []


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/api/timeseries", {"bucket": "week"}, "bucket must be one of ['hour', 'day'], got 'week'"),
    ("/api/timeseries", {"group_by": "user"}, "group_by must be one of [None, 'model', 'project'], got 'user'"),
    ("/api/timeseries", {"since": "yesterday-ish"}, "since: not a time: 'yesterday-ish' (use epoch seconds, an ISO "
                                                    "date/time or an age such as 1h, 7d)"),
    ("/api/timeseries", {"model": "gpt-4o"}, "unknown query parameter(s) ['model']; known: "
                                             "['bucket', 'group_by', 'project', 'since', 'until']"),
    ("/api/timeseries", {"bucket": "hour", "since": "400d"},
     "9601 hours is more than 5000 buckets; choose a shorter range or a wider bucket"),
    ("/api/timeseries/scores", {"until": "0", "since": "10"}, "until must be later than since"),
])
def test_bad_parameters_are_400_with_the_reason(server, path, params, message):
    response = _get(server, path, **params)
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_the_charts_do_not_wait_for_the_app_store(server):
    """While another request holds the app's shared store (the Aggregates tables), the charts still answer:
    they read on a connection of their own."""
    store = server.server.config.app.app.state.store
    with store._lock:  # what a long /api/stats query holds meanwhile
        response = _get(server, "/api/timeseries", bucket="hour")
        scores = _get(server, "/api/timeseries/scores")
    assert response.status_code == 200 and [len(s["points"]) for s in response.json()["series"]] == [2]
    assert scores.status_code == 200 and [s["key"] for s in scores.json()["series"]] == ["relevance"]


def test_the_stats_tables_do_not_wait_for_the_app_store_and_readers_are_reused(server):
    """/api/stats (the Aggregates tables and the header counts, seconds over a big store) reads on a
    reader of its own too, and the readers are kept: requests do not each open the database."""
    app_state = server.server.config.app.app.state
    store = app_state.store
    with store._lock:  # what another long query holds meanwhile
        answers = [_get(server, "/api/stats", group_by="model") for _ in range(3)]
        charts = _get(server, "/api/timeseries", bucket="hour")
    assert [a.status_code for a in answers] == [200, 200, 200] and charts.status_code == 200
    assert answers[0].json()["count"] == answers[2].json()["count"]
    readers = app_state.readers
    assert (readers._open, len(readers._idle)) == (1, 1)  # one reader made, lent in turn, back idle
