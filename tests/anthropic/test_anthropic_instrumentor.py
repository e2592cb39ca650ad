"""AnthropicInstrumentor's contract, the wrap table, the SDK's own span, configure(), TracedAnthropic."""

from __future__ import annotations

import anthropic
import pytest
import wrapt
from anthropic import _base_client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import traceglass
from traceglass.instrumentors.anthropic import (
    AnthropicInstrumentor,
    TracedAnthropic,
    TracedAsyncAnthropic,
    _targets,
)
from traceglass.instrumentors.anthropic._wrappers import STATE

from .conftest import call
from .test_anthropic_messages import HI

Messages = anthropic.resources.messages.messages.Messages
ORIGINAL_CREATE = vars(Messages)["create"]
ORIGINAL_TRACER = vars(_base_client.BaseClient)["_tracer"]


@pytest.fixture
def traced_clients():
    """TracedAnthropic keeps the patches installed; put the SDK back as it was after the test."""
    yield
    STATE.clients_made = False
    _targets.uninstall()


def create(client, model="claude-sonnet-4-5"):
    return client.messages.create(model=model, max_tokens=64, messages=HI)


def test_instrument_is_idempotent_and_uninstrument_restores(make_client, captured):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    wrapped = vars(Messages)["create"]
    assert isinstance(wrapped, wrapt.FunctionWrapper) and wrapped.__wrapped__ is ORIGINAL_CREATE
    assert vars(_base_client.BaseClient)["_tracer"] is not ORIGINAL_TRACER
    create(make_client())
    assert len(captured.spans()) == 1
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert vars(Messages)["create"] is ORIGINAL_CREATE
    assert vars(_base_client.BaseClient)["_tracer"] is ORIGINAL_TRACER
    create(make_client())
    assert len(captured.spans()) == 1


def test_every_target_of_this_sdk_is_wrapped(instrumented):
    wrapped = sorted(f"{t.module.rsplit('.', 3)[-3]}.{t.cls}.{t.method}" for t in _targets.TARGETS
                     if getattr(vars(_targets._owner(t) or object).get(t.method), "_self_traceglass", False))
    expected = [f"{area}.{cls}.{method}" for area in ("resources", "beta")
                for cls in ("Messages", "AsyncMessages") for method in ("count_tokens", "create", "parse", "stream")]
    expected += [f"{area}.{cls}.create" for area in ("resources", "beta") for cls in ("Batches", "AsyncBatches")]
    assert wrapped == sorted(expected)


def test_missing_targets_are_skipped(monkeypatch, make_client, captured):
    missing = (_targets.Target("anthropic.resources.no_such_module", "Nope", "create", "messages", "sync"),
               _targets.Target(_targets._MESSAGES, "Messages", "no_such_method", "messages", "sync"))
    monkeypatch.setattr(_targets, "TARGETS", missing + _targets.TARGETS)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        create(make_client())
        assert [s["name"] for s in captured.spans()] == ["chat claude-sonnet-4-5"]
    finally:
        instrumentor.uninstrument()


def test_instrumentation_dependencies():
    assert AnthropicInstrumentor().instrumentation_dependencies() == ("anthropic >= 0.40",)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_sdks_own_span_is_not_made_under_ours(instrument, make_client, is_async):
    """anthropic >= 0.80 makes an ``anthropic.messages.create`` span per call: one call, one span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = make_client(is_async, open_telemetry={"tracer_provider": provider})
    await call(client, client.messages.create, model="claude-sonnet-4-5", max_tokens=64, messages=HI)
    assert [s.name for s in exporter.get_finished_spans()] == ["anthropic.messages.create"]  # ours off: the SDK's
    exporter.clear()
    instrument(tracer_provider=provider)
    await call(client, client.messages.create, model="claude-sonnet-4-5", max_tokens=64, messages=HI)
    stream = await call(client, client.messages.create, model="claude-sonnet-4-5", max_tokens=64, messages=HI,
                        stream=True)
    if is_async:
        async for _ in stream:
            pass
    else:
        list(stream)
    assert [s.name for s in exporter.get_finished_spans()] == ["chat claude-sonnet-4-5"] * 2


def test_suppressed_calls_are_not_traced(instrumented, make_client, captured):
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        create(make_client())
    assert captured.spans() == []


# --- TracedAnthropic ---------------------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_traced_clients_trace_with_global_instrumentation_off(traced_clients, make_client, captured,
                                                                    is_async):
    assert traceglass.TracedAnthropic is TracedAnthropic and traceglass.TracedAsyncAnthropic is TracedAsyncAnthropic
    client = make_client(is_async, cls=TracedAsyncAnthropic if is_async else TracedAnthropic)
    assert isinstance(client, anthropic.AsyncAnthropic if is_async else anthropic.Anthropic)
    plain = make_client(is_async)
    for c in (client, plain, client.with_options(timeout=5)):
        await call(c, c.messages.create, model="claude-sonnet-4-5", max_tokens=64, messages=HI)
    assert [s["name"] for s in captured.spans()] == ["chat claude-sonnet-4-5"] * 2  # the plain client is not


def test_traced_client_with_its_own_provider(traced_clients, make_client, captured):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = make_client(cls=TracedAnthropic, tracer_provider=provider)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HI) as stream:
        stream.get_final_text()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.usage.input_tokens"] == 365
    assert captured.spans() == []


def test_uninstrument_keeps_traced_clients_working(traced_clients, make_client, captured):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    traced = make_client(cls=TracedAnthropic)
    instrumentor.uninstrument()
    create(traced)
    create(make_client())
    assert [s["name"] for s in captured.spans()] == ["chat claude-sonnet-4-5"]
