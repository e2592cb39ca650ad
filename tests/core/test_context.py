"""Sessions, threads, the no-op path, and our own faults never reaching the user."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

import traceglass
from traceglass import observe
from traceglass.instrumentors.threading import ThreadingInstrumentor


def test_session_reaches_decorator_spans_and_foreign_spans(captured):
    tracer = captured.tracer_provider.get_tracer("some.other.instrumentation")

    @observe(type="tool")
    def work():
        with tracer.start_as_current_span("HTTP POST"):
            pass

    with traceglass.session("sess-1", user_id="user-9", tags=["beta"], metadata={"plan": "pro", "n": 3}):
        work()
    work()  # outside: no session attributes
    expected = {
        "session.id": "sess-1",
        "user.id": "user-9",
        "traceglass.tags": ("beta",),
        "traceglass.metadata.plan": "pro",
        "traceglass.metadata.n": 3,
    }
    spans = captured.spans()
    http, tool, tool_outside = spans[0], spans[1], spans[3]
    assert {k: http["attributes"][k] for k in expected} == expected
    assert {k: tool["attributes"][k] for k in expected} == expected
    assert "session.id" not in tool_outside["attributes"]


def test_nested_sessions_merge_tags_and_metadata(captured):
    with traceglass.session("outer", tags=["a"], metadata={"x": 1}):
        with traceglass.session(None, user_id="u", tags=["b"], metadata={"y": 2}):
            with traceglass.span("inner"):
                pass
    attributes = captured.span("inner")["attributes"]
    assert attributes["session.id"] == "outer"
    assert attributes["user.id"] == "u"
    assert attributes["traceglass.tags"] == ("a", "b")
    assert attributes["traceglass.metadata.x"] == 1
    assert attributes["traceglass.metadata.y"] == 2


async def test_session_as_decorator_on_async_and_generator(captured):
    @traceglass.session("s-async", user_id="u1")
    async def handle():
        await asyncio.sleep(0)
        with traceglass.span("a"):
            pass

    @traceglass.session("s-gen")
    def produce():
        with traceglass.span("g"):
            pass
        yield 1

    await handle()
    list(produce())
    assert captured.span("a")["attributes"]["session.id"] == "s-async"
    assert captured.span("g")["attributes"]["session.id"] == "s-gen"


def test_thread_pool_keeps_parent_when_instrumented(captured):
    @observe(type="tool")
    def tool(n):
        return n

    @observe(type="agent")
    def agent():
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(tool, range(4)))

    instrumentor = ThreadingInstrumentor()
    instrumentor.instrument()
    try:
        with traceglass.session("threaded"):
            assert agent() == [0, 1, 2, 3]
    finally:
        instrumentor.uninstrument()
    parent = captured.span("agent")["span_id"]
    tools = [s for s in captured.spans() if s["name"] == "tool"]
    assert len(tools) == 4
    assert {s["parent_id"] for s in tools} == {parent}
    assert {s["attributes"]["session.id"] for s in tools} == {"threaded"}


def test_thread_pool_without_instrumentation_loses_parent(captured):
    # Documents why the threading instrumentor exists (and that uninstrument really undoes it).
    @observe(type="tool")
    def tool():
        return 1

    with traceglass.span("agent"):
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(tool).result()
    assert captured.span("tool")["parent_id"] is None


async def test_concurrent_tasks_do_not_cross_link(captured):
    @observe()
    async def child(i):
        await asyncio.sleep(0.001 * (3 - i))
        return i

    @observe()
    async def parent(i):
        return await child(i)

    assert await asyncio.gather(*(parent(i) for i in range(3))) == [0, 1, 2]
    parents = {s["span_id"]: s for s in captured.spans() if s["name"] == "parent"}
    children = [s for s in captured.spans() if s["name"] == "child"]
    for c in children:
        p = parents[c["parent_id"]]
        assert p["trace_id"] == c["trace_id"]
        assert p["attributes"]["traceglass.input"] == c["attributes"]["traceglass.input"]


def test_no_sdk_provider_means_no_op_and_no_work(monkeypatch):
    from opentelemetry.trace import NoOpTracerProvider

    from traceglass import _runtime

    calls = []

    @observe(type="tool")
    def tool(x):
        return x

    monkeypatch.setattr("traceglass.decorators._bound_arguments", lambda *a: calls.append(a) or {})
    with _runtime.installed(_runtime.Runtime.build(tracer_provider=NoOpTracerProvider())):
        assert tool(5) == 5
    assert calls == []  # arguments were never even bound for a non-recording span


@pytest.fixture
def tool_with_a_broken_serializer(monkeypatch):
    """An ``@observe`` tool whose content serialization (ours) raises."""

    def broken(*args, **kwargs):
        raise RuntimeError("serializer bug")

    monkeypatch.setattr("traceglass._handler._telemetry.bounded_json", broken)

    @observe(type="tool")
    def tool(x):
        return {"value": x}

    return tool


def test_internal_fault_is_swallowed_and_logged_once(captured, monkeypatch, caplog, tool_with_a_broken_serializer):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    tool = tool_with_a_broken_serializer
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        assert tool(1) == {"value": 1}
        assert tool(2) == {"value": 2}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "internal error" in r.message]
    assert len(warnings) == 1
    assert len(captured.spans()) == 2  # spans still end, without the failed content


def test_internal_fault_raises_under_tests(captured, tool_with_a_broken_serializer):
    with pytest.raises(RuntimeError, match="serializer bug"):
        tool_with_a_broken_serializer(1)
