"""The alert state and history: read the state, record a pass's transitions, list, mark delivery.

The statements are PostgreSQL's too (``mark``: the driver's placeholder); SQLite's transactions are
opened here, PostgreSQL's by its module (``_postgres_alerts``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from traceglass.store._alert_models import AlertRecord, AlertState, event_json
from traceglass.store._writer import rollback

_STATE_COLUMNS = "rule, group_key, status, value, since_ns, notified_ns, updated_ns"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


GROUPS_CHUNK = 500  # group keys per statement: well under SQLite's variable limit (999 on old builds)


def alert_state(conn: Any, rules: Sequence[str] | None = None, *, groups: Sequence[str] | None = None,
                mark: str = "?") -> dict[tuple[str, str], AlertState]:
    """The stored state per (rule, group), of ``rules`` only when given, of the ``groups`` (group
    keys: a per-trace rule's are trace ids) only when given: a per-trace rule has a row per trace
    it fired for, so its state is read for the traces at hand, a few hundred keys a statement over
    the primary key (rule, group_key)."""
    sql = f"SELECT {_STATE_COLUMNS} FROM alert_state"
    params: list[Any] = []
    if rules is not None:
        if not rules:
            return {}
        sql += f" WHERE rule IN ({', '.join([mark] * len(rules))})"
        params.extend(rules)
    if groups is None:
        return _states(conn.execute(sql, params))
    keys = sorted(set(groups))
    found: dict[tuple[str, str], AlertState] = {}
    for start in range(0, len(keys), GROUPS_CHUNK):
        chunk = keys[start:start + GROUPS_CHUNK]
        where = f"{' AND' if params else ' WHERE'} group_key IN ({', '.join([mark] * len(chunk))})"
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
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(upsert_state_sql("?"), state_rows(states))
        for rule, group, state, created_ns, delivery, event in events:
            cursor = conn.execute(insert_event_sql("?"), (rule, group, state, created_ns, delivery, event_json(event)))
            ids.append(int(cursor.lastrowid or 0))
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    return ids


def set_delivery(conn: sqlite3.Connection, event_id: int, delivery: str, attempts: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(set_delivery_sql("?"), (delivery, attempts, event_id))
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


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
