"""The shared harness of the agent-framework benchmarks (bench_openai_agents.py, bench_llamaindex.py).

Same shape as bench_langchain.py: every setup (traceglass and each peer) runs in its own process, the
peers with their own virtualenv's Python (their pins must not touch ours); each process measures the
framework uninstrumented first (all its baseline rounds), then instruments it once and measures its
instrumented rounds, so each overhead is against its own process's baseline. Spans go through an SDK
``TracerProvider`` with a ``SimpleSpanProcessor`` into an exporter that discards them, so the figures
are the instrumentation's own cost.

Two measures: CPU time per run (``time.process_time``, medians of the rounds), and instructions per
run under valgrind's callgrind (``--instructions``): one bare loop and one instrumented loop, each
inside its own ``functools.reduce`` (what callgrind is told to count), so the count is free of the
machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Bench:
    """What a benchmark file gives the harness."""

    title: str  # the results file's first line, before the versions
    out_name: str  # benchmarks/results/<out_name>
    make_run: Callable[[], Callable[[], None]]  # prepares the workload; returns one run
    instrument: Callable[[str, Any], None]  # (setup, tracer provider): turn that setup's instrumentation on
    versions: Callable[[str], dict[str, str]]  # setup -> {distribution: version} to report
    ours: tuple[str, ...]  # setups measured with this interpreter
    peers: dict[str, str]  # setup -> default Python of its virtualenv
    peer_notes: dict[str, str]  # setup -> why it is not measured (did not install), written instead
    notes: tuple[str, ...] = ()  # extra lines for the results file


def provider() -> tuple[Any, list[int]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    counter = [0]

    class Discard(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            counter[0] += len(spans)
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    return tracer_provider, counter


def _time(run: Callable[[], None], runs: int) -> float:
    start = time.process_time()
    for _ in range(runs):
        run()
    return (time.process_time() - start) / runs * 1e6


def _worker(bench: Bench, setup: str, rounds: int, runs: int, count: bool) -> None:
    import functools
    import warnings

    warnings.simplefilter("ignore")  # a peer's per-call deprecation warnings must not flood the output
    tracer_provider, counter = provider()
    run = bench.make_run()
    for _ in range(5):
        run()
    if count:
        functools.reduce(lambda _, __: run(), range(runs), None)
    else:
        bare = [_time(run, runs) for _ in range(rounds)]
    bench.instrument(setup, tracer_provider)
    for _ in range(5):  # warm: first-call costs (imports, caches) stay out of the figures
        run()
    before = counter[0]
    run()
    spans = counter[0] - before
    if count:
        functools.reduce(lambda _, __: run(), range(runs), None)
        print(json.dumps({"spans": spans, "runs": runs, "versions": bench.versions(setup)}))
        return
    traced = [_time(run, runs) for _ in range(rounds)]
    print(json.dumps({"bare": statistics.median(bare), "traced": statistics.median(traced), "spans": spans,
                      "bare_iqr": _iqr(bare), "traced_iqr": _iqr(traced), "versions": bench.versions(setup)}))


def _iqr(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


def _call(script: str, python: str, setup: str, rounds: int, runs: int, count: bool) -> dict[str, Any]:
    args = [python, script, "--worker", setup, "--rounds", str(rounds), "--runs", str(runs)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if not count:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "callgrind.out"
        done = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce",
                               "--dump-after=functools_reduce", f"--callgrind-out-file={out}", *args, "--count"],
                              capture_output=True, text=True, timeout=7200, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        report = json.loads(done.stdout.strip().splitlines()[-1])
        totals = []
        for i in (1, 2):
            text = (pathlib.Path(tmp) / f"callgrind.out.{i}").read_text()
            totals.append(int(next(line for line in text.splitlines() if line.startswith("totals:")).split()[1]))
    report["bare"], report["traced"] = totals[0] / runs, totals[1] / runs
    return report


def main(bench: Bench, script: str) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--count-runs", type=int, default=10, help="runs per loop under callgrind")
    parser.add_argument("--worker")
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peer", action="append", default=[], help="setup=/path/to/python")
    parser.add_argument("--no-instructions", action="store_true", help="time only (no callgrind)")
    parser.add_argument("--why-no-instructions", default="--no-instructions", help="said in the results file")
    args = parser.parse_args()
    if args.worker:
        _worker(bench, args.worker, args.rounds, args.runs, args.count)
        return

    peers = dict(bench.peers)
    peers.update(dict(p.split("=", 1) for p in args.peer))
    setups = {name: sys.executable for name in bench.ours}
    setups.update(peers)
    timed: dict[str, dict[str, Any] | str] = {}
    counted: dict[str, dict[str, Any] | str] = {}
    for name, why in bench.peer_notes.items():  # peers that would not install: said in the file
        if name not in setups:
            timed[name] = counted[name] = f"not measured: {why}"
    for name, python in setups.items():
        if not pathlib.Path(python).exists():
            why = bench.peer_notes.get(name) or f"no virtualenv at {python}"
            timed[name] = counted[name] = f"not measured: {why}"
            continue
        try:
            timed[name] = _call(script, python, name, args.rounds, args.runs, False)
            if not args.no_instructions:
                counted[name] = _call(script, python, name, 1, args.count_runs, True)
        except RuntimeError as failure:
            print(f"{name}: worker failed:\n{failure}", file=sys.stderr)
            timed.setdefault(name, "not measured: its worker failed (see the run's stderr)")
            counted.setdefault(name, "not measured: its worker failed")

    lines = [f"{bench.title} — CPython {platform.python_version()}",
             f"time: {args.rounds} rounds x {args.runs} runs per setup, medians of CPU time per run; each setup in "
             "its own process, overhead against that process's uninstrumented rounds (run first)",
             *bench.notes, "",
             f"{'setup':<30}{'bare µs':>10}{'traced µs':>11}{'overhead µs':>13}{'IQR traced':>16}{'spans/run':>11}"]
    for name, row in timed.items():
        if isinstance(row, str):
            lines.append(f"{name:<30}{row}")
            continue
        low, high = row["traced_iqr"]
        lines.append(f"{name:<30}{row['bare']:>10.1f}{row['traced']:>11.1f}{row['traced'] - row['bare']:>13.1f}"
                     f"{f'{low:.0f}..{high:.0f}':>16}{row['spans']:>11}")
        lines.append(f"{'':<30}({', '.join(f'{k} {v}' for k, v in row['versions'].items())})")
    if args.no_instructions:
        lines += ["", f"instructions (callgrind): not measured in this run ({args.why_no_instructions})"]
    elif counted:
        ours = counted.get(bench.ours[0])
        base = ours["traced"] - ours["bare"] if isinstance(ours, dict) else None
        lines += ["", f"instructions per run (callgrind, {args.count_runs} runs per loop; noise-free); "
                      f"x ours: the overhead over {bench.ours[0]}'s",
                  f"{'setup':<30}{'bare':>14}{'traced':>14}{'overhead':>14}{'x ours':>9}{'spans/run':>11}"]
        for name, row in counted.items():
            if isinstance(row, str):
                lines.append(f"{name:<30}{row}")
                continue
            overhead = row["traced"] - row["bare"]
            ratio = f"{overhead / base:.2f}" if base else ""
            lines.append(f"{name:<30}{row['bare']:>14,.0f}{row['traced']:>14,.0f}{overhead:>14,.0f}{ratio:>9}"
                         f"{row['spans']:>11}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = pathlib.Path(script).parent / "results" / bench.out_name
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
