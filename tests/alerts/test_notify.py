"""Notifiers against a real HTTP receiver on 127.0.0.1: payload formats, the HMAC signature, retries with
backoff, giving up (undelivered), and a dispatcher that never makes its caller wait."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import sys
import threading

from traceglass.alerts import CommandNotifier, Dispatcher, LogNotifier, WebhookNotifier

EVENT = {"rule": "spend", "state": "firing", "metric": "cost_usd", "value": 7.5, "threshold": 5.0,
         "condition": "above", "window": "1h", "severity": "critical", "group": {"user": "alice"}, "calls": 12,
         "trace_id": None, "at": "2027-01-15T08:00:00+00:00", "link": "http://127.0.0.1:8080/#/?user=alice&since=1h",
         "message": "[critical] spend: user=alice cost_usd = 7.5 (above 5) over 1h", "description": None}


def test_json_payload_is_the_event_and_the_signature_checks_out(receiver):
    hook = WebhookNotifier("h", receiver.url, secret="s3cret", retries=0)
    result = hook.send(EVENT)
    assert (result.ok, result.attempts, result.error) == (True, 1, None)
    [request] = receiver.requests
    assert request["path"] == "/hook"
    assert json.loads(request["body"]) == EVENT
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    stamp = headers["x-traceglass-timestamp"]
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert headers["x-traceglass-signature"] == f"sha256={expected}"


def test_no_secret_no_signature(receiver):
    WebhookNotifier("h", receiver.url, retries=0).send(EVENT)
    headers = {k.lower() for k in receiver.requests[0]["headers"]}
    assert "x-traceglass-signature" not in headers and "x-traceglass-timestamp" not in headers


def test_slack_payload(receiver):
    WebhookNotifier("h", receiver.url, format="slack", retries=0).send({**EVENT, "message": "a <b> & c"})
    assert receiver.bodies() == [{
        "text": "a <b> & c",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt; &amp; c "
                                                 "<http://127.0.0.1:8080/#/?user=alice&since=1h|Open in traceglass>"}}],
    }]


def test_teams_payload(receiver):
    WebhookNotifier("h", receiver.url, format="teams", retries=0).send(EVENT)
    assert receiver.bodies() == [{"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": EVENT["message"], "wrap": True, "color": "attention",
                              "weight": "bolder"}],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in traceglass", "url": EVENT["link"]}]},
    }]}]


def test_5xx_is_retried_with_backoff_until_it_works(receiver):
    receiver.statuses = [503, 500]
    result = WebhookNotifier("h", receiver.url, retries=3, backoff=0.01).send(EVENT)
    assert (result.ok, result.attempts) == (True, 3)
    assert len(receiver.requests) == 3


def test_a_notifier_that_stays_down_is_given_up_on_after_its_retries(receiver):
    receiver.statuses = [500] * 5
    result = WebhookNotifier("h", receiver.url, retries=2, backoff=0.01).send(EVENT)
    assert (result.ok, result.attempts, result.error) == (False, 3, "127.0.0.1 answered HTTP 500")
    assert len(receiver.requests) == 3


def test_a_4xx_is_not_retried(receiver):
    receiver.statuses = [404]
    result = WebhookNotifier("h", receiver.url, retries=3, backoff=0.01).send(EVENT)
    assert (result.ok, result.attempts, result.error) == (False, 1, "127.0.0.1 answered HTTP 404")


def test_a_timeout_is_retried(receiver):
    receiver.hold = threading.Event()  # the receiver answers only once released (bounded: 10 s)
    result = WebhookNotifier("h", receiver.url, timeout=0.2, retries=1, backoff=0.01).send(EVENT)
    receiver.hold.set()
    assert (result.ok, result.attempts) == (False, 2)
    assert len(receiver.requests) == 2


def test_a_refused_connection_is_retried_and_reported_without_the_url():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = WebhookNotifier("h", f"http://127.0.0.1:{port}/T0/secret-path", retries=1, backoff=0.01).send(EVENT)
    assert (result.ok, result.attempts) == (False, 2)
    assert "secret-path" not in result.error and result.error.startswith("127.0.0.1: ")


def test_log_notifier(caplog):
    with caplog.at_level(logging.INFO, logger="traceglass.alerts"):
        assert LogNotifier("l").send(EVENT).ok
        assert LogNotifier("l").send({**EVENT, "state": "resolved", "message": "resolved: spend"}).ok
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("traceglass.alerts", "ERROR", f"traceglass alert: {EVENT['message']}"),
        ("traceglass.alerts", "INFO", "traceglass alert: resolved: spend")]


def test_command_notifier_gets_the_event_on_stdin(tmp_path):
    out = tmp_path / "event.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(sys.stdin.read())"
    assert CommandNotifier("c", [sys.executable, "-c", script], retries=0).send(EVENT).ok
    assert json.loads(out.read_text()) == EVENT
    failing = CommandNotifier("c", [sys.executable, "-c", "import sys; sys.exit('no pager')"], retries=1, backoff=0.01)
    result = failing.send(EVENT)
    assert (result.ok, result.attempts, result.error) == (False, 2, "exit status 1: no pager")


def test_the_dispatcher_never_makes_its_caller_wait_and_records_the_outcome(receiver):
    receiver.hold = threading.Event()
    outcomes: list[tuple[int, str, int]] = []
    done = threading.Event()

    def record(event_id: int, delivery: str, attempts: int) -> None:
        outcomes.append((event_id, delivery, attempts))
        done.set()

    dispatcher = Dispatcher(record, size=1)
    hook = WebhookNotifier("h", receiver.url, retries=0, timeout=5)
    try:
        assert dispatcher.submit(1, EVENT, [hook])  # taken by the worker, which waits on the receiver
        assert receiver.arrived.wait(10)
        assert dispatcher.submit(2, EVENT, [hook])  # queued (the queue holds one)
        assert not dispatcher.submit(3, EVENT, [hook])  # full: refused at once, recorded undelivered
        assert outcomes == [(3, "undelivered", 0)]
        receiver.hold.set()
        for _ in range(100):
            if len(outcomes) == 3:
                break
            done.wait(0.1)
            done.clear()
        assert sorted(outcomes) == [(1, "delivered", 1), (2, "delivered", 1), (3, "undelivered", 0)]
    finally:
        receiver.hold.set()
        dispatcher.close()
