"""The instrumentor's life cycle, explicit providers, content switch, and our faults kept from the user."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.instrumentors.langchain import LangChainInstrumentor, TraceglassCallbackHandler, _extract
from traceglass.testing import capture


def model() -> FakeListChatModel:
    return FakeListChatModel(responses=["pong"])


def test_instrument_and_uninstrument_are_idempotent(captured):
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()  # a second call changes nothing
    try:
        model().invoke("ping")
        assert [s["name"] for s in captured.spans()] == ["FakeListChatModel"]
    finally:
        instrumentor.uninstrument()
    instrumentor.uninstrument()
    captured.clear()

    model().invoke("ping")
    assert captured.spans() == []


def test_entry_point_loads_the_instrumentor():
    group = entry_points(group="opentelemetry_instrumentor")
    (entry_point,) = [ep for ep in group if ep.name == "traceglass_langchain"]
    assert entry_point.load() is LangChainInstrumentor


def test_explicit_tracer_provider(captured):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        model().invoke("ping")
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in exporter.get_finished_spans()] == ["FakeListChatModel"]
    assert captured.spans() == []


def test_users_own_callbacks_still_receive_events(instrumented):
    seen = []

    class Recorder(BaseCallbackHandler):
        def on_llm_end(self, response, **kwargs):
            seen.append(response.generations[0][0].text)

    model().invoke("ping", config={"callbacks": [Recorder()]})
    assert seen == ["pong"]
    assert [s["name"] for s in instrumented.spans()] == ["FakeListChatModel"]


def test_handler_passed_by_hand_without_the_instrumentor(captured):
    model().invoke("ping", config={"callbacks": [TraceglassCallbackHandler()]})
    assert [s["name"] for s in captured.spans()] == ["FakeListChatModel"]


def test_content_capture_off_records_no_messages():
    instrumentor = LangChainInstrumentor()
    with capture(capture_content=False) as captured:
        instrumentor.instrument()
        try:
            model().invoke("secret prompt")
        finally:
            instrumentor.uninstrument()
        assert captured.span("FakeListChatModel")["attributes"] == {
            "traceglass.span.type": "chat_model",
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "fakelistchatmodel",
        }


def test_internal_error_is_swallowed_and_the_call_returns(instrumented, monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    def broken(*args, **kwargs):
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(_extract, "apply_result", broken)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert model().invoke("ping").content == "pong"

    span = instrumented.span("FakeListChatModel")  # the span still ends, without the lost fields
    assert span["status"] == "UNSET"
    assert "gen_ai.output.messages" not in span["attributes"]
    assert any("langchain.llm_result" in r.getMessage() for r in caplog.records if r.name == "traceglass")


def test_fallback_hook_on_manager_construction(captured):
    # For langchain-core releases without `_configure`: the handler joins every manager built.
    import wrapt
    from langchain_core.callbacks.manager import BaseCallbackManager, CallbackManager
    from opentelemetry.instrumentation.utils import unwrap

    from traceglass.instrumentors.langchain._patch import _AddOnInit

    callback = TraceglassCallbackHandler()
    wrapt.wrap_function_wrapper(BaseCallbackManager, "__init__", _AddOnInit(callback))
    try:
        manager = CallbackManager(handlers=[])
        assert manager.handlers == [callback] and manager.inheritable_handlers == [callback]
        assert CallbackManager(handlers=[callback], inheritable_handlers=[callback]).handlers == [callback]
    finally:
        unwrap(BaseCallbackManager, "__init__")
    assert CallbackManager(handlers=[]).handlers == []


def test_trace_graph_passes_everything_else_through():
    from langchain_core.runnables import RunnableLambda

    from traceglass.instrumentors.langchain import trace_graph

    runnable = RunnableLambda(lambda v: v * 2, name="double")
    traced = trace_graph(runnable, name="doubler")
    assert traced.name == "double"
    assert traced.__wrapped__ is runnable
    assert traced.invoke(2) == 4
    assert traced.batch([1, 2]) == [2, 4]
    assert list(traced.stream(3)) == [6]


def test_instrumentor_imports_without_langchain_installed():
    # `opentelemetry-instrument` loads entry points before it checks the library is installed.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('langchain_core', 'langgraph'): sys.modules[name] = None\n"
        "from traceglass.instrumentors.langchain import LangChainInstrumentor, trace_graph\n"
        "print(LangChainInstrumentor().instrumentation_dependencies())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('langchain-core >= 0.3',)"
