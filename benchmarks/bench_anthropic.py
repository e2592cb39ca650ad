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
``functools.reduce`` per loop, ``--toggle-collect``); ``--jobs N`` runs N setups' processes at once. Peers (setup names: openllmetry, openinference,
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

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROUNDS = 31
CALLS = {"message": 100, "stream": 30, "floor": 2000}  # per block; x4 when isolated
HERE = Path(__file__).resolve()
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
class _Drop:
    """A span exporter that counts and drops everything (duck-typed: works with any SDK version)."""

    spans = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        _Drop.spans += len(spans)
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

    found = [anthropic.Anthropic, anthropic.AsyncAnthropic, base_client.BaseClient, base_client.SyncAPIClient,
             base_client.AsyncAPIClient]
    for module, names in (("anthropic.resources.messages.messages", ("Messages", "AsyncMessages")),
                          ("anthropic.resources.messages.batches", ("Batches", "AsyncBatches")),
                          ("anthropic.resources.beta.messages.messages", ("Messages", "AsyncMessages")),
                          ("anthropic.resources.completions", ("Completions", "AsyncCompletions")),
                          ("anthropic.lib.streaming._messages", ("MessageStreamManager", "MessageStream")),
                          ("anthropic._response", ("ResponseContextManager", "AsyncResponseContextManager"))):
        try:
            mod = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        found.extend(getattr(mod, n) for n in names if hasattr(mod, n))
    return found


def toggles(setup: str, provider: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """Switch a setup's patches on and off by snapshots of the SDK's classes (not every peer's
    ``uninstrument()`` restores the SDK), recorded once and swapped."""
    classes = _patched_classes()
    snapshot = lambda: {(cls, k): v for cls in classes for k, v in vars(cls).items()}
    pristine = snapshot()
    instrumentor(setup, provider)()
    patched = {key: value for key, value in snapshot().items() if pristine.get(key) is not value}
    if not patched:
        raise SystemExit(f"{setup}: instrument() patched nothing")
    absent = object()

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
        span = tracer.start_span("chat claude-sonnet-4-5", attributes=attributes)
        span.end()

    return call


def span_shapes(calls: dict[str, Callable[[], Any]]) -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """Per scenario, traceglass's span for it: (name, kind, attributes), from one traced call each."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from traceglass.instrumentors.anthropic import AnthropicInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    inst = AnthropicInstrumentor()
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
    shapes = span_shapes({name: call for name, call in calls.items() if "/" not in name})

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


def _spans_of(call: Callable[[], Any]) -> int:
    """How many spans one call exports: every setup must make exactly one, or it is not the same work."""
    before = _Drop.spans
    call()
    return _Drop.spans - before


def _block(call: Callable[[], Any], n: int) -> float:
    # CPU time of this thread: on a shared machine, other processes' load does not count against us.
    start = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - start) / n * 1e6


def _versions() -> dict[str, str]:
    import anthropic

    return {"python": sys.version.split()[0], "anthropic": anthropic.__version__}


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
        made = _spans_of(traced_call)
        off()
        if made != 1 or _spans_of(call) != 0:
            raise SystemExit(f"{setup} {name}: {made} spans per instrumented call (expected 1), or the bare call made one")
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
    results["versions"] = _versions()
    return results


COUNTED_CALLS = {"message": 10, "stream": 5}  # per loop under callgrind; x2 isolated


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
            if instrumented and _spans_of(call) != 1:
                raise SystemExit(f"{setup} {name}: not one span per instrumented call")
            functools.reduce(lambda _, __: call(), range(n), None)
            if instrumented:
                off()
            loops.append([name, instrumented, n])
    return {"loops": loops, "versions": _versions()}


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


SCENARIOS = ("message", "stream", "message/isolated", "stream/isolated")


def _scenario_rows(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in SCENARIOS:
        yield name, data[name]


def count_report(results: dict[str, dict[str, Any]]) -> str:
    floor = results["floor"]
    lines = [
        "Anthropic instrumentation overhead in instructions per call (callgrind; noise-free; content capture on)",
        "x in situ: the overhead over the in-situ floor's (the bare SDK call inside a bare current span",
        "with traceglass's attributes for the scenario)",
        "",
        f"{'setup':<14}{'scenario':<20}{'bare SDK':>12}{'traced':>12}{'overhead':>12}{'x in situ':>11}",
    ]
    for setup, data in results.items():
        for name, row in _scenario_rows(data):
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
    """The table: per setup and scenario, overhead and its multiples of both floors (``x floor``: over the
    tight-loop floor of traceglass's process; ``x in situ``: over the ``floor`` setup's overhead for the
    scenario; ``IQR``: the middle half of the per-round differences)."""
    floor = results["traceglass"]["floor"]["span_us"]
    in_situ = results.get("floor")
    lines = [
        "Anthropic instrumentation overhead (medians of interleaved rounds; content capture on)",
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
        for name, row in _scenario_rows(data):
            q1, q3 = row["overhead_iqr_us"]
            multiple = (f"{row['overhead_us'] / in_situ[name]['overhead_us']:>11.1f}"
                        if in_situ and setup != "floor" else f"{'':>11}")
            lines.append(f"{setup:<14}{name:<20}{row['bare_us']:>12.1f}{row['traced_us']:>11.1f}"
                         f"{row['overhead_us']:>13.1f}{f'{q1:.0f}..{q3:.0f}':>16}"
                         f"{row['overhead_us'] / floor:>9.1f}{multiple}")
        lines.append(f"{'':<14}(anthropic {data['versions']['anthropic']}, own floor {data['floor']['span_us']:.1f} us)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON",
                        help="a peer setup (openllmetry, openinference, openlit, otel-genai) and its virtualenv's "
                             "python")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per call under valgrind's callgrind instead of timing")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --instructions: count this many setups at once (counts do not depend on load)")
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(counting_worker(args.worker) if args.count else worker(args.worker, args.rounds)))
        return
    if args.instructions:
        from concurrent.futures import ThreadPoolExecutor

        setups = [("floor", sys.executable), ("traceglass", sys.executable)]
        setups += [(name, python) for name, _, python in (spec.partition("=") for spec in args.peer)]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            pending = {name: pool.submit(count_setup, name, python) for name, python in setups}
        text = count_report({name: future.result() for name, future in pending.items()})
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
