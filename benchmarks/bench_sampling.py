"""Content sampling processor: per-span overhead on the application's thread and in the export path,
and memory at 10,000 open traces.

Run: python benchmarks/bench_sampling.py   (writes benchmarks/results/sampling.txt)

* app thread: ``on_end`` of a child span (buffered: an append under a lock) and of a local root (the
  decision, and the hand-over of its trace's spans), per span, downstream a no-op;
* export path: the cost of removing content from a span whose trace lost it (``strip_content``);
* memory: traced by tracemalloc while 10,000 traces of 5 ended spans each wait for their roots.

Times are CPU time of the benchmark's thread (``time.thread_time``), not wall time, so other processes
on a shared machine do not add their share directly (they still share caches, which inflates a little).
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import platform
import sys
import time
import tracemalloc

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import set_span_in_context

from traceglass._sampling import Sampling
from traceglass.processors.sampling import ContentSamplingProcessor, strip_content

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "sampling.txt"
ATTRIBUTES = {
    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300, "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text",'
    '"content":"' + "x" * 400 + '"}]}]', "gen_ai.output.messages": '[{"role":"assistant","parts":[]}]',
}


class _Nothing(SpanProcessor):
    def on_end(self, span):
        pass


def _traces(count: int, children: int) -> list[tuple[list, object]]:
    """Ended children and their ended (local root) parent, per trace: on_end is then replayed alone."""
    tracer = TracerProvider().get_tracer("bench")
    out = []
    for _ in range(count):
        root = tracer.start_span("root")
        kids = []
        for _ in range(children):
            child = tracer.start_span("chat gpt-4o", context=set_span_in_context(root), attributes=ATTRIBUTES)
            child.end()
            kids.append(child)
        root.end()
        out.append((kids, root))
    return out


def _per_span(count: int, rate: float) -> tuple[float, float]:
    traces = _traces(count, 4)
    processor = ContentSamplingProcessor(Sampling(content_rate=rate), [("sampled", _Nothing())], _timer=False)
    children = roots = 0.0
    for kids, root in traces:
        start = time.thread_time()
        for kid in kids:
            processor.on_end(kid)
        middle = time.thread_time()
        processor.on_end(root)
        children += middle - start
        roots += time.thread_time() - middle
    return children / (count * 4) * 1e6, roots / count * 1e6


def _strip(count: int) -> float:
    spans = [kid for kids, _ in _traces(count // 4, 4) for kid in kids]
    start = time.thread_time()
    for span in spans:
        strip_content(span)
    return (time.thread_time() - start) / len(spans) * 1e6


def _memory(traces: int) -> tuple[int, float]:
    data = _traces(traces, 5)
    processor = ContentSamplingProcessor(Sampling(content_rate=0.1), [("sampled", _Nothing())], _timer=False)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for kids, _ in data:
        for kid in kids:
            processor.on_end(kid)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    pending = processor.pending
    return pending[2], (after - before) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=5000, help="traces per timing run (default 5000)")
    args = parser.parse_args()
    lines = [f"python {platform.python_version()} on {platform.machine()}, {sys.platform}", ""]
    for rate in (0.1, 1.0 - 1e-9):
        child, root = _per_span(args.traces, rate)
        lines.append(f"content_rate={rate:.1f}: child span on_end {child:.2f} us, local root on_end "
                     f"(decision + 5 spans handed on) {root:.2f} us")
    lines.append(f"strip_content per span (export path, content dropped): {_strip(args.traces):.2f} us")
    estimated, traced = _memory(10_000)
    lines.append(f"10,000 open traces x 5 spans waiting: buffer's estimate {estimated / 1e6:.1f} MB, "
                 f"memory the buffer added (tracemalloc) {traced:.1f} MB (the spans themselves are the SDK's)")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
