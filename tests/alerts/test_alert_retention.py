"""Retention and the alert tables, on SQLite and PostgreSQL: a pruned trace takes its per-trace rules'
state rows with it (their group is the trace id, their status "fired"; a window rule's rows stay
whatever their group is called), events older than the age limit go (one still "pending" a day later: by
then its delivery died with its process), and a per-trace rule does not fire again for a trace that is
gone (it fires again only if the trace's spans are posted anew: a new trace as far as the store knows)."""

from __future__ import annotations

import secrets
import time

from traceglass.alerts import AlertEngine, AlertRule
from traceglass.store import AlertState

from .conftest import NOW

DAY = 86400.0
PRICEY = AlertRule("pricey", "cost_usd", per_trace=True, above=1.0, window="30d")


def _ago(days: float) -> float:
    """Traffic's ``ago`` for a trace that started ``days`` before the real time (retention's clock)."""
    return NOW - (time.time() - days * DAY)


def _rows(store) -> list[tuple[str, str, str]]:
    return sorted((s.rule, s.group_key, s.status) for s in store.alert_state().values())


def test_prune_by_age_deletes_the_pruned_traces_per_trace_state_and_old_events(store, traffic):
    engine = AlertEngine([PRICEY], store)
    old, kept = traffic.call(cost=2.0, ago=_ago(10)), traffic.call(cost=3.0, ago=_ago(1))
    assert len(engine.check_traces([old, kept], now=time.time() - 1)) == 2
    # A window rule whose group happens to be the old trace's id (a session called so): not per-trace.
    window = AlertState("spend", old, "firing", 9.0, 1, 1, 1)
    # A per-trace row whose trace never was stored (written by an evaluation racing a prune), old.
    stray = AlertState("pricey", "e" * 32, "fired", 2.0, int((time.time() - 10 * DAY) * 1e9), 1, 1)
    young_stray = AlertState("pricey", "d" * 32, "fired", 2.0, int((time.time() - DAY) * 1e9), 1, 1)
    at = {"old": int((time.time() - 10 * DAY) * 1e9), "past": int((time.time() - 5.5 * DAY) * 1e9),
          "new": int((time.time() - DAY) * 1e9)}
    events = [("spend", "", "firing", at["old"], "delivered", {"n": 1}),
              ("spend", "", "resolved", at["old"], "none", {"n": 2}),
              # Still "pending" 10 days on: its process ended before delivering it; it goes with the rest.
              ("spend", "", "firing", at["old"], "pending", {"n": 3}),
              ("spend", "", "resolved", at["new"], "delivered", {"n": 4}),
              # Past the 5-day cutoff by half a day: the delivered one goes; the pending one may still be
              # under way, so it stays until a day past the cutoff.
              ("spend", "", "firing", at["past"], "pending", {"n": 5}),
              ("spend", "", "firing", at["past"], "undelivered", {"n": 6})]
    store.record_alerts([window, stray, young_stray], events)
    assert len(store.alert_history(limit=100)) == 8  # and the two firings of check_traces, just now

    assert store.prune(older_than="5d") == 1
    assert store.get_trace(old) is None
    assert _rows(store) == [("pricey", kept, "fired"), ("pricey", "d" * 32, "fired"), ("spend", old, "firing")]
    assert sorted(r.event.get("n", 0) for r in store.alert_history(limit=100)) == [0, 0, 4, 5]


def test_prune_by_size_and_delete_trace_take_the_per_trace_state_too(store, traffic):
    engine = AlertEngine([PRICEY], store)
    ids, empty = [], store.size_bytes()
    for n in range(30):  # random text: the traces, not a new schema's empty tables, fill the store
        start = int((time.time() - 3 * DAY + n * 60) * 1e9)
        ids.append(f"{n + 1:032x}")
        store.upsert_span({"trace_id": ids[-1], "span_id": f"{n + 1:016x}", "name": "chat", "start_ns": start,
                           "end_ns": start + 10**9, "type": "llm", "model": "gpt-4o-mini", "cost_usd": 2.0,
                           "input_tokens": 10, "output_tokens": 5,
                           "attributes": {"input": secrets.token_urlsafe(9000)}})
    assert len(engine.check_traces(ids, now=time.time())) == 30
    assert store.delete_trace(ids[-1])
    deleted = store.prune(max_size=(empty + store.size_bytes()) // 2)  # about half of the traces
    assert 0 < deleted < 29
    left = {(r.rule, r.group_key) for r in store.alert_state().values()}
    assert left == {("pricey", t) for t in ids[deleted:-1]}  # the oldest went first, with their rows
    assert len(store.alert_history(limit=100)) == 30  # a size limit leaves the history alone


def test_a_pruned_trace_does_not_fire_again_unless_its_spans_are_posted_anew(store, traffic):
    engine = AlertEngine([PRICEY], store)
    old = traffic.call(cost=2.0, ago=_ago(10))
    assert len(engine.check_traces([old], now=time.time() - DAY)) == 1
    store.prune(older_than="5d")
    assert store.alert_state(["pricey"]) == {}
    # Gone with its trace: a check of its id or a pass over the rule's window finds nothing to fire for.
    assert engine.check_traces([old], now=time.time()) == []
    assert engine.evaluate(time.time()) == []
    # Its spans posted again make it a stored trace again, checked as any new one: it fires (once).
    span = {"trace_id": old, "span_id": "1" * 16, "name": "chat", "start_ns": time.time_ns() - 10**9,
            "end_ns": time.time_ns(), "type": "llm", "model": "gpt-4o-mini", "cost_usd": 2.0,
            "input_tokens": 10, "output_tokens": 5}
    store.upsert_span(span)
    assert [e.trace_id for e in engine.check_traces([old], now=time.time())] == [old]
    assert engine.check_traces([old], now=time.time()) == []
