"""Write a batch of span rows into PostgreSQL and refresh their traces' summaries, in one transaction.

Several processes may write spans of the same trace at once (server replicas behind a load
balancer). Each batch first upserts its traces' summary rows, in trace id order, which takes a row
lock on each: a second writer of the same trace waits there until the first commits, then reads
the spans the first wrote. The summary is then computed from every stored span plus the batch, by
the same code SQLite's writer uses (:func:`traceglass.store._writer._summaries`, the roll-up
rule), so it is right whoever wrote which span. Locking in one order keeps two writers of the same
traces from deadlocking (a deadlock the server reports anyway is retried, see ``is_busy``).

Spans are upserted by their (trace_no, span_id) key: a span exported again (a retried export)
replaces itself. Rows go in as one array per column (``unnest``), and so do the summaries: one
short statement per table whatever the batch's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from traceglass.store._rows import DATA_COLUMNS, SPAN_COLUMNS, SpanRow
from traceglass.store._writer import _summaries

_PLACEHOLDERS = """INSERT INTO traces (trace_id, start_ns, status, span_count, error_count, input_tokens,
    output_tokens, total_tokens)
    SELECT t, 0, 'OK', 0, 0, 0, 0, 0 FROM unnest(%s::text[]) AS t ORDER BY t
    ON CONFLICT (trace_id) DO UPDATE SET trace_id = excluded.trace_id RETURNING trace_id, id"""
_STORED = """SELECT trace_no, span_id, parent_id, name, project, start_ns, end_ns, status, input_tokens,
    output_tokens, cost_usd, session_id, user_id, superseded, id FROM spans WHERE trace_no = ANY(%s)"""
_SPAN_FIELDS = ("trace_no", *SPAN_COLUMNS, "superseded")
_BIGINT = {"trace_no", "id", "start_ns", "end_ns", "duration_ns", "input_tokens", "output_tokens", "total_tokens",
           "span_count", "error_count"}
_TYPES = {**dict.fromkeys(_BIGINT, "bigint"), "cost_usd": "double precision", "superseded": "integer"}


def _arrays(fields: Sequence[str], types: Mapping[str, str]) -> str:
    """``fields`` as unnest's binary array parameters, each cast to its column's type (text unless given)."""
    return ", ".join(f"%b::{types.get(c, 'text')}[]" for c in fields)


# A batch goes in as one array per column (unnest): the statement stays short and the same for every
# batch, so the driver parses it once. A multi-row VALUES list of 512 spans x 24 columns spent 80% of
# a write in psycopg splitting the statement text anew for each batch (its cache keeps short ones only).
# The arrays go in binary (%b): text arrays in text format are escaped element by element.
_SPANS = (f"INSERT INTO spans ({', '.join(_SPAN_FIELDS)}) SELECT * FROM unnest({_arrays(_SPAN_FIELDS, _TYPES)}) "
          "ON CONFLICT (trace_no, span_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _SPAN_FIELDS[1:])
          + " RETURNING trace_no, span_id, id")
_DATA = (f"INSERT INTO span_data (id, {', '.join(DATA_COLUMNS)}) SELECT * FROM unnest(%b::bigint[], "
         + ", ".join(["%b::text[]"] * len(DATA_COLUMNS)) + ") ON CONFLICT (id) DO UPDATE SET "
         + ", ".join(f"{c} = excluded.{c}" for c in DATA_COLUMNS))
# Every summary of the batch in one statement (one array per column, as the rows): an UPDATE a trace
# was a round trip a trace, each wait a give-up of the GIL.
_SUMMARY_FIELDS = ("id", "root_span_id", "name", "project", "start_ns", "end_ns", "duration_ns", "status", "span_count",
                   "error_count", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "session_id", "user_id")
_SUMMARIES = ("UPDATE traces AS t SET " + ", ".join(f"{c} = s.{c}" for c in _SUMMARY_FIELDS[1:])
              + f" FROM unnest({_arrays(_SUMMARY_FIELDS, _TYPES)}) AS s({', '.join(_SUMMARY_FIELDS)})"
              " WHERE t.id = s.id")
_FLAG = "UPDATE spans SET superseded = %s WHERE id = ANY(%s)"


def write_rows(conn: Any, rows: Sequence[SpanRow]) -> None:
    """Upsert ``rows`` and refresh their traces in one transaction (``conn`` in autocommit mode)."""
    if not rows:
        return
    # A span given twice is stored once: the last copy wins.
    batch = list({(row.trace_id, row.span[1]): row for row in rows}.values())
    batch = [SpanRow(row.trace_id, _clean(row.span), _clean(row.data)) for row in batch]
    with conn.transaction():
        trace_ids = sorted({row.trace_id for row in batch})
        numbers: dict[str, int] = dict(conn.execute(_PLACEHOLDERS, (trace_ids,)).fetchall())
        stored = {(r[0], r[1]): tuple(r) for r in conn.execute(_STORED, (list(numbers.values()),))}
        # Every trace of the batch now has a (locked) row: all are "known", a new one with no spans.
        summaries, flagged, flips = _summaries(batch, numbers, numbers, stored)
        spans = [(numbers[row.trace_id], *row.span, int((row.trace_id, row.span[1]) in flagged)) for row in batch]
        ids = {(no, span_id): row_id for no, span_id, row_id in conn.execute(_SPANS, _columns(spans))}
        data = [(ids[(numbers[row.trace_id], row.span[1])], *row.data) for row in batch]
        conn.execute(_DATA, _columns(data))
        # summary: (trace number, trace id, root span id, name, ..., user id)
        conn.execute(_SUMMARIES, _columns([(s[0], *s[2:]) for s in summaries]))
        for value in (0, 1):
            if flips[value]:
                conn.execute(_FLAG, (value, flips[value]))


def _columns(rows: list[tuple]) -> list[list[Any]]:
    """Rows as one list per column (unnest's arrays)."""
    return [list(column) for column in zip(*rows)]


def _clean(values: tuple) -> tuple:
    """PostgreSQL text cannot hold NUL characters (SQLite's can): each becomes U+FFFD. JSON text
    holds them escaped already, so only plain columns (a span name, a status message) change."""
    if not any(isinstance(v, str) and "\x00" in v for v in values):
        return values
    return tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in values)
