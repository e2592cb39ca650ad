"""Firing and resolved: what one evaluation changes in a rule's stored state, and which changes notify.

A group starts firing when it breaches with enough samples and stops (resolved) when an evaluation
finds it does not (no data, or too few samples, counts as not breaching). Each transition is notified
once; a group that keeps firing is notified again only when its rule's cooldown has passed since the
last firing notification, and a group that fires again within the cooldown after resolving is
recorded but not notified (flapping). Pure: the time is given, nothing is read or written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from traceglass.alerts._metrics import GroupValue
from traceglass.alerts._rules import AlertRule
from traceglass.store import AlertState, TraceBreach


@dataclass(frozen=True)
class Change:
    """One group's outcome: ``state`` firing or resolved; ``notify``: send it; ``new``: a transition
    (False: it was firing already); ``calls``: samples behind the value."""

    rule: AlertRule
    group_key: str
    state: str
    value: float | None
    new: bool
    notify: bool
    calls: int = 0
    breach: TraceBreach | None = None


def _cooled(rule: AlertRule, last_ns: int | None, now_ns: int) -> bool:
    cooldown = rule.cooldown_seconds
    return cooldown is None or last_ns is None or now_ns - last_ns >= cooldown * 1e9


def window_changes(rule: AlertRule, values: Sequence[GroupValue], previous: Mapping[str, AlertState],
                   now_ns: int) -> tuple[list[AlertState], list[Change]]:
    """The states to store and the changes of one window rule's evaluation at ``now_ns``."""
    states: list[AlertState] = []
    changes: list[Change] = []
    breaching: set[str] = set()
    for group in values:
        if group.calls < rule.min_calls or not rule.breaches(group.value):
            continue
        breaching.add(group.key)
        before = previous.get(group.key)
        if before is None or before.status != "firing":
            # Within the cooldown of the last firing notification it is a flap: recorded, not sent.
            notify = before is None or _cooled(rule, before.notified_ns, now_ns)
            states.append(AlertState(rule.name, group.key, "firing", group.value, now_ns,
                                     now_ns if notify else before.notified_ns, now_ns))
            changes.append(Change(rule, group.key, "firing", group.value, True, notify, group.calls))
        else:
            again = rule.cooldown_seconds is not None and _cooled(rule, before.notified_ns, now_ns)
            states.append(AlertState(rule.name, group.key, "firing", group.value, before.since_ns,
                                     now_ns if again else before.notified_ns, now_ns))
            changes.append(Change(rule, group.key, "firing", group.value, again, again, group.calls))
    current = {group.key: group for group in values}
    for key, before in previous.items():
        if before.status == "firing" and key not in breaching:
            group = current.get(key)
            value = group.value if group is not None else None
            states.append(AlertState(rule.name, key, "resolved", value, now_ns, before.notified_ns, now_ns))
            changes.append(Change(rule, key, "resolved", value, True, True, group.calls if group else 0))
    return states, changes


def trace_changes(rule: AlertRule, breaches: Sequence[TraceBreach], previous: Mapping[str, AlertState],
                  now_ns: int) -> tuple[list[AlertState], list[Change]]:
    """A per-trace rule: each trace over the threshold fires once (its group is the trace id, its
    stored status "fired")."""
    states: list[AlertState] = []
    changes: list[Change] = []
    for breach in breaches:
        new = breach.trace_id not in previous
        if new:  # "fired": done once, never resolved (a trace does not get cheaper)
            states.append(AlertState(rule.name, breach.trace_id, "fired", breach.value, now_ns, now_ns, now_ns))
        changes.append(Change(rule, breach.trace_id, "firing", breach.value, new, new, 1, breach))
    return states, changes
