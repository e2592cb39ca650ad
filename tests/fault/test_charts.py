"""The charts' reads under hostile input: rows no exporter writes (text in number columns, sums that
overflow 64 bits, infinite costs, a start time stored as a float) and odd query strings on
GET /api/timeseries. Nothing may fail the read, produce non-JSON, or answer with a 500."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from tests.server.conftest import serve_app  # noqa: F401 - the fixture
from tests.store._helpers import BASE_S, make_sdk
from traceglass.store import TraceStore


def _chat(sdk, start_s, ms, tokens, cost):
    sdk.span("chat m", start_s, start_s + ms / 1000, attributes={
        "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": tokens[0],
        "gen_ai.usage.output_tokens": tokens[1], "traceglass.cost.total_usd": cost})


def _strict(value):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(json.dumps(value), parse_constant=refuse)


@pytest.fixture
def odd_db(tmp_path):
    path = tmp_path / "odd.db"
    sdk = make_sdk(path)
    for i in range(5):
        _chat(sdk, BASE_S + i, 100 * (i + 1), (10, 1), 0.5)
    sdk.provider.shutdown()
    conn = sqlite3.connect(str(path), isolation_level=None)
    ids = [row[0] for row in conn.execute("SELECT id FROM spans ORDER BY start_ns")]
    big = 2**62
    conn.execute("UPDATE spans SET input_tokens = ?, cost_usd = 9e999 WHERE id = ?", (big, ids[0]))
    conn.execute("UPDATE spans SET input_tokens = ?, output_tokens = 'many' WHERE id = ?", (big, ids[1]))
    conn.execute("UPDATE spans SET duration_ns = 'slow', cost_usd = 'free' WHERE id = ?", (ids[2],))
    conn.execute("UPDATE spans SET start_ns = start_ns + 0.5 WHERE id = ?", (ids[3],))
    conn.execute("UPDATE spans SET model = X'00ff', project = X'01' WHERE id = ?", (ids[4],))
    conn.execute("INSERT INTO scores (id, trace_id, name, value, data_type, source, created_ns, metadata) "
                 "VALUES ('x', ?, 'odd', 9e999, 'NUMERIC', 'api', ?, '{}')", ("a" * 32, BASE_S * 10**9))
    conn.close()
    return path


def test_hostile_rows_are_left_out_of_the_sums_not_failing_the_chart(odd_db):
    with TraceStore(odd_db, read_only=True) as store:
        [line] = store.timeseries("hour").series
        [point] = line.points
        # Every call counts; a token count or cost that is not a real one is left out of its sum;
        # the duration stored as text is not a duration (4 left: 100, 200, 400, 500 ms).
        assert (point.calls, point.input_tokens, point.output_tokens, point.cost_usd, point.p50_ms, point.p95_ms) == (
            5, 30, 4, 1.5, 200.0, 500.0)
        by_model = _strict(store.timeseries("day", group_by="model").to_dict())
        assert [(s["key"], s["points"][0]["calls"]) for s in by_model["series"]] == [("m", 4), ("x00ff", 1)]  # (a family name is lower case)
        by_project = _strict(store.timeseries("day", group_by="project").to_dict())
        assert [(s["key"], s["points"][0]["calls"]) for s in by_project["series"]] == [("shop", 4), ("x01", 1)]
        assert store.score_timeseries("day").series == []  # an infinite score has no mean


@pytest.mark.parametrize("params", [
    {"bucket": ""}, {"bucket": "HOUR"}, {"group_by": "NONE"}, {"group_by": "model\x00"}, {"since": "1e400"},
    {"since": "-1e30"}, {"since": "nan"}, {"until": "99999999999999999999"}, {"since": "0", "bucket": "hour"},
    {"project": "\x00" * 1000}, {"project": "<script>"}, {"since": "2262-04-11T23:47:16"}, {"since": "1d", "until": "2d"},
])
def test_odd_query_strings_answer_200_or_a_400_with_the_reason(odd_db, serve_app, params):  # noqa: F811
    server = serve_app(odd_db)
    for path in ("/api/timeseries", "/api/timeseries/scores"):
        response = httpx.get(server.url + path, params=params, timeout=10)
        assert response.status_code in (200, 400), (path, params, response.text)
        body = _strict(response.json())
        if response.status_code == 400:
            assert set(body) == {"error"} and body["error"]
        else:
            assert body["kind"] in ("calls", "scores")
