"""The benchmarks' shared harness: spans that go nowhere, timing, callgrind, result files.

Every benchmark runs each setup (traceglass, a peer in its own virtualenv, a baseline) in a process of
its own and reads back one JSON line from it. This module holds what they all do alike:

- ``tracer_provider``: an SDK provider whose ``SimpleSpanProcessor`` hands spans to ``Drop``, an
  exporter that counts and discards them, so export costs the same in every setup;
- ``block`` / ``iqr``: CPU time per call over a block of calls (the thread's, or the process's), and
  the middle half of a list of figures;
- ``callgrind``: run a command under valgrind's callgrind and return the instructions of each dump
  (per thread with ``separate_threads``), checking the dumps are the ones the worker announced;
  ``counted_loop`` is the loop ``COUNT_LOOPS`` tells callgrind to count (one ``operator.call``,
  collected alone and dumped after);
- ``run_worker``, ``versions``, ``header`` and ``write_result``: one worker's JSON, distribution
  versions, and a results file that says when it ran and under what load.

Below them, the engine of the SDK benchmarks (bench_openai.py, bench_anthropic.py, bench_litellm.py):
a file describes its SDK in an ``SdkBench`` and hands it to ``main``, which measures the floor, the
interleaved rounds and the instruction counts and writes the tables. The frameworks' engine (a
baseline first, then instrumented rounds) is ``_peer_harness.py``, on the same primitives.
"""

from __future__ import annotations

import json
import operator
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


# --- spans that go nowhere -------------------------------------------------------------------------------
class Watcher:
    """A span processor that does nothing; a subclass's ``on_end`` watches the spans the SDK hands over."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class Drop:
    """A span exporter that counts and drops everything (duck-typed: works with any SDK version)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def tracer_provider(*, set_global: bool = True, hand_off: bool = False) -> tuple[Any, Drop]:
    """A provider exporting synchronously into a ``Drop`` (also the global provider unless told not);
    ``hand_off``: behind a ``HandOffSpanProcessor``, the provider's one processor (as ``configure()`` sets up)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    drop = Drop()
    provider = TracerProvider()
    export = SimpleSpanProcessor(drop)
    if hand_off:
        from traceglass.processors._hand_off import HandOffSpanProcessor

        export = HandOffSpanProcessor([export])
    provider.add_span_processor(export)
    if set_global:
        trace.set_tracer_provider(provider)
    return provider, drop


# --- timing ----------------------------------------------------------------------------------------------
def block(call: Callable[[], Any], n: int, clock: Callable[[], float] = time.thread_time) -> float:
    """µs of CPU per call over ``n`` calls. The thread's CPU by default: on a shared machine, other
    processes' load does not count against us (everything runs in-process: no I/O waits to miss)."""
    start = clock()
    for _ in range(n):
        call()
    return (clock() - start) / n * 1e6


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles (the one value twice, for one value)."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


# --- callgrind --------------------------------------------------------------------------------------------
# What callgrind counts in a worker that marks its loops with ``counted_loop``: only the inside of
# operator.call (--toggle-collect, so other threads and the rest of the process are not counted), one
# dump after each loop. operator.call (3.11) because no library here calls it: functools.reduce, the
# marker before, is called by LlamaIndex's and others' code (24 dumps for 2 loops), which would have
# shifted every figure onto the wrong loop.
# --instr-atstart=no: the imports and the setup run uninstrumented (several times faster); the worker
# switches instrumentation on (client_requests().tg_start()) before its first counted loop.
COUNT_LOOPS = ("--toggle-collect=_operator_call", "--dump-after=_operator_call", "--instr-atstart=no")


def counted_loop(call: Callable[[], Any], n: int) -> None:
    """Call ``call`` n times inside one ``operator.call``: the loop ``COUNT_LOOPS`` counts."""

    def loop() -> None:
        for _ in range(n):
            call()

    operator.call(loop)


