"""Evaluations in SQLite (schema 7): the spans of many traces at once (the dataset bridge's bulk
read), saved dataset versions, evaluation runs with their items and results, what was already
evaluated, and the cost of a run's judge calls."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from traceglass import semconv
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._models import SpanNode
from traceglass.store._one_step import fetch_all, fewer
from traceglass.store._packed import decompressed_each, unpacked_all
from traceglass.store._queries import _SPAN_READERS as SPAN_READERS  # the store's one reading of a span row
from traceglass.store._queries import _extracted
from traceglass.store._transaction import write_transaction

# The span columns and attributes only: events, links and resource are not read (a dataset needs
# none of them, and parsing them was half the time of building one).
_TRACE_SPANS = """SELECT s.trace_id, s.span_id, s.parent_id, s.name, s.span_type, s.kind, s.project,
    s.start_ns, s.end_ns, s.status, s.status_message, s.error_type, s.model, s.provider, s.operation,
    s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd, s.session_id, s.user_id, d.attributes, s.superseded
    FROM spans s LEFT JOIN span_data d ON d.id = s.id
    WHERE s.trace_no IN (SELECT id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?)))
    ORDER BY s.trace_no, s.start_ns, s.id"""
# One decoder for every row: json.loads with a keyword builds a new one per call (measured 2x slower).
_DECODER = json.JSONDecoder(parse_constant=lambda name: None)


def _dumps(value: Any) -> str:
    # ASCII escapes keep lone surrogates (which SQLite's UTF-8 text refuses) readable back by json.
    return json.dumps(value, ensure_ascii=True, default=str)


def _loads(text: Any, empty: Any) -> Any:
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else None
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, type(empty)) else empty


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def trace_spans(conn: sqlite3.Connection, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
    """Every span of each stored trace of ``trace_ids``, by start time: one query for them all."""
    found: dict[str, list[SpanNode]] = {}
    if not trace_ids:
        return found
    # The rows in one step and the compressed attributes decompressed in one call (see _one_step, _packed).
    rows = fetch_all(conn, _TRACE_SPANS, (json.dumps(list(trace_ids)),), 23)
    for row, attributes in zip(rows, unpacked_all([row[21] for row in rows])):
        fields = [read(value) for read, value in zip(SPAN_READERS, row[:21])]
        fields[9] = fields[9] or "UNSET"
        span = SpanNode(*fields, attributes=_attributes(attributes), events=[], links=[], resource={},
                        usage_superseded=bool(row[22]))
        found.setdefault(span.trace_id, []).append(span)
    return found


def _attributes(text: Any) -> dict[str, Any]:
    try:
        value = _DECODER.decode(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {}


# -- datasets ---------------------------------------------------------------------------------

def save_dataset(conn: sqlite3.Connection, name: str, items: Sequence[dict[str, Any]],
                 metadata: dict[str, Any], created_ns: int) -> DatasetInfo:
    with write_transaction(conn):
        # Read under the write lock: two savers of one name get consecutive versions.
        latest = conn.execute("SELECT max(version) FROM eval_datasets WHERE name = ?", (name,)).fetchone()[0]
        version = (latest if isinstance(latest, int) else 0) + 1
        cursor = conn.execute(
            "INSERT INTO eval_datasets (name, version, created_ns, item_count, metadata) VALUES (?, ?, ?, ?, ?)",
            (name, version, created_ns, len(items), _dumps(metadata)))
        number = cursor.lastrowid
        conn.executemany("INSERT INTO eval_dataset_items (dataset_no, position, item) VALUES (?, ?, ?)",
                         [(number, position, _dumps(item)) for position, item in enumerate(items)])
    return DatasetInfo(name, version, len(items), created_ns, dict(metadata))


def _dataset(row: tuple) -> DatasetInfo | None:
    name, version, count, created, metadata = row
    if not isinstance(name, str) or not isinstance(version, int):
        return None  # a row written by something else
    return DatasetInfo(name, version, count if isinstance(count, int) else 0,
                       created if isinstance(created, int) else 0, _loads(metadata, {}))


_DATASET_COLUMNS = "name, version, item_count, created_ns, metadata"


def datasets(conn: sqlite3.Connection, name: str | None) -> list[DatasetInfo]:
    """The latest version of every dataset by name, or every version of ``name`` (newest first)."""
    if name is None:
        sql = (f"SELECT {_DATASET_COLUMNS} FROM eval_datasets d WHERE version = "
               "(SELECT max(version) FROM eval_datasets WHERE name = d.name) ORDER BY name")
        rows = conn.execute(sql)
    else:
        rows = conn.execute(f"SELECT {_DATASET_COLUMNS} FROM eval_datasets WHERE name = ? ORDER BY version DESC",
                            (name,))
    return [info for info in map(_dataset, rows) if info is not None]


def dataset_items(conn: sqlite3.Connection, name: str,
                  version: int | None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
    if version is None:
        row = conn.execute(f"SELECT no, {_DATASET_COLUMNS} FROM eval_datasets WHERE name = ? "
                           "ORDER BY version DESC LIMIT 1", (name,)).fetchone()
    else:
        row = conn.execute(f"SELECT no, {_DATASET_COLUMNS} FROM eval_datasets WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
    info = _dataset(row[1:]) if row is not None else None
    if info is None:
        return None
    items = [_loads(text, {}) for (text,) in conn.execute(
        "SELECT item FROM eval_dataset_items WHERE dataset_no = ? ORDER BY position", (row[0],))]
    return info, items


# -- runs ---------------------------------------------------------------------------------------

_RUN_COLUMNS = "id, created_ns, finished_ns, status, item_count, judge_cost_usd, run"
_RESULT_COLUMNS = "position, scorer, trace_id, span_id, value, label, explanation, error, score_id"


def save_run(conn: sqlite3.Connection, run: EvalRunRecord, items: Sequence[dict[str, Any]],
             results: Sequence[EvalResultRecord]) -> None:
    """Store a run, its items and results in one transaction (a run saved again is replaced)."""
    with write_transaction(conn):
        old = conn.execute("SELECT no FROM eval_runs WHERE id = ?", (run.id,)).fetchone()
        if old is not None:
            for table in ("eval_results", "eval_run_items"):
                conn.execute(f"DELETE FROM {table} WHERE run_no = ?", (old[0],))
            conn.execute("DELETE FROM eval_runs WHERE no = ?", (old[0],))
        cursor = conn.execute(
            f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.created_ns, run.finished_ns, run.status, run.item_count, _number(run.judge_cost_usd),
             _dumps(run.details)))
        number = cursor.lastrowid
        conn.executemany(
            "INSERT INTO eval_run_items (run_no, position, trace_id, span_id, item) VALUES (?, ?, ?, ?, ?)",
            [(number, position, _text(item.get("trace_id")), _text(item.get("span_id")), _dumps(item))
             for position, item in enumerate(items)])
        conn.executemany(
            f"INSERT OR REPLACE INTO eval_results (run_no, {_RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(number, r.position, r.scorer, r.trace_id, r.span_id, _number(r.value), r.label, r.explanation,
              r.error, r.score_id) for r in results])


def _run(row: tuple) -> EvalRunRecord | None:
    run_id, created, finished, status, count, cost, details = row
    if not isinstance(run_id, str) or not isinstance(created, int):
        return None
    return EvalRunRecord(run_id, created, finished if isinstance(finished, int) else None,
                         status if isinstance(status, str) else "unknown", count if isinstance(count, int) else 0,
                         _number(cost), _loads(details, {}))


def runs(conn: sqlite3.Connection, *, limit: int) -> list[EvalRunRecord]:
    rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created_ns DESC, no DESC LIMIT ?", (limit,))
    return [run for run in map(_run, rows) if run is not None]


def run(conn: sqlite3.Connection, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]],
                                                       list[EvalResultRecord]] | None:
    row = conn.execute(f"SELECT no, {_RUN_COLUMNS} FROM eval_runs WHERE id = ?", (run_id,)).fetchone()
    record = _run(row[1:]) if row is not None else None
    if record is None:
        return None
    items = [_loads(text, {}) for (text,) in conn.execute(
        "SELECT item FROM eval_run_items WHERE run_no = ? ORDER BY position", (row[0],))]
    results = []
    for position, scorer, trace_id, span_id, value, label, explanation, error, score_id in conn.execute(
            f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_no = ? ORDER BY position, scorer", (row[0],)):
        if isinstance(position, int) and isinstance(scorer, str):
            results.append(EvalResultRecord(position, scorer, _text(trace_id), _text(span_id), _number(value),
                                            _text(label), _text(explanation), _text(error), _text(score_id)))
    return record, items, results


def evaluated(conn: sqlite3.Connection, trace_ids: Sequence[str],
              scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
    """(trace id, span id, scorer) already evaluated among these traces: a run's result without an
    error, or an evaluation score (``source = 'eval'``) of that name."""
    if not trace_ids or not scorers:
        return set()
    ids, names = json.dumps(list(trace_ids)), json.dumps(list(scorers))
    sql = ("SELECT trace_id, span_id, scorer FROM eval_results WHERE trace_id IN (SELECT value FROM json_each(?)) "
           "AND scorer IN (SELECT value FROM json_each(?)) AND error IS NULL "
           "UNION SELECT trace_id, span_id, name FROM scores WHERE trace_id IN (SELECT value FROM json_each(?)) "
           "AND name IN (SELECT value FROM json_each(?)) AND source = 'eval'")
    return {(t, s, n) for t, s, n in fetch_all(conn, sql, (ids, names, ids, names), 3)}


# An evaluation run's judge cost. Stored text is matched and summed by SQLite; compressed attributes
# (BLOBs) are read a chunk at a time in start order (spans_start), concatenated in one BLOB with their
# sizes (no hex in a JSON document), and matched here.
_COST = "$." + json.dumps(semconv.ROLLUP_COST)
_TEXT_COST = ("SELECT count(*), total(json_extract(d.attributes, ?)) FROM spans s JOIN span_data d ON d.id = s.id "
              "WHERE s.start_ns >= ? AND typeof(d.attributes) = 'text' AND json_valid(d.attributes) "
              "AND json_extract(d.attributes, ?) = ?")
_PACKED = """SELECT json_group_array(json_array(start_ns, id, length(a))), CAST(group_concat(a, '') AS BLOB)
    FROM (SELECT s.start_ns, s.id, d.attributes AS a FROM spans s JOIN span_data d ON d.id = s.id
        WHERE s.start_ns >= ? AND (s.start_ns, s.id) > (?, ?) AND typeof(d.attributes) = 'blob'
        ORDER BY s.start_ns, s.id LIMIT ?)"""
COST_CHUNK = 1024  # compressed attributes decompressed at once


def _json_object(raw: bytes) -> dict[str, Any]:
    """The object ``raw`` holds as tg_json and json_valid() read it (bad UTF-8 replaced; strict JSON: no
    NaN); empty for anything else."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = orjson.loads(raw.decode("utf-8", "replace"))
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _plain(value: Any) -> bytes | None:
    """``value``'s UTF-8 bytes when every JSON text holding it as a string holds those bytes or a ``\\u``
    escape, and no list or object can read back as it: then a value without either cannot match."""
    if not isinstance(value, str) or value[:1] in ("[", "{") or any(c in '"\\/' or c < " " for c in value):
        return None
    try:
        return value.encode()
    except UnicodeEncodeError:  # a lone surrogate: JSON holds it escaped only
        return None


