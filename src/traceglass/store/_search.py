"""The content search's word index: which spans may hold a text, so that only those are read.

``span_words`` is a contentless FTS5 table (``unicode61`` words, ``detail=none``: no positions,
~245 bytes and ~36 us of SQLite's own CPU per span, the GIL released) under each span's row id,
over the three texts the search looks at: the name and the attributes and events JSON, indexed
before compression so nothing is decompressed to find candidates.

Why a word index can serve a substring search: ASCII letters and digits are always word
characters for ``unicode61`` and are only folded to lower case, every other ASCII character
separates words. So each run of ASCII letters and digits in the needle lies inside one word of
any span that holds the needle; when the needle has an ASCII separator before (after) the run,
that word starts (ends) with it. A run bounded on both sides is a word (``"run"``), one bounded
before is a prefix of one, others a suffix or a part: each is looked up in the vocabulary
(``fts5vocab``; a word is a seek, a prefix a range, others a pass over it) and the FTS5 query
names the words found. The spans that have a word for every run chosen are the candidates, a
superset; each is then checked with the real substring test, so results are what a scan finds:
LIKE in SQLite for names and plain values, and for compressed ones the same test in Python (ASCII
letters folded, nothing else) after one decompression of a chunk's values (:func:`traces_holding`).

``search_index.first_id``: spans from this row id up are in the index, those below are not (the
spans of a store written before the index existed, schema 10, or by a SQLite without FTS5) and are
scanned. NULL: no index at all. The index holds exactly each indexed span's current texts: a
replaced or deleted span's words are deleted with its stored texts (FTS5's 'delete'); a writer
that cannot maintain the index moves ``first_id`` above every row instead (:func:`abandon`). Such a
deletion takes space until the index is merged: ``search_index.forgotten`` counts them, and
retention merges the index when they are many (:func:`merge_due`, :func:`merge`).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import orjson

from traceglass.store import _vocabulary
from traceglass.store._one_step import document, fetch_all, fewer, parsed
from traceglass.store._packed import decompressed_each
from traceglass.store._transaction import write_transaction

TABLE = "span_words"
_VOCAB = "span_words_vocab"


def _probe() -> bool:
    try:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return True
    except sqlite3.Error:
        return False


FTS5 = _probe()  # whether this process's SQLite has FTS5 (tests set it False to simulate one without)

# A word index run expands to at most this many vocabulary words; beyond, the needle is too
# unselective for the index to pay and the search scans.
MAX_TERMS = 64
# Candidates up to this many are checked one by one; up to MANY_CANDIDATES, the search walks the
# traces newest first and checks only the candidate spans of each; beyond, the needle is common and a
# plain scan newest first fills a page soonest (bench_store: 'priority support' in 300,000 spans,
# 6 ms scanning, 157 ms through a 300,000-row candidate set).
MAX_CANDIDATES = 2_000
MANY_CANDIDATES = 50_000
_MAX_RUNS = 3
_RUN = re.compile(r"[A-Za-z0-9]+")

SCHEMA = [
    "CREATE TABLE search_index (first_id INTEGER)",
    (f"CREATE VIRTUAL TABLE {TABLE} USING fts5(name, attributes, events, tokenize='unicode61', content='', "
     "detail=none, columnsize=0)"),
    f"CREATE VIRTUAL TABLE {_VOCAB} USING fts5vocab({TABLE}, 'row')",
]


def create(conn: sqlite3.Connection) -> None:
    """Schema 10: the index, empty, and its watermark above every stored span (see the module doc)."""
    conn.execute(SCHEMA[0])
    if FTS5:
        for statement in SCHEMA[1:]:
            conn.execute(statement)
        conn.execute("INSERT INTO search_index (first_id) SELECT coalesce(max(id), 0) + 1 FROM spans")
    else:
        conn.execute("INSERT INTO search_index (first_id) VALUES (NULL)")


FIRST_ID = "(SELECT first_id FROM search_index)"


def first_id(conn: sqlite3.Connection) -> int | None:
    """The first indexed row id; None when there is no index this process can use."""
    if not FTS5:
        return None
    row = conn.execute(f"SELECT {FIRST_ID}").fetchone()
    return row[0] if row else None


def abandon(conn: sqlite3.Connection) -> None:
    """Spans are being changed without the index (no FTS5 here): every stored row id goes below the
    watermark, to be scanned. Called inside the write transaction, after the change."""
    conn.execute("UPDATE search_index SET first_id = max(first_id, (SELECT coalesce(max(id), 0) + 1 FROM spans)) "
                 "WHERE first_id IS NOT NULL")


# FTS5 merges a level's segments once it holds this many (its default: 4). Each merge rewrites every
# word's list of spans, so merging less often costs less a span: bench_store, 100,000 prose spans, the
# exporter 18,495-18,733 spans/s against 15,424-16,555 (the benchmark's texts: +1-3%). Deletions then
# stay unmerged longer, which retention's own merges (below) make up for.
AUTOMERGE = 8


def add_forgotten(conn: sqlite3.Connection) -> None:
    """Schema 13: ``search_index.forgotten`` counts the spans whose words were deleted since the index
    was last merged whole (see :func:`merge`); the index merges :data:`AUTOMERGE` segments at a time."""
    conn.execute("ALTER TABLE search_index ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0")
    if first_id(conn) is not None:
        conn.execute(f"INSERT INTO {TABLE} ({TABLE}, rank) VALUES ('automerge', ?)", (AUTOMERGE,))


def add_changes(conn: sqlite3.Connection) -> None:
    """Schema 15: ``search_index.changes``, a count that only grows, of the changes to the index's words
    under row ids a process's kept words may cover (:func:`forget`; :mod:`._vocabulary` reads its words
    again when it moves)."""
    conn.execute("ALTER TABLE search_index ADD COLUMN changes INTEGER NOT NULL DEFAULT 0")


# Index pages written per merge step: one short write transaction each.
MERGE_PAGES = 1_000
# Retention merges the index once the spans deleted from it since its last merge reach this share of
# the spans it holds. bench_retention.py, 100,000 spans aged out and replaced twice over: the store
# 1,217 B/span on average against 1,332 never merging (1,477 at the end, its index five times its
# size), for 4.6 us more of the prune's CPU a span aged out (44 us; a run of shares: 0.1 and 0.5 kept
# 1,196 and 1,233 B/span for 12.4 and 6.6 us more).
MERGE_SHARE = 0.25
_MERGE = f"INSERT INTO {TABLE} ({TABLE}, rank) VALUES ('merge', ?)"


def merge_due(conn: sqlite3.Connection) -> bool:
    """Whether the spans deleted from the index since its last merge are ``MERGE_SHARE`` of those it holds."""
    if not FTS5:
        return False
    first, forgotten = conn.execute("SELECT first_id, forgotten FROM search_index").fetchone()
    if first is None or not forgotten:
        return False
    return forgotten >= MERGE_SHARE * conn.execute("SELECT count(*) FROM spans WHERE id >= ?", (first,)).fetchone()[0]


def merge(conn: sqlite3.Connection, *, pause: float = 0.0, step: AbstractContextManager = nullcontext()) -> bool:
    """Merge the whole index into one segment, dropping deleted entries, ``MERGE_PAGES`` at a time (each
    step its own transaction, inside ``step``); whether there is an index. A contentless index records a
    deletion as entries that cancel the span's only when the segments holding both are merged, so until
    then a deletion takes space instead of freeing it."""
    with step:
        if first_id(conn) is None:
            return False
        forgotten = _merge_step(conn, -MERGE_PAGES)[1]  # negative: every segment joins one merge
    while True:
        with step:
            if not _merge_step(conn, MERGE_PAGES, forgotten)[0]:
                return True
        if pause:
            time.sleep(pause)


def _merge_step(conn: sqlite3.Connection, pages: int, merged: int | None = None) -> tuple[bool, int]:
    """One merge step in its own transaction: whether it did any work (FTS5: two changes or more), and
    ``forgotten`` as it was. Once no work is left, the ``merged`` deletions are no longer counted."""
    with write_transaction(conn):
        forgotten = conn.execute("SELECT forgotten FROM search_index").fetchone()[0]
        before = conn.total_changes
        conn.execute(_MERGE, (pages,))
        worked = conn.total_changes - before >= 2
        if not worked and merged:
            conn.execute("UPDATE search_index SET forgotten = max(0, forgotten - ?)", (merged,))
    return worked, forgotten


INSERT = f"INTO {TABLE} (rowid, name, attributes, events)"
# The words of stored spans, taken out again with the texts they were indexed from.
_FORGET = (f"INSERT INTO {TABLE} ({TABLE}, rowid, name, attributes, events) "
           "SELECT 'delete', s.id, s.name, tg_json(d.attributes), tg_json(d.events) "
           "FROM spans s JOIN span_data d ON d.id = s.id WHERE s.id >= ? AND ")


def forget(conn: sqlite3.Connection, first: int, condition: str, params: list[Any], *, in_place: bool = False) -> None:
    """Delete the index entries of the stored spans ``s`` that meet ``condition`` (before the rows go, or
    before they are written again under their row ids: ``in_place``), counted in ``search_index.forgotten``;
    and in ``search_index.changes`` when words change under row ids that words kept by a process
    (:mod:`._vocabulary`) may cover: spans written again in place, or a deletion that takes the newest
    span (new spans then get the row ids it frees). Deleting older spans (retention) only drops words:
    the words kept stay a superset."""
    moves = in_place or conn.execute(f"SELECT EXISTS (SELECT 1 FROM spans s WHERE s.id = (SELECT max(id) FROM spans) "
                                     f"AND {condition})", params).fetchone()[0]
    # In row id order: FTS5 writes its pending entries out as a segment whenever a row id is lower
    # than the last (5x the CPU in trace order: bench_retention's prunes).
    count = conn.execute(f"{_FORGET}{condition} ORDER BY s.id", [first, *params]).rowcount
    if count > 0:
        conn.execute("UPDATE search_index SET forgotten = forgotten + ?, changes = changes + ?",
                     (count, int(bool(moves))))


# Spans indexed per backfill step: one short write transaction each (~0.1 s at ~22 us a span).
BACKFILL_CHUNK = 5_000
_BACKFILL = (f"INSERT {INSERT} SELECT s.id, s.name, tg_json(d.attributes), tg_json(d.events) "
             "FROM spans s LEFT JOIN span_data d ON d.id = s.id WHERE s.id >= ? AND s.id < ?")


def backfill(conn: sqlite3.Connection, chunk: int = BACKFILL_CHUNK) -> tuple[int, int]:
    """Index the newest ``chunk`` spans below the watermark and lower it past them, in one write
    transaction of its own: ``(spans indexed, spans still below)``; ``(0, 0)`` with no index.

    The texts are read back as the search reads them (``tg_json``), which is what the writer indexed
    and what :func:`forget` deletes. A span whose words are in the index already (left below the
    watermark by :func:`abandon`) gets them twice: the index stays a superset, checked by LIKE."""
    if first_id(conn) is None:
        return 0, 0
    with write_transaction(conn):
        first = conn.execute(f"SELECT {FIRST_ID}").fetchone()[0]  # again, under the write lock
        low = None if first is None else conn.execute(
            "SELECT min(id) FROM (SELECT id FROM spans WHERE id < ? ORDER BY id DESC LIMIT ?)", (first, chunk)).fetchone()[0]
        indexed = left = 0
        if low is not None:
            indexed = conn.execute(_BACKFILL, (low, first)).rowcount
            conn.execute("UPDATE search_index SET first_id = ?", (low,))
            left = conn.execute("SELECT count(*) FROM spans WHERE id < ?", (low,)).fetchone()[0]
    return indexed, left


def _runs(needle: str) -> list[tuple[str, str]]:
    """Each ASCII letter-and-digit run of ``needle`` with its kind: ``word`` (separators on both
    sides within the needle), ``prefix`` (before only), ``suffix`` (after only) or ``infix``."""
    out = []
    for match in _RUN.finditer(needle):
        start, end = match.span()
        before = start > 0 and ord(needle[start - 1]) < 128
        after = end < len(needle) and ord(needle[end]) < 128
        kind = ("word" if after else "prefix") if before else ("suffix" if after else "infix")
        out.append((match.group().lower(), kind))
    return out


def _terms(conn: sqlite3.Connection, run: str, kind: str,
           kept: _vocabulary.Words | None = None) -> list[tuple[str, int | None]] | None:
    """The vocabulary words a run may be part of, with the spans holding each (an upper bound:
    deleted spans count until the index merges; None: not counted, from ``kept`` words); None for
    more than MAX_TERMS words."""
    if kept is not None and kind in ("infix", "suffix"):
        found = _vocabulary.holding(kept, run, suffix=kind == "suffix", limit=MAX_TERMS)
        return None if found is None else [(term, None) for term in found]
    if kind == "word":
        sql, params = f"SELECT term, doc FROM {_VOCAB} WHERE term = ?", [run]
    elif kind == "prefix":  # a range of the sorted vocabulary: one seek
        sql, params = (f"SELECT term, doc FROM {_VOCAB} WHERE term >= ? AND term < ? LIMIT ?",
                       [run, run[:-1] + chr(ord(run[-1]) + 1), MAX_TERMS + 1])
    else:  # the whole vocabulary is read (a pass over the index)
        sql, params = (f"SELECT term, doc FROM {_VOCAB} WHERE term LIKE ? LIMIT ?",
                       [f"%{run}" if kind == "suffix" else f"%{run}%", MAX_TERMS + 1])
    found = conn.execute(sql, params).fetchall()
    return None if len(found) > MAX_TERMS else found


def _matching(conn: sqlite3.Connection, expression: str) -> int:
    """How many spans the FTS5 query ``expression`` matches, counted up to MANY_CANDIDATES + 1 only (the
    vocabulary would read each word's whole list: 20 ms for a word in each of 1,000,000 spans)."""
    return conn.execute(f"SELECT count(*) FROM (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH ? LIMIT ?)",
                        (expression, MANY_CANDIDATES + 1)).fetchone()[0]


def _common(conn: sqlite3.Connection, word: str) -> bool:
    """Whether more than MANY_CANDIDATES spans hold ``word``."""
    return _matching(conn, f'"{word}"') > MANY_CANDIDATES


def match_expression(conn: sqlite3.Connection, needle: str,
                     kept: list[_vocabulary.Words] | None = None) -> tuple[str, int] | None:
    """An FTS5 query whose matches include every span holding ``needle``, and at most how many
    spans it matches; None when the needle gives the index nothing selective (the search scans).
    The query names vocabulary words only (FTS5's own prefix queries merge every matching list
    before the first row: 55 ms for a common prefix over 300,000 spans, against 3 ms for a word).

    Given ``kept`` (a list), a run that needs the whole vocabulary looks in the words this process
    keeps (:mod:`._vocabulary`), which are appended to ``kept``: the spans from their ``through`` up
    are not covered, and the search must check them too."""
    runs = _runs(needle)
    # Words and prefixes are a seek each; one-letter words and short prefixes select little.
    chosen = sorted({(run, kind) for run, kind in runs
                     if (kind == "word" and len(run) >= 2) or (kind == "prefix" and len(run) >= 3)},
                    key=lambda r: (-len(r[0]), r[0]))[:_MAX_RUNS]
    if not chosen:  # else the vocabulary is read whole: for the longest run only
        chosen = sorted((r for r in runs if len(r[0]) >= 3), key=lambda r: (-len(r[0]), r[0]))[:1]
    if not chosen:
        return None
    groups, bound = [], None
    for run, kind in chosen:
        if kind != "infix" and kind != "suffix" and _common(conn, run):
            continue  # its word alone is in too many spans: looking its words up would cost more than it saves
        words = None
        if kept is not None and kind in ("infix", "suffix"):
            if not kept and (read := _vocabulary.words(conn, _VOCAB)) is not None:
                kept.append(read)
            words = kept[0] if kept else None
        terms = _terms(conn, run, kind, words)
        if terms is None:
            continue  # too many words: this run selects little
        if not terms:
            return "", 0  # no span has such a word: only unindexed spans can match
        group = "(" + " OR ".join(f'"{term}"' for term, _ in terms) + ")"
        groups.append(group)
        docs = sum(doc for _, doc in terms) if words is None else _matching(conn, group)
        bound = docs if bound is None else min(bound, docs)
    if not groups:
        return None
    return " AND ".join(groups), bound



def like(text: str) -> str:
    """A LIKE pattern (escaped with a backslash) that finds ``text`` anywhere: the content search's, on
    both backends (PostgreSQL's ILIKE takes the same)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Of some spans: the traces whose name or stored text holds the needle (LIKE, in SQLite), and the
# compressed values of the others, for Python to check (SQLite would call back into Python for
# each): each such span's trace and the sizes of its two values, and the values themselves one after
# another in one BLOB (concatenation copies a BLOB's bytes as they are). LIMIT -1 keeps the rows'
# values computed once each (a flattened subquery would compute them again for each use).
_CHECK = """SELECT json_group_array(trace_no) FILTER (WHERE held),
    json_group_array(json_array(trace_no, length(a), length(e))) FILTER (WHERE NOT held AND coalesce(a, e) IS NOT NULL),
    CAST(group_concat(coalesce(a, x'') || coalesce(e, x''), '') FILTER (WHERE NOT held) AS BLOB)
    FROM (SELECT s.trace_no, coalesce(s.name LIKE ? ESCAPE '\\'
        OR (typeof(d.attributes) <> 'blob' AND d.attributes LIKE ? ESCAPE '\\')
        OR (typeof(d.events) <> 'blob' AND d.events LIKE ? ESCAPE '\\'), 0) AS held,
        iif(typeof(d.attributes) = 'blob', d.attributes, NULL) AS a, iif(typeof(d.events) = 'blob', d.events, NULL) AS e
        FROM spans s LEFT JOIN span_data d ON d.id = s.id WHERE {} LIMIT -1)"""
_SPAN_IDS = "SELECT s.id FROM spans s WHERE s.trace_no IN (SELECT value FROM json_each(?))"
_NEWEST = "ORDER BY t.start_ns DESC, t.trace_id DESC"
_AFTER = "(t.start_ns < ? OR (t.start_ns = ? AND t.trace_id < ?))"  # after a row, newest first
FIRST_CHUNK = 64  # traces read first; four times more each round after, up to MAX_CHUNK
MAX_CHUNK = 1024  # ~5,000 spans: ~25 MB of their values decompressed at once on bench_store's spans


class _Plan:
    """Which traces, and which spans of them, the search reads: every span (no index, or a needle it
    cannot narrow), or the candidates the index gives and the spans below its watermark. For many
    candidates the traces are not narrowed in SQL (a list of up to 50,000 ids, parsed again by each
    statement, costs more than reading the span ids of each chunk) and the candidates are picked here."""

    def __init__(self, first: int | None = None, ids: str | None = None, count: int = 0,
                 through: int | None = None) -> None:
        self.first, self.ids = first, ids  # first None: every span is read
        self.through = through  # spans from this row id up are read too (see _vocabulary)
        self.many = count > MAX_CANDIDATES
        self.candidates: set[int] = set(orjson.loads(ids)) if self.many and ids else set()

    def traces(self) -> tuple[list[str], list[Any]]:
        """Clauses on ``t`` keeping the traces that may hold the needle, and their parameters."""
        if self.first is None or self.many:
            return [], []
        clauses, params = [], []
        if self.ids is not None:
            clauses.append("t.id IN (SELECT s.trace_no FROM spans s WHERE s.id IN (SELECT value FROM json_each(?)))")
            params.append(self.ids)
        if self.first > 1:  # the spans below the watermark are not indexed (unary +: keep the trace_no index)
            clauses.append("EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND +s.id < ?)")
            params.append(self.first)
        if self.through is not None:  # a few thousand spans at most: their traces listed once
            clauses.append("t.id IN (SELECT s.trace_no FROM spans s WHERE s.id >= ?)")
            params.append(self.through)
        return [f"({' OR '.join(clauses)})"], params

    def spans(self) -> tuple[str, list[Any]]:
        """A condition on ``s`` keeping the spans of a trace to check, and its parameters (not for ``many``)."""
        clauses, params = ["1"], []
        if self.first is not None:
            clauses = []
            if self.ids is not None:
                clauses.append("+s.id IN (SELECT value FROM json_each(?))")
                params.append(self.ids)
            if self.first > 1:
                clauses.append("+s.id < ?")
                params.append(self.first)
            if self.through is not None:
                clauses.append("+s.id >= ?")
                params.append(self.through)
        return f"({' OR '.join(clauses)})", params

    def picked(self, conn: sqlite3.Connection, trace_nos: list[Any]) -> list[int]:
        """For ``many``: the spans of ``trace_nos`` to check (their ids read in one step)."""
        first, through = self.first or 0, self.through
        return [i for (i,) in fetch_all(conn, _SPAN_IDS, [json.dumps(trace_nos)], 1)
                if i in self.candidates or i < first or (through is not None and i >= through)]


def traces_holding(conn: sqlite3.Connection, columns: str, width: int, clauses: list[str], params: list[Any],
                   needle: str, wanted: int) -> list[list[Any]]:
    """Up to ``wanted`` rows of ``columns`` (``width`` of them, over ``traces t``), newest first, of the
    traces that meet ``clauses`` and have a span holding ``needle`` in its name, attributes or events
    (LIKE's test: ASCII letters in either case).

    The traces are read a chunk at a time, newest first, each chunk in one step of SQLite with what
    SQL can check of its spans (``_CHECK``), and the compressed values checked here: a check in SQL
    would call back into Python for each, and each call waits for the GIL beside a busy application
    thread (a page of a common phrase took 16 s there; a scan of 50,000 spans five minutes)."""
    plan = _plan(conn, needle)
    if plan is None:
        return []
    restrict, restrict_params = plan.traces()
    spans, span_params = plan.spans()
    pattern, needle_bytes = like(needle), needle.encode("utf-8", "surrogatepass").lower()
    found: list[Any] = []
    after: list[Any] = []
    chunk = min(max(wanted, FIRST_CHUNK), MAX_CHUNK)  # a chunk's values are in memory at once
    while len(found) < wanted:
        where = [*clauses, *restrict, *([_AFTER] if after else [])]
        sql = (f"SELECT t.id, t.start_ns, t.trace_id FROM traces t{' WHERE ' + ' AND '.join(where) if where else ''}"
               f" {_NEWEST} LIMIT ?")
        chunk_params = [*params, *restrict_params, *after, chunk]
        try:
            if plan.many:  # the chunk, its span ids, the check: three steps
                rows = fetch_all(conn, sql, chunk_params, 3)
                picked = json.dumps(plan.picked(conn, [row[0] for row in rows])) if rows else "[]"
                checked = conn.execute(_CHECK.format("s.id IN (SELECT value FROM json_each(?))"),
                                       [*[pattern] * 3, picked]).fetchone()
            else:  # the chunk and the check in one step
                doc, *checked = conn.execute(
                    f"WITH chunk AS MATERIALIZED ({sql}) SELECT {document('SELECT * FROM chunk', 3)}, c.* FROM "
                    f"({_CHECK.format(f's.trace_no IN (SELECT id FROM chunk) AND {spans}')}) c",
                    [*chunk_params, *[pattern] * 3, *span_params]).fetchone()
                rows = parsed(doc)
        except sqlite3.DataError as exc:  # the chunk's values over SQLite's limit on a value: fewer traces
            chunk = fewer(exc, chunk)
            continue
        if not rows:
            break
        holding = _holding(checked, needle_bytes)
        found.extend(row[0] for row in rows if row[0] in holding)
        if len(rows) < chunk:
            break
        after = [rows[-1][1], rows[-1][1], rows[-1][2]]
        chunk = min(chunk * 4, MAX_CHUNK)
    if not found:
        return []
    return fetch_all(conn, f"SELECT {columns} FROM traces t WHERE t.id IN (SELECT value FROM json_each(?)) {_NEWEST}",
                     [json.dumps(found[:wanted])], width)


def _plan(conn: sqlite3.Connection, needle: str) -> _Plan | None:
    """What the search of ``needle`` reads (see _Plan); None when no span can hold it."""
    first = first_id(conn)
    kept: list[_vocabulary.Words] = []
    plan = match_expression(conn, needle, kept) if first is not None else None
    # No selective run, or a common one: every span is checked, newest trace first.
    if first is None or plan is None or plan[1] > MANY_CANDIDATES:
        return _Plan()
    count, ids = 0, None
    if plan[0]:
        count, ids = conn.execute(f"SELECT count(*), json_group_array(rowid) FROM {TABLE} WHERE {TABLE} MATCH ?",
                                  (plan[0],)).fetchone()
    through = kept[0].through if kept and kept[0].tail else None  # spans the kept words do not cover
    if not count and first <= 1 and through is None:
        return None
    return _Plan(first, ids if count else None, count, through)


def _holding(found: tuple[Any, ...], needle: bytes) -> set[Any]:
    """The trace numbers a ``_CHECK`` row says hold the needle, or whose compressed values hold ``needle``
    (lower case), all of them decompressed in one call; one that is not a frame of ours holds nothing
    (as tg_json reads it)."""
    held, places, blob = found
    holding = set(orjson.loads(held))
    owners, sizes = [], []
    for trace_no, *lengths in orjson.loads(places):
        for size in lengths:
            if size is not None:
                owners.append(trace_no)
                sizes.append(size)
    if not sizes:
        return holding
    for owner, text in zip(owners, decompressed_each(blob, sizes)):
        if text is not None and owner not in holding and needle in bytes(text).lower():
            holding.add(owner)
    return holding
