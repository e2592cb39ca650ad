"""The engine over real SQLite with synthetic traffic crossing thresholds: transitions, cooldowns, groups,
min_calls, score and per-trace rules, and the webhook each transition reaches (once)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from traceglass._scores import new_score
from traceglass.alerts import AlertEngine, AlertRule, AlertRules, WebhookNotifier, check
from traceglass.store import TraceWriter

from .conftest import NOW


def _rules(rule: AlertRule, receiver) -> AlertRules:
    return AlertRules((rule,), {"hook": WebhookNotifier("hook", receiver.url, retries=0)})


def _states(events):
    return [(e.rule, e.state, e.group, e.value, e.notified) for e in events]


def test_firing_then_still_firing_then_resolved_is_notified_once_each(store, traffic, receiver):
    rule = AlertRule("spend", "cost_usd", window="1h", above=0.05, notify=["hook"])
    rules = _rules(rule, receiver)
    for _ in range(4):
        traffic.call(cost=0.01, ago=600)
    assert check(rules, store, now=NOW) == []  # 0.04: below
    traffic.call(cost=0.02, ago=300)
    fired = check(rules, store, now=NOW)
    assert _states(fired) == [("spend", "firing", {}, pytest.approx(0.06), True)]
    assert fired[0].delivery == "delivered"
    assert _states(check(rules, store, now=NOW + 60)) == [("spend", "firing", {}, pytest.approx(0.06), False)]
    # An hour later the window holds nothing: resolved, notified once.
    resolved = check(rules, store, now=NOW + 3600)
    assert _states(resolved) == [("spend", "resolved", {}, None, True)]
    assert check(rules, store, now=NOW + 3660) == []
    bodies = receiver.bodies()
    assert [(b["rule"], b["state"], b["value"]) for b in bodies] == [("spend", "firing", pytest.approx(0.06)),
                                                                     ("spend", "resolved", None)]
    assert bodies[0] == {
        "rule": "spend", "state": "firing", "metric": "cost_usd", "value": pytest.approx(0.06), "threshold": 0.05,
        "condition": "above", "window": "1h", "severity": "warning", "group": {}, "calls": 5, "trace_id": None,
        "at": "2027-01-15T08:00:00+00:00", "link": "http://127.0.0.1:8080/#/?since=1h",
        "message": "[warning] spend: cost_usd = 0.06 (above 0.05) over 1h", "description": None}
    history = store.alert_history()
    assert [(r.state, r.delivery, r.attempts) for r in history] == [("resolved", "delivered", 1),
                                                                    ("firing", "delivered", 1)]


def test_cooldown_repeats_a_firing_alert_only_after_it_passes_and_a_flap_within_it_is_not_sent(store, traffic):
    rule = AlertRule("errors", "error_rate", window="1h", above=0.4, cooldown="30m")
    engine = AlertEngine([rule], store)
    traffic.call(status="ERROR", ago=100)
    traffic.call(status="OK", ago=100)
    assert _states(engine.evaluate(NOW)) == [("errors", "firing", {}, 0.5, True)]
    assert _states(engine.evaluate(NOW + 600)) == [("errors", "firing", {}, 0.5, False)]  # 10 min: quiet
    assert _states(engine.evaluate(NOW + 1800)) == [("errors", "firing", {}, 0.5, True)]  # 30 min: again
    traffic.call(status="OK", ago=-1800 - 60)  # a success later makes it 1/3
    assert _states(engine.evaluate(NOW + 1900)) == [("errors", "resolved", {}, pytest.approx(1 / 3), True)]
    traffic.call(status="ERROR", ago=-1800 - 120)
    traffic.call(status="ERROR", ago=-1800 - 130)
    # Firing again 10 minutes after the last firing notification: recorded, not sent.
    flap = engine.evaluate(NOW + 2400)
    assert _states(flap) == [("errors", "firing", {}, 0.6, False)]
    assert flap[0].delivery == "suppressed"
    assert [(r.state, r.delivery) for r in store.alert_history()] == [
        ("firing", "suppressed"), ("resolved", "none"), ("firing", "none"), ("firing", "none")]


def test_group_by_user_alerts_per_user_and_min_calls_keeps_a_single_sample_quiet(store, traffic):
    rule = AlertRule("user-spend", "cost_usd", window="1d", above=1.0, group_by="user", min_calls=3)
    for _ in range(3):
        traffic.call(cost=0.5, user="alice")
    traffic.call(cost=5.0, user="bob")  # over, but one call
    traffic.call(cost=0.1, user="carol")
    traffic.call(cost=9.0, user=None)  # nobody's: not a user's group
    events = check([rule], store, now=NOW)
    assert _states(events) == [("user-spend", "firing", {"user": "alice"}, 1.5, True)]
    assert events[0].link == "http://127.0.0.1:8080/#/?user=alice&since=1d"
    traffic.call(cost=0.1, user="bob")
    traffic.call(cost=0.1, user="bob")
    assert sorted(_states(check([rule], store, now=NOW + 1)), key=str) == [
        ("user-spend", "firing", {"user": "alice"}, 1.5, False),
        ("user-spend", "firing", {"user": "bob"}, pytest.approx(5.2), True)]


@pytest.mark.parametrize(("metric", "threshold", "value"), [
    ("tokens", 40, 45.0), ("calls", 2, 3.0), ("latency_p50_ms", 900, 1000.0), ("latency_p95_ms", 2500, 3000.0),
    ("latency_max_ms", 2500, 3000.0),
])
def test_window_metrics(store, traffic, metric, threshold, value):
    traffic.call(duration=0.2)
    traffic.call(duration=1.0)
    traffic.call(duration=3.0)
    traffic.call(duration=9.0, ago=7200)  # outside the window
    [event] = check([AlertRule("r", metric, window="1h", above=threshold)], store, now=NOW)
    assert (event.state, event.value, event.calls) == ("firing", value, 3)


def test_where_scopes_by_project_model_family_and_span_type(store, traffic):
    traffic.call(cost=1.0, model="gpt-4o-mini-2024-07-18", project="bot")
    traffic.call(cost=2.0, model="gpt-4o", project="bot")
    traffic.call(cost=4.0, model="gpt-4o-mini", project="other")
    traffic.call(model=None, span_type="tool", status="ERROR", name="search")
    traffic.call(model=None, span_type="tool", status="OK", name="search")
    rules = [AlertRule("mini-bot", "cost_usd", window="1h", above=0.5, where={"model": "gpt-4o-mini", "project": "bot"}),
             AlertRule("by-model", "cost_usd", window="1h", above=2.5, group_by="model"),
             AlertRule("tools", "error_rate", window="1h", above=0.4, where={"type": "tool", "name": "search"})]
    assert sorted(_states(check(rules, store, now=NOW)), key=str) == [
        ("by-model", "firing", {"model": "gpt-4o-mini"}, 5.0, True),
        ("mini-bot", "firing", {}, 1.0, True),
        ("tools", "firing", {}, 0.5, True)]


def _score(store, trace_id, name, value, *, ago=60):
    created = datetime.fromtimestamp(NOW - ago, tz=timezone.utc)
    writer = TraceWriter(store.path)
    try:
        writer.write_scores([new_score(name, value, trace_id=trace_id, created_at=created)])
    finally:
        writer.close()


def test_score_rules_mean_and_label_count_grouped_by_project(store, traffic):
    a, b, c = traffic.call(project="bot"), traffic.call(project="bot"), traffic.call(project="search")
    _score(store, a, "helpfulness", 0.2)
    _score(store, b, "helpfulness", 0.4)
    _score(store, c, "helpfulness", 0.9)
    _score(store, c, "helpfulness", 0.1, ago=7200)  # outside the window
    for trace in (a, b, c):
        _score(store, trace, "feedback", "thumbs_down")
    _score(store, a, "feedback", "thumbs_up")
    rules = [AlertRule("helpful", "score_mean:helpfulness", window="1h", below=0.5, group_by="project"),
             AlertRule("downs", "score_count:feedback=thumbs_down", window="1h", above=2),
             AlertRule("few", "score_mean:helpfulness", window="1h", below=0.95, min_calls=4)]
    assert sorted(_states(check(rules, store, now=NOW)), key=str) == [
        ("downs", "firing", {}, 3.0, True),
        ("helpful", "firing", {"project": "bot"}, pytest.approx(0.3), True)]


def test_per_trace_rule_fires_once_per_trace_with_a_link_to_it(store, traffic, receiver):
    rule = AlertRule("pricey", "cost_usd", per_trace=True, above=1.0, notify=["hook"])
    rules = _rules(rule, receiver)
    traffic.call(cost=0.5)
    pricey = traffic.call(cost=2.5)
    engine = AlertEngine(rules, store)
    events = engine.check_traces([pricey, "f" * 32], now=NOW)
    assert _states(events) == [("pricey", "firing", {}, 2.5, True)]
    assert events[0].trace_id == pricey
    assert events[0].link == f"http://127.0.0.1:8080/#/trace/{pricey}"
    assert events[0].message == f"[warning] pricey: trace chat ({pricey}) cost_usd = 2.5 (above 1) over the trace"
    assert engine.check_traces([pricey], now=NOW + 5) == []  # once
    # The scheduled pass sees it in the rule's window but does not notify it again.
    assert _states(engine.evaluate(NOW + 10)) == [("pricey", "firing", {}, 2.5, False)]
    assert [b["trace_id"] for b in receiver.bodies()] == [pricey]


@pytest.mark.parametrize(("rule", "values"), [
    (AlertRule("slow", "latency_ms", per_trace=True, above=2000), [3000.0]),
    (AlertRule("failing", "errors", per_trace=True, above=0), [1.0]),
    (AlertRule("low", "score_mean:quality", per_trace=True, below=0.5), [0.25]),
])
def test_per_trace_latency_errors_and_score(store, traffic, rule, values):
    slow_failing = traffic.call(duration=3.0, status="ERROR")
    traffic.call(duration=0.1)
    _score(store, slow_failing, "quality", 0.25)
    events = check([rule], store, now=NOW)
    assert [(e.trace_id, e.value) for e in events] == [(slow_failing, v) for v in values]
