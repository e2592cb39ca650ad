"""End to end: what tracing costs an app that makes OpenAI calls at a steady rate, export included.

The app makes four kinds of call with the real ``openai`` SDK (and LangChain) over an in-process
``httpx.MockTransport`` answering exactly as the API does (the payloads of bench_openai.py: a chat
completion, a 50-chunk stream with its usage chunk, 8 embeddings of 1536 dimensions), so no socket
noise enters the figures:

- ``chat``: ``client.chat.completions.create`` (system + user message);
- ``stream``: the same, streamed, every chunk consumed;
- ``embeddings``: one call with 8 inputs;
- ``chain``: ``ChatOpenAI | StrOutputParser`` invoked once (LangChain over the same client transport).

Setups, each in its own fresh process (one process per setup per round; the rounds interleave the
setups, so the machine's load drifts over all of them alike):

- ``none``: no tracing at all;
- ``traceglass``: ``traceglass.configure(db_path=<temp dir>/traces.db)``, everything else default
  (batch processor and SQLite exporter in a background thread, cost, roll-ups, metrics, every
  instrumentor whose library is installed, content capture on);
- ``traceglass-proc``: the same with ``db_separate_process=True``: the SQLite store written by a child
  process; its CPU (from /proc) is the ``writer`` column, not in ``process``;
- ``openai-v2``: the official opentelemetry-instrumentation-openai-v2 (content on, SPAN_ONLY) with an
  SDK ``BatchSpanProcessor`` and the OTLP/HTTP exporter posting to a local sink on 127.0.0.1;
- ``openllmetry``: opentelemetry-instrumentation-openai + -langchain (OpenLLMetry) in its own
  virtualenv, set up as ``Traceloop.init()`` does by default (content on, a ``BatchSpanProcessor``
  with the OTLP/HTTP exporter, here posting to the local sink). traceloop-sdk itself does not
  install beside openai 3.x here (pip: ResolutionImpossible), so its instrumentors are wired by hand.

The sink (a tiny HTTP server answering 200 to ``/v1/traces``) runs in this orchestrating process,
so its CPU is not in any worker's figures.

Per call, in each block of one kind (``--calls`` calls paced every ``--interval`` seconds, then a
flush of the tracer provider, so every span the block made is exported inside the block):

- app thread CPU (``time.thread_time`` around each call): what the calling thread spends;
- process CPU (``time.process_time`` over the block and its flush, divided by the calls): adds what
  the background export thread (and any other thread) spends;
- spans per call (a counting span processor added to the provider in the peers' setups; in traceglass's,
  the spans its exporter is handed: a processor beside configure()'s would change what it does, see
  ``traceglass._deferred_end``).

Overheads are against ``none`` from the same round (median over rounds of the paired differences).
Export CPU per span: ((process - app) of the setup - (process - app) of ``none``) / spans.

``--instructions`` counts instead of timing (valgrind's callgrind; deterministic, so the machine's load
does not enter). Each setup's worker does the same work twice under callgrind: imports, setup and
warm-up uninstrumented (``--instr-atstart=no``), then, instrumented, per kind ``--count-calls`` calls
back to back (no pacing: under callgrind a call takes ~50x longer) and a flush, with a dump (a
callgrind client request, ``_harness.client_requests``) before the calls, between the calls and the
flush, and after the flush. The first run separates threads (``--separate-threads=yes``: the dump a
thread requests holds its own counts only), so the calls' dump is the app thread's instructions; the
second counts every thread together, so calls + flush is the whole process's, the background export
included (the export a flush does runs in the calling thread; what the processor's own thread exports
in between is counted there). Per call: app thread, whole process, and their overheads over ``none``;
export per span = ((process - app) of the setup - (process - app) of none) / spans per call.

    python -m venv /tmp/pl-ollm && /tmp/pl-ollm/bin/pip install openai==3.57.0 httpx \\
        langchain-core==1.8.3 langchain-openai==1.7.4 opentelemetry-instrumentation-openai==0.62.4 \\
        opentelemetry-instrumentation-langchain==0.62.4 opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    python benchmarks/bench_pipeline.py [--rounds 13] [--calls 100] [--interval 0.01]
    python benchmarks/bench_pipeline.py --instructions [--count-calls 20] [--jobs 2]
Each run appends a dated section to benchmarks/results/pipeline.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness
import bench_openai

HERE = pathlib.Path(__file__).resolve()
KINDS = ("chat", "stream", "embeddings", "chain")
SETUPS = ("none", "traceglass", "traceglass-proc", "openai-v2", "openllmetry")
PYTHONS = {"openllmetry": "/tmp/pl-ollm/bin/python"}  # the others run with this interpreter
VERSIONS = {"none": ("openai", "langchain-core", "langchain-openai", "opentelemetry-sdk"),
            "traceglass": ("traceglass",),
            "traceglass-proc": ("traceglass",),
            "openai-v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai",
                          "opentelemetry-exporter-otlp-proto-http"),
            "openllmetry": ("opentelemetry-instrumentation-openai", "opentelemetry-instrumentation-langchain",
                            "opentelemetry-exporter-otlp-proto-http")}
NOTES = (
    ("openllmetry: traceloop-sdk 0.62.4 does not install beside openai 3.x here (pip: ResolutionImpossible "
    "over its pinned instrumentations), so its openai and langchain instrumentors are set up as Traceloop.init() "
    "does by default (content on, BatchSpanProcessor, OTLP/HTTP exporter), traces only"),
    "openai-v2 has no LangChain instrumentation: its chain row traces the OpenAI call inside it only",
    ("every setup imports openai and LangChain before turning tracing on, as in the runs before c0912ca (with "
    "configure() first, traceglass's LangChain hooks then failed on a circular import and left the chain untraced)"),
)

# --- the app -------------------------------------------------------------------------------------------
def _app() -> dict[str, Callable[[], Any]]:
    import openai._base_client as base_client
    from langchain_core.output_parsers import StrOutputParser
    from langchain_openai import ChatOpenAI

    httpx = getattr(base_client, "httpx2", None) or base_client.httpx
    payloads = bench_openai._payloads()

    def handler(request: Any) -> Any:
        key = request.url.path + ("#stream" if b'"stream":true' in request.content.replace(b" ", b"") else "")
        content_type, body = payloads[key]
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    client = bench_openai.make_client()
    calls = bench_openai.scenarios(client)
    chain = ChatOpenAI(model="gpt-4o-mini", api_key="sk-bench", temperature=0.3, max_retries=0,
                       http_client=httpx.Client(transport=httpx.MockTransport(handler))) | StrOutputParser()
    messages = [(m["role"], m["content"]) for m in bench_openai.MESSAGES]
    calls["chain"] = lambda: chain.invoke(messages)
    return calls


# --- the setups (one per worker process) -----------------------------------------------------------------
class _Count(_harness.Watcher):
    """A span processor that counts ended spans (in every traced setup alike)."""

    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, span: Any) -> None:
        self.ended += 1


def _counting(export: Callable[[Any], Any], counter: _Count) -> Callable[[Any], Any]:
    def counted(spans: Any) -> Any:
        counter.ended += len(spans)
        return export(spans)

    return counted


def _otlp_provider(sink: str, counter: _Count) -> Any:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{sink}/v1/traces")))
    provider.add_span_processor(counter)
    trace.set_tracer_provider(provider)
    return provider


def _setup(setup: str, tmp: str, sink: str) -> tuple[Callable[[], Any], _Count]:
    """Turn the setup's tracing on; return (flush, span counter)."""
    counter = _Count()
    if setup == "none":
        return (lambda: None), counter
    if setup in ("traceglass", "traceglass-proc"):
        import traceglass

        telemetry = traceglass.configure(db_path=os.path.join(tmp, "traces.db"),
                                         db_separate_process=setup == "traceglass-proc")
        # Counted as exported, not by a processor on the provider: one that sees span ends beside the hand-off
        # would keep a stream's folds on the calling thread (traceglass._deferred_end), unlike configure() alone.
        for exporter in telemetry.exporters:
            exporter.export = _counting(exporter.export, counter)
        _EXPORTERS.extend(telemetry.exporters)
        return telemetry.flush, counter
    if setup == "openai-v2":
        # opentelemetry-util-genai captures content only in the latest-experimental mode.
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        provider = _otlp_provider(sink, counter)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, counter
    if setup == "openllmetry":
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true"  # Traceloop.init()'s default
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        provider = _otlp_provider(sink, counter)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        LangchainInstrumentor().instrument(tracer_provider=provider)
        return provider.force_flush, counter
    raise SystemExit(f"unknown setup {setup!r}")


