"""Fixtures for the store tests: real SDK spans written by the real exporter, on both backends.

``db_path`` is parametrized: every test that asks for it runs against a SQLite file in tmp_path
(``[sqlite]``) and against a fresh database of a throwaway PostgreSQL cluster (``[postgres]``,
``db_path`` being its URL; see tests/_postgres.py). A test that is about SQLite itself (its file,
WAL, read-only file mode, a replaced file) carries ``@pytest.mark.sqlite_only("why")`` and is
skipped on PostgreSQL with that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ._helpers import make_sdk

BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a store test about SQLite itself; skipped on PostgreSQL")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend under test: "sqlite" or "postgres"."""
    if request.param == "postgres":
        marker = request.node.get_closest_marker("sqlite_only")
        if marker is not None:
            pytest.skip(f"SQLite only: {marker.args[0] if marker.args else marker.kwargs.get('reason', '')}")
    return request.param


@pytest.fixture
def db_path(request: pytest.FixtureRequest, tmp_path: Path, backend: str):
    """The database of the test: a SQLite file path, or a PostgreSQL URL (a fresh database)."""
    if backend == "postgres":
        return request.getfixturevalue("postgres_url")
    return tmp_path / "data" / "traces.db"


@pytest.fixture
def sdk(db_path):
    made = make_sdk(db_path)
    yield made
    made.provider.shutdown()
