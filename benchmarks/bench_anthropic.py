"""Overhead of Anthropic instrumentation: bare SDK vs traceglass vs peers, against the floor.

The same harness as ``bench_openai.py``, for the ``anthropic`` SDK. The workload is the real SDK over an
in-process ``httpx2.MockTransport`` serving precomputed Messages API responses, so what is measured is
client-side cost only. Scenarios:

- ``message``: a non-streaming ``messages.create`` (system + user message, a stop sequence; the answer's
  usage has fresh, cache-read and cache-write input tokens);
- ``stream``: ``messages.create(stream=True)`` answered by the API's event stream with 50 text deltas
  (55 events: ``message_start``, ``content_block_start``, ``ping``, 50 ``content_block_delta``,
  ``content_block_stop``, ``message_delta``, ``message_stop``), fully consumed;
- ``floor``: a bare OpenTelemetry span with 15 attributes, started and ended, in a tight loop;
- the in-situ floor (setup ``floor``): per scenario, the bare SDK call inside a bare
  ``tracer.start_as_current_span`` carrying, from its start, the very attributes traceglass's span has
  for that scenario (learnt once from a traced call), measured like the instrumentors.

Each scenario also runs "isolated": ``client.messages._post`` returns a prebuilt ``Message`` (or a
``Stream`` over prebuilt events), so the SDK's HTTP and parsing drop out and the instrumentation's own
cost stands out. An instrumentor that patches below ``_post`` has no isolated figure (n/a).

The SDK (anthropic >= 0.80) makes a span of its own per call when a global tracer provider is set;
every process here runs with ``ANTHROPIC_OPEN_TELEMETRY=false``, so that span is off for the bare and
the instrumented calls alike and only the instrumentors are measured.

Every setup runs in its own process (a peer in its own virtualenv: ``--peer NAME=PYTHON``); inside it,
instrumented and bare blocks alternate (patches swapped in and out between blocks, outside the timing),
timed in the thread's CPU time; figures are medians over the rounds, overhead is the median of the
per-round differences with their interquartile range. Content capture is on for every setup. Spans go
through a ``SimpleSpanProcessor`` into an exporter that drops them.

    python benchmarks/bench_anthropic.py                      # traceglass and the in-situ floor vs bare
    python benchmarks/bench_anthropic.py --peer openllmetry=/tmp/ta-ollm/bin/python ... --out results/x.txt
    python benchmarks/bench_anthropic.py --instructions --peer ...   # instructions per call (valgrind)

``--instructions`` counts instead of timing, as ``bench_openai.py`` does: each setup's process runs under
valgrind's callgrind and each (scenario, bare/instrumented) loop is counted alone (one
``operator.call`` per loop, ``--toggle-collect``); ``--jobs N`` runs N setups' processes at once. Peers (setup names: openllmetry, openinference,
openlit, otel-genai), each in its own virtualenv with the same ``anthropic`` as ours:

    python -m venv /tmp/ta-ollm && /tmp/ta-ollm/bin/pip install anthropic==2.15.0 httpx opentelemetry-sdk \\
        opentelemetry-instrumentation-anthropic==0.62.4
    python -m venv /tmp/ta-oi && /tmp/ta-oi/bin/pip install anthropic==2.15.0 httpx opentelemetry-sdk \\
        openinference-instrumentation-anthropic==3.1.0
    python -m venv /tmp/ta-otel && /tmp/ta-otel/bin/pip install anthropic==2.15.0 httpx opentelemetry-sdk \\
        opentelemetry-instrumentation-genai-anthropic==1.3b0
    python -m venv /tmp/ta-lit && /tmp/ta-lit/bin/pip install httpx opentelemetry-sdk openlit==1.45.0 \\
        && /tmp/ta-lit/bin/pip install anthropic==2.15.0   # openlit pins an older anthropic
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness

# The SDK's own span, off for every setup (see the module docstring); set before any client exists.
os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"

# --- the workload --------------------------------------------------------------------------------------
MODEL = "claude-sonnet-4-5"
SYSTEM = "You are a helpful assistant."
MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]
USAGE = {"input_tokens": 30, "cache_creation_input_tokens": 40, "cache_read_input_tokens": 200,
         "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 0},
         "output_tokens": 50, "service_tier": "standard"}
DELTAS = 50


def _message() -> dict[str, Any]:
    return {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "A prince avenges his father. " * 4, "citations": None}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": USAGE}


def _events() -> list[dict[str, Any]]:
    start = {**_message(), "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}
    return [{"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
            *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word{i} "}}
              for i in range(DELTAS)),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": 50}},
            {"type": "message_stop"}]


def _payloads() -> dict[str, tuple[str, bytes]]:
    stream = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in _events())
    return {"message": ("application/json", json.dumps(_message()).encode()),
            "stream": ("text/event-stream", stream.encode())}


def make_client(mode: str = "transport") -> Any:
    """A real client. ``transport``: HTTP faked by ``httpx2.MockTransport`` (the SDK parses the bytes).
    ``isolated``: ``messages._post`` returns prebuilt objects, so the SDK's HTTP and parsing drop out."""
    import anthropic
    import anthropic._base_client as base_client

    httpx = getattr(base_client, "httpx2", None) or base_client.httpx
    payloads = _payloads()

    def handler(request: Any) -> Any:
        key = "stream" if b'"stream":true' in request.content.replace(b" ", b"") else "message"
        content_type, body = payloads[key]
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    client = anthropic.Anthropic(api_key="sk-ant-bench",
                                 http_client=httpx.Client(transport=httpx.MockTransport(handler)), max_retries=0)
    if mode == "isolated":
        _prebuild(client, httpx)
    return client