_EXPORTERS: list[Any] = []  # the traceglass setups' span exporters


def _writer_pid() -> int | None:
    """The pid of traceglass's writer process, when the setup has one."""
    return next((e.writer_pid for e in _EXPORTERS if getattr(e, "writer_pid", None)), None)


def _versions(setup: str) -> dict[str, str]:
    return _harness.versions(*VERSIONS["none"], *VERSIONS[setup])


def worker(setup: str, round_: int, calls: int, interval: float, sink: str) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")  # a peer's per-call deprecation warnings must not flood the output
    _load_app_libraries()

    with tempfile.TemporaryDirectory() as tmp:
        flush, counter = _setup(setup, tmp, sink)
        app = _app()
        for kind, call in app.items():  # warm: first-call costs (imports, caches, the store's schema) stay out
            for _ in range(10):
                call()
        flush()
        writer = _writer_pid()
        out: dict[str, Any] = {}
        order = KINDS[round_ % len(KINDS):] + KINDS[:round_ % len(KINDS)]
        for kind in order:
            call = app[kind]
            spans_before, app_cpu, walls = counter.ended, 0.0, []
            writer_start = _harness.process_cpu(writer)
            process_start = time.process_time()
            tick = time.perf_counter()
            for _ in range(calls):
                wall, cpu = time.perf_counter(), time.thread_time()
                call()
                app_cpu += time.thread_time() - cpu
                walls.append(time.perf_counter() - wall)
                tick += interval
                time.sleep(max(0.0, tick - time.perf_counter()))
            flush()
            process_cpu = time.process_time() - process_start
            writer_cpu = _harness.process_cpu(writer) - writer_start
            out[kind] = {"app": app_cpu / calls * 1e6, "process": process_cpu / calls * 1e6,
                         "writer": writer_cpu / calls * 1e6,
                         "wall": statistics.median(walls) * 1e6, "spans": (counter.ended - spans_before) / calls}
        out["versions"] = _versions(setup)
        return out


