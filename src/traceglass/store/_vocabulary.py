"""The word index's vocabulary, kept per process as one text, for the runs that may be part of any word.

A run of the needle with no separator on one side or both (``refund`` alone) may be part of any word, so
its words come from the whole vocabulary. FTS5's ``fts5vocab`` reads it by decoding every word's list of
spans for its counts: 1.1 s at 1,000,000 spans, against milliseconds to find the run in the words alone.
So a process keeps each store's words, read in one such pass, as one text (``"\\n"``-separated, sorted),
with the row id below which every span's words are in it (``through``).

The text stays right while no span below ``through`` gets other words: new spans take higher row ids and
are checked by the search as unindexed ones (the tail), until they are :data:`TAIL_MAX`, when the text is
read again. A span deleted or written again in place changes the index's words under an old row id (a
deletion also frees the row ids above the newest span left): each does through ``_search.forget``, which
counts it in ``search_index.changes`` (schema 15), and a text read at another count is read again. So is
one read at another watermark (``first_id``: a backfill, or a writer that abandoned the index), and one whose
newest span is no longer under its row id (another file in the store's place). Words of
deleted spans stay in the text until then: the words looked up are a superset, as the index's are.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, replace

TAIL_MAX = 20_000  # spans above ``through`` checked as unindexed ones before the text is read again
_KEPT_MAX = 4  # stores whose text a process keeps
_FILE = "SELECT file FROM pragma_database_list WHERE name = 'main'"
# What the words go with: the watermark, the count of changes, ``through`` and the mark, the span under a
# row id (its span id and start time), that shows the file holds the spans it held (a file put in another's
# place may even get its inode number).
_STATE = ("SELECT first_id, changes, (SELECT coalesce(max(id), 0) + 1 FROM spans), "
          "(SELECT span_id || ':' || start_ns FROM spans WHERE id = {mark}){words} FROM search_index")


@dataclass(frozen=True)
class Words:
    """A store's vocabulary as read at ``first``, ``changes`` and ``through`` (see the module doc)."""

    first: int
    changes: int
    through: int
    text: str  # "\n" + the words, each followed by "\n"
    mark: str | None = None  # the newest span's (row id ``through - 1``) when read: see _STATE
    tail: bool = False  # spans from ``through`` up were stored when this was looked up


_kept: dict[tuple[str, int, int], Words] = {}
_lock = threading.Lock()


def words(conn: sqlite3.Connection, vocabulary_table: str) -> Words | None:
    """The words of the index of ``conn``'s store, read again when stale; None for a store without a
    file of its own (in memory), whose vocabulary is read each time."""
    (file,) = conn.execute(_FILE).fetchone()
    key = _key(file)
    if key is None:
        return None
    kept = _kept.get(key)
    if kept is not None:
        first, changes, top, mark = conn.execute(_STATE.format(mark="?", words=""), (kept.through - 1,)).fetchone()
    if (kept is None or (kept.first, kept.changes, kept.mark) != (first, changes, mark) or not kept.through <= top
            or top - kept.through > TAIL_MAX):
        # One statement: the words and the state they go with, from one snapshot.
        first, changes, top, mark, text = conn.execute(_STATE.format(
            mark="(SELECT max(id) FROM spans)",
            words=f", (SELECT group_concat(term, char(10)) FROM {vocabulary_table})")).fetchone()
        kept = Words(first, changes, top, "\n" + text + "\n" if text else "\n", mark)
        with _lock:
            if len(_kept) >= _KEPT_MAX and key not in _kept:
                _kept.pop(next(iter(_kept)))
            _kept[key] = kept
    return replace(kept, tail=top > kept.through)


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
    """The words holding ``run`` (ending with it when ``suffix``), in order; None for more than ``limit``."""
    text, found = kept.text, []
    needle = run + "\n" if suffix else run
    at = text.find(needle)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at + len(run))
        found.append(text[start:end])
        if len(found) > limit:
            return None
        at = text.find(needle, end)
    return found