_CLIENT_REQUESTS = r"""
#include <valgrind/callgrind.h>
void tg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void tg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void tg_dump(void) { CALLGRIND_DUMP_STATS; }
"""


def client_requests() -> Any:
    """Callgrind's client requests for a worker, through ctypes: ``tg_start()`` / ``tg_stop()`` switch
    instrumentation on and off (with ``--instr-atstart=no`` the imports run uninstrumented, several times
    faster), ``tg_dump()`` dumps every thread's counts since the last dump (one file per thread with
    ``separate_threads``). A tiny C library, built with gcc on first use; outside valgrind they do nothing."""
    import ctypes

    path = Path(tempfile.gettempdir()) / f"tg_callgrind_requests_{os.getuid()}.so"
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "requests.c"
            source.write_text(_CLIENT_REQUESTS)
            subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(Path(tmp) / "r.so"), str(source)],
                           check=True)
            os.replace(Path(tmp) / "r.so", path)  # atomic: a worker never loads half a file
    return ctypes.CDLL(str(path))


_DUMP = re.compile(r"callgrind\.out\.(\d+)(?:-(\d+))?$")


def callgrind(command: Sequence[str], options: Sequence[str], *, dumps: int | None = None,
              separate_threads: bool = False, env: dict[str, str] | None = None,
              timeout: float = 3600) -> tuple[dict[str, Any], dict[tuple[int, int], int]]:
    """Run ``command`` under callgrind with ``options``; return the worker's JSON (its last line of
    output) and the instructions of each numbered dump, keyed (dump, thread) (thread 1 unless
    ``separate_threads``; callgrind numbers the main thread 1). A function-triggered dump of a
    separate-threads run writes the dumping thread only; the others' counts come in the final dump,
    which is not numbered and not returned. ``dumps``: how many numbered dumps the run must make (a
    library calling the marker function would add some: then the figures would be wrong, so raise)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        threads = ["--separate-threads=yes"] if separate_threads else []
        done = subprocess.run(["valgrind", "--tool=callgrind", *threads, *options, f"--callgrind-out-file={out}",
                               *command], check=False, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[-3:])} failed under callgrind:\n{done.stderr[-3000:]}")
        totals: dict[tuple[int, int], int] = {}
        for path in Path(tmp).iterdir():
            match = _DUMP.match(path.name)
            if match:
                line = next(x for x in path.read_text().splitlines() if x.startswith("totals:"))
                totals[int(match[1]), int(match[2] or 1)] = int(line.split()[1])
    found = len({dump for dump, _ in totals})
    if dumps is not None and found != dumps:
        raise RuntimeError(f"{found} callgrind dumps where the worker made {dumps}: something else called the marker")
    return json.loads(done.stdout.strip().splitlines()[-1]), totals


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (bound once and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- workers and results --------------------------------------------------------------------------------
def run_worker(python: str, script: str | Path, args: Sequence[str], *, timeout: float = 3600,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``script`` as a worker with ``python``; return its last line of output, parsed."""
    done = subprocess.run([python, str(script), *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def versions(*dists: str) -> dict[str, str]:
    """Installed versions of these distributions ('?' for one not installed)."""
    out = {}
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "?"
    return out


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) another, running process has used so far (Linux /proc); 0 for none."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


def header(started_load: float) -> str:
    """The line that dates a results file and gives the machine's load at the start and the end of the run."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"run {now}; load average (1 min) at start {started_load:.2f}, at end {load():.2f}; {os.cpu_count()} cores"


def write_result(path: str | Path, text: str, *, append: bool = False) -> None:
    """Print ``text`` and write it to ``path`` (after what is there, with ``append``)."""
    text = text if text.endswith("\n") else text + "\n"
    print(text, end="")
    path = Path(path)
    path.parent.mkdir(exist_ok=True)
    if append and path.exists():
        text = path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + text
    path.write_text(text, encoding="utf-8")


# --- the SDK benchmarks' engine --------------------------------------------------------------------------
@dataclass(frozen=True)
class SdkBench:
    """What an SDK benchmark file tells the engine (see bench_openai.py's docstring for the method)."""

    title: str  # "OpenAI instrumentation overhead": the tables' first words
    sdk: str  # the distribution whose version is reported
    script: Path  # the benchmark file, run again as each setup's worker
    scenarios: tuple[str, ...]  # without the "/isolated" variants
    calls: dict[str, int]  # calls per timed block, per scenario and "floor"; x4 when isolated
    counted: dict[str, int]  # calls per loop under callgrind; x2 when isolated
    make_calls: Callable[[str], dict[str, Callable[[], Any]]]  # "transport" / "isolated" -> scenario -> call
    instrumentor: Callable[[str, Any], Callable[[], None]]  # (setup, provider) -> its instrument(), content on
    patched: Callable[[], list[Any]]  # the classes (or modules) whose attributes instrumentors replace
    ours: Callable[[], Any]  # a new traceglass instrumentor (its spans' shapes make the in-situ floor)
    floor_span: str  # the tight-loop floor span's name
    isolated: bool = True  # whether make_calls("isolated") exists
    no_isolated: dict[str, str] = field(default_factory=dict)  # setup -> why it has no isolated figure
    subtitle: tuple[str, ...] = ()  # lines under the tables' titles
    peers: str = ""  # the peer setups' names, for --help

    @property
    def names(self) -> tuple[str, ...]:
        return self.scenarios + (tuple(f"{s}/isolated" for s in self.scenarios) if self.isolated else ())

    def per_block(self, name: str, table: dict[str, int], factor: int) -> int:
        return table[name.split("/")[0]] * (factor if "/" in name else 1)


def classes(found: list[Any], table: Sequence[tuple[str, Sequence[str]]]) -> list[Any]:
    """``found`` and, per (module, names) of ``table``, those of the names the module has (a module this
    release of the SDK lacks is skipped): the classes an instrumentor may patch, for ``SdkBench.patched``."""
    import importlib

    for module, names in table:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        found.extend(getattr(mod, n) for n in names if hasattr(mod, n))
    return found


def _toggles(bench: SdkBench, setup: str, provider: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """Switch a setup's patches on and off by snapshots of the SDK's classes.

    Not every peer's ``uninstrument()`` restores the SDK (OpenLLMetry 0.62 leaves its wrappers on
    openai 3.x), so the patched and the pristine class dictionaries are recorded once and swapped.
    """
    classes = bench.patched()
    snapshot = lambda: {(cls, k): v for cls in classes for k, v in vars(cls).items()}
    pristine = snapshot()
    bench.instrumentor(setup, provider)()
    patched = {key: value for key, value in snapshot().items() if pristine.get(key) is not value}
    if not patched:
        raise SystemExit(f"{setup}: instrument() patched nothing")
    absent = object()  # an attribute the peer added (e.g. OpenInference wraps OpenAI.request)

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


def _in_situ_floor(bench: SdkBench, provider: Any, calls: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """Each call inside a bare current span with traceglass's name, kind and attributes for its scenario
    (learnt from one traced call each, through a provider of its own), set at start."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    exporter = InMemorySpanExporter()
    learning = TracerProvider()
    learning.add_span_processor(SimpleSpanProcessor(exporter))
    inst = bench.ours()
    inst.instrument(tracer_provider=learning)
    shapes = {}
    try:
        for name in bench.scenarios:
            exporter.clear()
            calls[name]()
            (span,) = exporter.get_finished_spans()
            shapes[name] = (span.name, span.kind, dict(span.attributes))
    finally:
        inst.uninstrument()
    tracer = provider.get_tracer("floor")

    def floored(call: Callable[[], Any], name: str, kind: Any, attributes: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            with tracer.start_as_current_span(name, kind=kind, attributes=attributes):
                return call()

        return run

    return {name: floored(call, *shapes[name.split("/")[0]]) for name, call in calls.items()}


def _setup_calls(bench: SdkBench, setup: str, provider: Any) -> tuple[dict[str, Callable[[], Any]],
                                                                      dict[str, Callable[[], Any]],
                                                                      Callable[[], None], Callable[[], None]]:
    """Every scenario's bare call, its instrumented counterpart, and the switches of the patches."""
    calls = dict(bench.make_calls("transport"))
    if bench.isolated:
        calls.update({f"{name}/isolated": call for name, call in bench.make_calls("isolated").items()})
    if setup in ("floor", "floor-handoff"):  # no patches: the bare call inside a bare span
        return calls, _in_situ_floor(bench, provider, calls), lambda: None, lambda: None
    on, off = _toggles(bench, setup, provider)
    return calls, calls, on, off


def _spans_of(drop: Drop, call: Callable[[], Any], provider: Any) -> int:
    provider.force_flush()  # behind a hand-off, a span reaches the exporter a moment after its call
    before = drop.spans
    call()
    provider.force_flush()
    return drop.spans - before


# A setup named ``<setup>-handoff`` is ``<setup>`` with its spans going through traceglass's hand-off, the
# provider's one processor, as under configure() (the instrumentor's stream folds then run on its thread).
def _provider_for(setup: str) -> tuple[Any, Drop]:
    return tracer_provider(hand_off=setup.endswith("-handoff"))


def _check_one_span(setup: str, name: str, drop: Drop, bare: Callable[[], Any], traced: Callable[[], Any],
                    on: Callable[[], None], off: Callable[[], None], provider: Any) -> None:
    """Every setup must make exactly one span per call (and the bare call none), or it is not the same work."""
    on()
    made = _spans_of(drop, traced, provider)
    off()
    if made != 1 or _spans_of(drop, bare, provider) != 0:
        raise SystemExit(f"{setup} {name}: {made} spans per instrumented call (expected 1), or the bare call made one")


def _versions(bench: SdkBench) -> dict[str, str]:
    import sys

    return {"python": sys.version.split()[0], **versions(bench.sdk)}


def timing_worker(bench: SdkBench, setup: str, rounds: int) -> dict[str, Any]:
    """Measure one setup in this process: bare and instrumented blocks alternate per round."""
    provider, drop = _provider_for(setup)
    results: dict[str, Any] = {}
    calls, instrumented_calls, on, off = _setup_calls(bench, setup, provider)
    for name, call in calls.items():
        traced_call = instrumented_calls[name]
        for _ in range(3):  # warm up both paths
            call()
        _check_one_span(setup, name, drop, call, traced_call, on, off, provider)
        bare, traced, diffs = [], [], []
        n = bench.per_block(name, bench.calls, 4)
        for r in range(rounds):
            times = {}
            for instrumented in (False, True) if r % 2 == 0 else (True, False):
                if instrumented:
                    on()
                times[instrumented] = block(traced_call if instrumented else call, n)
                if instrumented:
                    off()
            bare.append(times[False])
            traced.append(times[True])
            diffs.append(times[True] - times[False])
        results[name] = {"bare_us": statistics.median(bare), "traced_us": statistics.median(traced),
                         "overhead_us": statistics.median(diffs), "overhead_iqr_us": list(iqr(diffs))}
    tracer = provider.get_tracer("floor")
    attributes = {f"gen_ai.attribute_{i}": ("value" if i % 3 else i) for i in range(15)}
    floor = lambda: tracer.start_span(bench.floor_span, attributes=attributes).end()
    results["floor"] = {"span_us": statistics.median(block(floor, bench.calls["floor"]) for _ in range(rounds))}
    results["versions"] = _versions(bench)
    return results


def counting_worker(bench: SdkBench, setup: str) -> dict[str, Any]:
    """Under callgrind: per scenario, a bare, two instrumented and a bare loop again (so a cost that drifts
    over the calls, as LiteLLM's does, weighs on both sides alike), each a ``counted_loop``. Reports the
    loops' order and lengths."""
    provider, drop = _provider_for(setup)
    calls, instrumented_calls, on, off = _setup_calls(bench, setup, provider)
    client_requests().tg_start()  # see COUNT_LOOPS
    loops = []
    for name in bench.names:
        n = bench.per_block(name, bench.counted, 2)
        for instrumented in (False, True, True, False):
            call = instrumented_calls[name] if instrumented else calls[name]
            if instrumented:
                on()
            for _ in range(3):  # warm: first-call costs stay out of the count
                call()
            if _spans_of(drop, call, provider) != instrumented:
                raise SystemExit(f"{setup} {name}: not one span per instrumented call (or a span from the bare one)")
            counted_loop(call, n)
            provider.force_flush()  # a hand-off's thread idle again before the next loop (outside the count)
            if instrumented:
                off()
            loops.append([name, instrumented, n])
    return {"loops": loops, "versions": _versions(bench)}


def count_setup(bench: SdkBench, setup: str, python: str) -> dict[str, Any]:
    """Instructions per call, bare and instrumented, for each scenario (see ``--instructions``)."""
    report_, totals = callgrind([python, str(bench.script), "--worker", setup, "--count"], COUNT_LOOPS)
    if len(totals) != len(report_["loops"]):
        raise RuntimeError(f"{setup}: {len(totals)} callgrind dumps for {len(report_['loops'])} loops")
    sums: dict[tuple[str, bool], list[int]] = {}
    for i, (name, instrumented, n) in enumerate(report_["loops"], 1):
        done = sums.setdefault((name, instrumented), [0, 0])
        done[0], done[1] = done[0] + totals[i, 1], done[1] + n
    results: dict[str, Any] = {"versions": report_["versions"]}
    for (name, instrumented), (total, n) in sums.items():
        results.setdefault(name, {})["traced" if instrumented else "bare"] = total / n
    for name in bench.names:
        results[name]["overhead"] = results[name]["traced"] - results[name]["bare"]
    return results


def _rows(bench: SdkBench, setup: str, data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each scenario's figures of ``setup``; None where the setup has none."""
    for name in bench.names:
        yield name, None if setup in bench.no_isolated and "/" in name else data[name]


def count_report(bench: SdkBench, results: dict[str, dict[str, Any]]) -> str:
    floor = results["floor"]
    w = max(10, max(map(len, bench.names)) + 1)
    c = max(14, max(map(len, results)) + 2)  # the setup column
    lines = [
        f"{bench.title} in instructions per call (callgrind; noise-free; content capture on)",
        *bench.subtitle,
        "x in situ: the overhead over the in-situ floor's (the bare SDK call inside a bare current span",
        "with traceglass's attributes for the scenario); a -handoff setup's spans go through traceglass's",
        "hand-off (the provider's one processor, as under configure()), its x over floor-handoff's if counted",
        "",
        f"{'setup':<{c}}{'scenario':<{w}}{'bare SDK':>12}{'traced':>12}{'overhead':>12}{'x in situ':>11}",
    ]
    for setup, data in results.items():
        for name, row in _rows(bench, setup, data):
            if row is None:
                lines.append(f"{setup:<{c}}{name:<{w}}{bench.no_isolated[setup]:>45}")
                continue
            # A "-handoff" setup's span ends run on the hand-off's thread: it is set beside its own floor, if counted.
            own = results.get("floor-handoff", floor) if setup.endswith("-handoff") else floor
            multiple = (f"{row['overhead'] / own[name]['overhead']:>11.2f}" if not setup.startswith("floor")
                        else f"{'':>11}")
            lines.append(f"{setup:<{c}}{name:<{w}}{row['bare']:>12,.0f}{row['traced']:>12,.0f}"
                         f"{row['overhead']:>12,.0f}{multiple}")
        lines.append(f"{'':<{c}}({bench.sdk} {data['versions'][bench.sdk]}, python {data['versions']['python']})")
    return "\n".join(lines)


def time_report(bench: SdkBench, results: dict[str, dict[str, Any]]) -> str:
    """The table: per setup and scenario, overhead and its multiples of both floors.

    ``x floor``: over the tight-loop floor (traceglass's process). ``x in situ``: over the
    in-situ floor of the same scenario (the ``floor`` setup's overhead). ``IQR``: the middle half
    of the per-round differences, i.e. how far one round's figure is to be trusted.
    """
    floor = results["traceglass"]["floor"]["span_us"]
    in_situ = results.get("floor")
    w = max(10, max(map(len, bench.names)) + 1)
    lines = [
        f"{bench.title} (medians of interleaved rounds; content capture on)",
        *bench.subtitle,
        (f"floor (tight loop): a bare OTel span with 15 attributes = {floor:.1f} us "
         f"(python {results['traceglass']['versions']['python']})"),
    ]
    if in_situ:
        lines.append("floor (in situ): per scenario, the bare SDK call inside a bare current span with traceglass's "
                     "attributes = " + ", ".join(f"{name} {in_situ[name]['overhead_us']:.1f}" for name in bench.names)
                     + " us")
    lines += ["", (f"{'setup':<14}{'scenario':<{w}}{'bare SDK us':>12}{'traced us':>11}{'overhead us':>13}"
                   f"{'IQR us':>16}{'x floor':>9}{'x in situ':>11}")]
    for setup, data in results.items():
        for name, row in _rows(bench, setup, data):
            if row is None:
                lines.append(f"{setup:<14}{name:<{w}}{bench.no_isolated[setup]:>45}")
                continue
            q1, q3 = row["overhead_iqr_us"]
            multiple = (f"{row['overhead_us'] / in_situ[name]['overhead_us']:>11.1f}"
                        if in_situ and setup != "floor" else f"{'':>11}")
            lines.append(f"{setup:<14}{name:<{w}}{row['bare_us']:>12.1f}{row['traced_us']:>11.1f}"
                         f"{row['overhead_us']:>13.1f}{f'{q1:.0f}..{q3:.0f}':>16}"
                         f"{row['overhead_us'] / floor:>9.1f}{multiple}")
        lines.append(f"{'':<14}({bench.sdk} {data['versions'][bench.sdk]}, own floor {data['floor']['span_us']:.1f} us)")
    return "\n".join(lines)


def main(bench: SdkBench) -> None:
    """The command line of an SDK benchmark: time (default) or count (``--instructions``) every setup, each
    in its own process (a peer with its virtualenv's Python), and print / write the table."""
    import argparse
    import sys
    from concurrent.futures import ThreadPoolExecutor

    parser = argparse.ArgumentParser(description=bench.title)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds per setup (3 for a quick check)")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON",
                        help=f"a peer setup ({bench.peers}) and its virtualenv's python")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per call under valgrind's callgrind instead of timing")
    parser.add_argument("--both", action="store_true", help="time, then count, and write both tables")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --instructions: count this many setups at once (counts do not depend on load)")
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(counting_worker(bench, args.worker) if args.count
                         else timing_worker(bench, args.worker, args.rounds)))
        return
    started = load()
    setups = [("floor", sys.executable), ("traceglass", sys.executable)]
    setups += [(name, python) for name, _, python in (spec.partition("=") for spec in args.peer)]
    tables = []
    if not args.instructions:
        timed = {name: run_worker(python, bench.script, ["--worker", name, "--rounds", str(args.rounds)])
                 for name, python in setups}
        tables.append(time_report(bench, timed))
    if args.instructions or args.both:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            pending = {name: pool.submit(count_setup, bench, name, python) for name, python in setups}
        tables.append(count_report(bench, {name: future.result() for name, future in pending.items()}))
    text = "\n\n".join([header(started), *tables])
    if args.out:
        write_result(args.out, text)
    else:
        print(text)
