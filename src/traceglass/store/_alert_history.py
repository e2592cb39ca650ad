"""The alert state and history: read the state, record a pass's transitions, list, mark delivery.

The statements are PostgreSQL's too (``mark``: the driver's placeholder); SQLite's transactions are
opened here, PostgreSQL's by its module (``_postgres_alerts``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from traceglass.store._alert_models import AlertRecord, AlertState, event_json
from traceglass.store._transaction import write_transaction

_STATE_COLUMNS = "rule, group_key, status, value, since_ns, notified_ns, updated_ns"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


GROUPS_CHUNK = 500  # group keys per statement: well under SQLite's variable limit (999 on old builds)


def alert_state(conn: Any, rules: Sequence[str] | None = None, *, groups: Sequence[str] | None = None,
                active_since_ns: int | None = None, mark: str = "?") -> dict[tuple[str, str], AlertState]:
    """The stored state per (rule, group), of ``rules`` only when given, of the ``groups`` (group
    keys: a per-trace rule's are trace ids) only when given: a per-trace rule has a row per trace
    it fired for, so its state is read for the traces at hand, a few hundred keys a statement over
    the primary key (rule, group_key). ``active_since_ns``: only what fires now, a window rule's
    "firing" group or a per-trace rule's trace "fired" since then (the rest stays in the database)."""
    sql = f"SELECT {_STATE_COLUMNS} FROM alert_state"
    conditions: list[str] = []
    params: list[Any] = []
    if rules is not None:
        if not rules:
            return {}
        conditions.append(f"rule IN ({', '.join([mark] * len(rules))})")
        params.extend(rules)
    if active_since_ns is not None:
        conditions.append(f"(status = 'firing' OR (status = 'fired' AND since_ns >= {mark}))")
        params.append(active_since_ns)
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if groups is None:
        return _states(conn.execute(sql, params))
    keys = sorted(set(groups))
    found: dict[tuple[str, str], AlertState] = {}
    for start in range(0, len(keys), GROUPS_CHUNK):
        chunk = keys[start:start + GROUPS_CHUNK]
        where = f"{' AND' if conditions else ' WHERE'} group_key IN ({', '.join([mark] * len(chunk))})"
        found.update(_states(conn.execute(sql + where, [*params, *chunk])))
    return found


def _states(rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], AlertState]:
    found: dict[tuple[str, str], AlertState] = {}
    for rule, group, status, value, since, notified, updated in rows:
        if not isinstance(rule, str) or not isinstance(group, str) or status not in ("firing", "resolved", "fired"):
            continue  # a row written by something else: ignored, as if absent
        found[(rule, group)] = AlertState(rule, group, status, value if isinstance(value, (int, float)) else None,
                                          _int(since) or 0, _int(notified), _int(updated) or 0)
    return found


def upsert_state_sql(mark: str) -> str:
    return (f"INSERT INTO alert_state ({_STATE_COLUMNS}) VALUES ({', '.join([mark] * 7)}) ON CONFLICT "
            "(rule, group_key) DO UPDATE SET status = excluded.status, value = excluded.value, "
            "since_ns = excluded.since_ns, notified_ns = excluded.notified_ns, updated_ns = excluded.updated_ns")


def insert_event_sql(mark: str) -> str:
    return ("INSERT INTO alert_events (rule, group_key, state, created_ns, delivery, event) "
            f"VALUES ({', '.join([mark] * 6)})")


def set_delivery_sql(mark: str) -> str:
    return f"UPDATE alert_events SET delivery = {mark}, attempts = {mark} WHERE id = {mark}"


def state_rows(states: Sequence[AlertState]) -> list[tuple[Any, ...]]:
    return [(s.rule, s.group_key, s.status, s.value, s.since_ns, s.notified_ns, s.updated_ns) for s in states]