# The lines every report ends its preamble with.
_NOTES_AND_RULE = ("export/span = ((process - app) of the setup - (process - app) of none) / spans per call",
                   *NOTES, "")


def _load_app_libraries() -> None:
    """The app's libraries load before tracing is set up: traceglass's LangChain hooks, when configure() ran
    first, failed on a circular import (langchain-core 1.8.3; fixed in c0912ca), which left the chain
    untraced; the order stays so that reruns compare (see results/pipeline.txt)."""
    import langchain_core.output_parsers  # noqa: F401
    import langchain_openai  # noqa: F401
    import openai  # noqa: F401


def counting_worker(setup: str, calls: int, sink: str) -> dict[str, Any]:
    """Under callgrind (see ``--instructions``): warm up uninstrumented, switch callgrind on, then per kind
    ``calls`` calls back to back and a flush, with a dump of every thread's counts before the calls,
    between the calls and the flush, and after it."""
    import gc
    import warnings

    warnings.simplefilter("ignore")
    requests = _harness.client_requests()
    _load_app_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        flush, counter = _setup(setup, tmp, sink)
        app = _app()
        for call in app.values():  # warm: first-call costs (imports, caches, the store's schema) stay out
            for _ in range(3):
                call()
        flush()
        # What is loaded so far leaves the collector's generations: a full collection costs in proportion
        # to the heap, and where one falls among 20 calls moved a setup's count by up to ~150k a call.
        gc.collect()
        gc.freeze()
        requests.tg_start()
        spans = {}
        for kind in KINDS:
            call, before = app[kind], counter.ended
            requests.tg_dump()
            for _ in range(calls):
                call()
            requests.tg_dump()
            flush()
            requests.tg_dump()
            spans[kind] = (counter.ended - before) / calls
        requests.tg_stop()
        return {"kinds": list(KINDS), "calls": calls, "spans": spans, "versions": _versions(setup)}


