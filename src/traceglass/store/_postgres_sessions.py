"""The sessions and users reads on PostgreSQL: per-session and per-user totals over the ``traces``
summary table, and one session's turns with what each said.

The statements of :mod:`._sessions` (SQLite) in PostgreSQL's dialect (id lists as arrays, sums of
bigint cast back from numeric, no overflow fallback: PostgreSQL's sums cannot overflow); paging,
cursors, totals and the turns' texts are that module's, so both backends return equal pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from traceglass.store import _postgres_scores as scores
from traceglass.store import _sessions
from traceglass.store._queries import _float, _int, _loads, _text
from traceglass.store._session_models import (
    Session,
    SessionPage,
    SessionSummary,
    SessionTurn,
    UserPage,
    UserSummary,
)
from traceglass.store._sessions import (
    _check_limit,
    _usage,
    decode_cursor,
    page_of_ids,
)
from traceglass.store._time import NS_MAX
from traceglass.store._turn_text import turn_texts

_TOTALS = ("min(start_ns), max(start_ns), count(*) FILTER (WHERE status = 'ERROR'), sum(input_tokens)::bigint, "
           "sum(output_tokens)::bigint, sum(total_tokens)::bigint, sum(cost_usd)")
_WALK_BATCH = 500


def _scope(since_ns: int | None, until_ns: int | None, project: str | None, user: str | None = None,
           prefix: str = "") -> tuple[list[str], list[Any]]:
    return _sessions._scope(since_ns, until_ns, project, user, prefix, mark="%s")


def _latest(conn: Any, key: str, where: list[str], params: list[Any], limit: int, cursor: str | None,
            what: str) -> tuple[list[str], str | None]:
    """One page of group ids, the latest active first (``_sessions.page_of_ids`` over a walk of the
    traces newest first, fetched a batch at a time until the page is full)."""
    _check_limit(limit)
    walk, walk_params = list(where), list(params)
    after: tuple[int, str] | None = None
    if cursor:
        after = decode_cursor(cursor, what)
        walk.append("start_ns <= %s")
        walk_params.append(after[0])
    later = f"SELECT 1 FROM traces WHERE {' AND '.join([f'{key} = %s', 'start_ns > %s', *where])} LIMIT 1"

    def batches() -> Iterator[list[Any]]:
        offset = 0
        while True:
            # Keyset pages of the walk (a server-side cursor would hold the connection between calls).
            batch = conn.execute(f"SELECT {key}, start_ns FROM traces WHERE "
                                 f"{' AND '.join([f'{key} IS NOT NULL', *walk])} "
                                 f"ORDER BY start_ns DESC, id DESC OFFSET %s LIMIT {_WALK_BATCH}",
                                 [*walk_params, offset]).fetchall()
            offset += len(batch)
            yield batch
            if len(batch) < _WALK_BATCH:
                return

    return page_of_ids(batches(), limit, after,
                       lambda value: conn.execute(later, [value, after[0], *params]).fetchone() is not None)


def _totals(conn: Any, key: str, extra: str, ids: list[str], where: list[str], params: list[Any]) -> dict[str, tuple]:
    if not ids:
        return {}
    condition = " AND ".join([f"{key} = ANY(%s)", *where])
    sql = f"SELECT {key}, count(*), {extra}{_TOTALS} FROM traces WHERE {condition} GROUP BY {key}"
    return {row[0]: row[1:] for row in conn.execute(sql, [ids, *params])}


def _score_summaries(conn: Any, key: str, ids: list[str], where: list[str],
                     params: list[Any]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    condition = " AND ".join([f"t.{key} = ANY(%s)", *where])
    rows = conn.execute(f"SELECT t.{key}, c.name, c.label, count(*), coalesce(sum(c.value), 0.0), count(c.value) "
                        f"FROM traces t JOIN scores c ON c.trace_id = t.trace_id WHERE {condition} "
                        f"GROUP BY t.{key}, c.name, c.label", [ids, *params])
    return scores.summarize(rows)


def _session_users(conn: Any, ids: list[str], where: list[str], params: list[Any]) -> dict[str, list[str]]:
    if not ids:
        return {}
    condition = " AND ".join(["session_id = ANY(%s)", "user_id IS NOT NULL", *where])
    users: dict[str, list[str]] = {}
    for session_id, user in conn.execute(f"SELECT DISTINCT session_id, user_id FROM traces WHERE {condition}",
                                         [ids, *params]):
        users.setdefault(session_id, []).append(user)
    return {k: sorted(v) for k, v in users.items()}  # by code point, as SQLite's ORDER BY


def sessions(conn: Any, *, since_ns: int | None, until_ns: int | None, project: str | None, user: str | None,
             limit: int, cursor: str | None) -> SessionPage:
    where, params = _scope(since_ns, until_ns, project, user)
    ids, next_cursor = _latest(conn, "session_id", where, params, limit, cursor, "sessions()")
    totals = _totals(conn, "session_id", "", ids, where, params)
    t_where, t_params = _scope(since_ns, until_ns, project, user, prefix="t.")
    summaries = _score_summaries(conn, "session_id", ids, t_where, t_params)
    users = _session_users(conn, ids, where, params)
    out = [SessionSummary(session_id=sid, turn_count=totals[sid][0], users=users.get(sid, []),
                          scores=summaries.get(sid, {}), **_usage(totals[sid][1:])) for sid in ids if sid in totals]
    return SessionPage(out, next_cursor)


def users(conn: Any, *, since_ns: int | None, until_ns: int | None, project: str | None, limit: int,
          cursor: str | None) -> UserPage:
    where, params = _scope(since_ns, until_ns, project)
    ids, next_cursor = _latest(conn, "user_id", where, params, limit, cursor, "users()")
    totals = _totals(conn, "user_id", "count(DISTINCT session_id), ", ids, where, params)
    t_where, t_params = _scope(since_ns, until_ns, project, prefix="t.")
    summaries = _score_summaries(conn, "user_id", ids, t_where, t_params)
    out = [UserSummary(user_id=uid, calls=totals[uid][0], sessions=_int(totals[uid][1]) or 0,
                       scores=summaries.get(uid, {}), **_usage(totals[uid][2:])) for uid in ids if uid in totals]
    return UserPage(out, next_cursor)


_TURNS = """SELECT t.id, t.trace_id, t.name, t.start_ns, t.end_ns, t.status, t.user_id, t.span_count, t.error_count,
    t.input_tokens, t.output_tokens, t.total_tokens, t.cost_usd, t.root_span_id
    FROM traces t WHERE t.session_id = %s ORDER BY t.start_ns, t.trace_id LIMIT %s"""
_TURN_SPANS = """SELECT s.trace_no, s.span_id, s.span_type, d.attributes FROM spans s JOIN span_data d ON d.id = s.id
    WHERE s.trace_no = ANY(%s) AND (s.span_id = ANY(%s) OR s.span_type = 'llm')
    ORDER BY s.trace_no, s.start_ns, s.id"""


def session(conn: Any, session_id: str, *, limit: int) -> Session | None:
    _check_limit(limit)
    head = conn.execute(f"SELECT count(*), {_TOTALS} FROM traces WHERE session_id = %s", [session_id]).fetchone()
    if not head[0]:
        return None
    rows = conn.execute(_TURNS, (session_id, min(limit, NS_MAX - 1))).fetchall()
    roots = {row[0]: row[13] for row in rows}
    found: dict[int, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {no: (None, []) for no in roots}
    for trace_no, span_id, span_type, attributes in conn.execute(
            _TURN_SPANS, (list(roots), [r for r in roots.values() if isinstance(r, str)])):
        root, calls = found.get(trace_no, (None, []))
        parsed = _loads(attributes, {})
        if span_id == roots.get(trace_no):
            root = parsed
        if span_type == "llm":
            calls.append(parsed)
        found[trace_no] = (root, calls)
    trace_ids = [_text(row[1]) or "" for row in rows]
    turn_scores = scores.trace_summaries(conn, trace_ids)
    users = _session_users(conn, [session_id], [], [])
    turns = []
    for row, trace_id in zip(rows, trace_ids):
        said, answered = turn_texts(*found.get(row[0], (None, [])))
        turns.append(SessionTurn(
            trace_id=trace_id, name=_text(row[2]), start_ns=_int(row[3]) or 0, end_ns=_int(row[4]),
            status=_text(row[5]) or "OK", user=_text(row[6]), input=said, output=answered,
            span_count=_int(row[7]) or 0, error_count=_int(row[8]) or 0, input_tokens=_int(row[9]) or 0,
            output_tokens=_int(row[10]) or 0, total_tokens=_int(row[11]) or 0, cost_usd=_float(row[12]),
            scores=turn_scores.get(trace_id, {})))
    summary = _score_summaries(conn, "session_id", [session_id], [], [])
    return Session(session_id=session_id, turn_count=head[0], users=users.get(session_id, []),
                   scores=summary.get(session_id, {}), turns=turns, **_usage(head[1:]))
