"""The word index's vocabulary, kept per process as one text, for the runs that may be part of any word.

A run of the needle with no separator on one side or both (``refund`` alone) may be part of any word, so
its words come from the whole vocabulary. FTS5's ``fts5vocab`` reads it by decoding every word's list of
spans for its counts: 1.1 s at 1,000,000 spans, against milliseconds to find the run in the words alone.
So a process keeps each store's words, read in one such pass, as one text (``"\\n"``-separated),
with the row id below which every span's words are in it (``through``).

The text stays right while no span below ``through`` gets other words: new spans take higher row ids and
are checked by the search as unindexed ones (the tail), until they are more than :data:`TAIL_MAX`. Then the
tail's own words are added to the text: its texts tokenized as the index does, in a table in memory, ~20 us
a span, against ~1.1 us a span of the whole store to read the vocabulary again. It is read again instead
when that costs less, or once the text has doubled since it was read (the words added may repeat some).

A span written again in place changes the index's words under its row id, and deleting the newest span
frees row ids for new spans to take: ``_search.forget`` counts both in ``search_index.changes`` (schema 15),
and a text read at another count is read again. So is one read at another watermark (``first_id``: a
backfill, or a writer that abandoned the index), and one whose newest span is no longer under its row id
(another file in the store's place). Deleting older spans (retention) changes nothing kept: their words
stay in the text, and the words looked up are a superset, as the index's are.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from traceglass.store._one_step import fewer
from traceglass.store._packed import THREADS, decompressed_each

TAIL_MAX = 1_000  # spans above ``through`` checked as unindexed ones before their words are added
CATCH_UP_MAX = 20_000  # spans whose words are added at once at most
TAIL_CHUNK = 1_000  # spans whose texts are read in one step (~2.4 MB on bench_store's spans)
# Adding a span's words costs about this many times reading one span's share of the whole vocabulary.
CATCH_UP_COST = 18
_KEPT_MAX = 4  # stores whose text a process keeps (the ones searched last)
# Threads the whole vocabulary is read on, a range of words at a time (see _read_whole), and where its words
# are cut into ranges (UTF-8 byte order, as fts5vocab sorts): numbers; letters, in ranges of about equal cost
# on English text (each word costs as many spans as hold it); the rest.
READERS = THREADS  # the cores this process may run on, up to 4 (as zstd's threads)
# Row ids from which the vocabulary is read on threads. Each range's statement waits for the GIL beside a busy
# application thread: 50,000 spans, 96 ms in one statement against 221 on two threads there (58 against 34 idle);
# 200,000, 251-264 against 296-338 (228-240 against 131-141); 1,000,000, 1,159-1,188 against 1,011-1,077
# (1,154-1,180 against 625-628).
PARALLEL_FROM = 250_000
CUTS = ("0", "a", "c", "e", "g", "i", "l", "n", "p", "s", "u", "\x80")
_FILE = "SELECT file FROM pragma_database_list WHERE name = 'main'"
# What the words go with: the watermark, the count of changes, ``through`` and the mark, the span under a
# row id (its span id and start time), that shows the file holds the spans it held (a file put in another's
# place may even get its inode number).
_STATE = ("SELECT first_id, changes, (SELECT coalesce(max(id), 0) + 1 FROM spans), "
          "(SELECT span_id || ':' || start_ns FROM spans WHERE id = {mark}){words} FROM search_index")
_NEWEST = "(SELECT max(id) FROM spans)"
_STATE_AT = _STATE.format(mark="?", words="")  # the mark of the span under a row id given
_STATE_NOW = _STATE.format(mark=_NEWEST, words="")  # the newest span's
# The tail's texts, as the writer indexed them, in one step: the names and the values stored as text, and
# the compressed values one after another in one BLOB (their sizes apart), for Python to decompress in one
# call (SQL would call back into Python for each); and the mark of its newest span.
_TAIL = """SELECT (SELECT span_id || ':' || start_ns FROM spans WHERE id = ?3 - 1),
    group_concat(coalesce(name, '') || char(10) || coalesce(ta, '') || char(10) || coalesce(te, ''), char(10)),
    json_group_array(json_array(length(a), length(e))) FILTER (WHERE coalesce(a, e) IS NOT NULL),
    CAST(group_concat(coalesce(a, x'') || coalesce(e, x''), '') AS BLOB)
    FROM (SELECT s.name, iif(typeof(d.attributes) = 'blob', d.attributes, NULL) AS a,
        iif(typeof(d.events) = 'blob', d.events, NULL) AS e,
        iif(typeof(d.attributes) = 'blob', NULL, d.attributes) AS ta,
        iif(typeof(d.events) = 'blob', NULL, d.events) AS te
        FROM spans s LEFT JOIN span_data d ON d.id = s.id WHERE s.id >= ?1 AND s.id < ?2 LIMIT -1)"""
# The index's tokenizer and options (_search.SCHEMA), for a table in memory that tokenizes a tail's texts.
_TOKENIZED = ("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61', content='', detail=none, columnsize=0)",
              "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")


@dataclass(frozen=True)
class Words:
    """A store's vocabulary as read at ``first``, ``changes`` and ``through`` (see the module doc)."""

    first: int
    changes: int
    through: int
    text: str  # "\n" + the words, each followed by "\n"
    mark: str | None = None  # the newest span's (row id ``through - 1``) when read: see _STATE
    tail: bool = False  # spans from ``through`` up were stored when this was looked up
    read: int = 0  # the text's length when the vocabulary was last read whole


