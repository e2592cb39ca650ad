"""Write span rows in one transaction and refresh the summary of every trace they touch.

Trace totals come from :mod:`traceglass.rollup` (the one no-double-counting rule). The same pass
marks each span whose own usage the rule does not count (``superseded``: a span below it reports
usage), so per-span statistics agree with the trace totals.

A batch costs a fixed handful of statements however many spans it holds: rows go in as one
multi-row ``VALUES`` list per table, lookups send their keys as one JSON array (``json_each``) and
get one JSON document back. The count matters beyond speed: the sqlite3 module releases the GIL
around every step of a statement and must win it back, and while an application thread runs
Python without pause each win-back waits out the switch interval (5 ms). ``executemany`` steps
once per row, so a 512-span batch took seconds and the exporter fell behind for good.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter

import orjson

from traceglass import rollup
from traceglass.store import _resources, _search
from traceglass.store._packed import DICT_TABLE, SAMPLE_EVERY, Packing, dictionary, unpacked_all
from traceglass.store._rows import DATA_COLUMNS, INT64_MAX, SPAN_COLUMNS, SpanRow, in_64_bits
from traceglass.store._transaction import write_transaction

# One statement: the next free ids and, of the batch's trace ids (a JSON array), the stored ones.
# New spans never take a row id below the word index's watermark (see _search): they are indexed.
# Then the compression dictionary values are compressed with (see _packed; NULL: none yet), and, of
# the batch's resource texts (a JSON array), the stored ones and the next free id (see _resources).
_LOOKUP = f"""SELECT (SELECT coalesce(max(id), 0) + 1 FROM traces),
    max((SELECT coalesce(max(id), 0) + 1 FROM spans), coalesce({_search.FIRST_ID}, 0)),
    (SELECT json_group_array(json_array(trace_id, id)) FROM traces
     WHERE trace_id IN (SELECT value FROM json_each(?))), {_search.FIRST_ID},
    (SELECT min(dict_id) FROM {DICT_TABLE}), {_resources.LOOKUP}"""
# The stored spans of some traces (their ``traces.id`` as a JSON array), in the shape ``_summarize``
# reads plus the row id, as one JSON document. The cost goes as 21 digits of text: JSON keeps 15
# and quote() 15 when SQLite's own parser reads them back alike (Python's may not); with 21, every
# one of 150,000 sampled costs read back exactly.
_STORED_SPANS = """SELECT json_group_array(json_array(trace_no, span_id, parent_id, name, project, start_ns,
    end_ns, status, input_tokens, output_tokens,
    CASE WHEN cost_usd IS NULL THEN NULL ELSE printf('%!.20e', cost_usd) END, session_id, user_id, superseded, id))
    FROM spans WHERE trace_no IN (SELECT value FROM json_each(?))"""
_SAMPLES = "SELECT attributes, events FROM span_data ORDER BY id DESC LIMIT ?"
_SET_SUPERSEDED = "UPDATE spans SET superseded = ? WHERE id IN (SELECT value FROM json_each(?))"
# Rows of the batch, as [trace_no, span_id] pairs: whatever is stored under these keys.
_KEYED = ("SELECT s.id FROM json_each(?) k JOIN spans s "
          "ON s.trace_no = json_extract(k.value, '$[0]') AND s.span_id = json_extract(k.value, '$[1]')")

_SPAN_HEAD = f"INTO spans (id, trace_no, {', '.join(SPAN_COLUMNS)}, superseded)"
# A span's resource goes in as its id in ``resources`` (its own text left empty): see _resources.
_DATA_HEAD = f"INTO span_data (id, {', '.join(DATA_COLUMNS)}, resource_id)"
_TRACE_HEAD = """INTO traces (id, trace_id, root_span_id, name, project, start_ns, end_ns, duration_ns, status,
    span_count, error_count, input_tokens, output_tokens, total_tokens, cost_usd, session_id, user_id)"""
_SPAN_WIDTH, _DATA_WIDTH, _TRACE_WIDTH = len(SPAN_COLUMNS) + 3, len(DATA_COLUMNS) + 2, 17
# SQLite's default cap on parameters per statement (999 before 3.32); Python >= 3.11 asks the library.
_DEFAULT_MAX_PARAMS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


def write_rows(conn: sqlite3.Connection, rows: Sequence[SpanRow]) -> None:
    """Insert or replace ``rows`` and refresh their traces, all in one write transaction."""
    if not rows:
        return
    # A span given twice is stored once: the last copy wins.
    rows = list({(row.trace_id, row.span[1]): row for row in rows}.values())
    texts = [text for row in rows for text in row.data[:2]]  # links and resource are short
    try:
        _write(conn, rows, texts, replace_all=False)
    except sqlite3.IntegrityError:
        # A stored row the batch did not expect (a span whose trace has no summary row, which
        # this module never leaves behind): write the batch again, replacing whatever is there.
        _write(conn, rows, texts, replace_all=True)


def _write(conn: sqlite3.Connection, rows: list[SpanRow], texts: list[str], *, replace_all: bool) -> None:
    packing = None
    try:
        with write_transaction(conn):
            trace_ids = list(dict.fromkeys(row.trace_id for row in rows))
            resources = [row.data[3] for row in rows]
            next_no, next_id, found, first, dict_id, found_resources, next_resource = conn.execute(
                _LOOKUP, (orjson.dumps(trace_ids).decode(), _resources.texts(resources))).fetchone()
            # Large attributes and events go in compressed, all in one call (see _packed), begun now and
            # taken after the spans and their words are in; a store's first large batch trains its dictionary,
            # or a smaller one with the values of the spans stored before it, once they are many enough.
            samples = _samples(conn) if dict_id is None and (next_id - 1) // SAMPLE_EVERY < (
                next_id - 1 + len(rows)) // SAMPLE_EVERY else ()
            packing = Packing(texts, dictionary(dict_id, conn), train=dict_id is None, samples=samples)
            known: dict[str, int] = dict(orjson.loads(found))
            # New traces take the next ids, in the order they came: appended to every index.
            numbers = dict(known)
            numbers.update(zip((t for t in trace_ids if t not in known), range(next_no, next_no + len(trace_ids))))
            # A trace without a summary row has no stored spans (the two are written and deleted
            # together), so its summary comes from the batch alone. A known trace's spans are read
            # back once, before the insert, and merged with the batch here.
            stored = _stored_spans(conn, known.values()) if known else {}
            ids, again = [], []
            for row in rows:
                old = stored.get((numbers[row.trace_id], row.span[1]))
                if old is None:
                    ids.append(next_id)
                    next_id += 1
                else:
                    ids.append(old[14])
                    again.append(len(ids) - 1)
            summaries, flagged, flips = _summaries(rows, numbers, known, stored)
            spans = [(row_id, numbers[row.trace_id], *row.span, int((row.trace_id, row.span[1]) in flagged))
                     for row_id, row in zip(ids, rows)]
            indexed = first is not None and _search.FTS5 and not replace_all
            if indexed and again:  # the words of the stored spans these replace go first
                _search.forget(conn, first, "s.id IN (SELECT value FROM json_each(?))",
                               [orjson.dumps([ids[i] for i in again]).decode()], in_place=True)
            if replace_all:  # whatever is stored under these spans' keys goes first, with its JSON
                keys = orjson.dumps([[span[1], span[3]] for span in spans]).decode()
                conn.execute(f"DELETE FROM span_data WHERE id IN ({_KEYED})", (keys,))
                conn.execute(f"DELETE FROM spans WHERE id IN ({_KEYED})", (keys,))
            _put(conn, _SPAN_HEAD, _SPAN_WIDTH, spans, again, replace_all)
            if indexed:  # the texts the content search reads, before compression
                words = [(row_id, row.span[3], row.data[0], row.data[1]) for row_id, row in zip(ids, rows)
                         if row_id >= first]
                if again:  # in row id order (replaced spans keep theirs): see _search.forget
                    words.sort(key=itemgetter(0))
                insert_values(conn, "INSERT", _search.INSERT, 4, words)
            elif first is not None:  # rows changed that the index cannot follow: below its watermark now
                _search.abandon(conn)
            # Then the values, compressed meanwhile, and the dictionary they were compressed with if new.
            packed = iter(packing.result())
            if packing.trained is not None:
                conn.execute(f"INSERT INTO {DICT_TABLE} (dict_id, data) VALUES (?, ?)",
                             (packing.trained.dict_id(), packing.trained.as_bytes()))
            resource_ids, resource_rows = _resources.assign(found_resources, next_resource, resources,
                                                            [row.span[7] for row in rows])
            insert_values(conn, "INSERT OR REPLACE", _resources.HEAD, 3, resource_rows)
            data = [(row_id, next(packed), next(packed), row.data[2], "", resource_id)
                    for row_id, row, resource_id in zip(ids, rows, resource_ids)]
            _put(conn, _DATA_HEAD, _DATA_WIDTH, data, again, replace_all)
            # A known trace's row is replaced under its own id and trace id: it keeps its place.
            new_summaries = [s for s in summaries if s[1] not in known]
            insert_values(conn, "INSERT OR REPLACE" if replace_all else "INSERT", _TRACE_HEAD, _TRACE_WIDTH,
                          new_summaries)
            insert_values(conn, "INSERT OR REPLACE", _TRACE_HEAD, _TRACE_WIDTH, [s for s in summaries if s[1] in known])
            for value in (0, 1):
                if flips[value]:
                    conn.execute(_SET_SUPERSEDED, (value, orjson.dumps(flips[value]).decode()))
    finally:
        if packing is not None:
            packing.wait()  # no thread of ours outlives the write


def _samples(conn: sqlite3.Connection) -> list[str]:
    """The attributes and events texts of the newest :data:`SAMPLE_EVERY` stored spans (one statement, the
    frames decompressed in one call; a value that is no frame of ours left out)."""
    values = [value for row in conn.execute(_SAMPLES, (SAMPLE_EVERY,)) for value in row]
    return [text for text in unpacked_all(values) if isinstance(text, str)]


def _put(conn: sqlite3.Connection, head: str, width: int, values: list[tuple], again: list[int],
         replace_all: bool) -> None:
    """Store a batch's rows of one table: with ``replace_all``, each replacing whatever has its key;
    else those at the indexes ``again`` (re-exports) replacing their stored rows and the rest new."""
    if replace_all:
        insert_values(conn, "INSERT OR REPLACE", head, width, values)
        return
    replaced = set(again)
    insert_values(conn, "INSERT", head, width, [value for i, value in enumerate(values) if i not in replaced])
    insert_values(conn, "INSERT OR REPLACE", head, width, [values[i] for i in again])


def _stored_spans(conn: sqlite3.Connection, numbers: Iterable[int]) -> dict[tuple[int, str], tuple]:
    """The stored spans of the traces ``numbers``, by (trace_no, span_id): ``_summarize``'s shape + row id."""
    (found,) = conn.execute(_STORED_SPANS, (orjson.dumps(list(numbers)).decode(),)).fetchone()
    out = {}
    for span in orjson.loads(found):
        if span[10] is not None:
            span[10] = float(span[10])
        out[(span[0], span[1])] = tuple(span)
    return out