def record(conn: sqlite3.Connection, states: Sequence[AlertState],
           events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
    """Upsert ``states`` and append ``events`` ((rule, group, state, created_ns, delivery, event)) in one
    transaction; the new events' ids, in order."""
    ids: list[int] = []
    with write_transaction(conn):
        conn.executemany(upsert_state_sql("?"), state_rows(states))
        for rule, group, state, created_ns, delivery, event in events:
            cursor = conn.execute(insert_event_sql("?"), (rule, group, state, created_ns, delivery, event_json(event)))
            ids.append(int(cursor.lastrowid or 0))
    return ids


def set_delivery(conn: sqlite3.Connection, event_id: int, delivery: str, attempts: int) -> None:
    with write_transaction(conn):
        conn.execute(set_delivery_sql("?"), (delivery, attempts, event_id))


def history(conn: Any, *, rule: str | None, since_ns: int | None, limit: int, mark: str = "?") -> list[AlertRecord]:
    """Stored events newest first."""
    clauses: list[str] = []
    params: list[Any] = []
    if rule is not None:
        clauses.append(f"rule = {mark}")
        params.append(rule)
    if since_ns is not None:
        clauses.append(f"created_ns >= {mark}")
        params.append(since_ns)
    sql = ("SELECT id, rule, group_key, state, created_ns, delivery, attempts, event FROM alert_events "
           f"{'WHERE ' + ' AND '.join(clauses) if clauses else ''} ORDER BY created_ns DESC, id DESC LIMIT {mark}")
    records = []
    for row_id, rule_name, group, state, created, delivery, attempts, text in conn.execute(sql, [*params, limit]):
        try:
            event = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            event = {}
        records.append(AlertRecord(int(row_id), str(rule_name), str(group), str(state), _int(created) or 0,
                                   str(delivery), _int(attempts) or 0, event if isinstance(event, dict) else {}))
    return records


# -- retention -------------------------------------------------------------------------------------
# A per-trace rule's state row is the only kind with status "fired" (alerts._state.trace_changes; a
# window rule's rows are "firing" or "resolved"), and its group key is the trace's id. The table has no
# column naming the rule's kind, and the rules are the server's configuration, not the store's: the
# status tells them apart, so a window rule grouped by a session whose id equals a trace id keeps its row.
TRACE_STATUS = "fired"
_MAX_RULES = 1000  # rule names walked over the primary key; more than this: one scan of the table


def _rule_names(conn: Any, mark: str) -> list[str] | None:
    """Every rule name with a state row, each found in the (rule, group_key) key (a few rules,
    however many rows); None past ``_MAX_RULES``."""
    names: list[str] = []
    row = conn.execute("SELECT rule FROM alert_state ORDER BY rule LIMIT 1").fetchone()
    while row is not None:
        if len(names) == _MAX_RULES:
            return None
        names.append(row[0])
        row = conn.execute(f"SELECT rule FROM alert_state WHERE rule > {mark} ORDER BY rule LIMIT 1",
                           (row[0],)).fetchone()
    return names


def forget_traces(conn: Any, trace_ids: Sequence[str], *, mark: str = "?") -> int:
    """Delete the per-trace rules' state of ``trace_ids`` (deleted traces: they cannot be checked
    again), inside the caller's transaction; returns the rows deleted. Looked up per rule over the
    primary key, so a retention step does not scan the table."""
    keys = sorted(set(trace_ids))
    if not keys:
        return 0
    rules = _rule_names(conn, mark)
    if rules == []:
        return 0
    deleted = 0
    for start in range(0, len(keys), GROUPS_CHUNK):
        chunk = keys[start:start + GROUPS_CHUNK]
        sql = f"DELETE FROM alert_state WHERE status = {mark} AND group_key IN ({', '.join([mark] * len(chunk))})"
        if rules is None:
            deleted += conn.execute(sql, [TRACE_STATUS, *chunk]).rowcount
            continue
        for rule in rules:
            deleted += conn.execute(f"{sql} AND rule = {mark}", [TRACE_STATUS, *chunk, rule]).rowcount
    return deleted


def orphan_states_sql(mark: str) -> str:
    """Delete up to a chunk of per-trace state rows fired before a cutoff whose trace is not stored
    (parameters: cutoff ns, chunk): those of traces deleted by an older traceglass, or an evaluation
    that raced a prune."""
    return (f"DELETE FROM alert_state WHERE (rule, group_key) IN (SELECT s.rule, s.group_key FROM alert_state s "
            f"WHERE s.status = '{TRACE_STATUS}' AND s.since_ns < {mark} "
            f"AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = s.group_key) LIMIT {mark})")


# How much longer than the others an event whose notification is still "pending" is kept: its delivery may
# be under way, but none takes a day (bounded retries), so one pending longer died with its process.
PENDING_GRACE_NS = 86400 * 10**9


def _events_sql(mark: str, delivery: str) -> str:
    """Delete up to a chunk of the oldest events created before a cutoff whose delivery passes the
    test ``delivery`` (parameters: cutoff ns, chunk), over the created_ns index."""
    return ("DELETE FROM alert_events WHERE id IN (SELECT e.id FROM alert_events e "
            f"WHERE e.created_ns < {mark} AND e.delivery {delivery} ORDER BY e.created_ns, e.id LIMIT {mark})")


def age_pruning_sql(mark: str, cutoff_ns: int) -> list[tuple[str, int]]:
    """The alert tables' share of pruning by age, as (statement, its cutoff ns) pairs; each statement
    takes (cutoff, chunk) and is run until it deletes nothing. They delete the per-trace state rows of
    traces not stored (:func:`orphan_states_sql`) and the events created before the cutoff; an event
    still "pending" a day past it (:data:`PENDING_GRACE_NS`), when its process ended before delivering
    it and nothing else would ever delete it."""
    return [(orphan_states_sql(mark), cutoff_ns), (_events_sql(mark, "<> 'pending'"), cutoff_ns),
            (_events_sql(mark, "= 'pending'"), cutoff_ns - PENDING_GRACE_NS)]