def count_setup(setup: str, python: str, calls: int, sink: str) -> dict[str, Any]:
    """Instructions per call of one setup, per kind, from two runs of the same work: the app thread's
    (threads separated: a dump the calling thread requests holds its own counts only) and the whole
    process's (threads counted together: a dump holds every thread's, the background export's too)."""
    command = [python, str(HERE), "--worker", setup, "--count", "--count-calls", str(calls), "--sink", sink]
    options = ["--instr-atstart=no"]  # the imports and the warm-up run uninstrumented (faster)
    report, app = _harness.callgrind(command, options, separate_threads=True, dumps=3 * len(KINDS))
    again, together = _harness.callgrind(command, options, dumps=3 * len(KINDS))
    if again["spans"] != report["spans"]:
        raise RuntimeError(f"{setup}: the two runs made different spans: {report['spans']} / {again['spans']}")
    out: dict[str, Any] = {"versions": report["versions"]}
    for i, kind in enumerate(report["kinds"]):
        calls_dump, flush_dump = 2 + 3 * i, 3 + 3 * i  # dump 1 + 3i holds what came before the calls
        out[kind] = {"app": app[calls_dump, 1] / calls,
                     "process": (together[calls_dump, 1] + together[flush_dump, 1]) / calls,
                     "spans": report["spans"][kind]}
    return out


def count_report(counted: dict[str, dict[str, Any]], calls: int, started: float, skipped: dict[str, str]) -> str:
    base = counted["none"]
    lines = [
        ("End to end in instructions (callgrind): the same app and setups as the timed rounds above — CPython "
         f"{platform.python_version()}, {platform.machine()}"),
        _harness.header(started),
        (f"per kind {calls} calls back to back (no pacing under callgrind) after 3 warm-up calls each, then a flush; "
         "each setup's worker run twice under callgrind, the same work both times; after the warm-up, gc.freeze() "
         "(the heap loaded so far is out of the collector's way: collections of what the calls allocate still count)"),
        ("app = instructions of the calling thread per call (a --separate-threads=yes run, the calls only); "
         "process = every thread's per call, the calls and the flush (a run counting all threads together), "
         "i.e. with the background export; ovh = the setup's minus none's"),
        *_NOTES_AND_RULE,
        (f"{'kind':<12}{'setup':<17}{'app':>13}{'process':>13}{'app ovh':>13}{'process ovh':>13}"
         f"{'export/span':>13}{'spans/call':>12}"),
    ]
    for kind in KINDS:
        for name, data in counted.items():
            row, none = data[kind], base[kind]
            if name == "none":
                lines.append(f"{kind:<12}{name:<17}{row['app']:>13,.0f}{row['process']:>13,.0f}{'':>13}{'':>13}"
                             f"{'':>13}{row['spans']:>12.1f}")
                continue
            export = ((row["process"] - row["app"]) - (none["process"] - none["app"])) / row["spans"]
            lines.append(f"{kind:<12}{name:<17}{row['app']:>13,.0f}{row['process']:>13,.0f}"
                         f"{row['app'] - none['app']:>13,.0f}{row['process'] - none['process']:>13,.0f}"
                         f"{export:>13,.0f}{row['spans']:>12.1f}")
        lines.append("")
    lines += _versions_lines({name: data["versions"] for name, data in counted.items()}, skipped)
    return "\n".join(lines)


