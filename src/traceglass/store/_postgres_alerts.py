"""The alert rules' reads and the alert state and history, on PostgreSQL.

The statements are :mod:`._alert_queries`' and :mod:`._alert_history`'s, built with PostgreSQL's
placeholder and spellings (``_dialect.POSTGRES``); only the transactions are this module's.
Recording a pass's states is one upsert per state inside one transaction, as SQLite's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from traceglass.store import _alert_history, _alert_queries
from traceglass.store._alert_models import (
    AlertRecord,
    AlertState,
    TraceBreach,
    TraceQuery,
    WindowMetrics,
    WindowQuery,
    event_json,
)
from traceglass.store._dialect import POSTGRES

_MARK = "%s"


def window_metrics(conn: Any, query: WindowQuery) -> list[WindowMetrics]:
    return _alert_queries.window_metrics(conn, query, sql=POSTGRES)


def trace_breaches(conn: Any, query: TraceQuery) -> list[TraceBreach]:
    return _alert_queries.trace_breaches(conn, query, sql=POSTGRES)


def alert_state(conn: Any, rules: Sequence[str] | None = None, *, groups: Sequence[str] | None = None,
                active_since_ns: int | None = None) -> dict[tuple[str, str], AlertState]:
    return _alert_history.alert_state(conn, rules, groups=groups, active_since_ns=active_since_ns, mark=_MARK)


def record(conn: Any, states: Sequence[AlertState],
           events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
    ids: list[int] = []
    with conn.transaction():
        with conn.cursor() as cursor:
            cursor.executemany(_alert_history.upsert_state_sql(_MARK), _alert_history.state_rows(states))
        for rule, group, state, created_ns, delivery, event in events:
            row = conn.execute(_alert_history.insert_event_sql(_MARK) + " RETURNING id",
                               (rule, group, state, created_ns, delivery, event_json(event))).fetchone()
            ids.append(int(row[0]))
    return ids


def set_delivery(conn: Any, event_id: int, delivery: str, attempts: int) -> None:
    conn.execute(_alert_history.set_delivery_sql(_MARK), (delivery, attempts, event_id))


def history(conn: Any, *, rule: str | None, since_ns: int | None, limit: int) -> list[AlertRecord]:
    return _alert_history.history(conn, rule=rule, since_ns=since_ns, limit=limit, mark=_MARK)
