"""Evaluations (issue 15): the bridge's extraction rate and evaluate_traces with the code scorers
over 10,000 stored traces (items/s).

Run: python benchmarks/bench_evals.py   (writes benchmarks/results/evals.txt)

The store is built once at /tmp/traceglass-bench-evals.db (--rebuild to make it again) by the real
SQLite exporter: 10,000 RAG traces of 3 spans (a chain root with the function's input and output, a
retriever with 3 documents, a chat call with system + user messages, the reply, tokens and cost).
Each figure is the best of 3 runs. "evaluate" runs 4 code scorers (contains, max_latency,
length_between, regex) with concurrency 4: once without writing (scoring alone), once writing
40,000 eval scores and the stored run (what `traceglass evals run` does).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from traceglass.evals import TraceBridge, evaluate_traces
from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "evals.txt"
DB = pathlib.Path("/tmp/traceglass-bench-evals.db")
TRACES = 10_000
BASE_NS = 1_800_000_000 * 10**9
SCORERS = ["contains:refund", "max_latency:2000", "length_between:10:400", r"regex:\d+"]


def build(path: pathlib.Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        pathlib.Path(f"{path}{suffix}").unlink(missing_ok=True)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter(path), max_queue_size=20_000,
                                                   max_export_batch_size=2_000))
    tracer = provider.get_tracer("bench")
    for n in range(TRACES):
        start = BASE_NS + n * 10**9
        question = f"Where is my refund for order {n}?"
        reply = f"Your refund for order {n} was sent on day {n % 28 + 1}; it takes 3 to 5 days."
        root = tracer.start_span("answer", start_time=start, attributes={
            "traceglass.span.type": "chain", "traceglass.input": json.dumps({"question": question}),
            "traceglass.output": reply, "session.id": f"s{n % 500}", "user.id": f"u{n % 100}"})
        context = trace.set_span_in_context(root)
        retriever = tracer.start_span("search", context=context, start_time=start + 10**6, attributes={
            "traceglass.span.type": "retriever", "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": question,
            "gen_ai.retrieval.documents": json.dumps([{"content": f"Refund policy part {k}: refunds take 3-5 "
                                                                  "days after approval."} for k in range(3)])})
        retriever.end(end_time=start + 50 * 10**6)
        chat = tracer.start_span("chat gpt-4o-mini", context=context, start_time=start + 60 * 10**6, attributes={
            "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 180,
            "gen_ai.usage.output_tokens": 40, "traceglass.cost.total_usd": 0.000051,
            "gen_ai.input.messages": json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": "Answer from the policy only."}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": reply}],
                                                   "finish_reason": "stop"}])})
        chat.end(end_time=start + (60 + 400 + n % 3000) * 10**6)
        root.end(end_time=start + (500 + n % 3000) * 10**6)
    provider.shutdown()


def best(runs: int, func) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild or not DB.exists():
        began = time.perf_counter()
        build(DB)
        print(f"built {DB} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    lines = [f"traceglass evaluations benchmark ({platform.python_implementation()} {platform.python_version()}, "
             f"{platform.machine()}); {TRACES:,} stored traces of 3 spans; best of 3", ""]
    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / "evals.db"
        shutil.copy(DB, path)  # the runs write scores: the built store stays as it was
        with TraceStore(path) as store:
            bridge = TraceBridge(store)
            for answer in ("last", "root"):
                seconds, dataset = best(3, lambda: bridge.to_dataset(answer=answer))
                lines.append(f"bridge to_dataset(answer={answer!r}): {len(dataset):,} items in {seconds:.2f} s = "
                             f"{len(dataset) / seconds:,.0f} items/s")
            ids = [t.trace_id for t in store.list_traces(limit=TRACES).traces]
            seconds, _ = best(1, lambda: [store.get_trace(trace_id) for trace_id in ids])
            lines.append(f"for comparison, one get_trace per trace: {len(ids):,} traces in {seconds:.2f} s = "
                         f"{len(ids) / seconds:,.0f} traces/s")
            dataset = bridge.to_dataset()
            seconds, run = best(3, lambda: evaluate_traces(SCORERS, dataset=dataset, store=store, write_scores=False,
                                                           save=False, progress=False))
            lines.append(f"evaluate_traces, {len(SCORERS)} code scorers, no writes: {len(dataset):,} items "
                         f"({len(run.results):,} results) in {seconds:.2f} s = {len(dataset) / seconds:,.0f} items/s")
            seconds, run = best(3, lambda: evaluate_traces(SCORERS, store=store, progress=False))
            lines.append(f"evaluate_traces from the store (extract, score, write {len(run.results):,} scores, store "
                         f"the run): {seconds:.2f} s = {len(run.items) / seconds:,.0f} items/s")
    lines.append(f"(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
