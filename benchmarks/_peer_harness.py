"""The shared harness of the agent-framework benchmarks (bench_openai_agents.py, bench_llamaindex.py).

Same shape as bench_langchain.py: every setup (traceglass and each peer) runs in its own process, the
peers with their own virtualenv's Python (their pins must not touch ours); each process measures the
framework uninstrumented first (all its baseline rounds), then instruments it once and measures its
instrumented rounds, so each overhead is against its own process's baseline. Spans go through an SDK
``TracerProvider`` with a ``SimpleSpanProcessor`` into an exporter that discards them, so the figures
are the instrumentation's own cost.

Two measures: CPU time per run (``time.process_time``, medians of the rounds), and instructions per
run under valgrind's callgrind (``--instructions``): one bare loop and one instrumented loop, each
inside its own ``operator.call`` (what callgrind is told to count), so the count is free of the
machine's load. Timing, callgrind and the results file are ``_harness.py``'s.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness


class Peer(NamedTuple):
    """A peer setup: its distribution (its version is reported), the default Python of its virtualenv (None
    where it would not install: ``note`` says why, in the results file), and the (module, class) of its
    instrumentor when ``instrument(tracer_provider=...)`` is all it takes (else the file's ``instrument``)."""

    dist: str
    python: str | None = None
    instrumentor: tuple[str, str] | None = None
    note: str = ""


@dataclass
class Bench:
    """What a benchmark file gives the harness."""

    title: str  # the results file's first line, before the versions
    out_name: str  # benchmarks/results/<out_name>
    make_run: Callable[[], Callable[[], None]]  # prepares the workload; returns one run
    # (setup, tracer provider): turn that setup's instrumentation on (ours: traceglass's runtime is installed;
    # a setup named "..., content off" has content capture off)
    instrument: Callable[[str, Any], None]
    dists: tuple[str, ...]  # the distributions whose versions every setup reports
    ours: tuple[str, ...]  # setups measured with this interpreter
    peers: dict[str, Peer]  # the peer setups
    notes: tuple[str, ...] = ()  # extra lines for the results file

    def versions(self, setup: str) -> dict[str, str]:
        peer = self.peers.get(setup)
        return _harness.versions(*self.dists, peer.dist if peer else "traceglass")


def install_traceglass(tracer_provider: Any, *, capture_content: bool) -> None:
    """traceglass's runtime bound to this provider (what configure() would install, without its exporters)."""
    from traceglass import _config, _runtime

    settings = _config.Settings.from_env({}, capture_content=capture_content)
    _runtime.install(_runtime.Runtime.build(settings, tracer_provider))


def instrument_peer(module: str, name: str, tracer_provider: Any) -> None:
    """A peer's instrumentor (``module.name``) turned on with this provider, the way all of them take it."""
    import importlib

    getattr(importlib.import_module(module), name)().instrument(tracer_provider=tracer_provider)


def _worker(bench: Bench, setup: str, rounds: int, runs: int, count: bool) -> None:
    import warnings

    warnings.simplefilter("ignore")  # a peer's per-call deprecation warnings must not flood the output
    tracer_provider, drop = _harness.tracer_provider(set_global=False)
    run = bench.make_run()
    for _ in range(5):
        run()
    if count:
        _harness.client_requests().tg_start()  # see _harness.COUNT_LOOPS
        _harness.counted_loop(run, runs)
    else:
        bare = [_harness.block(run, runs, time.process_time) for _ in range(rounds)]
    peer = bench.peers.get(setup)
    if peer and peer.instrumentor:
        instrument_peer(*peer.instrumentor, tracer_provider)
    else:
        if setup in bench.ours:  # our runtime first, bound to this provider; the file turns instrumentors on
            install_traceglass(tracer_provider, capture_content="content off" not in setup)
        bench.instrument(setup, tracer_provider)
    for _ in range(5):  # warm: first-call costs (imports, caches) stay out of the figures
        run()
    before = drop.spans
    run()
    spans = drop.spans - before
    if count:
        _harness.counted_loop(run, runs)
        print(json.dumps({"spans": spans, "runs": runs, "versions": bench.versions(setup)}))
        return
    traced = [_harness.block(run, runs, time.process_time) for _ in range(rounds)]
    print(json.dumps({"bare": statistics.median(bare), "traced": statistics.median(traced), "spans": spans,
                      "bare_iqr": _harness.iqr(bare), "traced_iqr": _harness.iqr(traced),
                      "versions": bench.versions(setup)}))


def _call(script: str, python: str, setup: str, rounds: int, runs: int, count: bool) -> dict[str, Any]:
    args = ["--worker", setup, "--rounds", str(rounds), "--runs", str(runs)]
    if not count:
        return _harness.run_worker(python, script, args)
    report, totals = _harness.callgrind([python, script, *args, "--count"], _harness.COUNT_LOOPS, dumps=2,
                                        timeout=7200)
    report["bare"], report["traced"] = totals[1, 1] / runs, totals[2, 1] / runs
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
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(script).parent / "results" / bench.out_name,
                        help="the results file (default: benchmarks/results/<name>.txt)")
    args = parser.parse_args()
    if args.worker:
        _worker(bench, args.worker, args.rounds, args.runs, args.count)
        return

    started = _harness.load()
    peers = {name: peer.python for name, peer in bench.peers.items() if peer.python}
    notes = {name: peer.note for name, peer in bench.peers.items() if peer.note}
    peers.update(dict(p.split("=", 1) for p in args.peer))
    setups = {name: sys.executable for name in bench.ours}
    setups.update(peers)
    timed: dict[str, dict[str, Any] | str] = {}
    counted: dict[str, dict[str, Any] | str] = {}
    for name, why in notes.items():  # peers that would not install: said in the file
        if name not in setups:
            timed[name] = counted[name] = f"not measured: {why}"
    for name, python in setups.items():
        if not pathlib.Path(python).exists():
            why = notes.get(name) or f"no virtualenv at {python}"
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

    lines = [f"{bench.title} — CPython {platform.python_version()}", _harness.header(started),
             (f"time: {args.rounds} rounds x {args.runs} runs per setup, medians of CPU time per run; each setup in "
              "its own process, overhead against that process's uninstrumented rounds (run first)"),
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
        lines += ["", (f"instructions per run (callgrind, {args.count_runs} runs per loop; noise-free); "
                       f"x ours: the overhead over {bench.ours[0]}'s"),
                  f"{'setup':<30}{'bare':>14}{'traced':>14}{'overhead':>14}{'x ours':>9}{'spans/run':>11}"]
        for name, row in counted.items():
            if isinstance(row, str):
                lines.append(f"{name:<30}{row}")
                continue
            overhead = row["traced"] - row["bare"]
            ratio = f"{overhead / base:.2f}" if base else ""
            lines.append(f"{name:<30}{row['bare']:>14,.0f}{row['traced']:>14,.0f}{overhead:>14,.0f}{ratio:>9}"
                         f"{row['spans']:>11}")
    _harness.write_result(args.out, "\n".join(lines))