def _summaries(rows: list[SpanRow], numbers: Mapping[str, int], known: Mapping[str, int],
               stored: Mapping[tuple[int, str], tuple]) -> tuple[list[tuple], set[tuple[str, str]], dict[int, list]]:
    """The ``traces`` rows of every trace the batch touches, which of the batch's spans are
    superseded, and the row ids of stored spans whose flag changes (by new value)."""
    by_trace: dict[str, dict[str, tuple]] = {}
    for row in rows:
        by_trace.setdefault(row.trace_id, {})[row.span[1]] = _summary_input(row.span)
    trace_of = {number: trace_id for trace_id, number in known.items()}
    stored_ids: dict[tuple[str, str], int] = {}
    for (number, span_id), span in stored.items():
        trace_id = trace_of[number]
        spans = by_trace[trace_id]
        if span_id not in spans:  # else the batch's copy replaces it
            spans[span_id] = span[:14]
            stored_ids[(trace_id, span_id)] = span[14]
    summaries, flagged, flips = [], set(), {0: [], 1: []}
    for trace_id, spans in by_trace.items():
        # In span id order, as an index read returns them: ties resolve the same way every time.
        summary, changed = _summarize(trace_id, [spans[k] for k in sorted(spans)])
        summaries.append((numbers[trace_id], *summary))
        for superseded, _, span_id in changed:
            row_id = stored_ids.get((trace_id, span_id))
            if row_id is not None:
                flips[superseded].append(row_id)
            elif superseded:  # a span of the batch: its flag goes in with the row
                flagged.add((trace_id, span_id))
    return summaries, flagged, flips


