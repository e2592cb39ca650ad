"""Cost per LangChain run: uninstrumented, traceglass, and OpenInference's / OpenLLMetry's instrumentors.

Rows: LangChain before traceglass is imported; the same after our hooks are installed but with
no handler (the cost of an idle install); traceglass recording with content capture on and off.

Workload: ``ChatPromptTemplate | FakeListChatModel | StrOutputParser`` invoked once per run (four
LangChain runs, so four spans when traced). Each scenario records spans through an SDK
``TracerProvider`` with a ``SimpleSpanProcessor`` into an exporter that discards them, so the
numbers are the instrumentation's own cost. Rounds are interleaved and medians reported (these
machines are noisy).

The peers are measured in their own virtualenvs (their pins must not touch ours), by running this
same file as a worker with that venv's Python; each worker also measures its own uninstrumented
baseline (all its baseline rounds first, then its instrumented rounds), and the overhead is
reported against it. Create them with, for example:

    python -m venv /tmp/bench-oi && /tmp/bench-oi/bin/pip install langchain-core==<ours> \\
        openinference-instrumentation-langchain opentelemetry-sdk
    python -m venv /tmp/bench-ollm && /tmp/bench-ollm/bin/pip install langchain-core==<ours> \\
        opentelemetry-instrumentation-langchain opentelemetry-sdk

Run: python benchmarks/bench_langchain.py [--rounds 7] [--runs 300]
     [--peer openinference=/tmp/bench-oi/bin/python] [--peer openllmetry=/tmp/bench-ollm/bin/python]
Writes benchmarks/results/langchain.txt.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

DEFAULT_PEERS = {"openinference": "/tmp/bench-oi/bin/python", "openllmetry": "/tmp/bench-ollm/bin/python"}


def _provider() -> tuple[Any, list[int]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    counter = [0]

    class Discard(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            counter[0] += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Discard()))
    return provider, counter


def _chain() -> Any:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", "Answer in one word."), ("human", "{question}")])
    return prompt | FakeListChatModel(responses=["Paris"]) | StrOutputParser()


def _time(chain: Any, runs: int) -> float:
    question = {"question": "What is the capital of France?"}
    start = time.process_time()
    for _ in range(runs):
        chain.invoke(question)
    return (time.process_time() - start) / runs * 1e6


def _measure(scenarios: dict[str, tuple[Callable[[], None], Callable[[], None]]], rounds: int, runs: int,
             counter: list[int]) -> dict[str, dict[str, float]]:
    """Interleaved rounds: each round runs every scenario once (turn on, time, turn off)."""
    chain = _chain()
    samples: dict[str, list[float]] = {name: [] for name in scenarios}
    spans: dict[str, int] = {name: 0 for name in scenarios}
    for on, off in scenarios.values():  # warm-up, one short pass each
        on()
        _time(chain, 20)
        off()
    for _ in range(rounds):
        for name, (on, off) in scenarios.items():
            on()
            before = counter[0]
            samples[name].append(_time(chain, runs))
            spans[name] = (counter[0] - before) // runs
            off()
    return {name: {"us": statistics.median(v), "spans": spans[name]} for name, v in samples.items()}


def _nothing() -> None:
    pass


# --- peers, each in its own venv (run as: python bench_langchain.py --worker openinference) ---------
def _worker(peer: str, rounds: int, runs: int) -> None:
    import warnings

    warnings.simplefilter("ignore")  # a peer's per-call deprecation warnings must not flood the output
    provider, counter = _provider()
    if peer == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor as Peer
    elif peer == "openllmetry":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor as Peer
    else:
        raise SystemExit(f"unknown peer {peer}")

    # Not every peer's uninstrument() removes its callback handler from new managers, so a peer's
    # baseline rounds all run before it is instrumented, once, for its rounds.
    baseline = _measure({"uninstrumented": (_nothing, _nothing)}, rounds, runs, counter)
    Peer().instrument(tracer_provider=provider)
    results = {**baseline, **_measure({peer: (_nothing, _nothing)}, rounds, runs, counter)}
    from importlib.metadata import version

    dist = {"openinference": "openinference-instrumentation-langchain",
            "openllmetry": "opentelemetry-instrumentation-langchain"}[peer]
    results["_version"] = {"version": version(dist)}  # type: ignore[dict-item]
    print(json.dumps(results))


def _run_peer(name: str, python: str, rounds: int, runs: int) -> dict[str, Any] | None:
    if not pathlib.Path(python).exists():
        return None
    proc = subprocess.run([python, __file__, "--worker", name, "--rounds", str(rounds), "--runs", str(runs)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(f"{name}: worker failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--worker")
    parser.add_argument("--peer", action="append", default=[], help="name=/path/to/python")
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.rounds, args.runs)
        return

    from importlib.metadata import version

    # Before anything of ours is loaded: LangChain with no traceglass hook installed at all.
    pristine_provider, pristine_counter = _provider()
    pristine = _measure({"uninstrumented, no traceglass loaded": (_nothing, _nothing)}, args.rounds, args.runs,
                        pristine_counter)

    from traceglass import _config, _runtime
    from traceglass.instrumentors.langchain import LangChainInstrumentor

    provider, counter = _provider()
    previous = _runtime.peek()
    instrumentor = LangChainInstrumentor()

    def ours(capture_content: bool) -> tuple[Callable[[], None], Callable[[], None]]:
        settings = _config.Settings.from_env({}, capture_content=capture_content)
        runtime = _runtime.Runtime.build(settings, provider)  # its handler, bound to these settings

        def on() -> None:
            _runtime.install(runtime)
            instrumentor.instrument()

        def off() -> None:
            instrumentor.uninstrument()
            _runtime.install(previous)

        return on, off

    results = _measure({
        "uninstrumented, hooks installed": (_nothing, _nothing),
        "traceglass, content on": ours(True),
        "traceglass, content off": ours(False),
    }, args.rounds, args.runs, counter)
    base = results["uninstrumented, hooks installed"]["us"]
    results = {**pristine, **results}

    lines = [
        f"LangChain run cost: prompt | FakeListChatModel | StrOutputParser, one invoke per run — "
        f"CPython {platform.python_version()}, langchain-core {version('langchain-core')}, "
        f"{args.rounds} interleaved rounds x {args.runs} runs, medians of CPU time per run",
        "overhead is against 'uninstrumented, hooks installed' (measured in the same interleaved rounds);",
        "the first row ran before traceglass was imported (its difference is the idle hooks' cost plus noise)",
        f"{'scenario':<44}{'µs/run':>10}{'overhead µs':>13}{'spans/run':>11}",
    ]
    for name, row in results.items():
        lines.append(f"{name:<44}{row['us']:>10.1f}{row['us'] - base:>13.1f}{row['spans']:>11}")

    peers = dict(DEFAULT_PEERS)
    peers.update(dict(p.split("=", 1) for p in args.peer))
    for name, python in peers.items():
        peer = _run_peer(name, python, args.rounds, args.runs)
        if peer is None:
            lines.append(f"{name:<44}{'(not measured: no venv at ' + python + ')':>34}")
            continue
        peer_base = peer["uninstrumented"]["us"]
        row = peer[name]
        label = f"{name} {peer['_version']['version']} (own venv)"
        lines.append(f"{label:<44}{row['us']:>10.1f}{row['us'] - peer_base:>13.1f}{row['spans']:>11}")
        lines.append(f"{'  its venv, uninstrumented':<44}{peer_base:>10.1f}{0.0:>13.1f}{0:>11}")

    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = pathlib.Path(__file__).parent / "results" / "langchain.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
