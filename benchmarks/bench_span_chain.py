"""What ending one span costs the application's thread under ``configure()``: the span processors' share.

When an instrumented call ends its span, the SDK hands it to the processors on the calling thread.
Under ``traceglass.configure()`` defaults that is the fan-out and, since f1a62d4, the hand-off's
append: the cost processor (pricing, roll-ups, an enriched copy) and the batch processor's queue (a
byte estimate, a lock, an append) run on the ``traceglass-span-end`` thread, and the export later on
its own. (Before, all of it ran on the calling thread.) This counts that hand-over alone, in
instructions (callgrind, the calling thread only, deterministic), per span:

- ``chat`` and ``embeddings``: the span traceglass's OpenAI instrumentor makes for bench_openai.py's
  payloads (real SDK over MockTransport), so the attributes are the real ones, content included;
- ``plain``: a span with three attributes and no usage (a LangChain parser or chain step).

Setups, each counted in its own process:

- ``traceglass``: ``configure(db_path=...)``; the span goes to the provider's processors as the SDK
  hands it over (the session processor, then the fan-out and its hand-off);
- ``sdk-batch``: the SDK's ``BatchSpanProcessor`` (what openai-v2's and OpenLLMetry's default setups do
  per span on the calling thread: an append to a deque; the exporter does not enter it).

Each worker ends the same finished span ``--spans`` times in a loop (its id is not open, so the cost
processor prices it and rolls it up as a leaf every time), after a warm-up, with the cyclic GC frozen
(``gc.freeze``) so a full collection of the loaded libraries does not land in one setup's count.

    python benchmarks/bench_span_chain.py [--spans 1000]
    PYTHONPATH=/path/to/other/src python benchmarks/bench_span_chain.py --out /tmp/other.txt

Each run appends a dated section to benchmarks/results/span_chain.txt.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import platform
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness

HERE = pathlib.Path(__file__).resolve()
KINDS = ("chat", "embeddings", "plain")
SETUPS = ("traceglass", "sdk-batch")
PLAIN = {"traceglass.span.type": "chain", "langchain.run_type": "parser", "code.function": "parse"}


class _Keep(_harness.Watcher):
    """A span processor that keeps the last span the SDK hands over (as it hands it over)."""

    def __init__(self) -> None:
        self.last: Any = None

    def on_end(self, span: Any) -> None:
        self.last = span


def _span(kind: str, provider: Any, keep: _Keep) -> Any:
    """One finished span of ``kind``, made with ``provider`` (its processors are not counted here)."""
    if kind == "plain":
        with provider.get_tracer("bench").start_as_current_span("parse", attributes=PLAIN):
            pass
    else:
        import bench_openai

        bench_openai.scenarios(bench_openai.make_client())[kind]()
    return keep.last


def _worker(setup: str, kind: str, spans: int, tmp: str) -> dict[str, Any]:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import traceglass

    keep = _Keep()
    telemetry = traceglass.configure(db_path=os.path.join(tmp, "traces.db"))
    provider = telemetry.tracer_provider
    if setup == "traceglass":
        handed = tuple(provider._active_span_processor._span_processors)  # what the SDK calls at span end
        provider.add_span_processor(keep)
        span = _span(kind, provider, keep)
    else:
        provider.add_span_processor(keep)
        span = _span(kind, provider, keep)
        # The exporter does not enter on_end: a sink that drops what it is given.
        handed = (BatchSpanProcessor(_harness.Drop()),)

    def end() -> None:
        for processor in handed:
            processor.on_end(span)

    for _ in range(20):
        end()
    gc.collect()
    gc.freeze()
    requests = _harness.client_requests()
    requests.tg_start()
    _harness.counted_loop(end, spans)
    requests.tg_stop()
    return {"attributes": len(span.attributes or {})}


def _count(setup: str, kind: str, spans: int) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out, totals = _harness.callgrind(
            [sys.executable, str(HERE), "--worker", setup, "--kind", kind, "--spans", str(spans), "--tmp", tmp],
            _harness.COUNT_LOOPS, dumps=1, separate_threads=True)
    return totals[1, 1] // spans, out["attributes"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--worker")
    parser.add_argument("--kind")
    parser.add_argument("--tmp")
    parser.add_argument("--out", default=str(HERE.parent / "results" / "span_chain.txt"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.kind, args.spans, args.tmp)))
        return
    import traceglass

    rows = []
    for kind in KINDS:
        for setup in SETUPS:
            per_span, attributes = _count(setup, kind, args.spans)
            rows.append(f"  {kind:11s} {setup:11s} {per_span:>10,} {attributes:>11}")
            print(rows[-1], file=sys.stderr, flush=True)
    source = os.environ.get("PYTHONPATH") or str(pathlib.Path(traceglass.__file__).parent)
    text = "\n".join([
        (f"Ending one span under configure(), the calling thread's share (callgrind) — CPython "
         f"{platform.python_version()}, {platform.machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"),
        f"traceglass from {source}; {args.spans} ends of the same finished span per count, GC frozen",
        f"  {'kind':11s} {'setup':11s} {'per span':>10s} {'attributes':>11s}",
        *rows,
    ])
    _harness.write_result(args.out, text, append=True)


if __name__ == "__main__":
    main()