def _prebuild(client: Any, httpx: Any) -> None:
    import anthropic
    from anthropic.types import Message, RawMessageStreamEvent
    from pydantic import TypeAdapter

    message = Message.model_validate(_message())
    adapter = TypeAdapter(RawMessageStreamEvent)
    events = [adapter.validate_python(e) for e in _events() if e["type"] != "ping"]  # the SDK drops pings
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")

    def stream() -> Any:
        out = anthropic.Stream.__new__(anthropic.Stream)
        out.response = httpx.Response(200, request=request)
        out.__dict__["_iterator"] = iter(events)  # Stream._iterator is a cached_property
        return out

    client.messages._post = lambda path, **kwargs: stream() if kwargs.get("stream") else message


def scenarios(client: Any) -> dict[str, Callable[[], Any]]:
    return {
        "message": lambda: client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, messages=MESSAGES,
                                                  stop_sequences=["THE END"]),
        "stream": lambda: list(client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM,
                                                      messages=MESSAGES, stream=True)),
    }


# --- setups (one per process) ------------------------------------------------------------------------------
def instrumentor(setup: str, provider: Any) -> Callable[[], None]:
    """A setup's instrument call, content capture on."""
    if setup == "traceglass":
        from traceglass.instrumentors.anthropic import AnthropicInstrumentor

        os.environ["TRACEGLASS_CAPTURE_CONTENT"] = "true"  # the default, made explicit
        inst: Any = AnthropicInstrumentor()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.anthropic import (
            AnthropicInstrumentor as Traceloop,
        )

        inst = Traceloop()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openinference":
        from openinference.instrumentation.anthropic import (
            AnthropicInstrumentor as OpenInference,
        )

        inst = OpenInference()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "otel-genai":
        # opentelemetry-util-genai captures content only in the latest-experimental mode.
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        from opentelemetry.instrumentation.genai.anthropic import (
            AnthropicInstrumentor as Official,
        )

        inst = Official()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openlit":
        # OpenLIT's instrumentor takes the global tracer provider (set above); metrics off, as for the others.
        from openlit._config import OpenlitConfig
        from openlit.instrumentation.anthropic import AnthropicInstrumentor as OpenLIT

        OpenlitConfig()  # its defaults, as openlit.init() would set them (init() also installs exporters)
        inst = OpenLIT()
        return lambda: inst.instrument(environment="bench", application_name="bench", pricing_info={},
                                       capture_message_content=True, disable_metrics=True)
    raise SystemExit(f"unknown setup {setup!r}")


def _patched_classes() -> list[Any]:
    import anthropic
    import anthropic._base_client as base_client

    return _harness.classes(
        [anthropic.Anthropic, anthropic.AsyncAnthropic, base_client.BaseClient, base_client.SyncAPIClient,
         base_client.AsyncAPIClient],
        (("anthropic.resources.messages.messages", ("Messages", "AsyncMessages")),
         ("anthropic.resources.messages.batches", ("Batches", "AsyncBatches")),
         ("anthropic.resources.beta.messages.messages", ("Messages", "AsyncMessages")),
         ("anthropic.resources.completions", ("Completions", "AsyncCompletions")),
         ("anthropic.lib.streaming._messages", ("MessageStreamManager", "MessageStream")),
         ("anthropic._response", ("ResponseContextManager", "AsyncResponseContextManager"))))


def _ours() -> Any:
    from traceglass.instrumentors.anthropic import AnthropicInstrumentor

    return AnthropicInstrumentor()


BENCH = _harness.SdkBench(
    title="Anthropic instrumentation overhead", sdk="anthropic", script=Path(__file__).resolve(),
    scenarios=("message", "stream"), calls={"message": 100, "stream": 30, "floor": 2000},
    counted={"message": 10, "stream": 5},
    make_calls=lambda mode: scenarios(make_client(mode)), instrumentor=instrumentor, patched=_patched_classes,
    ours=_ours, floor_span="chat claude-sonnet-4-5", peers="openllmetry, openinference, openlit, otel-genai",
)

if __name__ == "__main__":
    _harness.main(BENCH)
