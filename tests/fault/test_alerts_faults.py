"""Alerts under faults: a notifier that hangs or is down never holds up ingest or the dashboard (retried, then
marked undelivered), hostile rules files only ever give a RuleError, odd stored rows and hostile group keys."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.alerts import AlertEngine, AlertRule, RuleError, parse_rules
from traceglass.cli import main
from traceglass.server import create_app
from traceglass.store import AlertState, TraceStore

from ..alerts.conftest import NOW, Receiver, Traffic
from ..alerts.test_server import _otlp, _wait, rules_file
from ..server.conftest import RunningServer


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


def test_a_hanging_notifier_never_holds_up_ingest_or_the_dashboard(tmp_path, receiver):
    receiver.hold = threading.Event()  # the webhook takes the request and does not answer (until released)
    server = RunningServer(create_app(tmp_path / "t.db", alerts=rules_file(tmp_path, receiver.url, timeout=30))).start()
    try:
        slow = "5b8efff798038103d269b633813fc60c"
        assert httpx.post(server.url + "/v1/traces", json=_otlp(slow, 3), timeout=10).status_code == 200
        assert receiver.arrived.wait(15)  # the notification is in flight, held
        # Meanwhile ingest, the API and the dashboard answer.
        other = "7b8efff798038103d269b633813fc60c"
        assert httpx.post(server.url + "/v1/traces", json=_otlp(other, 0.1), timeout=10).status_code == 200
        assert httpx.get(server.url + "/api/traces/", timeout=10).json()["traces"][0]["trace_id"] in (slow, other)
        alerts = httpx.get(server.url + "/api/alerts", timeout=10).json()
        assert [(h["trace_id"], h["delivery"]) for h in alerts["history"]] == [(slow, "pending")]
        assert httpx.get(server.url + "/", timeout=10).status_code == 200
    finally:
        receiver.hold.set()
        server.stop()


def test_a_notifier_that_is_down_is_retried_then_marked_undelivered(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = RunningServer(create_app(tmp_path / "t.db",
                                      alerts=rules_file(tmp_path, down, retries=2, backoff=0.05))).start()
    try:
        slow = "5b8efff798038103d269b633813fc60c"
        assert httpx.post(server.url + "/v1/traces", json=_otlp(slow, 3), timeout=10).status_code == 200
        history = _wait(lambda: [h for h in httpx.get(server.url + "/api/alerts", timeout=10).json()["history"]
                                 if h["delivery"] != "pending"], "the delivery to be given up")
        assert [(h["trace_id"], h["delivery"], h["attempts"]) for h in history] == [(slow, "undelivered", 3)]
    finally:
        server.stop()


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                     max_size=3), max_leaves=10)
_RULE = st.fixed_dictionaries({"name": _VALUES, "metric": st.sampled_from(
    ["cost_usd", "calls", "score_mean:x", "score_count:x=y", "latency_ms", "nope", "score_mean:"]) | _VALUES},
    optional={"window": st.sampled_from(["1h", "15m", "0s", "9999d", "x"]) | _VALUES, "above": _VALUES,
              "below": _VALUES, "where": _VALUES, "group_by": _VALUES, "min_calls": _VALUES, "cooldown": _VALUES,
              "severity": _VALUES, "notify": _VALUES, "per_trace": _VALUES, "description": _VALUES})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(_VALUES, st.fixed_dictionaries({"rules": st.lists(_RULE, max_size=3) | _VALUES},
                                                     optional={"notifiers": _VALUES, "interval": _VALUES,
                                                               "dashboard_url": _VALUES})))
def test_any_rules_file_is_taken_or_refused_with_one_rule_error(data):
    try:
        rules = parse_rules(data, environ={})
    except RuleError as exc:
        assert "\n" not in str(exc).split(": ", 1)[0]
        return
    for rule in rules.rules:  # what was taken is a usable rule
        assert rule.window_seconds > 0 and rule.threshold == rule.threshold


def test_rows_another_tool_wrote_into_the_alert_tables_are_ignored(tmp_path):
    with TraceStore(tmp_path / "t.db") as store:
        Traffic(store).call(cost=3.0)
        conn = sqlite3.connect(store.path)
        conn.execute("INSERT INTO alert_state VALUES ('spend', '', 'exploded', 'x', 'y', NULL, 0)")
        conn.execute("INSERT INTO alert_state VALUES ('spend', 'z', 'firing', 1, 'when', NULL, 0)")
        conn.execute("INSERT INTO alert_events (rule, group_key, state, created_ns, delivery, event) "
                     "VALUES ('spend', '', 'firing', 'soon', 'none', '{not json')")
        conn.commit()
        conn.close()
        # A status we never write is no state at all; unreadable numbers read as unknown.
        assert list(store.alert_state().values()) == [AlertState("spend", "z", "firing", 1, 0, None, 0)]
        events = AlertEngine([AlertRule("spend", "cost_usd", window="1h", above=1)], store).evaluate(NOW)
        assert sorted((e.state, e.value) for e in events) == [("firing", 3.0), ("resolved", None)]
        # The foreign event reads back with what can be read of it (no time, no event), beside ours.
        assert sorted((r.created_ns, r.state, r.event.get("value")) for r in store.alert_history()) == [
            (0, "firing", None), (NOW * 10**9, "firing", 3.0), (NOW * 10**9, "resolved", None)]


def test_a_hostile_group_key_cannot_drive_the_terminal(tmp_path, capsys):
    with TraceStore(tmp_path / "t.db") as store:
        start = time.time_ns() - 10**9
        store.upsert_span({"trace_id": "a" * 32, "span_id": "b" * 16, "name": "chat", "start_ns": start,
                           "end_ns": start + 10, "model": "m", "cost_usd": 5.0, "user": "eve\x1b[2J\nroot"})
    rules = tmp_path / "r.yaml"
    rules.write_text("rules: [{name: u, metric: cost_usd, window: 1h, above: 1, group_by: user}]")
    assert main(["alerts", "check", "--rules", str(rules), "--db", str(tmp_path / "t.db")]) == 1
    out = capsys.readouterr().out
    assert out == "FIRING    [warning] u: user=eve\\x1b[2J\\nroot cost_usd = 5 (above 1) over 1h  (notified: none)\n"
