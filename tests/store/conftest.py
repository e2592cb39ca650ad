"""Fixtures for the store tests: real SDK spans written by the real SQLite exporter."""

from __future__ import annotations

from pathlib import Path

import pytest
from ._helpers import make_sdk


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "traces.db"


@pytest.fixture
def sdk(db_path: Path):
    made = make_sdk(db_path)
    yield made
    made.provider.shutdown()
