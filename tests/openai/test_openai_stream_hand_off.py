"""A stream whose span's one processor is configure()'s hand-off: the folds of its chunks and its span's end run
on the ``traceglass-span-end`` thread, in the queue's order, with every recorded attribute and the time the stream
ended."""

from __future__ import annotations

import gc
import json
import threading
import time

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import traceglass
from traceglass.instrumentors.openai import _stream
from traceglass.processors._hand_off import HandOffSpanProcessor
from traceglass.testing import capture

from .test_openai_chat import TEXT_OUTPUT_JSON, TOOL_OUTPUT_JSON, TOOLS
from .test_openai_stream import HI, HI_JSON, consume, create, streamed

WORKER = "traceglass-span-end"


class Held(SimpleSpanProcessor):
    """Exports synchronously; while ``hold`` is set, ``on_end`` of a span named "blocker" waits for ``go``."""

    def __init__(self, exporter):
        super().__init__(exporter)
        self.go = threading.Event()

    def on_end(self, span):
        if span.name == "blocker":
            assert self.go.wait(10)
        super().on_end(span)


@pytest.fixture
def pipeline(instrument):
    """A provider whose one processor is a hand-off; the OpenAI instrumentor tracing into it."""
    exporter = InMemorySpanExporter()
    held = Held(exporter)
    hand_off = HandOffSpanProcessor([held])
    provider = TracerProvider()
    provider.add_span_processor(hand_off)
    instrument(tracer_provider=provider)
    yield provider, hand_off, exporter, held
    held.go.set()
    provider.shutdown()


@pytest.fixture
def folds(monkeypatch):
    """The name of the thread each fold of a chat stream's chunks ran on, in order."""
    threads = []
    original = _stream.ChoicesAccumulator.fold

    def fold(self, chunks):
        threads.append(threading.current_thread().name)
        return original(self, chunks)

    monkeypatch.setattr(_stream.ChoicesAccumulator, "fold", fold)
    return threads


def finished(hand_off, exporter) -> list:
    assert hand_off.force_flush(5000)
    return list(exporter.get_finished_spans())


def attributes_of(span) -> dict:
    attributes = {key: list(value) if isinstance(value, tuple) else value for key, value in span.attributes.items()}
    ttft = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert isinstance(ttft, float) and 0 < ttft < 5
    return attributes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
@pytest.mark.parametrize("asked", [True, False], ids=["asked", "usage-hidden"])
async def test_a_stream_is_folded_and_ended_on_the_hand_off_thread_with_every_attribute(
        pipeline, make_client, folds, is_async, tools, asked):
    _, hand_off, exporter, _ = pipeline
    kwargs = {"model": "gpt-4o-mini", "messages": HI, "stream": True}
    if asked:
        kwargs["stream_options"] = {"include_usage": True}
    if tools:
        kwargs["tools"] = TOOLS
    chunks = await consume(await create(make_client(is_async), **kwargs))
    assert len(chunks) == (7 if tools else 6) - (0 if asked else 1)  # the usage chunk traceglass asked for: hidden
    (span,) = finished(hand_off, exporter)
    expected = {**streamed("tool_calls" if tools else "stop"), "gen_ai.input.messages": HI_JSON,
                "gen_ai.output.messages": TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON}
    if tools:
        expected["gen_ai.tool.definitions"] = span.attributes["gen_ai.tool.definitions"]
    expected = {key: list(value) if isinstance(value, tuple) else value for key, value in expected.items()}
    assert attributes_of(span) == expected
    assert folds == [WORKER]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_the_folds_midway_through_a_long_stream_go_to_the_hand_off_thread_in_order(
        pipeline, make_client, folds, monkeypatch, is_async):
    monkeypatch.setattr(_stream, "_FOLD_EVERY", 7)
    _, hand_off, exporter, _ = pipeline
    chunks = await consume(await create(make_client(is_async), model="fifty-chunks", messages=HI, stream=True))
    assert len(chunks) == 52  # the role, 50 pieces, the finish; the usage chunk hidden
    (span,) = finished(hand_off, exporter)
    text = "".join(f"w{i} " for i in range(50))
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"' + text + '"}],"finish_reason":"stop"}]')
    assert span.attributes["gen_ai.usage.output_tokens"] == 5
    # 53 chunks kept: async, 7 folds of 7 midway and 4 at the end; sync, 6 of 8 midway (the loop keeps one more
    # before it folds) and 5 at the end
    assert folds == [WORKER] * (8 if is_async else 7)


