"""Overhead of LiteLLM instrumentation in instructions per call: bare vs traceglass vs peers, against the floor.

The workload is ``litellm.completion(model="openai/gpt-4o-mini", ...)`` handed a real ``openai`` client whose
HTTP is an in-process ``httpx.MockTransport`` serving precomputed responses (LiteLLM's OpenAI route takes
the client as ``client=``), so LiteLLM's own routing, response conversion, cost and logging all run, and no
socket is opened. Scenarios:

- ``chat``: a non-streaming chat completion (system + user message);
- ``stream``: a 50-chunk streamed chat completion with a usage chunk, fully consumed;
- the in-situ floor (setup ``floor``): the bare call inside a bare ``tracer.start_as_current_span`` carrying,
  from its start, the attributes traceglass's span has for that scenario (learnt once from a traced call):
  what "a bare OTel span with the same attributes" costs around the same work.

Only instructions are counted (valgrind's callgrind, as ``bench_openai.py --instructions`` does): every
setup's process runs under callgrind, each (scenario, bare/instrumented) loop runs inside its own
``functools.reduce``, and callgrind counts the instructions executed in that loop only
(``--toggle-collect``, one dump per loop). LiteLLM's call itself costs millions of instructions and
varies a little from call to call (its logging objects, ids and timestamps), so overheads are differences
of large numbers: read them to a few thousand instructions. Content capture is on for every setup. Spans
go through a ``SimpleSpanProcessor`` into an exporter that drops them.

A peer runs in its own virtualenv with the same ``litellm`` as ours (``--peer NAME=PYTHON``):

    python -m venv /tmp/tg-ll-ollm && /tmp/tg-ll-ollm/bin/pip install litellm==1.110.2 opentelemetry-sdk \\
        opentelemetry-instrumentation-litellm==0.62.4
    python -m venv /tmp/tg-ll-oi && /tmp/tg-ll-oi/bin/pip install litellm==1.110.2 opentelemetry-sdk \\
        openinference-instrumentation-litellm==0.1.51
    python benchmarks/bench_litellm.py --peer openllmetry=/tmp/tg-ll-ollm/bin/python \\
        --peer openinference=/tmp/tg-ll-oi/bin/python --out benchmarks/results/litellm.txt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
COUNTED_CALLS = {"chat": 6, "stream": 3}  # per loop under callgrind
SCENARIOS = tuple(COUNTED_CALLS)

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
    return {"/v1/chat/completions": ("application/json", json.dumps(chat).encode()),
            "/v1/chat/completions#stream": ("text/event-stream", stream.encode())}


def scenarios() -> dict[str, Callable[[], Any]]:
    import httpx
    import litellm
    import openai

    payloads = _payloads()

    def handler(request: Any) -> Any:
        key = request.url.path + ("#stream" if b'"stream":true' in request.content.replace(b" ", b"") else "")
        content_type, body = payloads[key]
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    client = openai.OpenAI(api_key="sk-bench", base_url="http://127.0.0.1:9/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    # looked up on the module at each call, so a patched litellm.completion is the one called
    return {
        "chat": lambda: litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, temperature=0.3,
                                           client=client),
        "stream": lambda: [c for c in litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES,
                                                         stream=True, stream_options={"include_usage": True},
                                                         client=client)],
    }


class _Drop:
    """A span exporter that drops everything (duck-typed: works with any SDK version)."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def tracer_provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    trace.set_tracer_provider(provider)
    return provider


def instrument(setup: str, provider: Any) -> None:
    """Turn a setup's instrumentation on, content capture on."""
    if setup == "traceglass":
        from traceglass.instrumentors.litellm import LiteLLMInstrumentor

        os.environ["TRACEGLASS_CAPTURE_CONTENT"] = "true"  # the default, made explicit
        LiteLLMInstrumentor().instrument(tracer_provider=provider)
    elif setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.litellm import LiteLLMInstrumentor as Traceloop

        Traceloop().instrument(tracer_provider=provider)
    elif setup == "openinference":
        from openinference.instrumentation.litellm import LiteLLMInstrumentor as OpenInference

        OpenInference().instrument(tracer_provider=provider)
    else:
        raise SystemExit(f"unknown setup {setup!r}")


