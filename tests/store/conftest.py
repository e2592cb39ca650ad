"""Fixtures for the store tests: real SDK spans written by the real exporter, on both backends.

``db_path`` is parametrized: every test that asks for it runs against a SQLite file in tmp_path
(``[sqlite]``) and against a fresh database of a throwaway PostgreSQL cluster (``[postgres]``,
``db_path`` being its URL; see tests/_postgres.py). A test that is about SQLite itself (its file,
WAL, read-only file mode, a replaced file) carries ``@pytest.mark.sqlite_only("why")`` and is
skipped on PostgreSQL with that reason.
"""

from __future__ import annotations

import pytest

from ._helpers import make_sdk


@pytest.fixture
def db_path(store_target):
    """The database of the test: a SQLite file path, or a PostgreSQL URL (a fresh database)."""
    return store_target


@pytest.fixture
def sdk(db_path):
    made = make_sdk(db_path)
    yield made
    made.provider.shutdown()
