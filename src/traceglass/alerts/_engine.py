"""The alert engine: evaluate rules over a store, persist what changed, and hand notifications out.

One pass (:meth:`AlertEngine.evaluate`) reads the rules' numbers through the store, works out the
changes against the stored state (:mod:`._state`), stores the new state and the events in one
transaction, then notifies: inline (``traceglass alerts check``, :func:`check`) or through a
:class:`~._notify.Dispatcher` (the server), which never blocks the caller.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from traceglass.alerts import _metrics, _state
from traceglass.alerts._notify import Dispatcher, Notifier, deliver
from traceglass.alerts._rules import AlertRule, AlertRules
from traceglass.store import AlertState, TraceStore

_GROUP_PARAM = {"model": "model", "project": "project", "user": "user", "session": "session"}
_WHERE_PARAM = {"project": "project", "model": "model", "user": "user", "session": "session", "span_type": "type",
                "name": "q"}


@dataclass
class AlertEvent:
    """One rule's finding for one group: ``state`` "firing" or "resolved"; ``notified``: sent by this
    pass (a transition, or a repeat after the cooldown); ``id``: its row in the history (None when
    nothing was recorded: it was firing already)."""

    rule: str
    state: str
    metric: str
    value: float | None
    threshold: float
    condition: str
    window: str
    severity: str
    group: dict[str, str]
    at: datetime
    link: str
    message: str
    calls: int = 0
    trace_id: str | None = None
    notified: bool = False
    id: int | None = None
    delivery: str | None = None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON a webhook posts (format json) and ``/api/alerts`` lists."""
        return {"rule": self.rule, "state": self.state, "metric": self.metric, "value": self.value,
                "threshold": self.threshold, "condition": self.condition, "window": self.window,
                "severity": self.severity, "group": dict(self.group), "calls": self.calls, "trace_id": self.trace_id,
                "at": self.at.isoformat(), "link": self.link, "message": self.message,
                "description": self.description}


def _number(value: float | None) -> str:
    return "no data" if value is None else f"{value:.6g}"


def _link(base: str, rule: AlertRule, group: dict[str, str], trace_id: str | None) -> str:
    if trace_id is not None:
        return f"{base}#/trace/{trace_id}"
    params = {_WHERE_PARAM[key]: value for key, value in rule.where.items()}
    params.update({_GROUP_PARAM[key]: value for key, value in group.items()})
    params["since"] = rule.window_text
    return f"{base}#/?{urllib.parse.urlencode(params)}"


def _event(change: _state.Change, now_ns: int, base: str) -> AlertEvent:
    rule = change.rule
    group = {rule.group_by: change.group_key} if rule.group_by and change.group_key else {}
    breach = change.breach
    trace_id = breach.trace_id if breach is not None else None
    scope = "".join(f" {k}={v}" for k, v in group.items())
    if breach is not None:
        label = breach.name or trace_id[:8] if trace_id else ""
        scope = f" trace {label} ({trace_id})"
    head = "resolved: " if change.state == "resolved" else f"[{rule.severity}] "
    message = (f"{head}{rule.name}:{scope} {rule.metric} = {_number(change.value)} "
               f"({rule.condition} {rule.threshold:g}) over {'the trace' if rule.per_trace else rule.window_text}")
    return AlertEvent(rule.name, change.state, rule.metric, change.value, rule.threshold, rule.condition,
                      rule.window_text, rule.severity, group,
                      datetime.fromtimestamp(now_ns / 1e9, tz=timezone.utc), _link(base, rule, group, trace_id),
                      message, change.calls, trace_id, change.notify, description=rule.description)


