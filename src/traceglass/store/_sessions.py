"""The sessions and users SQL (SQLite): per-session and per-user totals over the ``traces`` summary
table, and one session's turns with what each said.

Everything is read from ``traces`` (one row per trace, carrying its session and user), so a page
never aggregates spans. The statements keep to SQL that PostgreSQL runs too, but for the list of
ids, passed as one JSON array (``json_each``), and ``total()`` in the overflow fallback.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from traceglass.store import _scores
from traceglass.store._queries import _float, _int, _loads, _text
from traceglass.store._session_models import Session, SessionPage, SessionSummary, SessionTurn, UserPage, UserSummary
from traceglass.store._time import NS_MAX, NS_MIN
from traceglass.store._turn_text import turn_texts

_LAST = "max(coalesce(end_ns, start_ns))"
# The totals of a group of traces; ``{sum}`` is sum(), or total() when a hand-written row's huge
# counts overflow a 64-bit sum.
_TOTALS = (f"min(start_ns), {_LAST} AS last_seen, sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END), "
           "{sum}(input_tokens), {sum}(output_tokens), {sum}(total_tokens), {sum}(cost_usd)")


def _scope(since_ns: int | None, until_ns: int | None, project: str | None, user: str | None = None,
           prefix: str = "") -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for clause, value in ((f"{prefix}start_ns >= ?", since_ns), (f"{prefix}start_ns < ?", until_ns),
                          (f"{prefix}project = ?", project), (f"{prefix}user_id = ?", user)):
        if value is not None:
            where.append(clause)
            params.append(value)
    return where, params


def encode_cursor(last_ns: int, key: str) -> str:
    return f"{last_ns}.{key}"


def decode_cursor(cursor: str, what: str) -> tuple[int, str]:
    try:
        last, key = cursor.split(".", 1)
        last_ns = int(last)
    except (AttributeError, ValueError):
        last_ns = None
    if last_ns is None or not NS_MIN <= last_ns <= NS_MAX:
        raise ValueError(f"invalid cursor {cursor!r}; pass back a next_cursor from {what}")
    return last_ns, key


def _check_limit(limit: Any) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")


def _grouped(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple]:
    try:
        return conn.execute(sql.format(sum="sum"), params).fetchall()
    except sqlite3.OperationalError as exc:  # "integer overflow": a stored count beyond any real one
        if "overflow" not in str(exc):
            raise
    return conn.execute(sql.format(sum="total"), params).fetchall()


def _usage(row: Sequence[Any]) -> dict[str, Any]:
    """_TOTALS (after the count) as _Usage keywords, every value checked (rows may be hand-written)."""
    first, last, errors, tokens_in, tokens_out, tokens_total, cost = row
    numbers = [_int(v) or 0 for v in (tokens_in, tokens_out, tokens_total)]
    return {"first_seen_ns": _int(first) or 0, "last_seen_ns": _int(last) or _int(first) or 0,
            "errors": _int(errors) or 0, "input_tokens": numbers[0], "output_tokens": numbers[1],
            "total_tokens": numbers[2], "cost_usd": _float(cost)}


def _page(conn: sqlite3.Connection, key: str, extra: str, where: list[str], params: list[Any], limit: int,
          cursor: str | None, what: str) -> tuple[list[tuple], str | None]:
    """Groups of traces by ``key``, the latest active first, one page after ``cursor``."""
    _check_limit(limit)
    having, having_params = "", []
    if cursor:
        last_ns, last_key = decode_cursor(cursor, what)
        having = f" HAVING {_LAST} < ? OR ({_LAST} = ? AND {key} < ?)"
        having_params = [last_ns, last_ns, last_key]
    # The unary + keeps SQLite off the (key, start_ns) index for the grouping: it would fetch every
    # trace row at random through it; one pass over the table and a temporary B-tree are faster.
    condition = " AND ".join([f"{key} IS NOT NULL", *where])
    sql = (f"SELECT +{key} AS k, count(*), {extra}{_TOTALS} FROM traces WHERE {condition} GROUP BY k{having} "
           "ORDER BY last_seen DESC, k DESC LIMIT ?")
    rows = _grouped(conn, sql, [*params, *having_params, min(limit, NS_MAX - 1) + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last[-6], _text(last[0]) or "")
    # A key stored as a number or bytes (a hand-written row) reads as text.
    return [(_text(row[0]), *row[1:]) for row in rows], next_cursor


def _score_summaries(conn: sqlite3.Connection, key: str, ids: list[str], where: list[str],
                     params: list[Any]) -> dict[str, dict[str, Any]]:
    """Per group id of ``ids``: the summary of the scores of its traces in scope."""
    if not ids:
        return {}
    condition = " AND ".join([f"t.{key} IN (SELECT value FROM json_each(?))", *where])
    rows = conn.execute(f"SELECT t.{key}, c.name, c.label, count(*), total(c.value), count(c.value) "
                        f"FROM traces t JOIN scores c ON c.trace_id = t.trace_id WHERE {condition} "
                        f"GROUP BY t.{key}, c.name, c.label", [json.dumps(ids), *params])
    return _scores.summarize(rows)


def _session_users(conn: sqlite3.Connection, ids: list[str], where: list[str],
                   params: list[Any]) -> dict[str, list[str]]:
    if not ids:
        return {}
    condition = " AND ".join(["session_id IN (SELECT value FROM json_each(?))", "user_id IS NOT NULL", *where])
    users: dict[str, list[str]] = {}
    for session, user in conn.execute(f"SELECT DISTINCT session_id, user_id FROM traces WHERE {condition} "
                                      "ORDER BY session_id, user_id", [json.dumps(ids), *params]):
        if isinstance(user, (str, int, float, bytes)):
            users.setdefault(session, []).append(_text(user))  # type: ignore[arg-type]
    return users


def sessions(conn: sqlite3.Connection, *, since_ns: int | None, until_ns: int | None, project: str | None,
             user: str | None, limit: int, cursor: str | None) -> SessionPage:
    where, params = _scope(since_ns, until_ns, project, user)
    rows, next_cursor = _page(conn, "session_id", "", where, params, limit, cursor, "sessions()")
    ids = [row[0] for row in rows]
    t_where, t_params = _scope(since_ns, until_ns, project, user, prefix="t.")
    scores = _score_summaries(conn, "session_id", ids, t_where, t_params)
    users = _session_users(conn, ids, where, params)
    out = [SessionSummary(session_id=row[0], turn_count=row[1], users=users.get(row[0], []),
                          scores=scores.get(row[0], {}), **_usage(row[2:])) for row in rows]
    return SessionPage(out, next_cursor)


def users(conn: sqlite3.Connection, *, since_ns: int | None, until_ns: int | None, project: str | None,
          limit: int, cursor: str | None) -> UserPage:
    where, params = _scope(since_ns, until_ns, project)
    rows, next_cursor = _page(conn, "user_id", "count(DISTINCT session_id), ", where, params, limit, cursor,
                              "users()")
    ids = [row[0] for row in rows]
    t_where, t_params = _scope(since_ns, until_ns, project, prefix="t.")
    scores = _score_summaries(conn, "user_id", ids, t_where, t_params)
    out = [UserSummary(user_id=row[0], calls=row[1], sessions=_int(row[2]) or 0, scores=scores.get(row[0], {}),
                       **_usage(row[3:])) for row in rows]
    return UserPage(out, next_cursor)


_TURNS = """SELECT t.id, t.trace_id, t.name, t.start_ns, t.end_ns, t.status, t.user_id, t.span_count, t.error_count,
    t.input_tokens, t.output_tokens, t.total_tokens, t.cost_usd, t.root_span_id
    FROM traces t WHERE t.session_id = ? ORDER BY t.start_ns, t.trace_id LIMIT ?"""
# The attributes of the turns' root spans and model calls (the root among them when it is one), by
# start time. The unary + keeps SQLite on the (trace_no, span_id) index.
_TURN_SPANS = """SELECT s.trace_no, s.span_id, s.span_type, d.attributes FROM spans s JOIN span_data d ON d.id = s.id
    WHERE s.trace_no IN (SELECT value FROM json_each(?))
        AND (s.span_id IN (SELECT value FROM json_each(?)) OR +s.span_type = 'llm')
    ORDER BY s.trace_no, s.start_ns, s.id"""


def session(conn: sqlite3.Connection, session_id: str, *, limit: int) -> Session | None:
    """One session with its first ``limit`` turns in order; None when no trace has this session id."""
    _check_limit(limit)
    head = _grouped(conn, f"SELECT count(*), {_TOTALS} FROM traces WHERE session_id = ?", [session_id])[0]
    if not head[0]:
        return None
    rows = conn.execute(_TURNS, (session_id, min(limit, NS_MAX - 1))).fetchall()
    roots = {row[0]: row[13] for row in rows}
    found: dict[int, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {no: (None, []) for no in roots}
    # One statement per turn would be a round trip each; the roots' ids differ per trace, so
    # they are matched here rather than in SQL.
    for trace_no, span_id, span_type, attributes in conn.execute(
            _TURN_SPANS, (json.dumps(list(roots)), json.dumps([r for r in roots.values() if isinstance(r, str)]))):
        root, calls = found.get(trace_no, (None, []))
        parsed = _loads(attributes, {})
        if span_id == roots.get(trace_no):
            root = parsed
        if span_type == "llm":
            calls.append(parsed)
        found[trace_no] = (root, calls)
    trace_ids = [_text(row[1]) or "" for row in rows]
    scores = _scores.trace_summaries(conn, trace_ids)
    users = _session_users(conn, [session_id], [], [])
    turns = []
    for row, trace_id in zip(rows, trace_ids):
        said, answered = turn_texts(*found.get(row[0], (None, [])))
        turns.append(SessionTurn(
            trace_id=trace_id, name=_text(row[2]), start_ns=_int(row[3]) or 0, end_ns=_int(row[4]),
            status=_text(row[5]) or "OK", user=_text(row[6]), input=said, output=answered,
            span_count=_int(row[7]) or 0, error_count=_int(row[8]) or 0, input_tokens=_int(row[9]) or 0,
            output_tokens=_int(row[10]) or 0, total_tokens=_int(row[11]) or 0, cost_usd=_float(row[12]),
            scores=scores.get(trace_id, {})))
    summary = _score_summaries(conn, "session_id", [session_id], [], [])
    return Session(session_id=session_id, turn_count=head[0], users=users.get(session_id, []),
                   scores=summary.get(session_id, {}), turns=turns, **_usage(head[1:]))
