"""OpenAIInstrumentor's contract, the wrap table, peers, and TracedOpenAI / TracedAsyncOpenAI."""

from __future__ import annotations

import logging

import openai
import pytest
import wrapt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import traceglass
from traceglass.instrumentors.openai import (
    OpenAIInstrumentor,
    TracedAsyncOpenAI,
    TracedOpenAI,
    _targets,
)
from traceglass.instrumentors.openai._wrappers import STATE

HI = [{"role": "user", "content": "hi"}]
Completions = openai.resources.chat.completions.Completions
ORIGINAL_CREATE = vars(Completions)["create"]


@pytest.fixture
def traced_clients():
    """TracedOpenAI keeps the patches installed; put the SDK back as it was after the test."""
    yield
    STATE.clients_made = False
    _targets.uninstall()


def test_instrument_is_idempotent_and_uninstrument_restores(make_client, captured, monkeypatch):
    # A TracedOpenAI made by an earlier test (a process-wide fact) keeps the patches; this is about the instrumentor.
    monkeypatch.setattr(STATE, "clients_made", False)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    wrapped = vars(Completions)["create"]
    assert isinstance(wrapped, wrapt.FunctionWrapper) and wrapped.__wrapped__ is ORIGINAL_CREATE
    make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert len(captured.spans()) == 1
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert vars(Completions)["create"] is ORIGINAL_CREATE
    make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert len(captured.spans()) == 1


def test_every_target_of_this_sdk_is_wrapped(instrumented):
    wrapped = sorted(f"{t.module}.{t.cls}.{t.method}" for t in _targets.TARGETS
                     if getattr(vars(_targets._owner(t) or object).get(t.method), "_self_traceglass", False))
    assert wrapped == sorted([
        "openai.resources.chat.completions.AsyncCompletions.create",
        "openai.resources.chat.completions.AsyncCompletions.parse",
        "openai.resources.chat.completions.Completions.create",
        "openai.resources.chat.completions.Completions.parse",
        "openai.resources.completions.AsyncCompletions.create",
        "openai.resources.completions.Completions.create",
        "openai.resources.embeddings.AsyncEmbeddings.create",
        "openai.resources.embeddings.Embeddings.create",
        "openai.resources.responses.AsyncResponses.create",
        "openai.resources.responses.AsyncResponses.parse",
        "openai.resources.responses.Responses.create",
        "openai.resources.responses.Responses.parse",
    ])


def test_missing_targets_are_skipped(monkeypatch, make_client, captured):
    missing = (_targets.Target("openai.resources.no_such_module", "Nope", "create", "chat", False),
               _targets.Target(_targets._CHAT, "Completions", "no_such_method", "chat", False))
    monkeypatch.setattr(_targets, "TARGETS", missing + _targets.TARGETS)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
        assert [s["name"] for s in captured.spans()] == ["chat gpt-4o-mini"]
    finally:
        instrumentor.uninstrument()


def test_instrumentation_dependencies():
    assert OpenAIInstrumentor().instrumentation_dependencies() == ("openai >= 1.40",)


def test_explicit_tracer_and_meter_provider(instrument, make_client, captured):
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    instrument(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]))
    make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert [s.name for s in exporter.get_finished_spans()] == ["chat gpt-4o-mini"]
    assert captured.spans() == []  # not the default handler's provider
    names = {m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics}
    assert names == {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}


def test_another_openai_instrumentor_is_reported_once(captured, caplog, make_client):
    # captured: a private runtime, so no earlier test's warning counts as given
    from opentelemetry.instrumentation.openai_v2 import (
        OpenAIInstrumentor as OfficialInstrumentor,
    )

    official = OfficialInstrumentor()
    official.instrument(tracer_provider=TracerProvider())
    ours = OpenAIInstrumentor()
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            ours.instrument()
            ours.uninstrument()
            ours.instrument()
        warnings = [r.getMessage() for r in caplog.records if "another OpenAI instrumentation" in r.getMessage()]
        assert len(warnings) == 1
        assert "opentelemetry.instrumentation.openai_v2" in warnings[0]
    finally:
        ours.uninstrument()
        official.uninstrument()


def test_no_warning_when_alone(captured, caplog):
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        ours = OpenAIInstrumentor()
        ours.instrument()
        ours.uninstrument()
    assert not [r for r in caplog.records if "another OpenAI instrumentation" in r.getMessage()]


# --- TracedOpenAI ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_traced_clients_trace_with_global_instrumentation_off(traced_clients, make_client, captured,
                                                                    is_async):
    assert traceglass.TracedOpenAI is TracedOpenAI
    client = make_client(is_async, cls=TracedAsyncOpenAI if is_async else TracedOpenAI)
    assert isinstance(client, openai.AsyncOpenAI if is_async else openai.OpenAI)
    plain = make_client(is_async)
    for c in (client, plain):
        result = c.chat.completions.create(model="gpt-4o-mini", messages=HI)
        if is_async:
            await result
    assert [s["name"] for s in captured.spans()] == ["chat gpt-4o-mini"]  # the plain client is not traced
    assert captured.spans()[0]["attributes"]["gen_ai.usage.input_tokens"] == 20


def test_traced_client_and_global_instrumentation_make_one_span(traced_clients, instrumented, make_client, captured):
    make_client(cls=TracedOpenAI).chat.completions.create(model="gpt-4o-mini", messages=HI)
    make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert [s["name"] for s in captured.spans()] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]


def test_traced_client_with_its_own_provider_and_options(traced_clients, make_client, captured, requests_seen):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = make_client(cls=TracedOpenAI, tracer_provider=provider, capture_usage_in_stream=True)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 20
    assert b"include_usage" in requests_seen[0].content
    assert captured.spans() == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_copy_of_a_traced_client_keeps_its_provider_and_options(traced_clients, make_client, captured,
                                                                        requests_seen, is_async):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = make_client(is_async, cls=TracedAsyncOpenAI if is_async else TracedOpenAI, tracer_provider=provider,
                         capture_usage_in_stream=True)
    for copy in (client.copy(timeout=5), client.with_options(max_retries=1)):
        assert type(copy) is type(client)
        stream = copy.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
        if is_async:
            async for _ in await stream:
                pass
        else:
            list(stream)
    assert [span.attributes["gen_ai.usage.input_tokens"] for span in exporter.get_finished_spans()] == [20, 20]
    assert all(b"include_usage" in request.content for request in requests_seen)
    assert captured.spans() == []  # not the default provider


def test_uninstrument_keeps_traced_clients_working(traced_clients, make_client, captured):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    traced = make_client(cls=TracedOpenAI)
    instrumentor.uninstrument()
    traced.chat.completions.create(model="gpt-4o-mini", messages=HI)
    make_client().chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert [s["name"] for s in captured.spans()] == ["chat gpt-4o-mini"]
