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

``--instructions`` counts instead of timing: every setup's process runs under valgrind's
callgrind, each (scenario, bare/instrumented) loop runs inside its own ``functools.reduce``, and
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

import argparse
import base64
import json
import os
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROUNDS = 31
CALLS = {"chat": 100, "stream": 30, "embeddings": 50, "floor": 2000}  # per block; x4 when isolated
HERE = Path(__file__).resolve()

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


def make_client(mode: str = "transport") -> Any:
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
                           max_retries=0)
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


def instrumentor(setup: str, provider: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """(instrument, uninstrument) for a setup, content capture on."""
    if setup == "traceglass":
        from traceglass.instrumentors.openai import OpenAIInstrumentor

        os.environ["TRACEGLASS_CAPTURE_CONTENT"] = "true"  # the default, made explicit
        inst: Any = OpenAIInstrumentor()
        return (lambda: inst.instrument(tracer_provider=provider)), inst.uninstrument
    if setup == "openai-v2":
        # opentelemetry-util-genai captures content only in the latest-experimental mode.
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        inst = V2()
        return (lambda: inst.instrument(tracer_provider=provider)), inst.uninstrument
    if setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Traceloop

        inst = Traceloop()
        return (lambda: inst.instrument(tracer_provider=provider)), inst.uninstrument
    if setup == "openinference":
        from openinference.instrumentation.openai import (
            OpenAIInstrumentor as OpenInference,
        )

        inst = OpenInference()
        return (lambda: inst.instrument(tracer_provider=provider)), inst.uninstrument
    raise SystemExit(f"unknown setup {setup!r}")


def _patched_classes() -> list[Any]:
    import openai
    import openai._base_client as base_client

    found = [openai.OpenAI, openai.AsyncOpenAI, base_client.SyncAPIClient, base_client.AsyncAPIClient]
    for module, names in (("openai.resources.chat.completions", ("Completions", "AsyncCompletions")),
                          ("openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings")),
                          ("openai.resources.completions", ("Completions", "AsyncCompletions")),
                          ("openai.resources.responses", ("Responses", "AsyncResponses"))):
        try:
            mod = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        found.extend(getattr(mod, n) for n in names if hasattr(mod, n))
    return found


def toggles(setup: str, provider: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """Switch a setup's patches on and off by snapshots of the SDK's classes.

    Not every peer's ``uninstrument()`` restores the SDK (OpenLLMetry 0.62 leaves its wrappers on
    openai 3.x), so the patched and the pristine class dictionaries are recorded once and swapped.
    """
    classes = _patched_classes()
    snapshot = lambda: {(cls, k): v for cls in classes for k, v in vars(cls).items()}
    pristine = snapshot()
    on, _off = instrumentor(setup, provider)
    on()
    patched = {key: value for key, value in snapshot().items() if pristine.get(key) is not value}
    if not patched:
        raise SystemExit(f"{setup}: instrument() patched nothing")

    absent = object()  # an attribute the peer added (e.g. OpenInference wraps OpenAI.request)

    def apply(values: dict[Any, Any]) -> Callable[[], None]:
        def run() -> None:
            for (cls, name), value in values.items():
                if value is absent:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)

        return run

    restore = {key: pristine.get(key, absent) for key in patched}
    apply(restore)()
    return apply(patched), apply(restore)


def floor_call(provider: Any) -> Callable[[], None]:
    tracer = provider.get_tracer("floor")
    attributes = {f"gen_ai.attribute_{i}": ("value" if i % 3 else i) for i in range(15)}

    def call() -> None:
        span = tracer.start_span("chat gpt-4o-mini", attributes=attributes)
        span.end()

    return call


