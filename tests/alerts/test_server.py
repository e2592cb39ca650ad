"""``traceglass ui --alerts``: per-trace rules on ingest through the OTLP receiver, the scheduled pass,
``GET /api/alerts``, and the webhook reached from the server."""

from __future__ import annotations

import time

import httpx

from traceglass.server import create_app

from ..server.conftest import RunningServer


def _otlp(trace_id: str, seconds: float) -> dict:
    start = time.time_ns() - 60 * 10**9
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": "agent", "kind": 1,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(seconds * 1e9))}]}]}]}


def _wait(check, what: str, tries: int = 150):
    for _ in range(tries):  # bounded: 150 x 0.1 s
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def rules_file(tmp_path, url: str, **hook) -> str:
    options = "".join(f", {k}: {v}" for k, v in hook.items())
    path = tmp_path / "alerts.yaml"
    path.write_text(f"interval: 1h\nnotifiers:\n  - {{name: hook, type: webhook, url: '{url}'{options}}}\n"
                    "rules:\n  - {name: slow-trace, metric: latency_ms, per_trace: true, above: 1000, notify: [hook]}\n"
                    "  - {name: busy, metric: calls, window: 1h, above: 100}\n")
    return str(path)


def test_a_slow_trace_received_over_otlp_fires_once_and_shows_in_api_alerts(tmp_path, receiver):
    app = create_app(tmp_path / "t.db", alerts=rules_file(tmp_path, receiver.url))
    server = RunningServer(app).start()
    try:
        slow, fast = "5b8efff798038103d269b633813fc60c", "6b8efff798038103d269b633813fc60c"
        for trace_id, seconds in ((fast, 0.2), (slow, 2.5)):
            answer = httpx.post(server.url + "/v1/traces", json=_otlp(trace_id, seconds), timeout=10)
            assert answer.status_code == 200
        body = _wait(lambda: receiver.bodies(), "the webhook")
        assert [(b["rule"], b["state"], b["trace_id"], b["value"]) for b in body] == [
            ("slow-trace", "firing", slow, 2500.0)]
        alerts = _wait(lambda: (lambda a: a if a["history"] and a["history"][0]["delivery"] == "delivered" else None)(
            httpx.get(server.url + "/api/alerts", timeout=10).json()), "the delivery to be recorded")
        assert [r["name"] for r in alerts["rules"]] == ["slow-trace", "busy"]
        assert [(a["rule"], a["trace_id"], a["link"]) for a in alerts["firing"]] == [
            ("slow-trace", slow, f"http://127.0.0.1:8080/#/trace/{slow}")]
        assert [(h["rule"], h["state"], h["delivery"], h["attempts"]) for h in alerts["history"]] == [
            ("slow-trace", "firing", "delivered", 1)]
        # Sent again, the same trace does not fire again.
        assert httpx.post(server.url + "/v1/traces", json=_otlp(slow, 2.5), timeout=10).status_code == 200
        assert httpx.get(server.url + "/api/traces/", timeout=10).status_code == 200
    finally:
        server.stop()
    assert len(receiver.requests) == 1


def test_api_alerts_without_rules_lists_the_stored_history(tmp_path):
    from traceglass.alerts import AlertRule, check
    from traceglass.store import TraceStore

    with TraceStore(tmp_path / "t.db") as store:
        start = time.time_ns() - 10**9
        store.upsert_span({"trace_id": "a" * 32, "span_id": "b" * 16, "name": "chat", "start_ns": start,
                           "end_ns": start + 10, "model": "m"})
        check([AlertRule("any-call", "calls", window="1h", above=0)], store)
    server = RunningServer(create_app(tmp_path / "t.db")).start()
    try:
        alerts = httpx.get(server.url + "/api/alerts", params={"rule": "any-call"}, timeout=10).json()
        assert alerts["rules"] == []
        assert [(a["rule"], a["value"]) for a in alerts["firing"]] == [("any-call", 1.0)]
        assert [(h["rule"], h["state"], h["delivery"]) for h in alerts["history"]] == [("any-call", "firing", "none")]
        bad = httpx.get(server.url + "/api/alerts", params={"limit": "0"}, timeout=10)
        assert (bad.status_code, bad.json()) == (400, {"error": "limit must be between 1 and 500, got 0"})
    finally:
        server.stop()