_kept: dict[tuple[str, int, int], Words] = {}
_lock = threading.Lock()


def words(conn: sqlite3.Connection, vocabulary_table: str) -> Words | None:
    """The words of the index of ``conn``'s store, read again when stale; None for a store without a
    file of its own (in memory), whose vocabulary is read each time."""
    (file,) = conn.execute(_FILE).fetchone()
    key = _key(file)
    if key is None:
        return None
    with _lock:
        kept = _kept.pop(key, None)
        if kept is not None:  # the store used last goes last: the one unused longest goes first
            _kept[key] = kept
    if kept is not None:
        first, changes, top, mark = conn.execute(_STATE_AT, (kept.through - 1,)).fetchone()
        if (kept.first, kept.changes, kept.mark) != (first, changes, mark):  # (a row id above top: no mark)
            kept = None
        elif top - kept.through > TAIL_MAX:
            if _catches_up(kept, top):
                mark, added = _tail_words(conn, kept.through, top)
                kept = _keep(key, replace(kept, through=top, text=kept.text + added, mark=mark))
            else:
                kept = None
    if kept is None:
        first, changes, top, mark, text = _read_whole(conn, file, vocabulary_table)
        text = "\n" + text + "\n" if text else "\n"
        kept = _keep(key, Words(first, changes, top, text, mark, read=len(text)))
    return replace(kept, tail=top > kept.through)