def span_shapes(calls: dict[str, Callable[[], Any]]) -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """Per scenario, traceglass's span for it: (name, kind, attributes), from one traced call each."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from traceglass.instrumentors.openai import OpenAIInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    inst = OpenAIInstrumentor()
    inst.instrument(tracer_provider=provider)
    shapes = {}
    try:
        for name, call in calls.items():
            exporter.clear()
            call()
            (span,) = exporter.get_finished_spans()
            shapes[name] = (span.name, span.kind, dict(span.attributes))
    finally:
        inst.uninstrument()
    return shapes


def in_situ_floor(provider: Any, calls: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """Each call inside a bare current span with traceglass's attributes for it, set at start."""
    tracer = provider.get_tracer("floor")
    shapes = span_shapes({name.split("/")[0]: call for name, call in calls.items() if "/" not in name})

    def floored(call: Callable[[], Any], name: str, kind: Any, attributes: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            with tracer.start_as_current_span(name, kind=kind, attributes=attributes):
                return call()

        return run

    return {name: floored(call, *shapes[name.split("/")[0]]) for name, call in calls.items()}


def _setup_calls(setup: str, provider: Any) -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]],
                                                   Callable[[], None], Callable[[], None]]:
    """Every scenario's bare call, its instrumented counterpart, and the switches of the patches."""
    calls = {**scenarios(make_client("transport")),
             **{f"{name}/isolated": call for name, call in scenarios(make_client("isolated")).items()}}
    if setup == "floor":  # no patches: the instrumented call is the bare one inside a bare span
        return calls, in_situ_floor(provider, calls), lambda: None, lambda: None
    on, off = toggles(setup, provider)
    return calls, calls, on, off


def _block(call: Callable[[], Any], n: int) -> float:
    # CPU time of this thread: on a shared machine, other processes' load does not count against us.
    start = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - start) / n * 1e6


def worker(setup: str, rounds: int) -> dict[str, Any]:
    """Measure one setup in this process: bare and instrumented blocks alternate per round."""
    provider = tracer_provider()
    results: dict[str, Any] = {}
    calls, instrumented_calls, on, off = _setup_calls(setup, provider)
    for name, call in calls.items():
        traced_call = instrumented_calls[name]
        for _ in range(3):  # warm up both paths
            call()
        on()
        traced_call()
        off()
        bare, traced, diffs = [], [], []
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            times = {}
            for instrumented in order:
                if instrumented:
                    on()
                times[instrumented] = _block(traced_call if instrumented else call,
                                             CALLS[name.split("/")[0]] * (4 if "/" in name else 1))
                if instrumented:
                    off()
            bare.append(times[False])
            traced.append(times[True])
            diffs.append(times[True] - times[False])
        q1, _, q3 = statistics.quantiles(diffs, n=4)
        results[name] = {"bare_us": statistics.median(bare), "traced_us": statistics.median(traced),
                         "overhead_us": statistics.median(diffs), "overhead_iqr_us": [q1, q3]}
    floor = floor_call(provider)
    results["floor"] = {"span_us": statistics.median(_block(floor, CALLS["floor"]) for _ in range(rounds))}
    import openai

    results["versions"] = {"python": sys.version.split()[0], "openai": openai.__version__}
    return results


COUNTED_CALLS = {"chat": 10, "stream": 5, "embeddings": 10}  # per loop under callgrind; x2 isolated


def counting_worker(setup: str) -> dict[str, Any]:
    """Under callgrind: per scenario, a bare loop then an instrumented loop, each in its own
    ``functools.reduce`` (what callgrind counts). Reports the loops' order and lengths."""
    import functools

    calls, instrumented_calls, on, off = _setup_calls(setup, tracer_provider())
    loops = []
    for name in SCENARIOS:
        n = COUNTED_CALLS[name.split("/")[0]] * (2 if "/" in name else 1)
        for instrumented in (False, True):
            call = instrumented_calls[name] if instrumented else calls[name]
            if instrumented:
                on()
            for _ in range(3):  # warm: first-call costs stay out of the count
                call()
            functools.reduce(lambda _, __: call(), range(n), None)
            if instrumented:
                off()
            loops.append([name, instrumented, n])
    import openai

    return {"loops": loops, "versions": {"python": sys.version.split()[0], "openai": openai.__version__}}


def count_setup(setup: str, python: str) -> dict[str, Any]:
    """Instructions per call, bare and instrumented, for each scenario (see ``--instructions``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce", "--dump-after=functools_reduce",
             f"--callgrind-out-file={out}", python, str(HERE), "--worker", setup, "--count"],
            check=False, capture_output=True, text=True, timeout=3600,
            env={**os.environ, "PYTHONHASHSEED": "0"})
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
    for row in results.values():
        if "bare" in row:
            row["overhead"] = row["traced"] - row["bare"]
    return results


SCENARIOS = ("chat", "stream", "embeddings", "chat/isolated", "stream/isolated", "embeddings/isolated")
# OpenInference patches OpenAI.request, below the _post that the isolated workload replaces.
_NO_ISOLATED_FIGURE = "n/a (patches OpenAI.request, below _post)"


def _scenario_rows(setup: str, data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each scenario's figures of ``setup``; None where the setup has none."""
    for name in SCENARIOS:
        yield name, None if setup == "openinference" and "/" in name else data[name]


