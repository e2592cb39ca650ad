"""Overhead of OpenAI instrumentation: bare SDK vs traceglass vs peers, against the floor.

The workload is the real ``openai`` SDK over an in-process ``httpx.MockTransport`` serving
precomputed OpenAI responses, so what is measured is client-side cost only. Scenarios:

- ``chat``: a non-streaming chat completion (system + user message, ~20 attributes on the span);
- ``stream``: a 50-chunk streamed chat completion, fully consumed (with a usage chunk);
- ``embeddings``: one call with 8 inputs answered by 8 vectors of 1536 dimensions;
- ``floor``: a bare OpenTelemetry span with 15 attributes, started and ended (no SDK call), timed
  in a tight loop (warm caches: the cheapest a span gets);
- the in-situ floor (setup ``floor``): per scenario, the bare SDK call inside a bare
  ``tracer.start_as_current_span`` carrying, from its start, the very attributes traceglass's span
  has for that scenario (a constant dict, learnt once from a traced call), measured as overhead over
  the bare SDK in interleaved rounds exactly like the instrumentors. It is what "a bare OTel span
  with the same attributes" costs where an instrumentor's span is made: around the SDK's own work.

Each scenario also runs "isolated": the resources' ``_post`` returns prebuilt response objects,
so the SDK's HTTP and parsing (most of a call's cost, and most of its noise) drop out and the
instrumentation's own cost stands out. Every instrumentor still wraps the same public methods,
except OpenInference, which patches ``OpenAI.request`` below ``_post`` (reported as n/a there).

Every setup runs in its own process (a peer in its own virtualenv: ``--peer NAME=PYTHON``).
Inside a process, instrumented and bare blocks alternate (patches swapped in and out between
blocks, outside the timing) and the figures are medians over the rounds; overhead is the median
of the per-round differences, reported with their interquartile range (how much a round moves).
Blocks are timed in CPU time of the benchmark's thread (``time.thread_time``), so other processes
on a shared machine do not inflate them directly (everything runs in-process: no I/O waits to
miss); they still share caches and memory bandwidth, which is what the IQR shows. Content capture
is on for every setup. Spans go through a ``SimpleSpanProcessor`` into an exporter that drops
them, so export cost is the same for all.

    python benchmarks/bench_openai.py                      # traceglass and the in-situ floor vs bare
    python benchmarks/bench_openai.py --peer openai-v2=/tmp/tg-v2/bin/python ... --out results/openai.txt
    python benchmarks/bench_openai.py --instructions --peer ...   # instructions per call (valgrind)
    python benchmarks/bench_openai.py --both --rounds 3           # both tables, a quick check

The engine (floors, rounds, counts, tables) is ``_harness.py``'s, shared with bench_anthropic.py and
bench_litellm.py; this file gives it the workload, the setups and the classes they patch.

``--instructions`` counts instead of timing: every setup's process runs under valgrind's
callgrind, each (scenario, bare/instrumented) loop runs inside its own ``operator.call``, and
callgrind counts the instructions executed in that loop only (``--toggle-collect``, one dump per
loop). Instruction counts do not depend on the machine's load, so they compare setups exactly
(they do not see cache misses, which timing does); they also give the floors per scenario.

Each peer gets its own virtualenv with the same ``openai`` as ours (peers also import ``httpx``,
which openai 3.x no longer depends on):

    python -m venv /tmp/tg-v2 && /tmp/tg-v2/bin/pip install openai==3.54.0 httpx opentelemetry-sdk \\
        opentelemetry-instrumentation-openai-v2==2.4b0 opentelemetry-util-genai==1.1b0
    python -m venv /tmp/tg-ollm && /tmp/tg-ollm/bin/pip install openai==3.54.0 httpx opentelemetry-sdk \\
        opentelemetry-instrumentation-openai==0.62.4
    python -m venv /tmp/tg-oi && /tmp/tg-oi/bin/pip install openai==3.54.0 httpx opentelemetry-sdk \\
        openinference-instrumentation-openai==0.1.66
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness

# --- the workload --------------------------------------------------------------------------------------
MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]
USAGE = {"prompt_tokens": 30, "completion_tokens": 50, "total_tokens": 80,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}


def _payloads() -> dict[str, tuple[str, bytes]]:
    chat = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1", "service_tier": "default",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "A prince avenges his father. " * 4}}],
            "usage": USAGE}

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None, choices: bool = True) -> str:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_1", "usage": usage,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else []}
        return f"data: {json.dumps(body)}\n\n"

    pieces = [chunk({"role": "assistant", "content": ""})]
    pieces += [chunk({"content": f"word{i} "}) for i in range(48)]
    pieces.append(chunk({}, "stop"))
    pieces.append(chunk({}, usage=USAGE, choices=False))  # 51 chunks: 50 with choices + the usage chunk
    stream = "".join(pieces) + "data: [DONE]\n\n"
    vector = base64.b64encode(struct.pack("<1536f", *([0.01] * 1536))).decode()
    embeddings = {"object": "list", "model": "text-embedding-3-small",
                  "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(8)],
                  "usage": {"prompt_tokens": 40, "total_tokens": 40}}
    return {"/v1/chat/completions": ("application/json", json.dumps(chat).encode()),
            "/v1/chat/completions#stream": ("text/event-stream", stream.encode()),
            "/v1/embeddings": ("application/json", json.dumps(embeddings).encode())}


def make_client(mode: str = "transport", base_url: str | None = None) -> Any:
    """A real client. ``transport``: HTTP faked by ``httpx.MockTransport`` (the SDK parses the
    bytes). ``isolated``: the resources' ``_post`` returns prebuilt response objects, so the SDK's
    own HTTP and parsing cost (which dwarfs instrumentation and is noisy) drops out of the
    difference; every instrumentor still wraps the same public ``create`` methods."""
    import openai
    import openai._base_client as base_client

    httpx = getattr(base_client, "httpx2", None) or base_client.httpx
    payloads = _payloads()

    def handler(request: Any) -> Any:
        key = request.url.path + ("#stream" if b'"stream":true' in request.content.replace(b" ", b"") else "")
        content_type, body = payloads[key]
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    client = openai.OpenAI(api_key="sk-bench", http_client=httpx.Client(transport=httpx.MockTransport(handler)),
                           max_retries=0, base_url=base_url)
    if mode == "isolated":
        _prebuild(client, payloads, httpx)
    return client


def _prebuild(client: Any, payloads: dict[str, tuple[str, bytes]], httpx: Any) -> None:
    import openai
    from openai.types import CreateEmbeddingResponse
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    chat = ChatCompletion.model_validate(json.loads(payloads["/v1/chat/completions"][1]))
    raw = payloads["/v1/chat/completions#stream"][1].decode()
    chunks = [ChatCompletionChunk.model_validate(json.loads(line[6:]))
              for line in raw.split("\n\n") if line.startswith("data: {")]
    embedding = json.loads(payloads["/v1/embeddings"][1])
    for item in embedding["data"]:
        item["embedding"] = list(struct.unpack("<1536f", base64.b64decode(item["embedding"])))
    embeddings = CreateEmbeddingResponse.model_validate(embedding)
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")

    def stream() -> Any:
        out = openai.Stream.__new__(openai.Stream)
        out.response = httpx.Response(200, request=request)
        out._iterator = iter(chunks)
        return out

    def chat_post(path: str, **kwargs: Any) -> Any:
        return stream() if kwargs.get("stream") else chat

    client.chat.completions._post = chat_post
    client.embeddings._post = lambda path, **kwargs: embeddings


def scenarios(client: Any) -> dict[str, Callable[[], Any]]:
    inputs = [f"document {i} about the plot of Hamlet" for i in range(8)]
    return {
        "chat": lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.3),
        "stream": lambda: [c for c in client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})],
        "embeddings": lambda: client.embeddings.create(model="text-embedding-3-small", input=inputs),
    }


# --- setups (one per process) ------------------------------------------------------------------------------
def instrumentor(setup: str, provider: Any) -> Callable[[], None]:
    """A setup's instrument call, content capture on (``traceglass-nocontent``: traceglass with it off)."""
    if setup in ("traceglass", "traceglass-nocontent", "traceglass-handoff"):
        from traceglass.instrumentors.openai import OpenAIInstrumentor

        # "true" is the default, made explicit
        os.environ["TRACEGLASS_CAPTURE_CONTENT"] = "false" if setup == "traceglass-nocontent" else "true"
        inst: Any = OpenAIInstrumentor()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openai-v2":
        # opentelemetry-util-genai captures content only in the latest-experimental mode.
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        inst = V2()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Traceloop

        inst = Traceloop()
        return lambda: inst.instrument(tracer_provider=provider)
    if setup == "openinference":
        from openinference.instrumentation.openai import (
            OpenAIInstrumentor as OpenInference,
        )

        inst = OpenInference()
        return lambda: inst.instrument(tracer_provider=provider)
    raise SystemExit(f"unknown setup {setup!r}")


