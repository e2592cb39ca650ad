"""Overhead of @observe per call: bare function, the no-op path, and recording spans.

Interleaved rounds in one process, medians reported (these machines are noisy).
Run: python benchmarks/bench_decorators.py [--rounds 15] [--calls 20000]
Writes benchmarks/results/decorators.txt.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import statistics
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider

from traceglass import _config, _runtime
from traceglass.decorators import observe


class _Discard(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


def tool(query: str, top_k: int = 3) -> list[str]:
    return [query] * top_k


traced_tool = observe(type="tool")(tool)


def _time(func, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        func("what is the capital of France?", top_k=3)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Discard()))
    content_on = _config.Settings.from_env({})
    content_off = _config.Settings.from_env({}, capture_content=False)

    def scenario(tracer_provider, settings):
        runtime = _runtime.Runtime.build(settings, tracer_provider)  # its handler, bound to these settings

        def run():
            _runtime.install(runtime)
            return _time(traced_tool, args.calls)
        return run

    scenarios = {
        "bare function": lambda: _time(tool, args.calls),
        "@observe, no SDK provider (no-op)": scenario(NoOpTracerProvider(), content_on),
        "@observe, SDK provider, content off": scenario(provider, content_off),
        "@observe, SDK provider, content on": scenario(provider, content_on),
    }
    samples: dict[str, list[float]] = {name: [] for name in scenarios}
    for _ in range(args.rounds):
        for name, run in scenarios.items():
            samples[name].append(run())
    bare = statistics.median(samples["bare function"])
    lines = [
        f"traceglass decorator overhead — {platform.python_implementation()} {platform.python_version()}, "
        f"{args.rounds} interleaved rounds x {args.calls} calls, medians",
        f"{'scenario':40} {'µs/call':>9} {'overhead µs':>12}",
    ]
    for name, values in samples.items():
        median = statistics.median(values)
        lines.append(f"{name:40} {median:9.2f} {median - bare:12.2f}")
    text = "\n".join(lines)
    print(text)
    out = pathlib.Path(__file__).parent / "results" / "decorators.txt"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
