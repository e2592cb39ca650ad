"""Fixtures for the agent-framework tests: the real SDKs against local fakes on 127.0.0.1."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest

from ._fake_responses import ResponsesServer


@pytest.fixture
def no_detach_errors(caplog):
    """Fails the test if OpenTelemetry logs "Failed to detach context" (or anything at ERROR)."""
    caplog.set_level(logging.DEBUG, logger="opentelemetry.context")
    yield
    errors = [r for r in caplog.records if r.name.startswith("opentelemetry.context") and r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.fixture
def responses_server() -> Iterator[ResponsesServer]:
    with ResponsesServer() as server:
        yield server