class AlertEngine:
    """Evaluates ``rules`` over ``store``. Without a ``dispatcher`` notifications are sent inline
    (the pass returns when they are delivered or given up); with one, they are queued."""

    def __init__(self, rules: AlertRules | Sequence[AlertRule], store: TraceStore, *,
                 dispatcher: Dispatcher | None = None) -> None:
        self.rules = rules if isinstance(rules, AlertRules) else AlertRules(tuple(rules))
        self.store = store
        self.dispatcher = dispatcher
        # One pass at a time: the state is read, compared and written back.
        self._lock = threading.Lock()

    def evaluate(self, now: float | None = None, *, per_trace: bool = True) -> list[AlertEvent]:
        """Every window rule over its window ending ``now`` (epoch seconds; default: the time), and
        every per-trace rule over the traces started in its window; returns the firing and resolved."""
        now_ns = int((time.time() if now is None else now) * 1e9)
        rules = [r for r in self.rules.rules if per_trace or not r.per_trace]
        window_rules = [r for r in rules if not r.per_trace]
        with self._lock:
            values = _metrics.window_values(self.store, window_rules, now_ns)
            breaches = {r.name: _metrics.trace_breaches(self.store, r, until_ns=now_ns) for r in rules if r.per_trace}
            previous = self._previous(window_rules)
            previous.update(self._previous([r for r in rules if r.per_trace],
                                           [b.trace_id for found in breaches.values() for b in found]))
            states: list[AlertState] = []
            changes: list[_state.Change] = []
            for rule in rules:
                if rule.per_trace:
                    found = _state.trace_changes(rule, breaches[rule.name], previous.get(rule.name, {}), now_ns)
                else:
                    found = _state.window_changes(rule, values[rule.name], previous.get(rule.name, {}), now_ns)
                states.extend(found[0])
                changes.extend(found[1])
            return self._commit(states, changes, now_ns)

    def check_traces(self, trace_ids: Iterable[str], now: float | None = None) -> list[AlertEvent]:
        """The per-trace rules over these (just stored) traces; returns the new firings."""
        ids = sorted({t for t in trace_ids if isinstance(t, str)})
        rules = [r for r in self.rules.rules if r.per_trace]
        if not ids or not rules:
            return []
        now_ns = int((time.time() if now is None else now) * 1e9)
        with self._lock:
            breaches = {r.name: _metrics.trace_breaches(self.store, r, trace_ids=ids, limit=len(ids)) for r in rules}
            previous = self._previous(rules, [b.trace_id for found in breaches.values() for b in found])
            states: list[AlertState] = []
            changes: list[_state.Change] = []
            for rule in rules:
                found = _state.trace_changes(rule, breaches[rule.name], previous.get(rule.name, {}), now_ns)
                states.extend(found[0])
                changes.extend(c for c in found[1] if c.new)
            return self._commit(states, changes, now_ns)

    def _previous(self, rules: Sequence[AlertRule], groups: Sequence[str] | None = None,
                  ) -> dict[str, dict[str, AlertState]]:
        """The stored state of ``rules``, of the group keys ``groups`` only when given. A per-trace
        rule keeps a row per trace it fired for, forever until retention deletes the trace: it is read
        for the breaching traces at hand only, or every pass would read more rows than the last."""
        by_rule: dict[str, dict[str, AlertState]] = {}
        if not rules or (groups is not None and not groups):
            return by_rule
        for (rule, group), state in self.store.alert_state([r.name for r in rules], groups=groups).items():
            by_rule.setdefault(rule, {})[group] = state
        return by_rule

    def _notifiers(self, rule: AlertRule) -> list[Notifier]:
        return [self.rules.notifiers[name] for name in rule.notify]

    def _commit(self, states: list[AlertState], changes: list[_state.Change], now_ns: int) -> list[AlertEvent]:
        events = [_event(change, now_ns, self.rules.dashboard_url) for change in changes]
        recorded = [(change, event) for change, event in zip(changes, events) if change.new]
        rows = []
        for change, event in recorded:
            if not change.notify:
                event.delivery = "suppressed"
            elif not change.rule.notify:
                event.delivery = "none"
            else:
                event.delivery = "pending"
            rows.append((event.rule, change.group_key, event.state, now_ns, event.delivery, event.to_dict()))
        if states or rows:
            ids = self.store.record_alerts(states, rows)
            for (_, event), event_id in zip(recorded, ids):
                event.id = event_id
        for change, event in recorded:
            if event.delivery != "pending" or event.id is None:
                continue
            notifiers = self._notifiers(change.rule)
            if self.dispatcher is not None:
                self.dispatcher.submit(event.id, event.to_dict(), notifiers)
            else:
                def record(event_id: int, delivery: str, attempts: int, event: AlertEvent = event) -> None:
                    event.delivery = delivery
                    self.store.set_alert_delivery(event_id, delivery, attempts)
                deliver(event.id, event.to_dict(), notifiers, record)
        return events


def check(rules: AlertRules | Sequence[AlertRule], store: TraceStore | None = None, *,
          now: float | None = None) -> list[AlertEvent]:
    """Evaluate every rule once over ``store`` (default: the default database), notify what changed
    (inline), and return what fires and what resolved."""
    own = store is None
    target = TraceStore() if store is None else store
    try:
        return AlertEngine(rules, target).evaluate(now)
    finally:
        if own:
            target.close()
