"""The scores SQL on PostgreSQL: upsert with the data-type check, read, summarize, filter, delete.

The same statements as :mod:`._scores` (SQLite) in PostgreSQL's dialect; what a score is, how a
row reads back and how summaries fold are that module's and :mod:`traceglass._scores`'s. Two
processes storing the first scores of one name with different data types must not both succeed:
each batch takes a transaction-level advisory lock per name (in name order) before it looks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from traceglass._scores import DATA_TYPES, Score, ScoreError, check_data_type
from traceglass.store import _scores as _sqlite_scores
from traceglass.store._models import ScorePage
from traceglass.store._postgres_write import _arrays, _columns
from traceglass.store._scores import (
    _ON_CONFLICT,
    COLUMNS,
    SELECT,
    _row,
    score_from_row,
    summarize,
)

# The batch in one statement, one array per column (as the spans go in): an upsert a score was a round
# trip a score, each wait a give-up of the GIL.
_TYPES = {"value": "double precision", "created_ns": "bigint"}
_UPSERT = f"INSERT INTO scores ({', '.join(COLUMNS)}) SELECT * FROM unnest({_arrays(COLUMNS, _TYPES)}) {_ON_CONFLICT}"
_VALUE = COLUMNS.index("value")
_KNOWN_TYPE = "SELECT data_type FROM scores WHERE name = %s AND id <> %s LIMIT 1"
# pg_advisory_xact_lock(int, int)'s first key: "tgsc", apart from the schema lock's.
_NAME_LOCK = 0x74677363


def write_scores(conn: Any, scores: Sequence[Score]) -> tuple[list[Score], list[tuple[Score, ScoreError]]]:
    batch = list({score.id: score for score in scores}.values())
    if not batch:
        return [], []
    stored: list[Score] = []
    refused: list[tuple[Score, ScoreError]] = []
    rows: list[tuple[Any, ...]] = []
    with conn.transaction():
        for name in sorted({score.name for score in batch}):
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_NAME_LOCK, name))
        known: dict[str, str] = {}
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
            rows.append(_upsert_row(score))
            stored.append(score)
        if rows:
            conn.execute(_UPSERT, _columns(rows))
    return stored, refused


def _upsert_row(score: Score) -> tuple[Any, ...]:
    """The row of ``score``, NUL-free, its value a float (one array holds every score's value)."""
    row = [_nul_free(v) for v in _row(score)]
    if row[_VALUE] is not None:
        row[_VALUE] = float(row[_VALUE])
    return tuple(row)


def _nul_free(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def delete_score(conn: Any, score_id: str) -> bool:
    return conn.execute("DELETE FROM scores WHERE id = %s", (score_id,)).rowcount > 0


def get_score(conn: Any, score_id: str) -> Score | None:
    row = conn.execute(f"{SELECT} WHERE id = %s", (score_id,)).fetchone()
    return None if row is None else score_from_row(row)


def trace_scores(conn: Any, trace_id: str) -> list[Score]:
    return [score_from_row(row) for row in conn.execute(
        f"{SELECT} WHERE trace_id = %s ORDER BY created_ns, id", (trace_id,))]


def list_scores(conn: Any, **query: Any) -> ScorePage:
    """SQLite's score listing (the same query) with psycopg's placeholders."""
    return _sqlite_scores.list_scores(conn, mark="%s", **query)


_GROUP_TAIL = "name, label, count(*), coalesce(sum(value), 0.0), count(value)"


def trace_summaries(conn: Any, trace_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    if not trace_ids:
        return {}
    rows = conn.execute(f"SELECT trace_id, {_GROUP_TAIL} FROM scores WHERE trace_id = ANY(%s) "
                        "GROUP BY trace_id, name, label", (list(trace_ids),))
    return summarize(rows)


DAY = "to_char(to_timestamp({col} / 1000000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
_SUMS = """(SELECT trace_id, span_id, name, label, count(*) AS n, coalesce(sum(value), 0.0) AS total,
    count(value) AS counted FROM scores GROUP BY trace_id, span_id, name, label)"""
_TRACE_KEYS = {"project": "g.project", "user": "g.user_id", "session": "g.session_id",
               "day": DAY.format(col="g.start_ns")}
_BY_TRACE = """SELECT {key}, c.name, c.label, sum(c.n), sum(c.total), sum(c.counted)
    FROM {sums} c JOIN traces g ON g.trace_id = c.trace_id WHERE {where} GROUP BY 1, 2, 3"""
_BY_TYPE = """SELECT g.span_type, c.name, c.label, sum(c.n), sum(c.total), sum(c.counted)
    FROM {sums} c JOIN traces t ON t.trace_id = c.trace_id
    JOIN spans g ON g.trace_no = t.id AND g.span_id = CASE WHEN c.span_id IS NOT NULL AND EXISTS
        (SELECT 1 FROM spans x WHERE x.trace_no = t.id AND x.span_id = c.span_id) THEN c.span_id
        ELSE t.root_span_id END
    WHERE {where} GROUP BY 1, 2, 3"""
_BY_MODEL = """SELECT c.no, g.model, c.name, c.label, c.value
    FROM scores c JOIN traces t ON t.trace_id = c.trace_id JOIN spans g ON g.trace_no = t.id
    WHERE g.model IS NOT NULL AND g.superseded = 0 AND {where} AND (c.span_id IS NULL OR g.span_id = c.span_id
        OR NOT EXISTS (SELECT 1 FROM spans x WHERE x.trace_no = t.id AND x.span_id = c.span_id
                       AND x.model IS NOT NULL AND x.superseded = 0))"""


def group_summaries(conn: Any, group_by: str, where: list[str], params: list[Any],
                    fold: Callable[[Any], Any]) -> dict[Any, dict[str, dict[str, Any]]]:
    """Per stats group key: the summary of the scores of its traces (as SQLite's)."""
    condition = " AND ".join(where) or "true"
    if group_by == "model":
        seen: set[tuple[Any, Any]] = set()
        rows: list[tuple[Any, ...]] = []
        for number, model, name, label, value in conn.execute(_BY_MODEL.format(where=condition), params):
            key = fold(model)
            if (number, key) not in seen:
                seen.add((number, key))
                counted = isinstance(value, (int, float))
                rows.append((key, name, label, 1, value if counted else 0.0, int(counted)))
        return summarize(rows)
    if group_by == "type":
        sql = _BY_TYPE.format(sums=_SUMS, where=condition)
    else:
        sql = _BY_TRACE.format(key=_TRACE_KEYS[group_by], sums=_SUMS, where=condition)
    return summarize((fold(key), name, label, int(n), float(total), int(counted))
                     for key, name, label, n, total, counted in conn.execute(sql, params))
