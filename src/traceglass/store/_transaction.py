"""Ending a failed write transaction without hiding why it failed."""

from __future__ import annotations

import sqlite3


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
