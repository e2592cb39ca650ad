"""Each distinct resource stored once (schema 14), not once per span.

Every span of a process carries the same resource (``service.name``, the SDK's name and version, an
instance id, often host and container attributes): ~230 bytes of JSON a span on bench_store's spans,
a fifth of what a compressed span takes. ``resources`` holds each distinct resource text once under
an integer id, which a span's ``span_data.resource_id`` names; its ``span_data.resource`` is left
empty. Rows written before schema 14 keep their own text and no id, and read as before
(:data:`STORED`).

A resource goes when no stored span can name it any more. ``last_ns`` bounds from above the start
time of every span that names it: the writer raises it to the newest start of a batch plus
:data:`SLACK_NS` whenever a batch goes past it, so it changes about once an hour, not every batch.
A trace starts no later than any of its spans, so a resource whose ``last_ns`` is below the oldest
stored trace's start is named by no stored span: every deletion of traces deletes such resources
in the same transaction (:data:`FORGET`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from traceglass.store._time import NS_MAX

TABLE = "resources"
# How far past a batch's newest span start ``last_ns`` is set, so that a steady stream of batches
# rewrites its resource's row about once per this interval.
SLACK_NS = 3600 * 10**9

# A span's resource text, from ``resources`` or (a row written before schema 14) its own column.
STORED = f"coalesce((SELECT r.resource FROM {TABLE} r WHERE r.id = d.resource_id), d.resource)"
# For the writer's lookup statement, given the batch's distinct resource texts as a JSON array: the
# stored ones as [text, id, last_ns] (a JSON array), and the next free id.
LOOKUP = (f"(SELECT json_group_array(json_array(resource, id, last_ns)) FROM {TABLE} "
          f"WHERE resource IN (SELECT value FROM json_each(?))), (SELECT coalesce(max(id), 0) + 1 FROM {TABLE})")
# Rows ``(id, resource, last_ns)``, new or with ``last_ns`` raised (insert_values' head).
HEAD = f"INTO {TABLE} (id, resource, last_ns)"
# After traces are deleted: the resources no stored span can name (every one when no trace is left).
FORGET = f"DELETE FROM {TABLE} WHERE last_ns < coalesce((SELECT min(start_ns) FROM traces), {NS_MAX})"


def create(conn: sqlite3.Connection) -> None:
    """Schema 14: the ``resources`` table and ``span_data.resource_id`` (NULL on the rows already stored)."""
    conn.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, resource TEXT NOT NULL UNIQUE, "
                 "last_ns INTEGER NOT NULL)")
    conn.execute("ALTER TABLE span_data ADD COLUMN resource_id INTEGER")


def texts(resources: Sequence[str]) -> str:
    """The batch's distinct resource texts as :data:`LOOKUP`'s parameter."""
    return orjson.dumps(list(dict.fromkeys(resources))).decode()


def assign(found: str, next_id: int, resources: Sequence[str], starts: Sequence[int]) -> tuple[list[int], list[tuple]]:
    """The resource id of each span of a batch (``resources[i]`` its text, ``starts[i]`` its start), and
    the ``resources`` rows to write: new ones, and known ones whose ``last_ns`` the batch goes past.

    ``found`` and ``next_id`` are :data:`LOOKUP`'s results."""
    known = {text: (row_id, last_ns) for text, row_id, last_ns in orjson.loads(found)}
    newest: dict[str, int] = {}
    for text, start in zip(resources, starts):
        newest[text] = max(start, newest.get(text, start))
    rows = []
    for text, start in newest.items():
        row_id, last_ns = known.get(text, (None, None))
        if row_id is None:
            row_id, next_id = next_id, next_id + 1
        elif start <= last_ns:
            continue
        known[text] = (row_id, last_ns)
        rows.append((row_id, text, min(start + SLACK_NS, NS_MAX)))
    return [known[text][0] for text in resources], rows
