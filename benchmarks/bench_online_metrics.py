"""The app thread's cost of online metrics per call: @observe with and without metrics=[...].

The metrics themselves run on the worker thread; what the app pays is keeping the call's
arguments and one append to the queue. Interleaved rounds in one process, medians reported;
between rounds the worker drains the queue (so no round measures the cheaper drop path).
Run: python benchmarks/bench_online_metrics.py [--rounds 15] [--calls 5000]
Writes benchmarks/results/online_metrics.txt.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import statistics
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from traceglass import _config, _runtime, decorators
from traceglass.decorators import observe
from traceglass.evals import ScoreResult, configure_online_metrics, flush_online_metrics, online_metrics_stats
from traceglass.evals import register


class _Discard(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


def answer(question: str, top_k: int = 3) -> str:
    return '{"answer": "Paris"}'


plain = observe(type="llm")(answer)
one_metric = observe(type="llm", metrics=["json_valid"])(answer)
three_metrics = observe(type="llm", metrics=["json_valid", "contains:Paris", "length_between:1:100"])(answer)


class _Hold:
    """A metric that holds the worker until released: the calls timed meanwhile only enqueue."""

    name = "hold"

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def score(self, item):
        self.started.set()
        self.release.wait(120)
        return ScoreResult(True)


def _time_held(func, calls: int) -> tuple[float, float]:
    hold = _Hold()
    register("hold", hold)
    observe(metrics=["hold"])(answer)("hold the worker")
    hold.started.wait(60)
    try:
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in range(calls):
            func("what is the capital of France?", top_k=3)
        return (time.perf_counter() - start) / calls * 1e6, (time.thread_time() - cpu) / calls * 1e6
    finally:
        hold.release.set()
        flush_online_metrics(60.0)


def _time_no_listener(func, calls: int) -> tuple[float, float]:
    previous = decorators.set_online_metrics_listener(lambda *job: None)
    try:
        return _time(func, calls)
    finally:
        decorators.set_online_metrics_listener(previous)


def _time(func, calls: int) -> tuple[float, float]:
    """(wall µs per call, the app thread's own CPU µs per call)."""
    start, cpu = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        func("what is the capital of France?", top_k=3)
    elapsed = ((time.perf_counter() - start) / calls * 1e6, (time.thread_time() - cpu) / calls * 1e6)
    flush_online_metrics(60.0)  # drained before the next round, outside the timing
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Discard()))
    _runtime.install(_runtime.Runtime.build(_config.Settings.from_env({}, capture_content=False), provider))
    configure_online_metrics(max_queue=args.calls + 2)  # never full: every call pays the enqueue

    scenarios = {
        "@observe, no metrics": lambda: _time(plain, args.calls),
        "@observe, metrics=[json_valid]": lambda: _time(one_metric, args.calls),
        "@observe, 3 code metrics": lambda: _time(three_metrics, args.calls),
        "metrics=[json_valid], worker held": lambda: _time_held(one_metric, args.calls),
        "metrics=[json_valid], no-op listener": lambda: _time_no_listener(one_metric, args.calls),
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in scenarios}
    for _ in range(args.rounds):
        for name, run in scenarios.items():
            samples[name].append(run())
    base_wall = statistics.median(w for w, _ in samples["@observe, no metrics"])
    base_cpu = statistics.median(c for _, c in samples["@observe, no metrics"])
    stats = online_metrics_stats()
    lines = [
        f"traceglass online metrics, app-thread cost — {platform.python_implementation()} "
        f"{platform.python_version()}, {args.rounds} interleaved rounds x {args.calls} calls, medians "
        "(SDK provider, content off, spans to a discarding exporter)",
        "wall: time per call as the app sees it, including waiting for the GIL while the worker scores;",
        "app CPU: the app thread's own CPU time per call; 'worker held': the worker is busy elsewhere while",
        "the calls are timed, so they pay the enqueue alone (no GIL contention with the scoring); 'no-op",
        "listener': the span's traceglass.metrics attribute and the hand-over, without the queue",
        f"{'scenario':34} {'wall µs':>8} {'+wall µs':>9} {'app CPU µs':>11} {'+CPU µs':>8}",
    ]
    for name, values in samples.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        lines.append(f"{name:34} {wall:8.2f} {wall - base_wall:9.2f} {cpu:11.2f} {cpu - base_cpu:8.2f}")
    lines.append(f"calls queued {stats.queued}, scored {stats.processed}, dropped {stats.dropped}, "
                 f"failed scorer runs {stats.failed}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = pathlib.Path(__file__).parent / "results" / "online_metrics.txt"
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
