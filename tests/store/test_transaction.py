"""``write_transaction``: every write of the SQLite store is one, committed whole or not at all."""

from __future__ import annotations

import sqlite3

import pytest

from traceglass.store._transaction import write_transaction


@pytest.fixture
def conn(tmp_path):
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    yield conn
    conn.close()


def _values(conn) -> list[int]:
    return [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")]


def test_the_block_is_committed_when_it_ends(conn, tmp_path):
    with write_transaction(conn):
        assert conn.in_transaction
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction
    other = sqlite3.connect(tmp_path / "t.db")
    assert [x for (x,) in other.execute("SELECT x FROM t")] == [1]
    other.close()


@pytest.mark.parametrize("error", [ValueError("ours"), KeyboardInterrupt()])
def test_a_block_that_raises_leaves_nothing_and_its_error_is_the_one_raised(conn, error):
    with pytest.raises(type(error)) as raised, write_transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        raise error
    assert raised.value is error and not conn.in_transaction and _values(conn) == []


def test_the_write_lock_is_taken_at_the_start(conn, tmp_path):
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None, timeout=0)
    with write_transaction(conn):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.close()


def test_a_full_database_is_the_error_raised_and_nothing_is_left(conn):  # SQLite may have rolled back itself
    conn.execute("PRAGMA max_page_count = " + str(conn.execute("PRAGMA page_count").fetchone()[0]))
    with pytest.raises(sqlite3.OperationalError, match="full"), write_transaction(conn):
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
                     "INSERT INTO t SELECT i FROM n")
    assert not conn.in_transaction and _values(conn) == []
