"""Cost processor hot path: time per priced span with a warm price cache.

Run: python benchmarks/bench_cost.py   (writes benchmarks/results/cost.txt)

Measures the work the processor adds per ended span (on_start + on_end, downstream a no-op), so
the figure is ours alone, not the SDK's span creation or an exporter's.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sys
import timeit

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from traceglass._pricing import PriceBook, compute_cost
from traceglass.processors.cost import CostSpanProcessor

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "cost.txt"
TABLE = {"gpt-4o": {"input_per_1k": 0.005, "output_per_1k": 0.015, "cached_input_per_1k": 0.0025}}
NUMBER = 20_000
REPEAT = 7


class _Nothing(SpanProcessor):
    def on_start(self, span, parent_context=None):
        pass

    def on_end(self, span):
        pass


def _finished_spans(attributes: dict, count: int) -> list[ReadableSpan]:
    """Distinct ended spans (distinct ids: the counter counts a span id once)."""
    tracer = TracerProvider().get_tracer("bench")
    spans = []
    for _ in range(count):
        span = tracer.start_span("chat gpt-4o", attributes=attributes)
        span.end()
        spans.append(span)
    return spans


LLM_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "server.address": "api.openai.com",
}


def per_call_us(func) -> float:
    func()  # warm the caches
    best = min(timeit.repeat(func, number=NUMBER, repeat=REPEAT))
    return best / NUMBER * 1e6


def per_span_us(processor: SpanProcessor, spans: list[ReadableSpan]) -> float:
    """One processor live at a time, as in an application (then it is shut down)."""
    def run():
        for span in spans:
            processor.on_start(span)
            processor.on_end(span)

    run()  # warm the caches
    try:
        return min(timeit.repeat(run, number=1, repeat=REPEAT)) / len(spans) * 1e6
    finally:
        processor.shutdown()


def main() -> None:
    priced = _finished_spans(LLM_ATTRIBUTES, NUMBER)
    plain = _finished_spans({"http.request.method": "GET"}, NUMBER)
    book = PriceBook()
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    rows = [
        ("priced span, user table (on_start + on_end)", per_span_us(CostSpanProcessor(_Nothing(), prices=TABLE), priced)),
        ("priced span, genai-prices (on_start + on_end)", per_span_us(CostSpanProcessor(_Nothing()), priced)),
        ("priced span, genai-prices + SDK cost counter",
         per_span_us(CostSpanProcessor(_Nothing(), meter_provider=meter_provider), priced)),
        ("span without usage (on_start + on_end)", per_span_us(CostSpanProcessor(_Nothing()), plain)),
        ("price lookup + arithmetic only, genai-prices",
         per_call_us(lambda: compute_cost(book.lookup("openai", "gpt-4o-2024-08-06"), 1200, 300, 1000))),
    ]
    tracer = TracerProvider().get_tracer("bench")
    sdk = per_call_us(lambda: tracer.start_span("chat gpt-4o", attributes=LLM_ATTRIBUTES).end())
    rows.append(("reference: the SDK's own start + end of such a span", sdk))
    cold = timeit.timeit(lambda: PriceBook().lookup("openai", "gpt-4o-2024-08-06"), number=200) / 200 * 1e6
    rows.append(("cold lookup, genai-prices (first span of a model)", cold))
    lines = [
        "traceglass cost processor benchmark",
        (f"python {sys.version.split()[0]} on {platform.machine()} ({platform.system()}); "
         f"best of {REPEAT} runs over {NUMBER} spans/calls, microseconds per span/call"),
        (f"1-minute load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
         "(a shared machine: compare rows with the SDK reference row)"),
        "",
        *(f"{label:<55} {value:8.2f} us" for label, value in rows),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # The notes written under the table (before/after comparisons, instruction counts) stay.
    notes = RESULTS.read_text().splitlines()[len(lines):] if RESULTS.exists() else []
    RESULTS.write_text("\n".join([*lines, *notes]) + ("\n" if notes else ""))


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
