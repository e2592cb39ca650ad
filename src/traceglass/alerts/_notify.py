"""Notifiers (webhook, log, command) and the dispatcher that delivers alert events off the caller's thread.

A notifier sends one event and says how it went (:class:`Delivery`); retries with backoff on a
5xx, 429, timeout or refused connection are its own, bounded by ``retries`` and ``timeout``. The
:class:`Dispatcher` owns one worker thread and a bounded queue: submitting never blocks (a full
queue marks the event undelivered), so a notifier that is down never holds up ingest or the dashboard.
Secrets (a webhook's URL, its signing secret) are never logged: failures name the notifier and host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import queue
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from traceglass._version import __version__

logger = logging.getLogger("traceglass.alerts")

FORMATS = ("json", "slack", "teams")
SIGNATURE_HEADER = "X-Traceglass-Signature"
TIMESTAMP_HEADER = "X-Traceglass-Timestamp"
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Delivery:
    """How sending one event went: ``ok``, after ``attempts`` tries; ``error`` says why not (no secrets)."""

    ok: bool
    attempts: int
    error: str | None = None


def _positive(options: dict[str, Any], key: str, default: float, *, whole: bool = False, zero: bool = False) -> Any:
    value = options.pop(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not zero) or (whole and not isinstance(value, int)) or value > 3600:
        kind = "a whole number" if whole else "a number of seconds"
        raise ValueError(f"{key}: must be {kind} {'of at least 0' if zero else 'above 0'} (at most 3600), "
                         f"got {value!r}")
    return value


class Notifier:
    """Sends alert events somewhere. ``retries`` more tries after a transient failure, ``backoff``
    seconds before the first retry, doubling."""

    kind = "notifier"

    def __init__(self, name: str, *, retries: int = 2, backoff: float = 1.0) -> None:
        self.name = name
        self.retries = retries
        self.backoff = backoff

    def send(self, event: Mapping[str, Any], *, stop: threading.Event | None = None) -> Delivery:
        """Deliver ``event`` (an :meth:`AlertEvent.to_dict`), retrying transient failures; never raises."""
        attempts = 0
        error = "not sent"
        while attempts <= self.retries:
            if attempts:
                delay = self.backoff * 2 ** (attempts - 1)
                if stop is not None and stop.wait(delay):
                    break  # shutting down: the event stays undelivered
                if stop is None:
                    time.sleep(delay)
            attempts += 1
            try:
                error_or_none, transient = self._send_once(event)
            except Exception as exc:  # noqa: BLE001 - a notifier never raises into the engine
                error_or_none, transient = f"{type(exc).__name__}: {exc}", False
            if error_or_none is None:
                return Delivery(True, attempts)
            error = error_or_none
            if not transient:
                break
        return Delivery(False, attempts, error)

    def _send_once(self, event: Mapping[str, Any]) -> tuple[str | None, bool]:
        """One try: (None, _) when sent, else (why, whether another try may work)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LogNotifier(Notifier):
    """Logs each event on the ``traceglass.alerts`` logger (firing: WARNING, or ERROR when critical;
    resolved: INFO)."""

    kind = "log"

    def __init__(self, name: str) -> None:
        super().__init__(name, retries=0)

    def _send_once(self, event: Mapping[str, Any]) -> tuple[str | None, bool]:
        level = (logging.INFO if event.get("state") == "resolved"
                 else logging.ERROR if event.get("severity") == "critical" else logging.WARNING)
        logger.log(level, "traceglass alert: %s", event.get("message"))
        return None, False