def _read_whole(conn: sqlite3.Connection, file: str, vocabulary_table: str) -> tuple[Any, ...]:
    """The state (see _STATE) and the whole vocabulary as one ``"\\n"``-separated text, sorted.

    From :data:`PARALLEL_FROM` spans, read a range of words at a time on :data:`READERS` threads, each with a
    read-only connection of its own (SQLite reads without the GIL: 0.63 against 1.15 s at 1,000,000 spans on
    two cores). The words are kept when the state is the same after as before (but for spans stored
    meanwhile, above ``top``): no span below ``top`` has other words then, and the words read are theirs and
    maybe more. Else, or on any error, they are read again in one statement from one snapshot."""
    whole = _STATE.format(mark=_NEWEST, words=f", (SELECT group_concat(term, char(10)) FROM {vocabulary_table})")
    if READERS < 2:
        return conn.execute(whole).fetchone()
    first, changes, top, mark = conn.execute(_STATE_NOW).fetchone()
    if top < PARALLEL_FROM:
        return conn.execute(whole).fetchone()
    bounds = [None, *CUTS, None]
    ranges = list(enumerate(zip(bounds[:-1], bounds[1:])))
    texts: list[str | None] = [None] * len(ranges)
    failed: list[BaseException] = []
    lock = threading.Lock()

    def reader() -> None:
        try:
            with closing(sqlite3.connect(f"{Path(file).as_uri()}?mode=ro", uri=True)) as own:
                while True:
                    with lock:
                        if not ranges or failed:
                            return
                        at, (low, high) = ranges.pop(0)
                    texts[at] = range_words(own, vocabulary_table, low, high)
        except Exception as exc:  # noqa: BLE001 - read in one statement instead
            failed.append(exc)

    threads = [threading.Thread(target=reader, name="traceglass-vocabulary", daemon=True) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        return conn.execute(whole).fetchone()
    after = conn.execute(_STATE_AT, (top - 1,)).fetchone()
    if (after[0], after[1], after[3]) != (first, changes, mark):  # spans stored meanwhile are above ``top``: fine
        return conn.execute(whole).fetchone()
    return first, changes, top, mark, "\n".join(text for text in texts if text)


def range_words(conn: sqlite3.Connection, vocabulary_table: str, low: str | None, high: str | None) -> str | None:
    """The vocabulary's words from ``low`` (None: the first) to before ``high`` (None: the last), as one
    ``"\\n"``-separated text; None for none."""
    sql = f"SELECT group_concat(term, char(10)) FROM {vocabulary_table} WHERE 1"
    params = []
    if low is not None:
        sql += " AND term >= ?"
        params.append(low)
    if high is not None:
        sql += " AND term < ?"
        params.append(high)
    return conn.execute(sql, params).fetchone()[0]


def _catches_up(kept: Words, top: int) -> bool:
    """Whether the words of the spans from ``kept.through`` to ``top`` are added to the text rather than
    the vocabulary read again (see the module doc)."""
    tail = top - kept.through
    return tail <= CATCH_UP_MAX and tail * CATCH_UP_COST <= kept.through and len(kept.text) <= 2 * kept.read


def _tail_words(conn: sqlite3.Connection, low: int, high: int) -> tuple[str | None, str]:
    """The mark of the span under row id ``high - 1`` and the words of the spans from ``low`` to ``high``
    (``"\\n"``-separated, each followed by ``"\\n"``), their texts tokenized as the index does, read
    :data:`TAIL_CHUNK` spans a step (fewer when their texts are over SQLite's limit on a value)."""
    mark, chunk = None, TAIL_CHUNK
    with closing(sqlite3.connect(":memory:")) as tokens:
        for statement in _TOKENIZED:
            tokens.execute(statement)
        while low < high:
            try:
                mark, plain, places, blob = conn.execute(_TAIL, (low, min(low + chunk, high), high)).fetchone()
            except sqlite3.DataError as exc:
                chunk = fewer(exc, chunk)
                continue
            sizes = [size for pair in orjson.loads(places) for size in pair if size is not None] if places else []
            texts = [plain or ""]
            texts.extend(bytes(text).decode("utf-8", "replace")
                         for text in decompressed_each(blob, sizes) if text is not None)
            tokens.execute("INSERT INTO t (rowid, x) VALUES (?, ?)", (low, "\n".join(texts)))  # contentless: a rowid
            low += chunk
        (found,) = tokens.execute("SELECT group_concat(term, char(10)) FROM v").fetchone()
    return mark, found + "\n" if found else ""


def _keep(key: tuple[str, int, int], kept: Words) -> Words:
    with _lock:
        _kept.pop(key, None)
        if len(_kept) >= _KEPT_MAX:
            _kept.pop(next(iter(_kept)))
        _kept[key] = kept
    return kept


def _key(file: str) -> tuple[str, int, int] | None:
    """Which store file this is: its path, device and inode; None for a store in memory."""
    if not file:
        return None
    try:
        stat = os.stat(file)
    except OSError:
        return None
    return file, stat.st_dev, stat.st_ino


def holding(kept: Words, run: str, *, suffix: bool, limit: int) -> list[str] | None:
    """The words holding ``run`` (ending with it when ``suffix``), in order, each once (words added with a
    tail may repeat); None for more than ``limit``."""
    text, found = kept.text, {}
    needle = run + "\n" if suffix else run
    at = text.find(needle)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at + len(run))
        found[text[start:end]] = None
        if len(found) > limit:
            return None
        at = text.find(needle, end)
    return list(found)
