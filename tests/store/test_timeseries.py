"""TraceStore.timeseries / score_timeseries over spans written by the real exporter: exact buckets and values."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ._helpers import BASE_S, make_sdk, rows

from traceglass._scores import new_score
from traceglass.store import TraceStore, TraceWriter

HOUR = 3600
DAY_15 = "2027-01-15T00:00:00+00:00"
DAY_16 = "2027-01-16T00:00:00+00:00"


def _hour(h: int) -> str:
    return f"2027-01-15T{h:02d}:00:00+00:00"


def _call(sdk, start_s, ms, model, tokens, cost=None, error=None):
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                  "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]}
    if cost is not None:
        attributes["traceglass.cost.total_usd"] = cost
    sdk.span(f"chat {model}", start_s, start_s + ms / 1000, attributes=attributes, error=error)


@pytest.fixture
def store(db_path):
    """Model calls of projects shop and billing over 08:00-11:59 on 2027-01-15 and one the next day."""
    shop = make_sdk(db_path)
    billing = make_sdk(db_path, service="billing")
    _call(shop, BASE_S, 100, "gpt-4o-mini", (10, 2), 0.001)  # 08:00
    _call(shop, BASE_S + 60, 300, "gpt-4o-mini-2024-07-18", (20, 4), 0.002, error="RateLimitError")  # 08:01
    _call(billing, BASE_S + HOUR + 5, 200, "gpt-4o", (30, 6))  # 09:00, no cost known
    shop.span("plan", BASE_S + HOUR + 10, BASE_S + HOUR + 11, attributes={"traceglass.span.type": "chain"})
    _call(shop, BASE_S + 3 * HOUR, 50, "gpt-4o-mini", (1, 1), 0.0005)  # 11:00
    # 2027-01-16 08:00: a framework step and the provider call below it report the same usage: one call.
    shop.rag_trace(BASE_S + 86400, model="gpt-4o-mini")
    shop.provider.shutdown()
    billing.provider.shutdown()
    with TraceStore(db_path) as opened:
        yield opened


def _point(start, calls=0, errors=0, tokens=(0, 0), cost=None, p50=None, p95=None):
    start_ns = int(datetime.fromisoformat(start).timestamp()) * 10**9
    return {"start": start, "start_ns": start_ns, "calls": calls, "errors": errors,
            "error_rate": errors / calls if calls else None, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "total_tokens": sum(tokens), "cost_usd": cost, "p50_ms": p50, "p95_ms": p95}


def _rounded(data):
    for series in data["series"]:
        for point in series["points"]:
            if point["cost_usd"] is not None:
                point["cost_usd"] = round(point["cost_usd"], 12)
    return data


def test_hourly_series_over_a_range_has_every_bucket_with_exact_values(store):
    result = store.timeseries("hour", since=BASE_S, until=BASE_S + 4 * HOUR).to_dict()
    assert _rounded(result) == {
        "kind": "calls", "bucket": "hour", "group_by": None,
        "buckets": [_hour(8), _hour(9), _hour(10), _hour(11)],
        "buckets_ns": [(BASE_S + h * HOUR) * 10**9 for h in range(4)],
        "series": [{"key": None, "points": [
            _point(_hour(8), 2, 1, (30, 6), 0.003, 100.0, 300.0),
            _point(_hour(9), 1, 0, (30, 6), None, 200.0, 200.0),
            _point(_hour(10)),  # no call: an empty bucket, not a gap in the axis
            _point(_hour(11), 1, 0, (1, 1), 0.0005, 50.0, 50.0),
        ]}],
    }


def test_daily_series_per_model_family_and_per_project(store):
    by_model = _rounded(store.timeseries("day", group_by="model").to_dict())
    assert by_model["buckets"] == [DAY_15, DAY_16]  # no range: from the first call to the last
    # The dated snapshot counts under its family; the framework step over the provider call counts once.
    assert by_model["series"] == [
        {"key": "gpt-4o-mini", "points": [_point(DAY_15, 3, 1, (31, 7), 0.0035, 100.0, 300.0),
                                          _point(DAY_16, 1, 0, (100, 20), 0.0012, 950.0, 950.0)]},
        {"key": "gpt-4o", "points": [_point(DAY_15, 1, 0, (30, 6), None, 200.0, 200.0), _point(DAY_16)]},
    ]
    by_project = _rounded(store.timeseries("day", group_by="project").to_dict())
    assert by_project["series"] == [
        {"key": "shop", "points": [_point(DAY_15, 3, 1, (31, 7), 0.0035, 100.0, 300.0),
                                   _point(DAY_16, 1, 0, (100, 20), 0.0012, 950.0, 950.0)]},
        {"key": "billing", "points": [_point(DAY_15, 1, 0, (30, 6), None, 200.0, 200.0), _point(DAY_16)]},
    ]
    only_billing = store.timeseries("day", project="billing", since=BASE_S - 8 * HOUR, until=BASE_S + 40 * HOUR)
    assert [s.key for s in only_billing.series] == [None]
    assert [p.calls for p in only_billing.series[0].points] == [1, 0]


def test_the_charts_count_what_stats_counts(store):
    series = store.timeseries("day", group_by="model")
    for row in store.stats("model"):
        line = next(s for s in series.series if s.key == row.key)
        assert sum(p.calls for p in line.points) == row.calls
        assert sum(p.errors for p in line.points) == row.errors
        assert sum(p.total_tokens for p in line.points) == row.total_tokens


def test_since_without_until_runs_to_now_and_nothing_stored_gives_no_series(db_path):
    with TraceStore(db_path) as empty:
        result = empty.timeseries("day", since="3d")
        assert len(result.buckets) == 4  # the partial day three days ago, two whole days, today
        assert result.buckets[-1] // 10**9 == int(datetime.now(timezone.utc).timestamp()) // 86400 * 86400
        assert result.series == []
        assert empty.timeseries("hour").to_dict() == {"kind": "calls", "bucket": "hour", "group_by": None,
                                                      "buckets": [], "buckets_ns": [], "series": []}


def test_percentiles_are_nearest_rank_per_bucket(db_path):
    sdk = make_sdk(db_path)
    for i in range(1, 21):  # durations 1..20 ms in one hour, and 40 ms alone in the next
        _call(sdk, BASE_S + i, i, "m", (1, 1))
    _call(sdk, BASE_S + HOUR, 40, "m", (1, 1))
    sdk.provider.shutdown()
    with TraceStore(db_path) as store:
        points = store.timeseries("hour").series[0].points
    assert [(p.p50_ms, p.p95_ms, p.calls) for p in points] == [(10.0, 19.0, 20), (40.0, 40.0, 1)]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bucket": "week"}, "bucket must be one of"),
    ({"group_by": "user"}, "group_by must be one of"),
    ({"since": BASE_S, "until": BASE_S}, "until must be later than since"),
    ({"since": "soon"}, "since: not a time"),
    ({"bucket": "hour", "since": "300d"}, "more than 5000 buckets"),
])
def test_bad_arguments_are_refused(store, kwargs, message):
    with pytest.raises(ValueError, match=message):
        store.timeseries(**kwargs)


def _score(writer, name, value, at_s, trace_id="a" * 32, source="eval"):
    created = datetime.fromtimestamp(at_s, tz=timezone.utc)
    writer.write_scores([new_score(name, value, trace_id=trace_id, source=source, created_at=created)])


def test_score_means_per_name_and_bucket(store, db_path):
    shop_trace = rows(db_path, "SELECT trace_id FROM traces WHERE project = 'shop' LIMIT 1")[0]["trace_id"]
    writer = TraceWriter(db_path)
    try:
        _score(writer, "relevance", 0.5, BASE_S, shop_trace)
        _score(writer, "relevance", 1.0, BASE_S + 100)
        _score(writer, "relevance", 0.25, BASE_S + 2 * HOUR + 1)
        _score(writer, "thumbs", True, BASE_S + 5, source="api")
        _score(writer, "thumbs", False, BASE_S + 6, source="api")
        _score(writer, "tone", "polite", BASE_S + 7)  # a label has no mean: no series
    finally:
        writer.close()
    result = store.score_timeseries("hour").to_dict()
    assert result["buckets"] == [_hour(8), _hour(9), _hour(10)]

    def point(h, mean=None, count=0):
        return {"start": _hour(h), "start_ns": (BASE_S + (h - 8) * HOUR) * 10**9, "mean": mean, "count": count}

    assert result["series"] == [
        {"key": "relevance", "points": [point(8, 0.75, 2), point(9), point(10, 0.25, 1)]},
        {"key": "thumbs", "points": [point(8, 0.5, 2), point(9), point(10)]},
    ]
    assert [s.key for s in store.score_timeseries("day", source="api").series] == ["thumbs"]
    assert [s.key for s in store.score_timeseries("day", name="relevance").series] == ["relevance"]
    shop_only = store.score_timeseries("day", project="shop").series
    assert [(s.key, [(p.mean, p.count) for p in s.points]) for s in shop_only] == [("relevance", [(0.5, 1)])]