def test_the_span_ends_when_the_stream_did_and_goes_on_in_its_place_in_the_queue(pipeline, make_client, folds):
    # The worker is held by a span ended before the stream; the stream ends inside a parent span, which ends
    # after it. The stream's fold and end wait their turn: the span keeps the time the stream ended, and is
    # handed on before its parent (a roll-up sees it first), though its end ran after the parent was queued.
    provider, hand_off, exporter, held = pipeline
    tracer = provider.get_tracer("app")
    tracer.start_span("blocker").end()
    with tracer.start_as_current_span("parent"):
        chunks = list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
        stream_ended = time.time_ns()
    time.sleep(0.05)
    assert folds == [] and exporter.get_finished_spans() == ()  # all of it waits behind the blocker
    held.go.set()
    spans = finished(hand_off, exporter)
    assert [s.name for s in spans] == ["blocker", "chat gpt-4o-mini", "parent"]
    chat, parent = spans[1], spans[2]
    assert len(chunks) == 5 and folds == [WORKER]
    assert chat.parent.span_id == parent.context.span_id
    assert chat.end_time <= stream_ended < time.time_ns() - 50_000_000
    assert chat.attributes["gen_ai.usage.input_tokens"] == 20
    assert chat.attributes["gen_ai.output.messages"] == TEXT_OUTPUT_JSON


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_an_error_midway_fails_the_span_on_the_hand_off_thread(pipeline, make_client, folds, is_async):
    _, hand_off, exporter, _ = pipeline
    stream = await create(make_client(is_async), model="broken-stream", messages=HI, stream=True)
    with pytest.raises(openai.APIError, match="stream broke"):
        await consume(stream)
    (span,) = finished(hand_off, exporter)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "stream_broken"
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')
    assert [event.name for event in span.events] == ["exception"]
    assert folds == [WORKER]


def test_an_abandoned_stream_ends_on_the_hand_off_thread_with_what_arrived(pipeline, make_client, folds):
    _, hand_off, exporter, _ = pipeline
    stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    next(stream), next(stream)
    del stream
    gc.collect()
    (span,) = finished(hand_off, exporter)
    assert span.attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"error"}]')
    assert folds == [WORKER]


def test_under_a_model_call_span_the_stream_ends_on_its_own_thread(pipeline, make_client, folds):
    # A model call above (a decorator's, a LangChain chat model's) skips the tokens and duration metrics
    # its child records, which it learns as the child ends: that end cannot wait for the hand-off thread.
    _, hand_off, exporter, _ = pipeline

    @traceglass.trace_llm(model="gpt-4o-mini")
    def outer():
        return list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))

    with capture() as captured:  # the decorator's span
        assert len(outer()) == 5
    assert folds == [threading.current_thread().name]
    (span,) = finished(hand_off, exporter)
    assert span.attributes["gen_ai.output.messages"] == TEXT_OUTPUT_JSON
    assert span.parent.span_id == int(captured.span("outer")["span_id"], 16)


def test_beside_another_processor_the_stream_ends_on_its_own_thread(pipeline, make_client, folds):
    # Another processor on the provider sees the span end on the calling thread: the attributes must be there.
    provider, hand_off, exporter, _ = pipeline
    beside = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(beside))
    list(make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True))
    assert folds == [threading.current_thread().name]
    (span,) = beside.get_finished_spans()
    assert span.attributes["gen_ai.output.messages"] == TEXT_OUTPUT_JSON
    assert [s.name for s in finished(hand_off, exporter)] == ["chat gpt-4o-mini"]


def test_once_the_hand_off_shut_down_a_stream_ends_on_its_own_thread(pipeline, make_client, folds):
    _, hand_off, exporter, _ = pipeline
    stream = make_client().chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    hand_off.shutdown(1000)
    assert len(list(stream)) == 5
    assert folds == [threading.current_thread().name]


