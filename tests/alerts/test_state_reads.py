"""How much alert state a pass reads: a per-trace rule keeps one state row per trace it fired for,
so reading all of a rule's rows on every ingest batch would grow without bound as a store ages.
``check_traces`` reads only the checked traces' rows, ``evaluate`` only the breaching traces' rows of
its per-trace rules (and every row of its window rules, a few groups each). Counted with a spy on the
store's backend: the rows it returned and the groups it was asked for; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from traceglass.alerts import AlertEngine, AlertRule
from traceglass.store import AlertState, TraceStore

from .conftest import NOW

PRICEY = AlertRule("pricey", "cost_usd", per_trace=True, above=1.0, window="1h")
SPEND = AlertRule("spend", "cost_usd", window="1h", above=100.0)


class Reads:
    """Wraps a store's backend ``alert_state``: each call's arguments and the number of rows returned."""

    def __init__(self, store: TraceStore) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any], int]] = []
        backend = store._db
        real = backend.alert_state

        def spy(*args: Any, **kwargs: Any) -> dict[tuple[str, str], AlertState]:
            found = real(*args, **kwargs)
            self.calls.append((args, kwargs, len(found)))
            return found

        backend.alert_state = spy  # type: ignore[method-assign]

    @property
    def rows(self) -> int:
        return sum(count for _, _, count in self.calls)

    def clear(self) -> None:
        self.calls.clear()


def _fire(engine: AlertEngine, traffic, count: int, *, ago: float = 60) -> list[str]:
    ids = [traffic.call(cost=2.0, ago=ago) for _ in range(count)]
    assert len(engine.check_traces(ids, now=NOW)) == count
    return ids


def test_check_traces_reads_only_the_checked_traces_state(store, traffic):
    engine = AlertEngine([PRICEY], store)
    fired = _fire(engine, traffic, 60)
    assert len(store.alert_state(["pricey"])) == 60
    reads = Reads(store)
    cheap, pricey = traffic.call(cost=0.1), traffic.call(cost=5.0)
    assert [e.trace_id for e in engine.check_traces([cheap, pricey], now=NOW)] == [pricey]
    assert reads.rows == 0  # neither had fired: nothing to read, whatever fired before
    reads.clear()
    # Two of the checked traces fired already: their two rows are read, not the other 59.
    assert engine.check_traces([fired[0], fired[1], cheap], now=NOW + 1) == []
    assert reads.rows == 2
    assert len(store.alert_state(["pricey"])) == 61


def test_evaluate_reads_the_breaching_traces_state_and_every_window_group(store, traffic):
    engine = AlertEngine([PRICEY, SPEND], store)
    _fire(engine, traffic, 40, ago=3 * 3600)  # out of the rule's 1h window: not looked at again
    recent = _fire(engine, traffic, 3)
    traffic.call(cost=0.1)
    # The window rule fired before and now finds spend below its threshold: its row must be read to resolve.
    store.record_alerts([AlertState("spend", "", "firing", 150.0, 1, 1, 1)], [])
    reads = Reads(store)
    events = engine.evaluate(NOW)
    assert sorted(e.trace_id for e in events if e.rule == "pricey") == sorted(recent)
    assert not any(e.notified for e in events if e.rule == "pricey")  # fired already: their state was read
    assert [(e.rule, e.state) for e in events if e.rule == "spend"] == [("spend", "resolved")]
    assert reads.rows == 4  # the three breaching traces' rows and the window rule's one, not the other 40


def test_alert_state_groups_filter_and_chunks_long_lists(store, monkeypatch):
    from traceglass.store import _alert_history

    states = [AlertState("pricey", f"{n:032x}", "fired", 2.0, 1, 1, 1) for n in range(25)]
    states.append(AlertState("spend", "gpt-4o", "firing", 200.0, 1, 1, 1))
    store.record_alerts(states, [])
    monkeypatch.setattr(_alert_history, "GROUPS_CHUNK", 4)  # 25 groups: seven statements
    wanted = [f"{n:032x}" for n in range(0, 30, 2)]  # 15 of them, 13 stored
    found = store.alert_state(["pricey", "spend"], groups=wanted)
    assert sorted(found) == [("pricey", g) for g in wanted if int(g, 16) < 25]
    assert store.alert_state(["pricey"], groups=[]) == {}
    # Without groups: as before, every row of the rules (or of every rule).
    assert len(store.alert_state(["pricey"])) == 25
    assert len(store.alert_state()) == 26


def test_active_states_are_read_by_the_database_for_the_alerts_page(store, traffic):
    """GET /api/alerts shows what fires now: the store returns the "firing" groups and the traces
    "fired" since the given time, not every trace a per-trace rule ever fired for."""
    engine = AlertEngine([PRICEY, SPEND], store)
    old = _fire(engine, traffic, 5)  # fired at NOW
    store.record_alerts([AlertState("spend", "", "firing", 150.0, NOW * 10**9, NOW * 10**9, NOW * 10**9),
                         AlertState("quiet", "", "resolved", 1.0, NOW * 10**9, NOW * 10**9, NOW * 10**9)], [])
    later = NOW + 7200
    recent = [traffic.call(cost=3.0, ago=60) for _ in range(2)]
    assert len(engine.check_traces(recent, now=later)) == 2
    reads = Reads(store)
    active = store.alert_state(active_since=later - 3600)
    assert sorted(active) == sorted([("pricey", t) for t in recent] + [("spend", "")])
    assert reads.rows == 3
    assert len(store.alert_state()) == len(old) + len(recent) + 2  # all of it is still there
    assert sorted(store.alert_state(["pricey"], active_since=NOW - 1)) == sorted(("pricey", t) for t in old + recent)
