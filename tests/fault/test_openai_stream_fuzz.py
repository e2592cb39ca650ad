"""Hostile Chat Completions streams through the real OpenAI SDK, content capture on and off.

An OpenAI-compatible server may send chunks of any shape (the SDK builds its models without
validating them): whatever arrives, the caller gets exactly the chunks the untraced SDK gives, one
span ends, and, for chunks a conforming server could send, a span without content records the same
finish reasons, usage and model as one with content (the fold reads them from the stream's end back).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass._guard import RAISE_ENV
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.testing import capture

from ..openai._fake_api import _stream as sse_stream
from .test_openai_faults import HI, HTTPX
from .test_openai_faults import _client as sdk_client

REASONS = st.sampled_from(["stop", "length", "tool_calls", "content_filter"])
USAGE = st.builds(lambda p, c: {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
                  st.integers(0, 10**6), st.integers(0, 10**6))
TEXT = st.text(max_size=8)


def _choice(index, delta, finish):
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def _chunk(choices, usage, model="gpt-4o-mini-x"):
    return {"id": "chatcmpl-fuzz", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": choices, "usage": usage}


@st.composite
def conforming_streams(draw):
    """Chunks as the API sends them for ``n`` choices: deltas, each choice's reason once (or never,
    when the stream stops early; twice, as a server might), usage on any chunk or none; the choices
    interleaved."""
    n = draw(st.integers(1, 3))
    chunks = []
    for _ in range(draw(st.integers(0, 12))):
        picked = draw(st.lists(st.integers(0, n - 1), max_size=n, unique=True))
        chunks.append(_chunk([_choice(i, {"content": draw(TEXT)}, None) for i in picked],
                             draw(USAGE) if draw(st.integers(0, 2)) == 0 else None))
    for i in draw(st.permutations(range(n))):
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            position = draw(st.integers(0, len(chunks)))
            chunks.insert(position, _chunk([_choice(i, {}, draw(REASONS))], None))
    if draw(st.booleans()):
        chunks.append(_chunk([], draw(USAGE)))
    return n, chunks


ANY = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**70), st.floats(allow_nan=True), TEXT,
                st.lists(st.integers(), max_size=2), st.dictionaries(TEXT, st.integers(), max_size=2))
HOSTILE_CHOICE = st.one_of(
    ANY,
    st.fixed_dictionaries({}, optional={"index": ANY, "finish_reason": ANY | REASONS,
                                        "delta": ANY | st.fixed_dictionaries({}, optional={
                                            "content": ANY, "tool_calls": ANY | st.lists(ANY, max_size=2)})}))
HOSTILE_CHUNK = st.one_of(
    ANY,
    st.fixed_dictionaries({"object": st.just("chat.completion.chunk")},
                          optional={"id": ANY, "model": ANY, "created": ANY, "usage": ANY | USAGE,
                                    "choices": ANY | st.lists(HOSTILE_CHOICE, max_size=3)}))


def _read(chunks, n):
    """The chunks the caller gets (as dicts), or the exception the SDK raised reading them."""
    status, headers, payload = sse_stream(chunks)
    transport = HTTPX.MockTransport(lambda request: HTTPX.Response(status, headers=headers, content=payload))
    try:
        stream = sdk_client(False, transport).chat.completions.create(
            model="gpt-4o-mini", messages=HI, stream=True, n=n, stream_options={"include_usage": True})
        return [chunk.to_dict() for chunk in stream]
    except Exception as exc:  # noqa: BLE001 - the SDK's own answer to a chunk it cannot read
        return type(exc)


def _traced(chunks, n, content):
    with capture(capture_content=content) as captured:
        seen = _read(chunks, n)
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["chat gpt-4o-mini"]
    return seen, spans[0]["attributes"]


RECORDED = ("gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
            "gen_ai.response.model", "gen_ai.response.id")


@pytest.fixture(scope="module")
def instrumented():
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


@settings(max_examples=100, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conforming_streams())
def test_without_content_a_conforming_stream_records_what_it_records_with_content(instrumented, stream):
    n, chunks = stream
    bare = _read(chunks, n)
    with_content, recorded = _traced(chunks, n, True)
    without_content, kept = _traced(chunks, n, False)
    assert with_content == without_content == bare
    assert {k: kept.get(k) for k in RECORDED} == {k: recorded.get(k) for k in RECORDED}
    assert "gen_ai.output.messages" in recorded and "gen_ai.output.messages" not in kept


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic on the hostile values the SDK keeps
@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE_CHUNK, max_size=6), st.one_of(st.none(), st.integers(-1, 3), TEXT), st.booleans())
def test_any_chunks_reach_the_caller_as_untraced_and_end_one_span(instrumented, monkeypatch, chunks, n, content):
    monkeypatch.setenv(RAISE_ENV, "0")  # production: our faults are reported, never raised
    sent = n if isinstance(n, int) else 1  # the SDK sends n as given; a text would fail before the stream
    bare = _read(chunks, sent)
    seen, _ = _traced(chunks, sent, content)
    assert seen == bare


def _recorded(chunks, n, asked, hand_off):
    """What the caller gets and what the one span records, the stream read on the calling thread or, behind a
    hand-off that is the provider's one processor, on the hand-off thread."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from traceglass import TracedOpenAI
    from traceglass.processors._hand_off import HandOffSpanProcessor

    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider = TracerProvider()
    provider.add_span_processor(HandOffSpanProcessor([processor]) if hand_off else processor)
    status, headers, payload = sse_stream(chunks)
    transport = HTTPX.MockTransport(lambda request: HTTPX.Response(status, headers=headers, content=payload))
    client = TracedOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0,
                          http_client=HTTPX.Client(transport=transport), tracer_provider=provider)
    options = {"stream_options": {"include_usage": True}} if asked else {}
    stream = None
    try:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True, n=n, **options)
        seen = [chunk.to_dict() for chunk in stream]
    except Exception as exc:  # noqa: BLE001 - the SDK's own answer to a chunk it cannot read
        seen = type(exc)
    finally:
        if stream is not None:  # the loop broke off (a chunk without to_dict()): closed, as `with` would
            stream.close()
    assert provider.force_flush(5000)
    (span,) = exporter.get_finished_spans()
    provider.shutdown()
    attributes = dict(span.attributes)
    attributes.pop("gen_ai.response.time_to_first_chunk", None)
    return seen, attributes, span.status.status_code, [event.name for event in span.events]


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic on the hostile values the SDK keeps
@settings(max_examples=120, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(HOSTILE_CHUNK, max_size=6), conforming_streams().map(lambda drawn: drawn[1])),
       st.integers(1, 3), st.booleans())
def test_a_stream_read_on_the_hand_off_thread_records_what_it_records_on_the_calling_thread(monkeypatch, chunks, n,
                                                                                            asked):
    # Under configure() a stream's chunks are read into its span on the hand-off thread: for any chunks, the
    # caller gets the same chunks and the span the same attributes, status and events as when read on its thread.
    monkeypatch.setenv(RAISE_ENV, "0")  # production: our faults are reported, never raised
    assert _recorded(chunks, n, asked, hand_off=True) == _recorded(chunks, n, asked, hand_off=False)
