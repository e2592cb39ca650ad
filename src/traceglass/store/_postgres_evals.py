"""Evaluations on PostgreSQL (schema 7): bulk span reads, dataset versions, runs, what was
evaluated and a run's judge cost. The statements of :mod:`._evals_sql` in PostgreSQL's dialect;
rows are read back by that module's readers.

Saving a version of a dataset takes a transaction-level advisory lock on its name, so two
processes saving the same name get consecutive versions (SQLite's write lock does that there).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from traceglass import semconv
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._evals_sql import (
    _DATASET_COLUMNS,
    _RESULT_COLUMNS,
    _RUN_COLUMNS,
    SPAN_READERS,
    _attributes,
    _dataset,
    _dumps,
    _loads,
    _number,
    _run,
    _text,
)
from traceglass.store._models import SpanNode

_TRACE_SPANS = """SELECT s.trace_id, s.span_id, s.parent_id, s.name, s.span_type, s.kind, s.project,
    s.start_ns, s.end_ns, s.status, s.status_message, s.error_type, s.model, s.provider, s.operation,
    s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd, s.session_id, s.user_id, d.attributes, s.superseded
    FROM spans s LEFT JOIN span_data d ON d.id = s.id
    WHERE s.trace_no IN (SELECT id FROM traces WHERE trace_id = ANY(%s))
    ORDER BY s.trace_no, s.start_ns, s.id"""
_DATASET_LOCK = 0x74676473  # "tgds": pg_advisory_xact_lock(int, int)'s first key for dataset names


def _clean(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def trace_spans(conn: Any, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
    found: dict[str, list[SpanNode]] = {}
    if not trace_ids:
        return found
    for row in conn.execute(_TRACE_SPANS, (list(trace_ids),)):
        fields = [read(value) for read, value in zip(SPAN_READERS, row[:21])]
        fields[9] = fields[9] or "UNSET"
        span = SpanNode(*fields, attributes=_attributes(row[21]), events=[], links=[], resource={},
                        usage_superseded=bool(row[22]))
        found.setdefault(span.trace_id, []).append(span)
    return found


def save_dataset(conn: Any, name: str, items: Sequence[dict[str, Any]], metadata: dict[str, Any],
                 created_ns: int) -> DatasetInfo:
    name = _clean(name)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_DATASET_LOCK, name))
        latest = conn.execute("SELECT max(version) FROM eval_datasets WHERE name = %s", (name,)).fetchone()[0]
        version = (latest if isinstance(latest, int) else 0) + 1
        number = conn.execute(
            "INSERT INTO eval_datasets (name, version, created_ns, item_count, metadata) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING no",
            (name, version, created_ns, len(items), _dumps(metadata))).fetchone()[0]
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO eval_dataset_items (dataset_no, position, item) VALUES (%s, %s, %s)",
                               [(number, position, _dumps(item)) for position, item in enumerate(items)])
    return DatasetInfo(name, version, len(items), created_ns, dict(metadata))


def datasets(conn: Any, name: str | None) -> list[DatasetInfo]:
    if name is None:
        rows = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM eval_datasets d WHERE version = "
                            "(SELECT max(version) FROM eval_datasets WHERE name = d.name) ORDER BY name")
    else:
        rows = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE name = %s ORDER BY version DESC",
                            (_clean(name),))
    return [info for info in map(_dataset, rows) if info is not None]


def dataset_items(conn: Any, name: str, version: int | None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
    if version is None:
        row = conn.execute(f"SELECT no, {_DATASET_COLUMNS} FROM eval_datasets WHERE name = %s "
                           "ORDER BY version DESC LIMIT 1", (_clean(name),)).fetchone()
    else:
        if not isinstance(version, int) or not -(2**31) <= version < 2**31:
            return None  # beyond the integer column: no such version
        row = conn.execute(f"SELECT no, {_DATASET_COLUMNS} FROM eval_datasets WHERE name = %s AND version = %s",
                           (_clean(name), version)).fetchone()
    info = _dataset(row[1:]) if row is not None else None
    if info is None:
        return None
    items = [_loads(text, {}) for (text,) in conn.execute(
        "SELECT item FROM eval_dataset_items WHERE dataset_no = %s ORDER BY position", (row[0],))]
    return info, items


def save_run(conn: Any, run: EvalRunRecord, items: Sequence[dict[str, Any]],
             results: Sequence[EvalResultRecord]) -> None:
    with conn.transaction():
        old = conn.execute("SELECT no FROM eval_runs WHERE id = %s FOR UPDATE", (run.id,)).fetchone()
        if old is not None:
            for table in ("eval_results", "eval_run_items"):
                conn.execute(f"DELETE FROM {table} WHERE run_no = %s", (old[0],))
            conn.execute("DELETE FROM eval_runs WHERE no = %s", (old[0],))
        number = conn.execute(
            f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING no",
            (_clean(run.id), run.created_ns, run.finished_ns, _clean(run.status), run.item_count,
             _number(run.judge_cost_usd), _dumps(run.details))).fetchone()[0]
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO eval_run_items (run_no, position, trace_id, span_id, item) VALUES (%s, %s, %s, %s, %s)",
                [(number, position, _clean(_text(item.get("trace_id"))), _clean(_text(item.get("span_id"))),
                  _dumps(item)) for position, item in enumerate(items)])
            cursor.executemany(
                f"INSERT INTO eval_results (run_no, {_RESULT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (run_no, position, scorer) DO UPDATE SET trace_id = excluded.trace_id, "
                "span_id = excluded.span_id, value = excluded.value, label = excluded.label, "
                "explanation = excluded.explanation, error = excluded.error, score_id = excluded.score_id",
                [tuple(_clean(v) for v in (number, r.position, r.scorer, r.trace_id, r.span_id, _number(r.value),
                                           r.label, r.explanation, r.error, r.score_id)) for r in results])


def runs(conn: Any, *, limit: int) -> list[EvalRunRecord]:
    rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created_ns DESC, no DESC LIMIT %s", (limit,))
    return [record for record in map(_run, rows) if record is not None]


def run(conn: Any, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]], list[EvalResultRecord]] | None:
    row = conn.execute(f"SELECT no, {_RUN_COLUMNS} FROM eval_runs WHERE id = %s", (_clean(run_id),)).fetchone()
    record = _run(row[1:]) if row is not None else None
    if record is None:
        return None
    items = [_loads(text, {}) for (text,) in conn.execute(
        "SELECT item FROM eval_run_items WHERE run_no = %s ORDER BY position", (row[0],))]
    results = []
    for position, scorer, trace_id, span_id, value, label, explanation, error, score_id in conn.execute(
            f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_no = %s ORDER BY position, scorer COLLATE \"C\"",
            (row[0],)):
        if isinstance(position, int) and isinstance(scorer, str):
            results.append(EvalResultRecord(position, scorer, _text(trace_id), _text(span_id), _number(value),
                                            _text(label), _text(explanation), _text(error), _text(score_id)))
    return record, items, results


def evaluated(conn: Any, trace_ids: Sequence[str], scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
    if not trace_ids or not scorers:
        return set()
    ids, names = list(trace_ids), list(scorers)
    sql = ("SELECT trace_id, span_id, scorer FROM eval_results WHERE trace_id = ANY(%s) AND scorer = ANY(%s) "
           "AND error IS NULL UNION SELECT trace_id, span_id, name FROM scores WHERE trace_id = ANY(%s) "
           "AND name = ANY(%s) AND source = 'eval'")
    return {(t, s, n) for t, s, n in conn.execute(sql, (ids, names, ids, names))}


def attributed_cost(conn: Any, key: str, value: str, *, since_ns: int) -> float | None:
    """As SQLite's: the spans since ``since_ns`` whose attribute ``key`` is the text ``value``. The
    stored JSON is text (it may not be valid JSON when another tool wrote it), so the candidates are
    found by the value's text and their attributes checked here."""
    count, total = 0, 0.0
    needle = "%" + json.dumps(value, ensure_ascii=False)[1:-1].replace("\\", "\\\\").replace("%", "\\%") \
        .replace("_", "\\_") + "%"
    for (text,) in conn.execute("SELECT d.attributes FROM spans s JOIN span_data d ON d.id = s.id "
                                "WHERE s.start_ns >= %s AND d.attributes LIKE %s", (since_ns, _clean(needle))):
        attributes = _attributes(text)
        if attributes.get(key) != value or not isinstance(attributes.get(key), str):
            continue
        count += 1
        cost = attributes.get(semconv.ROLLUP_COST)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            total += float(cost)
    return round(total, 12) if count else None
