"""Write span rows in one transaction and refresh the summary of every trace they touch.

Trace totals come from :mod:`traceglass.rollup` (the one no-double-counting rule). The same pass
marks each span whose own usage the rule does not count (``superseded``: a span below it reports
usage), so per-span statistics agree with the trace totals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from traceglass import rollup
from traceglass.store._rows import (
    INSERT_DATA,
    INSERT_SPAN,
    INSERT_SPAN_FLAGGED,
    SpanRow,
)

_CHUNK = 400  # ids per IN (...) list, below SQLite's default host-parameter limit

_TRACE_SPANS = """SELECT trace_no, span_id, parent_id, name, project, start_ns, end_ns, status,
    input_tokens, output_tokens, cost_usd, session_id, user_id, superseded
    FROM spans WHERE trace_no IN ({marks})"""
_INSERT_TRACE = """INSERT INTO traces (id, trace_id, root_span_id, name, project, start_ns, end_ns,
    duration_ns, status, span_count, error_count, input_tokens, output_tokens, total_tokens, cost_usd,
    session_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SET_SUPERSEDED = "UPDATE spans SET superseded = ? WHERE trace_no = ? AND span_id = ?"


def _replacing(sql: str) -> str:
    return sql.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)


_UPSERT_TRACE = _replacing(_INSERT_TRACE)  # the same id and trace id: the row keeps its id


def write_rows(conn: sqlite3.Connection, rows: Sequence[SpanRow]) -> None:
    """Insert or replace ``rows`` and refresh their traces, all in one write transaction."""
    if not rows:
        return
    # A span given twice is stored once: the last copy wins.
    rows = list({(row.trace_id, row.span[1]): row for row in rows}.values())
    try:
        _write(conn, rows, replace_all=False)
    except sqlite3.IntegrityError:
        # A stored row the batch did not expect (a span whose trace has no summary row, which
        # this module never leaves behind): write the batch again, replacing whatever is there.
        _write(conn, rows, replace_all=True)


