"""Fixtures for the LlamaIndex tests: the instrumentor on the test's provider, the local OpenAI fake."""

from __future__ import annotations

import logging

import pytest

from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor

from ..openai._fake_api import LocalOpenAIServer


@pytest.fixture
def instrumented(captured):
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    try:
        yield captured
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def server():
    with LocalOpenAIServer() as running:
        yield running


@pytest.fixture
def no_detach_errors(caplog):
    """Fails the test if OpenTelemetry logs "Failed to detach context" (or anything at ERROR)."""
    caplog.set_level(logging.DEBUG, logger="opentelemetry.context")
    yield
    errors = [r for r in caplog.records if r.name.startswith("opentelemetry.context") and r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