def _versions_lines(versions: dict[str, dict[str, str]], skipped: dict[str, str]) -> list[str]:
    lines = ["versions:"]
    for name, found in versions.items():
        shown = found if name == "none" else {k: v for k, v in found.items() if k in VERSIONS[name]}
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    lines.append("not measured:" if skipped else "not measured: none (every setup ran)")
    lines += [f"  {name}: {why}" for name, why in skipped.items()]
    return lines


# --- the sink -------------------------------------------------------------------------------------------
class _Sink(BaseHTTPRequestHandler):
    requests = 0
    received = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        type(self).requests += 1
        type(self).received += length
        self.send_response(200 if self.path in ("/v1/traces", "/v1/metrics", "/v1/logs") else 404)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# --- the orchestrator -------------------------------------------------------------------------------------
def _diffs(rows: list[dict[str, Any]], base: list[dict[str, Any]], kind: str,
           value: Callable[[dict[str, Any]], float]) -> list[float]:
    """The setup's figure minus none's, round by round (the rounds pair them in time)."""
    return [value(r[kind]) - value(b[kind]) for r, b in zip(rows, base)]


def _iqr(values: list[float]) -> str:
    low, high = _harness.iqr(values)
    return f"{low:.0f}..{high:.0f}"


def _count_all(pythons: dict[str, str], skipped: dict[str, str], calls: int, jobs: int, sink: str) -> str:
    """Every setup counted under callgrind (``jobs`` at once: counts do not depend on the load)."""
    from concurrent.futures import ThreadPoolExecutor

    started = _harness.load()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {name: pool.submit(count_setup, name, pythons[name], calls, sink)
                   for name in SETUPS if name not in skipped}
    counted = {}
    for name, future in pending.items():
        try:
            counted[name] = future.result()
        except RuntimeError as failure:
            print(f"{name}: worker failed:\n{failure}", file=sys.stderr)
            skipped[name] = "its worker failed: " + str(failure).strip().splitlines()[-1][:200]
    return count_report(counted, calls, started, skipped)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=13)
    parser.add_argument("--calls", type=int, default=100, help="calls per block (one block per kind per round)")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between the starts of two calls")
    parser.add_argument("--peer", action="append", default=[], help="setup=/path/to/python")
    parser.add_argument("--worker")
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--sink", default="")
    parser.add_argument("--out", default=str(HERE.parent / "results" / "pipeline.txt"),
                        help="the results file: this run's section is appended to it")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument("--count-calls", type=int, default=20, help="with --instructions: calls per kind")
    parser.add_argument("--jobs", type=int, default=2, help="with --instructions: setups counted at once")
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(counting_worker(args.worker, args.count_calls, args.sink) if args.count
                         else worker(args.worker, args.round, args.calls, args.interval, args.sink)))
        return

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = f"http://127.0.0.1:{server.server_address[1]}"
    pythons = {name: PYTHONS.get(name, sys.executable) for name in SETUPS}
    pythons.update(dict(p.split("=", 1) for p in args.peer))
    skipped = {name: f"no virtualenv at {python}" for name, python in pythons.items()
               if not pathlib.Path(python).exists()}
    if args.instructions:
        _harness.write_result(args.out, _count_all(pythons, skipped, args.count_calls, args.jobs, sink), append=True)
        return
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SETUPS if name not in skipped}
    versions: dict[str, dict[str, str]] = {}
    loads: list[float] = []
    started = time.time()
    for round_ in range(args.rounds):
        names = list(rows)
        names = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in names:
            if name in skipped:
                continue
            loads.append(os.getloadavg()[0])
            try:
                row = _harness.run_worker(pythons[name], HERE, [
                    "--worker", name, "--round", str(round_), "--calls", str(args.calls),
                    "--interval", str(args.interval), "--sink", sink])
            except RuntimeError as failure:
                print(f"{name}: worker failed:\n{failure}", file=sys.stderr)
                skipped[name] = "its worker failed: " + str(failure).strip().splitlines()[-1][:200]
                continue
            versions[name] = row.pop("versions")
            rows[name].append(row)
            print(f"round {round_ + 1}/{args.rounds} {name}: " + ", ".join(
                f"{k} {v['app']:.0f}/{v['process']:.0f}" for k, v in row.items()), file=sys.stderr, flush=True)
        loads.append(os.getloadavg()[0])
    rows = {name: r for name, r in rows.items() if name not in skipped and len(r) == args.rounds}
    minutes = (time.time() - started) / 60

    base = rows["none"]
    lines = [
        (f"End to end: an app making traced OpenAI calls at a steady rate, export included — CPython "
         f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"),
        (f"{args.rounds} interleaved rounds (each setup in a fresh process per round) x 4 blocks of {args.calls} "
         f"calls, one call every {args.interval * 1000:.0f} ms, then a flush; medians over rounds"),
        (f"load average (1 min) while measuring: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
         f"max {max(loads):.2f} ({minutes:.1f} min); the sink got {_Sink.requests} OTLP posts, "
         f"{_Sink.received / 1e6:.1f} MB"),
        ("app = the calling thread's CPU per call (time.thread_time); process = the whole process's CPU per call "
         "(time.process_time), which adds the background export; overhead = median over rounds of "
         "(setup - none) from the same round, its IQR = the interquartile range of those differences"),
        *_NOTES_AND_RULE,
        ("writer = the CPU per call of traceglass's writer process (traceglass-proc only; 10 ms clock ticks, "
         "so a median of small figures may read 0), apart from process"),
        (f"{'kind':<12}{'setup':<17}{'app µs':>9}{'process µs':>12}{'wall p50 µs':>13}{'app ovh µs':>12}"
         f"{'proc ovh µs':>13}{'its IQR':>14}{'export/span µs':>16}{'spans/call':>12}{'writer µs':>11}"),
    ]
    for kind in KINDS:
        for name, data in rows.items():
            app = statistics.median(r[kind]["app"] for r in data)
            process = statistics.median(r[kind]["process"] for r in data)
            wall = statistics.median(r[kind]["wall"] for r in data)
            spans = statistics.median(r[kind]["spans"] for r in data)
            if name == "none":
                lines.append(f"{kind:<12}{name:<17}{app:>9.0f}{process:>12.0f}{wall:>13.0f}{'':>12}{'':>13}{'':>14}"
                             f"{'':>16}{spans:>12.1f}")
                continue
            app_ovh = _diffs(data, base, kind, lambda v: v["app"])
            proc_ovh = _diffs(data, base, kind, lambda v: v["process"])
            export = statistics.median(_diffs(data, base, kind, lambda v: v["process"] - v["app"]))
            writer = statistics.mean(r[kind].get("writer", 0.0) for r in data)
            lines.append(f"{kind:<12}{name:<17}{app:>9.0f}{process:>12.0f}{wall:>13.0f}"
                         f"{statistics.median(app_ovh):>12.0f}{statistics.median(proc_ovh):>13.0f}"
                         f"{_iqr(proc_ovh):>14}{export / spans if spans else 0.0:>16.1f}{spans:>12.1f}"
                         + (f"{writer:>11.0f}" if name == "traceglass-proc" else ""))
        lines.append("")
    lines += _versions_lines(versions, skipped)
    _harness.write_result(args.out, "\n".join(lines), append=True)


if __name__ == "__main__":
    main()