def insert_values(conn: sqlite3.Connection, verb: str, head: str, width: int, values: list[tuple],
                  tail: str = "") -> None:
    """``{verb} {head} VALUES (...), (...) {tail}`` for ``values`` with as few statements as the parameter
    cap allows (one for a usual batch): a statement steps once, ``executemany`` once a row."""
    if not values:
        return
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(conn, "getlimit") else _DEFAULT_MAX_PARAMS
    per = max(1, limit // width)
    for i in range(0, len(values), per):
        chunk = values[i:i + per]
        conn.execute(_values_sql(verb, head, width, len(chunk), tail), list(chain.from_iterable(chunk)))


@functools.lru_cache(maxsize=64)
def _values_sql(verb: str, head: str, width: int, count: int, tail: str) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return f"{verb} {head} VALUES " + ",".join([row] * count) + (f" {tail}" if tail else "")


def _summary_input(span: tuple) -> tuple:
    """A span row (``SPAN_COLUMNS`` order) in the shape ``_summarize`` reads, not yet superseded."""
    return (span[0], span[1], span[2], span[3], span[6], span[7], span[8], span[10], span[16], span[17],
            span[19], span[20], span[21], 0)


def _few_calls(parents: Mapping[str, str | None], spans: list[tuple]) -> tuple[rollup.UsageTotals, set[str]] | None:
    """The roll-up rule's total and superseded spans for a trace with at most two spans that report
    usage (nearly every trace), without building the tree: a usage span is superseded when another
    one is below it. None (use :mod:`traceglass.rollup`) for more, or for a cycle of parents.

    With at most two calls counted, the sum is the same whatever the order (float addition of two
    values commutes), so the result equals ``rollup.trace_total``'s exactly."""
    calls = [s for s in spans if s[8] is not None or s[9] is not None]
    if len(calls) > 2:
        return None
    superseded: set[str] = set()
    for call in calls:
        parent, steps = parents.get(call[1]), 0
        while parent is not None and parent in parents:
            steps += 1
            if steps > len(parents):  # a cycle: its spans are no root's descendants
                return None
            superseded.add(parent)
            parent = parents[parent]
    total = rollup.NOTHING
    ids = set()
    for call in calls:
        ids.add(call[1])
        if call[1] not in superseded:
            total = total + rollup.own_usage(call[8], call[9], call[10])
    return total, superseded & ids


def _summarize(trace_id: str, spans: list[tuple]) -> tuple[tuple, list[tuple]]:
    parents = {s[1]: s[2] for s in spans}
    found = _few_calls(parents, spans)
    if found is not None:
        total, superseded_ids = found
        changed = [(int(s[1] in superseded_ids), trace_id, s[1]) for s in spans
                   if int(s[1] in superseded_ids) != s[13]]
    else:
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
        trace_id, root[1], root[3], project, start, end, None if end is None else in_64_bits(end - start),
        "ERROR" if errors else "OK", len(spans), errors,
        # Sums of counts that each fit: at most what SQLite holds, rather than the batch refused.
        min(total.input_tokens, INT64_MAX), min(total.output_tokens, INT64_MAX), min(total.total_tokens, INT64_MAX),
        total.cost_usd, session, user,
    )
    return summary, changed