def in_situ_floor(provider: Any, calls: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """Each call inside a bare current span with traceglass's attributes for it, set at start."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from traceglass.instrumentors.litellm import LiteLLMInstrumentor

    exporter = InMemorySpanExporter()
    learning = TracerProvider()
    learning.add_span_processor(SimpleSpanProcessor(exporter))
    inst = LiteLLMInstrumentor()
    inst.instrument(tracer_provider=learning)
    shapes = {}
    try:
        for name, call in calls.items():
            exporter.clear()
            call()
            (span,) = exporter.get_finished_spans()
            shapes[name] = (span.name, span.kind, dict(span.attributes))
    finally:
        inst.uninstrument()
    tracer = provider.get_tracer("floor")

    def floored(call: Callable[[], Any], name: str, kind: Any, attributes: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            with tracer.start_as_current_span(name, kind=kind, attributes=attributes):
                return call()

        return run

    return {name: floored(call, *shapes[name]) for name, call in calls.items()}


def counting_worker(setup: str) -> dict[str, Any]:
    """Under callgrind: every scenario's bare loop, then instrumentation on, then every instrumented loop,
    each loop in its own ``functools.reduce`` (what callgrind counts). Reports the loops' order and lengths."""
    import functools

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # never fetch the price map
    provider = tracer_provider()
    calls = scenarios()
    traced = in_situ_floor(provider, calls) if setup == "floor" else calls
    loops = []
    for instrumented in (False, True):
        if instrumented and setup != "floor":
            instrument(setup, provider)
        for name in SCENARIOS:
            call = traced[name] if instrumented else calls[name]
            for _ in range(3):  # warm: first-call costs stay out of the count
                call()
            n = COUNTED_CALLS[name]
            functools.reduce(lambda _, __: call(), range(n), None)
            loops.append([name, instrumented, n])
    import litellm

    version = getattr(litellm, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("litellm")
    return {"loops": loops, "versions": {"python": sys.version.split()[0], "litellm": version}}


def count_setup(setup: str, python: str) -> dict[str, Any]:
    """Instructions per call, bare and instrumented, for each scenario."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce", "--dump-after=functools_reduce",
             f"--callgrind-out-file={out}", python, str(HERE), "--worker", setup],
            check=False, capture_output=True, text=True, timeout=3600,
            env={**os.environ, "PYTHONHASHSEED": "0", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        if done.returncode != 0:
            raise SystemExit(f"{setup} failed:\n{done.stderr[-3000:]}")
        report_ = json.loads(done.stdout.strip().splitlines()[-1])
        totals = []
        for i in range(1, len(report_["loops"]) + 1):
            text = (Path(tmp) / f"callgrind.out.{i}").read_text()
            totals.append(int(next(line for line in text.splitlines() if line.startswith("totals:")).split()[1]))
    results: dict[str, Any] = {"versions": report_["versions"]}
    for (name, instrumented, n), total in zip(report_["loops"], totals):
        results.setdefault(name, {})["traced" if instrumented else "bare"] = total / n
    for name in SCENARIOS:
        results[name]["overhead"] = results[name]["traced"] - results[name]["bare"]
    return results


def count_report(results: dict[str, dict[str, Any]]) -> str:
    floor = results["floor"]
    lines = [
        "LiteLLM instrumentation overhead in instructions per call (callgrind; content capture on)",
        "litellm.completion(model='openai/gpt-4o-mini') over an openai client on httpx.MockTransport",
        "x in situ: the overhead over the in-situ floor's (the bare call inside a bare current span",
        "with traceglass's attributes for the scenario)",
        "",
        f"{'setup':<14}{'scenario':<10}{'bare call':>13}{'traced':>13}{'overhead':>12}{'x in situ':>11}",
    ]
    for setup, data in results.items():
        for name in SCENARIOS:
            row = data[name]
            multiple = f"{row['overhead'] / floor[name]['overhead']:>11.2f}" if setup != "floor" else f"{'':>11}"
            lines.append(f"{setup:<14}{name:<10}{row['bare']:>13,.0f}{row['traced']:>13,.0f}"
                         f"{row['overhead']:>12,.0f}{multiple}")
        versions = data["versions"]
        lines.append(f"{'':<14}(python {versions['python']}, litellm {versions['litellm']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON",
                        help="a peer setup (openllmetry, openinference) and its virtualenv's python")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(counting_worker(args.worker)))
        return
    counted = {setup: count_setup(setup, sys.executable) for setup in ("floor", "traceglass")}
    for spec in args.peer:
        name, _, python = spec.partition("=")
        counted[name] = count_setup(name, python)
    text = count_report(counted)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