def test_under_configure_the_stream_is_folded_off_the_call_and_priced_and_rolled_up_with_nothing_lost():
    # configure() end to end, in a process of its own: the SDK's provider -> the fan-out -> the hand-off -> the cost
    # processor -> the batch queue. The stream's fold runs on the hand-off thread; the span still carries its
    # output, usage and cost, the chain above it rolls its cost up, and shutdown right after exports both.
    from tests.core.test_configure import run

    result = run(
        """
        import json, threading
        import httpx, openai
        from openai import _base_client
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        import traceglass
        from traceglass.instrumentors.openai import _stream

        HTTPX = getattr(_base_client, "httpx2", None) or httpx

        def chunk(delta, finish=None, usage=False):
            out = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                out.update(choices=[], usage={"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100})
            return "data: " + json.dumps(out) + "\\n\\n"

        pieces = [chunk({"content": f"w{i} "}) for i in range(300)]
        body = "".join([chunk({"role": "assistant", "content": ""}), *pieces, chunk({}, "stop"), chunk({}, usage=True),
                        "data: [DONE]\\n\\n"]).encode()
        transport = HTTPX.MockTransport(lambda request: HTTPX.Response(
            200, headers={"content-type": "text/event-stream"}, content=body))
        client = openai.OpenAI(api_key="sk-test", http_client=HTTPX.Client(transport=transport), max_retries=0)

        class Keep(SpanExporter):
            spans = []
            def export(self, spans):
                self.spans.extend(spans)
                return SpanExportResult.SUCCESS

        folds = []
        fold = _stream.ChoicesAccumulator.fold
        def watched(self, chunks):
            folds.append(threading.current_thread().name)
            return fold(self, chunks)
        _stream.ChoicesAccumulator.fold = watched

        keep = Keep()
        traceglass.configure(exporters=[keep], instrument=["openai"],
                             prices={"gpt-4o": {"input_per_1k": 0.01, "output_per_1k": 0.02}})

        @traceglass.observe(name="answer")
        def answer():
            return "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True))

        text = answer()
        traceglass.shutdown()
        spans = {s.name: dict(s.attributes) for s in keep.spans}
        chat = spans["chat gpt-4o"]
        print(json.dumps([text == "".join(f"w{i} " for i in range(300)), sorted(set(folds)), len(folds),
                          [s.name for s in keep.spans], chat["gen_ai.usage.input_tokens"],
                          round(chat["gen_ai.usage.cost"], 6), round(spans["answer"]["traceglass.rollup.cost_usd"], 6),
                          json.loads(chat["gen_ai.output.messages"])[0]["parts"][0]["content"] == text]))
        """
    )
    assert result.returncode == 0, result.stderr
    same_text, threads, fold_count, names, input_tokens, cost, rolled_up, output_kept = json.loads(
        result.stdout.strip().splitlines()[-1])
    assert same_text and output_kept
    assert threads == [WORKER] and fold_count == 2  # 303 chunks kept: one fold midway (256), one at the end
    assert names == ["chat gpt-4o", "answer"]
    assert input_tokens == 1000 and cost == 0.012 and rolled_up == 0.012


def test_busy_threads_outrunning_the_hand_off_lose_no_stream_and_no_chunk(instrument, make_client, monkeypatch):
    # Four threads stream at once through a hand-off bounded at 8 waiting items: past the bound a calling thread
    # runs the oldest waiting task (another stream's fold or end) itself. Every stream's span comes out once,
    # with all of its text in order.
    monkeypatch.setattr(_stream, "_FOLD_EVERY", 7)
    exporter = InMemorySpanExporter()
    hand_off = HandOffSpanProcessor([SimpleSpanProcessor(exporter)], max_pending=8)
    provider = TracerProvider()
    provider.add_span_processor(hand_off)
    instrument(tracer_provider=provider)
    client = make_client()
    errors = []

    def app(thread: int) -> None:
        try:
            for i in range(15):
                with provider.get_tracer("app").start_as_current_span(f"t{thread}-{i}"):
                    list(client.chat.completions.create(model="fifty-chunks", messages=HI, stream=True))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=app, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    spans = finished(hand_off, exporter)
    provider.shutdown()
    chats = [s for s in spans if s.name == "chat fifty-chunks"]
    assert len(chats) == 60 and len(spans) == 120
    text = "".join(f"w{i} " for i in range(50))
    assert {s.attributes["gen_ai.output.messages"] for s in chats} == {
        '[{"role":"assistant","parts":[{"type":"text","content":"' + text + '"}],"finish_reason":"stop"}]'}
    position = {s.context.span_id: n for n, s in enumerate(spans)}
    assert all(position[s.context.span_id] < position[s.parent.span_id] for s in chats)  # each before its parent