def _patched_classes() -> list[Any]:
    import openai
    import openai._base_client as base_client

    return _harness.classes(
        [openai.OpenAI, openai.AsyncOpenAI, base_client.SyncAPIClient, base_client.AsyncAPIClient],
        (("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
         ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
         ("openai.resources.completions", ("Completions", "AsyncCompletions")),
         ("openai.resources.responses", ("Responses", "AsyncResponses"))))


def _ours() -> Any:
    from traceglass.instrumentors.openai import OpenAIInstrumentor

    return OpenAIInstrumentor()


BENCH = _harness.SdkBench(
    title="OpenAI instrumentation overhead", sdk="openai", script=Path(__file__).resolve(),
    scenarios=("chat", "stream", "embeddings"),
    calls={"chat": 100, "stream": 30, "embeddings": 50, "floor": 2000},
    counted={"chat": 10, "stream": 5, "embeddings": 10},
    make_calls=lambda mode: scenarios(make_client(mode)), instrumentor=instrumentor, patched=_patched_classes,
    ours=_ours, floor_span="chat gpt-4o-mini",
    # OpenInference patches OpenAI.request, below the _post that the isolated workload replaces.
    no_isolated={"openinference": "n/a (patches OpenAI.request, below _post)"},
    peers="openai-v2, openllmetry, openinference",
)

if __name__ == "__main__":
    _harness.main(BENCH)