def count_report(results: dict[str, dict[str, Any]]) -> str:
    floor = results["floor"]
    lines = [
        "OpenAI instrumentation overhead in instructions per call (callgrind; noise-free; content capture on)",
        "x in situ: the overhead over the in-situ floor's (the bare SDK call inside a bare current span",
        "with traceglass's attributes for the scenario)",
        "",
        f"{'setup':<14}{'scenario':<20}{'bare SDK':>12}{'traced':>12}{'overhead':>12}{'x in situ':>11}",
    ]
    for setup, data in results.items():
        for name, row in _scenario_rows(setup, data):
            if row is None:
                lines.append(f"{setup:<14}{name:<20}{_NO_ISOLATED_FIGURE:>45}")
                continue
            multiple = f"{row['overhead'] / floor[name]['overhead']:>11.2f}" if setup != "floor" else f"{'':>11}"
            lines.append(f"{setup:<14}{name:<20}{row['bare']:>12,.0f}{row['traced']:>12,.0f}"
                         f"{row['overhead']:>12,.0f}{multiple}")
    return "\n".join(lines)


# --- driver --------------------------------------------------------------------------------------------------
def run_setup(setup: str, python: str, rounds: int) -> dict[str, Any]:
    done = subprocess.run([python, str(HERE), "--worker", setup, "--rounds", str(rounds)], check=False,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{setup} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])




def report(results: dict[str, dict[str, Any]]) -> str:
    """The table: per setup and scenario, overhead and its multiples of both floors.

    ``x floor``: over the tight-loop floor (traceglass's process). ``x in situ``: over the
    in-situ floor of the same scenario (the ``floor`` setup's overhead). ``IQR``: the middle half
    of the per-round differences, i.e. how far one round's figure is to be trusted.
    """
    floor = results["traceglass"]["floor"]["span_us"]
    in_situ = results.get("floor")
    lines = [
        "OpenAI instrumentation overhead (medians of interleaved rounds; content capture on)",
        (f"floor (tight loop): a bare OTel span with 15 attributes = {floor:.1f} us "
         f"(python {results['traceglass']['versions']['python']})"),
    ]
    if in_situ:
        lines.append("floor (in situ): per scenario, the bare SDK call inside a bare current span with traceglass's "
                     "attributes = " + ", ".join(f"{name} {in_situ[name]['overhead_us']:.1f}" for name in SCENARIOS)
                     + " us")
    lines += ["", (f"{'setup':<14}{'scenario':<20}{'bare SDK us':>12}{'traced us':>11}{'overhead us':>13}"
                   f"{'IQR us':>16}{'x floor':>9}{'x in situ':>11}")]
    for setup, data in results.items():
        for name, row in _scenario_rows(setup, data):
            if row is None:
                lines.append(f"{setup:<14}{name:<20}{_NO_ISOLATED_FIGURE:>45}")
                continue
            q1, q3 = row["overhead_iqr_us"]
            multiple = (f"{row['overhead_us'] / in_situ[name]['overhead_us']:>11.1f}"
                        if in_situ and setup != "floor" else f"{'':>11}")
            lines.append(f"{setup:<14}{name:<20}{row['bare_us']:>12.1f}{row['traced_us']:>11.1f}"
                         f"{row['overhead_us']:>13.1f}{f'{q1:.0f}..{q3:.0f}':>16}"
                         f"{row['overhead_us'] / floor:>9.1f}{multiple}")
        lines.append(f"{'':<14}(openai {data['versions']['openai']}, own floor {data['floor']['span_us']:.1f} us)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON",
                        help="a peer setup (openai-v2, openllmetry, openinference) and its virtualenv's python")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per call under valgrind's callgrind instead of timing")
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(counting_worker(args.worker) if args.count else worker(args.worker, args.rounds)))
        return
    if args.instructions:
        counted = {setup: count_setup(setup, sys.executable) for setup in ("floor", "traceglass")}
        for spec in args.peer:
            name, _, python = spec.partition("=")
            counted[name] = count_setup(name, python)
        text = count_report(counted)
        print(text)
        if args.out:
            args.out.write_text(text + "\n")
        return
    results = {"floor": run_setup("floor", sys.executable, args.rounds),
               "traceglass": run_setup("traceglass", sys.executable, args.rounds)}
    for spec in args.peer:
        name, _, python = spec.partition("=")
        results[name] = run_setup(name, python, args.rounds)
    text = report(results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