def attributed_cost(conn: sqlite3.Connection, key: str, value: str, *, since_ns: int) -> float | None:
    """The summed ``traceglass.rollup.cost_usd`` of the spans started since ``since_ns`` whose
    attribute ``key`` is ``value``; None when no such span is stored.

    Read without ``tg_json`` (a call back into Python a span: beside a busy application thread each
    waits for the GIL): a statement a chunk, the values compared as SQLite's json_extract gives them
    and summed by SQLite's total()."""
    if value is None:
        return None  # json_extract(...) = NULL holds for no span
    path = "$." + json.dumps(key)
    count, total = conn.execute(_TEXT_COST, (_COST, since_ns, path, value)).fetchone()
    costs: list[Any] = []
    needle = _plain(value)
    after: tuple[Any, Any] = (since_ns, -(2**63))  # below every row id
    chunk = COST_CHUNK
    while True:
        try:
            places, blob = conn.execute(_PACKED, (since_ns, *after, chunk)).fetchone()
        except sqlite3.DataError as exc:  # the chunk's values over SQLite's limit on a value: fewer a chunk
            chunk = fewer(exc, chunk)
            continue
        rows = orjson.loads(places)
        for text in decompressed_each(blob, [size for _, _, size in rows]) if rows else ():
            if text is None:  # not a frame of ours: tg_json read it as NULL
                continue
            raw = bytes(text)
            if needle is not None and needle not in raw and b"\\u" not in raw:
                continue  # cannot hold the value: not parsed
            attributes = _json_object(raw)
            if _extracted(attributes.get(key)) == value:
                count += 1
                costs.append(_extracted(attributes.get(semconv.ROLLUP_COST)))
        if len(rows) < chunk:
            break
        after = (rows[-1][0], rows[-1][1])
    if costs:  # summed as total() sums the text rows' (a number as itself, text as its numeric prefix)
        total += conn.execute("SELECT total(value) FROM json_each(?)", (json.dumps(costs),)).fetchone()[0]
    return round(float(total), 12) if count else None