def _write(conn: sqlite3.Connection, rows: list[SpanRow], *, replace_all: bool) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Most batches bring whole new traces (an SDK exports a trace's spans together). A trace
        # without a summary row has no stored spans (the two are written and deleted together),
        # so its summary comes from the batch itself: no read-back of the spans just inserted,
        # and each span's superseded flag goes in with the row instead of a later UPDATE.
        known = _known_traces(conn, {row.trace_id for row in rows})
        new: dict[str, list[SpanRow]] = {}
        for row in rows:
            if row.trace_id not in known:
                new.setdefault(row.trace_id, []).append(row)
        numbers = dict(known)
        if new:  # new traces take the next ids, in the order they came: appended to every index
            next_no = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM traces").fetchone()[0]
            numbers.update(zip(new, range(next_no, next_no + len(new))))
        ids, stored = _row_ids(conn, rows, known)
        spans = [(row_id, numbers[row.trace_id], *row.span) for row_id, row in zip(ids, rows)]
        data = [(row_id, *row.data) for row_id, row in zip(ids, rows)]
        summaries, flagged = _new_trace_summaries(new, numbers)
        insert_span = INSERT_SPAN
        if flagged:
            spans = [span + (int((span[2], span[3]) in flagged),) for span in spans]
            insert_span = INSERT_SPAN_FLAGGED
        if replace_all:  # whatever is stored under these spans' keys goes first, with its JSON
            keys = [(span[1], span[3]) for span in spans]
            conn.executemany("DELETE FROM span_data WHERE id IN "
                             "(SELECT id FROM spans WHERE trace_no = ? AND span_id = ?)", keys)
            conn.executemany("DELETE FROM spans WHERE trace_no = ? AND span_id = ?", keys)
            _insert(conn, _replacing(insert_span), spans, _replacing(INSERT_DATA), data)
        else:  # rows that take the place of stored ones (re-exports) replace them; the rest are new
            again = {i for i, row_id in enumerate(ids) if row_id in stored}
            _insert(conn, insert_span, [s for i, s in enumerate(spans) if i not in again], INSERT_DATA,
                    [d for i, d in enumerate(data) if i not in again])
            if again:
                _insert(conn, _replacing(insert_span), [spans[i] for i in sorted(again)],
                        _replacing(INSERT_DATA), [data[i] for i in sorted(again)])
        if summaries:
            conn.executemany(_UPSERT_TRACE if replace_all else _INSERT_TRACE, summaries)
        if known:
            refresh_traces(conn, known)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _new_trace_summaries(new: Mapping[str, list[SpanRow]], numbers: Mapping[str, int],
                         ) -> tuple[list[tuple], set[tuple[str, str]]]:
    """The ``traces`` rows of traces the batch brings whole, and which of their spans are superseded."""
    summaries, flagged = [], set()
    for trace_id, trace_rows in new.items():
        # In span id order, as the read-back returns them: ties resolve the same way.
        spans_in = sorted((_summary_input(row.span) for row in trace_rows), key=lambda s: s[1])
        summary, changed = _summarize(trace_id, spans_in)
        summaries.append((numbers[trace_id], *summary))
        flagged.update((trace_id, span_id) for superseded, _, span_id in changed if superseded)
    return summaries, flagged


def _insert(conn: sqlite3.Connection, insert_span: str, spans: list[tuple], insert_data: str,
            data: list[tuple]) -> None:
    conn.executemany(insert_span, spans)
    conn.executemany(insert_data, data)


def _row_ids(conn: sqlite3.Connection, rows: Sequence[SpanRow], known: Mapping[str, int]) -> tuple[list[int], set[int]]:
    """The row id of each span (the stored span's own when it is being replaced, else the next free
    one, taken under the write lock so no other writer can take it meanwhile) and the stored ids."""
    stored: dict[tuple[int, str], int] = {}
    numbers = list(known.values())
    for i in range(0, len(numbers), _CHUNK):
        chunk = numbers[i:i + _CHUNK]
        stored.update(((trace_no, span_id), row_id) for trace_no, span_id, row_id in conn.execute(
            f"SELECT trace_no, span_id, id FROM spans WHERE trace_no IN ({','.join('?' * len(chunk))})", chunk))
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM spans").fetchone()[0]
    out = []
    for row in rows:
        trace_no = known.get(row.trace_id)
        row_id = None if trace_no is None else stored.get((trace_no, row.span[1]))
        if row_id is None:
            row_id, next_id = next_id, next_id + 1
        out.append(row_id)
    return out, set(stored.values())


def _known_traces(conn: sqlite3.Connection, trace_ids: set[str]) -> dict[str, int]:
    """Of ``trace_ids``, those stored, with their ``traces.id``."""
    ids, known = list(trace_ids), {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        known.update(conn.execute(
            f"SELECT trace_id, id FROM traces WHERE trace_id IN ({','.join('?' * len(chunk))})", chunk))
    return known


def _summary_input(span: tuple) -> tuple:
    """A span row (``SPAN_COLUMNS`` order) in the shape ``_TRACE_SPANS`` reads, not yet superseded."""
    return (span[0], span[1], span[2], span[3], span[6], span[7], span[8], span[10], span[16], span[17],
            span[19], span[20], span[21], 0)


def refresh_traces(conn: sqlite3.Connection, traces: Mapping[str, int]) -> None:
    """Recompute the ``traces`` rows and ``superseded`` flags of ``traces`` (trace id -> its
    ``traces.id``), inside a transaction."""
    items = list(traces.items())
    for i in range(0, len(items), _CHUNK):
        chunk = dict(items[i:i + _CHUNK])
        by_number: dict[int, list[tuple]] = {trace_no: [] for trace_no in chunk.values()}
        for row in conn.execute(_TRACE_SPANS.format(marks=",".join("?" * len(chunk))), list(chunk.values())):
            by_number[row[0]].append(row)
        summaries, flags, gone = [], [], []
        for trace_id, trace_no in chunk.items():
            spans = by_number[trace_no]
            if not spans:
                gone.append((trace_no,))
                continue
            summary, changed = _summarize(trace_id, spans)
            summaries.append((trace_no, *summary))
            flags.extend((superseded, trace_no, span_id) for superseded, _, span_id in changed)
        conn.executemany(_UPSERT_TRACE, summaries)
        if flags:
            conn.executemany(_SET_SUPERSEDED, flags)
        if gone:
            conn.executemany("DELETE FROM traces WHERE id = ?", gone)


def _summarize(trace_id: str, spans: list[tuple]) -> tuple[tuple, list[tuple]]:
    parents = {s[1]: s[2] for s in spans}
    own = {s[1]: rollup.own_usage(s[8], s[9], s[10]) for s in spans}
    totals = rollup.tree_totals(parents, own)
    total = rollup.trace_total(parents, own, totals)
    children: dict[str, list[str]] = {s[1]: [] for s in spans}
    for span_id, parent in parents.items():
        if parent in children:
            children[parent].append(span_id)
    changed = []
    for s in spans:
        span_id = s[1]
        superseded = int(own[span_id] is not None and any(totals[c].calls for c in children[span_id]))
        if superseded != s[13]:
            changed.append((superseded, trace_id, span_id))
    ordered = sorted(spans, key=lambda s: s[5])
    roots = [s for s in ordered if s[2] is None or s[2] not in parents]
    # The true root (no parent) wins over spans whose parent is missing (not exported yet).
    root = next((s for s in roots if s[2] is None), roots[0] if roots else ordered[0])
    start = ordered[0][5]
    ends = [s[6] for s in spans if s[6] is not None]
    end = max(ends) if ends else None
    errors = sum(1 for s in spans if s[7] == "ERROR")
    project = root[4] or next((s[4] for s in ordered if s[4]), None)
    session = root[11] or next((s[11] for s in ordered if s[11]), None)
    user = root[12] or next((s[12] for s in ordered if s[12]), None)
    summary = (
        trace_id, root[1], root[3], project, start, end, None if end is None else end - start,
        "ERROR" if errors else "OK", len(spans), errors, total.input_tokens, total.output_tokens,
        total.total_tokens, total.cost_usd, session, user,
    )
    return summary, changed
