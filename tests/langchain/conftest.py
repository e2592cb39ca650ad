"""Fixtures for the LangChain tests: the instrumentor on a per-test provider, a local OpenAI server."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest

from ._lc_support import OpenAIServer

from traceglass.instrumentors.langchain import LangChainInstrumentor


@pytest.fixture
def instrumented(captured):
    """LangChainInstrumentor on, bound to the test's captured provider through the default handler."""
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    try:
        yield captured
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def no_detach_errors(caplog):
    """Fails the test if OpenTelemetry logs "Failed to detach context" (or anything at ERROR)."""
    caplog.set_level(logging.DEBUG, logger="opentelemetry.context")
    yield
    errors = [r for r in caplog.records if r.name.startswith("opentelemetry.context") and r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    try:
        yield server
    finally:
        server.close()
