"""Write transactions: BEGIN IMMEDIATE ... COMMIT, ended on failure without hiding why it failed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


def rollback(conn: sqlite3.Connection) -> None:
    """End the open transaction, if any, after a failed statement, keeping that failure the one reported.

    SQLite itself rolls back after some errors (a full disk, an I/O error): a ROLLBACK then
    fails with "no transaction is active", which must not hide the real cause.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """The block as one write transaction: taken with BEGIN IMMEDIATE (the write lock first, so it never
    fails half way for a lock another writer took after it read), committed when the block ends, rolled
    back when it raises anything (an interrupt too), with that error raised."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
