"""A read's rows in one step of SQLite: folded into one JSON document by SQL, parsed by orjson.

The sqlite3 module gives up the GIL around every step of a statement, one a row, and SQLite calls
back into Python (taking the GIL) for each value a Python SQL function reads. Beside an application
thread that runs Python without pause, each time the GIL is taken back costs up to the switch
interval (5 ms): a 50-trace page took 130 ms there, the dashboard's page with its previews 2 s, a
5-span trace 67 ms, against well under 2 ms idle. So the reads a page or a trace needs fold their
rows into one value in SQL (``json_group_array``): one step a read, whatever the number of rows.

Each value comes back as the sqlite3 module would give it, whatever a row holds (rows may be
written by hand or by another tool): text, integers and NULL as JSON carries them; a REAL as
``quote()`` writes it (exact to the last bit, infinities included: JSON's numbers are not); a BLOB
as hex, made bytes again. The rows keep the order the query gives them. A document longer than
SQLite's limit on a value (1 GB unless built otherwise) is not made: those rows are read as before,
a step a row (:func:`too_big`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson


def _tagged(column: str) -> str:
    # A JSON function's result keeps its JSON type through CASE (not through a CTE's column).
    return (f"CASE typeof({column}) WHEN 'real' THEN json_object('r', quote({column})) "
            f"WHEN 'blob' THEN json_object('b', hex({column})) ELSE {column} END")


def document(sql: str, width: int) -> str:
    """A scalar subquery: the ``width`` columns of every row of ``sql`` as one JSON document, for
    :func:`parsed` (several can be read by one statement)."""
    names = [f"c{i}" for i in range(width)]
    return (f"(WITH q({', '.join(names)}) AS ({sql}) "
            f"SELECT json_group_array(json_array({', '.join(map(_tagged, names))})) FROM q)")


def parsed(doc: str | None) -> list[list[Any]]:
    """The rows a :func:`document` holds, each a list of its values."""
    rows = orjson.loads(doc) if doc else []
    for row in rows:
        if dict in map(type, row):
            for i, value in enumerate(row):
                if type(value) is dict:
                    row[i] = float(value["r"]) if "r" in value else bytes.fromhex(value["b"])
    return rows


def too_big(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite refusing a document over its length limit."""
    return isinstance(exc, sqlite3.DataError) and getattr(exc, "sqlite_errorname", "") == "SQLITE_TOOBIG"


def fewer(exc: BaseException, chunk: int) -> int:
    """The chunk to read after ``exc`` refused one of ``chunk`` rows: a quarter as many when it was too
    big (see :func:`too_big`); ``exc`` itself, raised again, when not, or when one row was already too many."""
    if not too_big(exc) or chunk == 1:
        raise exc
    return max(1, chunk // 4)


def fetch_all(conn: sqlite3.Connection, sql: str, params: Sequence[Any], width: int) -> list[list[Any]]:
    """Every row of ``sql`` (``width`` columns), fetched in one step (a step a row when too big)."""
    try:
        return parsed(conn.execute(f"SELECT {document(sql, width)}", params).fetchone()[0])
    except sqlite3.DataError as exc:
        if not too_big(exc):
            raise
    return [list(row) for row in conn.execute(sql, params)]
