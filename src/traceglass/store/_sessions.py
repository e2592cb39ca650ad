"""The sessions and users SQL (SQLite): per-session and per-user totals over the ``traces`` summary
table, and one session's turns with what each said.

Everything is read from ``traces`` (one row per trace, carrying its session and user), so a page
never aggregates spans. The statements keep to SQL that PostgreSQL runs too, but for a session's
trace numbers passed as one JSON array (``json_each``), ``typeof`` in the overflow fallback and the unary ``+``
that steers SQLite's choice of index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from traceglass.store import _scores
from traceglass.store._one_step import fetch_all
from traceglass.store._packed import unpacked_all
from traceglass.store._queries import _float, _int, _loads, _text
from traceglass.store._session_models import Session, SessionPage, SessionSummary, SessionTurn, UserPage, UserSummary
from traceglass.store._time import NS_MAX, NS_MIN
from traceglass.store._turn_text import turn_texts

# The totals of a group of traces. ``{tokens}``/``{cost}`` are plain sums, or, when a hand-written
# row's huge counts overflow a 64-bit sum, sums of only the plausible values (as stats does).
_TOTALS = ("min(start_ns), max(start_ns), sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END), "
           "{tokens[0]}, {tokens[1]}, {tokens[2]}, {cost}")
_PLAIN = {"tokens": [f"sum({c})" for c in ("input_tokens", "output_tokens", "total_tokens")], "cost": "sum(cost_usd)"}
_CHECKED = {"tokens": [f"sum(CASE WHEN typeof({c}) = 'integer' AND {c} BETWEEN 0 AND 1000000000000 THEN {c} END)"
                       for c in ("input_tokens", "output_tokens", "total_tokens")],
            "cost": ("sum(CASE WHEN typeof(cost_usd) IN ('real', 'integer') AND abs(cost_usd) <= 1e12 "
                     "THEN cost_usd END)")}
_WALK_BATCH = 500
_CHUNK = 500  # ids bound per statement (SQLite allows 32,766 variables; PostgreSQL 65,535)


def _scope(since_ns: int | None, until_ns: int | None, project: str | None, user: str | None = None,
           prefix: str = "", plus: str = "", mark: str = "?") -> tuple[list[str], list[Any]]:
    """Clauses keeping the traces of a time range, project and user (``plus``: "+" keeps SQLite on
    the group key's index rather than the project's or user's; ``mark``: the driver's placeholder)."""
    where: list[str] = []
    params: list[Any] = []
    for clause, value in ((f"{prefix}start_ns >= {mark}", since_ns), (f"{prefix}start_ns < {mark}", until_ns),
                          (f"{plus}{prefix}project = {mark}", project), (f"{plus}{prefix}user_id = {mark}", user)):
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
        return conn.execute(sql.format(**_PLAIN), params).fetchall()
    except sqlite3.OperationalError as exc:  # "integer overflow": a stored count beyond any real one
        if "overflow" not in str(exc):
            raise
    return conn.execute(sql.format(**_CHECKED), params).fetchall()


def _usage(row: Sequence[Any]) -> dict[str, Any]:
    """_TOTALS (after the count) as _Usage keywords, every value checked (rows may be hand-written)."""
    first, last, errors, tokens_in, tokens_out, tokens_total, cost = row
    numbers = [_int(v) or 0 for v in (tokens_in, tokens_out, tokens_total)]
    return {"first_seen_ns": _int(first) or 0, "last_seen_ns": _int(last) or _int(first) or 0,
            "errors": _int(errors) or 0, "input_tokens": numbers[0], "output_tokens": numbers[1],
            "total_tokens": numbers[2], "cost_usd": _float(cost)}


def _latest(conn: sqlite3.Connection, key: str, where: list[str], params: list[Any], plus_where: list[str],
            limit: int, cursor: str | None, what: str) -> tuple[list[str], str | None]:
    """One page of the group ids (session or user ids) in scope, the latest active first (by their
    latest trace's start, then id, both descending), and the cursor of the next page.

    The traces are walked newest first (over the start-time index) until the page is full, so a
    page costs the traces it passes, not a grouping of the whole table. With a cursor the walk
    starts at its time, and an id met there is skipped when it has a later trace in scope (it was
    on an earlier page): one index seek each.
    """
    _check_limit(limit)
    walk, walk_params = list(where), list(params)
    after: tuple[int, str] | None = None
    if cursor:
        after = decode_cursor(cursor, what)
        walk.append("start_ns <= ?")
        walk_params.append(after[0])
    # The unary + keeps SQLite on the start-time index (or the project's or user's, also ordered by
    # start time) instead of the key's own, which would sort every trace.
    rows = conn.execute(f"SELECT {key}, start_ns FROM traces WHERE {' AND '.join([f'+{key} IS NOT NULL', *walk])} "
                        "ORDER BY start_ns DESC", walk_params)
    later = (f"SELECT 1 FROM traces WHERE {' AND '.join([f'{key} = ?', 'start_ns > ?', *plus_where])} LIMIT 1")
    return page_of_ids(iter(lambda: rows.fetchmany(_WALK_BATCH), []), limit, after,
                       lambda value: conn.execute(later, [value, after[0], *params]).fetchone() is not None)


def page_of_ids(batches: Iterable[Sequence[Sequence[Any]]], limit: int, after: tuple[int, str] | None,
                later: Callable[[str], bool]) -> tuple[list[str], str | None]:
    """The page of ids from the walk's ``batches`` of (id, start) rows, newest first, and the next cursor
    (both backends' walk). ``later(id)``: whether the id has a trace in scope after the cursor's time."""
    found: dict[str, int] = {}
    skipped: set[str] = set()
    boundary: int | None = None  # the start of the (limit+1)-th id: ids tied with it still count
    for batch in batches:
        for value, start in batch:
            if boundary is not None and start != boundary:
                break
            if not isinstance(value, str) or value in found or value in skipped or not isinstance(start, int):
                continue
            if after is not None and (later(value) or (start == after[0] and value >= after[1])):
                skipped.add(value)
                continue
            found[value] = start
            if len(found) > limit and boundary is None:
                boundary = start
        else:
            continue
        break
    ordered = sorted(found.items(), key=lambda item: (item[1], item[0]), reverse=True)
    next_cursor = encode_cursor(ordered[limit - 1][1], ordered[limit - 1][0]) if len(ordered) > limit else None
    return [value for value, _ in ordered[:limit]], next_cursor


def _chunks(ids: list[str]) -> list[tuple[str, list[str]]]:
    """``ids`` as bound parameters, a few hundred at a time: ``(placeholders, chunk)``. Bound, not one
    JSON array: an id may hold any character (a NUL included), and a JSON value would not compare
    equal to it in SQL."""
    return [(", ".join("?" * len(ids[i:i + _CHUNK])), ids[i:i + _CHUNK]) for i in range(0, len(ids), _CHUNK)]


def _totals(conn: sqlite3.Connection, key: str, extra: str, ids: list[str], where: list[str],
            params: list[Any]) -> dict[str, tuple]:
    """Per id of ``ids``: count of traces, ``extra`` columns, then _TOTALS, over its traces in scope."""
    found: dict[str, tuple] = {}
    for marks, chunk in _chunks(ids):
        condition = " AND ".join([f"{key} IN ({marks})", *where])
        sql = f"SELECT {key}, count(*), {extra}{_TOTALS} FROM traces WHERE {condition} GROUP BY {key}"
        found.update((row[0], row[1:]) for row in _grouped(conn, sql, [*chunk, *params]))
    return found


def _score_summaries(conn: sqlite3.Connection, key: str, ids: list[str], where: list[str], params: list[Any],
                     traces: int) -> dict[str, dict[str, Any]]:
    """Per group id of ``ids``: the summary of the scores of its ``traces`` traces in scope.

    Read from whichever side is smaller: every score looking up its trace (one seek each), or each
    trace of the groups looking up its scores; the largest score number bounds how many there are.
    """
    if not ids:
        return {}
    (bound,) = conn.execute("SELECT coalesce(max(no), 0) FROM scores").fetchone()
    if not bound:
        return {}
    tables = ("scores c CROSS JOIN traces t ON t.trace_id = c.trace_id" if bound < traces
              else "traces t CROSS JOIN scores c ON c.trace_id = t.trace_id")
    rows: list[tuple] = []
    for marks, chunk in _chunks(ids):
        condition = " AND ".join([f"t.{key} IN ({marks})", *where])
        rows += conn.execute(f"SELECT t.{key}, c.name, c.label, count(*), total(c.value), count(c.value) "
                             f"FROM {tables} WHERE {condition} GROUP BY t.{key}, c.name, c.label",
                             [*chunk, *params]).fetchall()
    return _scores.summarize(rows)


def _session_users(conn: sqlite3.Connection, ids: list[str], where: list[str],
                   params: list[Any]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for marks, chunk in _chunks(ids):
        condition = " AND ".join([f"session_id IN ({marks})", "user_id IS NOT NULL", *where])
        for session, user in fetch_all(conn, f"SELECT DISTINCT session_id, user_id FROM traces WHERE {condition} "
                                             "ORDER BY session_id, user_id", [*chunk, *params], 2):
            if isinstance(user, (str, int, float, bytes)):
                users.setdefault(session, []).append(_text(user))  # type: ignore[arg-type]
    return users


def sessions(conn: sqlite3.Connection, *, since_ns: int | None, until_ns: int | None, project: str | None,
             user: str | None, limit: int, cursor: str | None) -> SessionPage:
    where, params = _scope(since_ns, until_ns, project, user)
    plus_where, _ = _scope(since_ns, until_ns, project, user, plus="+")
    ids, next_cursor = _latest(conn, "session_id", where, params, plus_where, limit, cursor, "sessions()")
    totals = _totals(conn, "session_id", "", ids, plus_where, params)
    t_where, t_params = _scope(since_ns, until_ns, project, user, prefix="t.", plus="+")
    scores = _score_summaries(conn, "session_id", ids, t_where, t_params, sum(row[0] for row in totals.values()))
    users = _session_users(conn, ids, plus_where, params)
    out = [SessionSummary(session_id=sid, turn_count=totals[sid][0], users=users.get(sid, []),
                          scores=scores.get(sid, {}), **_usage(totals[sid][1:])) for sid in ids if sid in totals]
    return SessionPage(out, next_cursor)


def users(conn: sqlite3.Connection, *, since_ns: int | None, until_ns: int | None, project: str | None,
          limit: int, cursor: str | None) -> UserPage:
    where, params = _scope(since_ns, until_ns, project)
    plus_where, _ = _scope(since_ns, until_ns, project, plus="+")
    ids, next_cursor = _latest(conn, "user_id", where, params, plus_where, limit, cursor, "users()")
    totals = _totals(conn, "user_id", "count(DISTINCT session_id), ", ids, plus_where, params)
    t_where, t_params = _scope(since_ns, until_ns, project, prefix="t.", plus="+")
    scores = _score_summaries(conn, "user_id", ids, t_where, t_params, sum(row[0] for row in totals.values()))
    out = [UserSummary(user_id=uid, calls=totals[uid][0], sessions=_int(totals[uid][1]) or 0,
                       scores=scores.get(uid, {}), **_usage(totals[uid][2:])) for uid in ids if uid in totals]
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
    # Each read in one step of SQLite, the stored attributes decompressed here at once (see _one_step).
    rows = fetch_all(conn, _TURNS, (session_id, min(limit, NS_MAX - 1)), 14)
    roots = {row[0]: row[13] for row in rows}
    found: dict[int, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {no: (None, []) for no in roots}
    # One statement per turn would be a round trip each; the roots' ids differ per trace, so
    # they are matched here rather than in SQL.
    spans = fetch_all(conn, _TURN_SPANS,
                      (json.dumps(list(roots)), json.dumps([r for r in roots.values() if isinstance(r, str)])), 4)
    for (trace_no, span_id, span_type, _), attributes in zip(spans, unpacked_all([row[3] for row in spans])):
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
    summary = _score_summaries(conn, "session_id", [session_id], [], [], head[0])
    return Session(session_id=session_id, turn_count=head[0], users=users.get(session_id, []),
                   scores=summary.get(session_id, {}), turns=turns, **_usage(head[1:]))