class CommandNotifier(Notifier):
    """Runs ``command`` (a list, or a text split like a shell would) with the event as JSON on stdin;
    a non-zero exit or a timeout is a failure (retried)."""

    kind = "command"

    def __init__(self, name: str, command: Sequence[str], *, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 1.0) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.command = list(command)
        self.timeout = timeout

    def _send_once(self, event: Mapping[str, Any]) -> tuple[str | None, bool]:
        try:
            done = subprocess.run(self.command, input=json.dumps(event).encode(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"timed out after {self.timeout:g} s", True
        except OSError as exc:
            return f"could not run {self.command[0]!r}: {exc.strerror or exc}", False
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if done.stderr else []
            return f"exit status {done.returncode}" + (f": {tail[0][:200]}" if tail else ""), True
        return None, False


class WebhookNotifier(Notifier):
    """POSTs the event as JSON (``format``: ``json``, ``slack`` or ``teams``); with ``secret``, signs
    it: ``X-Traceglass-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` beside
    ``X-Traceglass-Timestamp``. Retries 5xx, 429, timeouts and connection failures."""

    kind = "webhook"

    def __init__(self, name: str, url: str, *, format: str = "json", secret: str | None = None,  # noqa: A002
                 timeout: float = 5.0, retries: int = 2, backoff: float = 1.0,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("url: must be an http(s) URL")  # the URL itself is not echoed: it may be a secret
        if format not in FORMATS:
            raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {format!r}")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("secret: must be a non-empty text")
        self.url = url
        self.host = parsed.hostname
        self.format = format
        self._secret = secret
        self.timeout = timeout
        self.headers = dict(headers or {})

    def body(self, event: Mapping[str, Any]) -> bytes:
        return json.dumps(payload(event, self.format), ensure_ascii=False).encode("utf-8")

    def _send_once(self, event: Mapping[str, Any]) -> tuple[str | None, bool]:
        body = self.body(event)
        headers = {"Content-Type": "application/json", "User-Agent": f"traceglass/{__version__}", **self.headers}
        if self._secret is not None:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self._secret, stamp, body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # our own I/O is never traced
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                response.read(65536)
            return None, False
        except urllib.error.HTTPError as exc:
            return f"{self.host} answered HTTP {exc.code}", exc.code >= 500 or exc.code in (408, 429)
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{self.host}: {type(reason).__name__ if not isinstance(reason, str) else reason}", True
        finally:
            detach(token)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, host={self.host!r}, format={self.format!r})"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a receiver recomputes to check ``X-Traceglass-Signature``."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _slack_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(event: Mapping[str, Any], format: str = "json") -> dict[str, Any]:  # noqa: A002
    """The JSON body a webhook of ``format`` posts for ``event``."""
    if format == "json":
        return dict(event)
    message = str(event.get("message", ""))
    link = event.get("link")
    if format == "slack":
        text = _slack_text(message) + (f" <{link}|Open in traceglass>" if link else "")
        return {"text": message, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    # Teams: an Adaptive Card in a message, what Teams' incoming-webhook workflows take.
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "TextBlock", "text": message, "wrap": True,
                  "color": "good" if event.get("state") == "resolved" else "attention", "weight": "bolder"}],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in traceglass", "url": link}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def make_notifier(name: str, options: Mapping[str, Any]) -> Notifier:
    """A notifier from a rules file's entry (without its name); ValueError("field: why")."""
    values = dict(options)
    kind = values.pop("type", "webhook")
    if kind == "log":
        notifier: Notifier = LogNotifier(name)
    elif kind == "webhook":
        url = values.pop("url", None)
        if not isinstance(url, str) or not url:
            raise ValueError("url: missing")
        headers = values.pop("headers", None)
        if headers is not None and not (isinstance(headers, Mapping)
                                        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise ValueError("headers: must be a mapping of texts")
        notifier = WebhookNotifier(name, url, format=values.pop("format", "json"), secret=values.pop("secret", None),
                                   timeout=_positive(values, "timeout", 5.0),
                                   retries=_positive(values, "retries", 2, whole=True, zero=True),
                                   backoff=_positive(values, "backoff", 1.0, zero=True), headers=headers)
    elif kind == "command":
        command = values.pop("command", None)
        if isinstance(command, str):
            command = shlex.split(command)
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise ValueError("command: must be a command line or a list of its words")
        notifier = CommandNotifier(name, command, timeout=_positive(values, "timeout", 10.0),
                                   retries=_positive(values, "retries", 2, whole=True, zero=True),
                                   backoff=_positive(values, "backoff", 1.0, zero=True))
    else:
        raise ValueError(f"type: must be webhook, log or command, got {kind!r}")
    if values:
        raise ValueError(f"{next(iter(values))}: unknown field for a {kind} notifier")
    return notifier


class Dispatcher:
    """Delivers events to their notifiers on one worker thread, through a bounded queue.

    ``on_result(event_id, delivery, attempts)`` records the outcome (``"delivered"`` when every
    notifier took it, else ``"undelivered"``). ``submit`` never blocks: a full queue, or a dispatcher
    already closed, is an undelivered event at once.
    """

    def __init__(self, on_result: Callable[[int, str, int], Any], *, size: int = QUEUE_SIZE) -> None:
        self._on_result = on_result
        self._queue: queue.Queue[tuple[int, dict[str, Any], tuple[Notifier, ...]] | None] = queue.Queue(size)
        self._stop = threading.Event()
        self._warned_full = False
        self._thread = threading.Thread(target=self._run, name="traceglass-alerts-notify", daemon=True)
        self._thread.start()

    def submit(self, event_id: int, event: dict[str, Any], notifiers: Sequence[Notifier]) -> bool:
        if self._stop.is_set():
            self._record(event_id, "undelivered", 0)
            return False
        try:
            self._queue.put_nowait((event_id, event, tuple(notifiers)))
            return True
        except queue.Full:
            if not self._warned_full:
                self._warned_full = True
                logger.warning("traceglass: alert notifications are backing up (%d waiting); new ones are "
                               "recorded as undelivered", self._queue.maxsize)
            self._record(event_id, "undelivered", 0)
            return False

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            event_id, event, notifiers = item
            deliver(event_id, event, notifiers, self._record, stop=self._stop)
            if self._queue.empty():
                self._warned_full = False

    def _record(self, event_id: int, delivery: str, attempts: int) -> None:
        try:
            self._on_result(event_id, delivery, attempts)
        except Exception as exc:  # noqa: BLE001 - the store may be closed or locked: logged, not raised
            logger.warning("traceglass: could not record the delivery of alert event %d: %s", event_id, exc)

    def close(self, timeout: float = 5.0) -> None:
        """Stop: pending retries end at once (their events stay undelivered); waits up to ``timeout``."""
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        while True:  # whatever never started is undelivered
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._record(item[0], "undelivered", 0)


def deliver(event_id: int, event: dict[str, Any], notifiers: Sequence[Notifier],
            record: Callable[[int, str, int], Any], *, stop: threading.Event | None = None) -> bool:
    """Send ``event`` to each notifier, then ``record`` the outcome; True when all took it."""
    attempts, ok = 0, True
    for notifier in notifiers:
        result = notifier.send(event, stop=stop)
        attempts += result.attempts
        if not result.ok:
            ok = False
            logger.warning("traceglass: alert %r not delivered by %s %r after %d attempt(s): %s", event.get("rule"),
                           notifier.kind, notifier.name, result.attempts, result.error)
    record(event_id, "delivered" if ok else "undelivered", attempts)
    return ok
