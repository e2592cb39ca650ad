"""The scores SQL (SQLite): upsert with the data-type check, read, summarize, filter, delete.

Scores live in their own table keyed by the score's id and joined to traces by the trace id text
(not a foreign key: a score may come before its trace's spans). What a score *is* and how it is
checked is :mod:`traceglass._scores`; this module only stores and reads them back.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from traceglass._scores import DATA_TYPES, NUMERIC, Score, ScoreError, check_data_type, from_ns
from traceglass.store._models import ScorePage
from traceglass.store._one_step import fetch_all
from traceglass.store._time import NS_MAX, NS_MIN, TimeLike, to_ns
from traceglass.store._transaction import write_transaction
from traceglass.store._writer import insert_values

COLUMNS = ("id", "trace_id", "span_id", "name", "value", "label", "data_type", "comment", "source", "user_id",
           "created_ns", "metadata")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM scores"
_INTO = f"INTO scores ({', '.join(COLUMNS)})"
_ON_CONFLICT = f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}"
# The data type a name already holds, from any other score of that name (one index seek).
_KNOWN_TYPE = "SELECT data_type FROM scores WHERE name = ? AND id <> ? LIMIT 1"


# -- writing ---------------------------------------------------------------------------------

def write_scores(conn: sqlite3.Connection, scores: Sequence[Score]) -> tuple[list[Score], list[tuple[Score, ScoreError]]]:
    """Upsert ``scores`` in one transaction; a score whose value's data type differs from what its
    name already holds is refused. Returns the scores stored and the refusals."""
    # A score given twice is stored once: the last copy wins.
    batch = list({score.id: score for score in scores}.values())
    if not batch:
        return [], []
    stored: list[Score] = []
    refused: list[tuple[Score, ScoreError]] = []
    rows: list[tuple[Any, ...]] = []
    with write_transaction(conn):
        known: dict[str, str] = {}  # the batch's names: stored data types, then the batch's own
        for score in batch:
            if score.name not in known:
                row = conn.execute(_KNOWN_TYPE, (score.name, score.id)).fetchone()
                if row is not None and row[0] in DATA_TYPES:
                    known[score.name] = row[0]
            try:
                check_data_type(score, known)
            except ScoreError as exc:
                refused.append((score, exc))
                continue
            known[score.name] = score.data_type
            rows.append(_row(score))
            stored.append(score)
        # One statement for the batch (executemany steps once a row, each step a give-up of the GIL): a
        # name's stored type is read before any of its rows is written (a batch's later scores are
        # checked against its earlier ones through ``known``).
        insert_values(conn, "INSERT", _INTO, len(COLUMNS), rows, _ON_CONFLICT)
    return stored, refused


def _row(score: Score) -> tuple[Any, ...]:
    return (score.id, score.trace_id, score.span_id, score.name, score.value, score.label, score.data_type,
            score.comment, score.source, score.user_id, score.created_ns,
            json.dumps(score.metadata, ensure_ascii=False, allow_nan=False))


def delete_score(conn: sqlite3.Connection, score_id: str) -> bool:
    with write_transaction(conn):
        deleted = conn.execute("DELETE FROM scores WHERE id = ?", (score_id,)).rowcount
    return deleted > 0


# -- reading ---------------------------------------------------------------------------------

# A row may have been written by hand or by another tool: every value is checked on the way out
# and an odd one reads as unknown, so one bad row never fails a read or yields non-JSON output.
def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def score_from_row(row: Sequence[Any]) -> Score:
    score_id, trace_id, span_id, name, value, label, data_type, comment, source, user_id, created, meta = row
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        value = None
    if not (isinstance(created, int) and NS_MIN <= created <= NS_MAX):
        created = 0
    try:
        metadata = json.loads(meta, parse_constant=lambda _: None) if isinstance(meta, str) else {}
    except (ValueError, RecursionError):
        metadata = {}
    return Score(
        id=_text(score_id) or "", name=_text(name) or "", value=None if value is None else float(value),
        label=_text(label), data_type=data_type if data_type in DATA_TYPES else NUMERIC,
        trace_id=_text(trace_id) or "", span_id=_text(span_id), comment=_text(comment),
        source=_text(source) or "api", user_id=_text(user_id), created_at=from_ns(max(created, 0)),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def get_score(conn: sqlite3.Connection, score_id: str) -> Score | None:
    row = conn.execute(f"{SELECT} WHERE id = ?", (score_id,)).fetchone()
    return None if row is None else score_from_row(row)


# Every score of one trace (trace- and span-level), oldest first.
TRACE_SCORES = f"{SELECT} WHERE trace_id = ? ORDER BY created_ns, id"


def _time(name: str, value: TimeLike) -> int | None:
    try:
        return to_ns(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        created, score_id = cursor.split(".", 1)
        created_ns = int(created)
    except (AttributeError, ValueError):
        created_ns = None
    if created_ns is None or not NS_MIN <= created_ns <= NS_MAX:
        raise ValueError(f"invalid cursor {cursor!r}; pass back a next_cursor from scores()")
    return created_ns, score_id


def list_scores(conn: Any, *, trace_id: str | None = None, name: str | None = None,
                source: str | None = None, since: TimeLike | None = None, until: TimeLike | None = None,
                limit: int = 100, cursor: str | None = None, mark: str = "?") -> ScorePage:
    """Scores newest first (by creation time), filtered; ``cursor`` continues a page. ``mark`` is the
    driver's placeholder (PostgreSQL's psycopg takes ``%s``): the query is the same on both."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    clauses: list[str] = []
    params: list[Any] = []
    if trace_id is not None:
        clauses.append(f"trace_id = {mark}")
        params.append(trace_id.strip().lower())
    if name is not None:
        clauses.append(f"name = {mark}")
        params.append(name.strip())
    if source is not None:
        clauses.append(f"source = {mark}")
        params.append(source)
    if since is not None:
        clauses.append(f"created_ns >= {mark}")
        params.append(_time("since", since))
    if until is not None:
        clauses.append(f"created_ns < {mark}")
        params.append(_time("until", until))
    if cursor:
        created, last_id = _decode_cursor(cursor)
        clauses.append(f"(created_ns < {mark} OR (created_ns = {mark} AND id < {mark}))")
        params.extend((created, created, last_id))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(f"{SELECT}{where} ORDER BY created_ns DESC, id DESC LIMIT {mark}",
                        [*params, min(limit, NS_MAX - 1) + 1]).fetchall()
    scores = [score_from_row(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last[10]}.{last[0]}"
    return ScorePage(scores, next_cursor)


# -- summaries (the trace list's scores column, stats) ----------------------------------------

def summarize(groups: Iterable[tuple[Any, Any, Any, Any, Any, Any]]) -> dict[Any, dict[str, dict[str, Any]]]:
    """Fold ``(key, name, label, count, value_sum, value_count)`` rows into, per key,
    ``{name: {"mean": float | None, "count": n, "labels": {label: n}}}``."""
    sums: dict[Any, dict[str, list[Any]]] = {}
    for key, name, label, count, value_sum, value_count in groups:
        if not isinstance(name, str):
            continue
        entry = sums.setdefault(key, {}).setdefault(name, [0, 0.0, 0, {}])
        entry[0] += count
        if value_count and isinstance(value_sum, (int, float)) and math.isfinite(value_sum):
            entry[1] += value_sum
            entry[2] += value_count
        if isinstance(label, str):
            entry[3][label] = entry[3].get(label, 0) + count
    return {key: {name: {"mean": (total / counted if counted else None), "count": count, "labels": labels}
                  for name, (count, total, counted, labels) in sorted(names.items())}
            for key, names in sums.items()}


# total() is 0.0 for no values, sum() NULL; a label of a numeric score is None and not counted.
_GROUP_TAIL = "name, label, count(*), total(value), count(value)"


def trace_summaries(conn: sqlite3.Connection, trace_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """The scores summary of each of ``trace_ids`` that has scores: one grouped query."""
    if not trace_ids:
        return {}
    rows = fetch_all(conn, f"SELECT trace_id, {_GROUP_TAIL} FROM scores WHERE trace_id IN "
                     "(SELECT value FROM json_each(?)) GROUP BY trace_id, name, label",
                     (json.dumps(list(trace_ids)),), 6)
    return summarize(rows)


def filter_clause(name: str | None, min_score: float | None, max_score: float | None, *,
                  mark: str = "?") -> tuple[str, list[Any]]:
    """A trace-list clause (over alias ``t``) keeping traces with a matching score: an IN over the
    ``scores_name`` index, evaluated once for the whole query, not once per trace. ``mark``: the
    driver's placeholder."""
    clauses: list[str] = []
    params: list[Any] = []
    if name is not None:
        clauses.append(f"name = {mark}")
        params.append(name.strip())
    if min_score is not None:
        clauses.append(f"value >= {mark}")
        params.append(min_score)
    if max_score is not None:
        clauses.append(f"value <= {mark}")
        params.append(max_score)
    return f"t.trace_id IN (SELECT trace_id FROM scores WHERE {' AND '.join(clauses)})", params


# Per stats group: the score rows each group counts. ``g`` is the table the group's calls come
# from (spans for model and type, traces for the others), so the caller's time and project
# clauses read as they do for the calls. The scores are first summed per trace, span, name and
# label (one pass over the table), and only those sums join their trace and spans by index:
# joining each score on its own measured twice as slow.
_SUMS = """(SELECT trace_id, span_id, name, label, count(*) AS n, total(value) AS total, count(value) AS counted
    FROM scores GROUP BY trace_id, span_id, name, label)"""
_TRACE_KEYS = {
    "project": "g.project",
    "user": "g.user_id",
    "session": "g.session_id",
    "day": "strftime('%Y-%m-%d', g.start_ns / 1000000000, 'unixepoch')",
}
_BY_TRACE = """SELECT {key}, c.name, c.label, sum(c.n), sum(c.total), sum(c.counted)
    FROM {sums} c CROSS JOIN traces g ON g.trace_id = c.trace_id WHERE {where} GROUP BY 1, 2, 3"""
# A span-level score counts under its span's type; a trace-level one (or one on a span the
# trace does not hold) under the root span's type.
_BY_TYPE = """SELECT g.span_type, c.name, c.label, sum(c.n), sum(c.total), sum(c.counted)
    FROM {sums} c CROSS JOIN traces t ON t.trace_id = c.trace_id
    CROSS JOIN spans g ON g.trace_no = t.id AND g.span_id = CASE WHEN c.span_id IS NOT NULL AND EXISTS
        (SELECT 1 FROM spans x WHERE x.trace_no = t.id AND x.span_id = c.span_id) THEN c.span_id
        ELSE t.root_span_id END
    WHERE {where} GROUP BY 1, 2, 3"""
# A score on a model call counts under that call's model; any other score of the trace under each
# model the trace called (the calls stats count: not superseded). Per score, not per sum: a score
# joins several spans here, and deduplicating sums measured twice as slow as scores.
_BY_MODEL = """SELECT c.no, g.model, c.name, c.label, c.value
    FROM scores c CROSS JOIN traces t ON t.trace_id = c.trace_id CROSS JOIN spans g ON g.trace_no = t.id
    WHERE g.model IS NOT NULL AND g.superseded = 0 AND {where} AND (c.span_id IS NULL OR g.span_id = c.span_id
        OR NOT EXISTS (SELECT 1 FROM spans x WHERE x.trace_no = t.id AND x.span_id = c.span_id
                       AND x.model IS NOT NULL AND x.superseded = 0))"""


def group_summaries(conn: sqlite3.Connection, group_by: str, where: list[str], params: list[Any],
                    fold: Callable[[Any], Any]) -> dict[Any, dict[str, dict[str, Any]]]:
    """Per stats group key (``fold`` of the stored key): the summary of the scores of its traces."""
    condition = " AND ".join(where) or "1"
    if group_by == "model":
        seen: set[tuple[Any, Any]] = set()
        rows: list[tuple[Any, ...]] = []
        for number, model, name, label, value in fetch_all(conn, _BY_MODEL.format(where=condition), params, 5):
            key = fold(model)
            # A trace calling gpt-4o and its dated snapshot counts its scores once under gpt-4o.
            if (number, key) not in seen:
                seen.add((number, key))
                counted = isinstance(value, (int, float))
                rows.append((key, name, label, 1, value if counted else 0.0, int(counted)))
        return summarize(rows)
    if group_by == "type":
        sql = _BY_TYPE.format(sums=_SUMS, where=condition)
    else:
        sql = _BY_TRACE.format(key=_TRACE_KEYS[group_by], sums=_SUMS, where=condition)
    return summarize((fold(key), *rest) for key, *rest in fetch_all(conn, sql, params, 6))
