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
- spans per call (a counting span processor added to the provider, the same in every traced setup).

Overheads are against ``none`` from the same round (median over rounds of the paired differences).
Export CPU per span: ((process - app) of the setup - (process - app) of ``none``) / spans.

Instructions (callgrind) are not counted yet: see the last line of the results file.

    python -m venv /tmp/pl-ollm && /tmp/pl-ollm/bin/pip install openai==3.57.0 httpx \\
        langchain-core==1.8.3 langchain-openai==1.7.4 opentelemetry-instrumentation-openai==0.62.4 \\
        opentelemetry-instrumentation-langchain==0.62.4 opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    python benchmarks/bench_pipeline.py [--rounds 13] [--calls 100] [--interval 0.01]
Writes benchmarks/results/pipeline.txt.
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
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_openai

HERE = pathlib.Path(__file__).resolve()
KINDS = ("chat", "stream", "embeddings", "chain")
SETUPS = ("none", "traceglass", "openai-v2", "openllmetry")
PYTHONS = {"openllmetry": "/tmp/pl-ollm/bin/python"}  # the others run with this interpreter
VERSIONS = {"none": ("openai", "langchain-core", "langchain-openai", "opentelemetry-sdk"),
            "traceglass": ("traceglass",),
            "openai-v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai",
                          "opentelemetry-exporter-otlp-proto-http"),
            "openllmetry": ("opentelemetry-instrumentation-openai", "opentelemetry-instrumentation-langchain",
                            "opentelemetry-exporter-otlp-proto-http")}
NOTES = (
    ("openllmetry: traceloop-sdk 0.62.4 does not install beside openai 3.x here (pip: ResolutionImpossible "
    "over its pinned instrumentations), so its openai and langchain instrumentors are set up as Traceloop.init() "
    "does by default (content on, BatchSpanProcessor, OTLP/HTTP exporter), traces only"),
    "openai-v2 has no LangChain instrumentation: its chain row traces the OpenAI call inside it only",
    ("every setup imports openai and LangChain before turning tracing on: with configure() first, traceglass's "
    "LangChain hooks fail on a circular import when the app imports langchain_core.output_parsers "
    "(langchain-core 1.8.3) and the chain goes untraced but for its OpenAI call"),
)

INSTRUCTIONS = ("instructions (callgrind): not measured yet: functools.reduce, the marker bench_openai.py counts "
                "inside, is also called by the libraries while they load (several dumps per run) and the export "
                "thread's work needs every thread counted; a marker of our own is left to do")


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
class _Count:
    """A span processor that counts ended spans (in every traced setup alike)."""

    def __init__(self) -> None:
        self.ended = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        self.ended += 1

    def _on_ending(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


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
    if setup == "traceglass":
        import traceglass

        telemetry = traceglass.configure(db_path=os.path.join(tmp, "traces.db"))
        telemetry.tracer_provider.add_span_processor(counter)
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


def _versions(setup: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in VERSIONS["none"] + VERSIONS[setup]:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "?"
    return out


def worker(setup: str, round_: int, calls: int, interval: float, sink: str) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")  # a peer's per-call deprecation warnings must not flood the output
    # The app's libraries load before tracing is set up: traceglass's LangChain hooks, when configure()
    # runs first, install on the import of langchain_core.callbacks.manager and fail there on a circular
    # import (langchain-core 1.8.3), which would leave the chain untraced (see results/pipeline.txt).
    import langchain_core.output_parsers  # noqa: F401
    import langchain_openai  # noqa: F401
    import openai  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        flush, counter = _setup(setup, tmp, sink)
        app = _app()
        for kind, call in app.items():  # warm: first-call costs (imports, caches, the store's schema) stay out
            for _ in range(10):
                call()
        flush()
        out: dict[str, Any] = {}
        order = KINDS[round_ % len(KINDS):] + KINDS[:round_ % len(KINDS)]
        for kind in order:
            call = app[kind]
            spans_before, app_cpu, walls = counter.ended, 0.0, []
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
            out[kind] = {"app": app_cpu / calls * 1e6, "process": process_cpu / calls * 1e6,
                         "wall": statistics.median(walls) * 1e6, "spans": (counter.ended - spans_before) / calls}
        out["versions"] = _versions(setup)
        return out


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
def _run(python: str, args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run([python, str(HERE), *args], capture_output=True, text=True,
                          timeout=3600, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _diffs(rows: list[dict[str, Any]], base: list[dict[str, Any]], kind: str,
           value: Callable[[dict[str, Any]], float]) -> list[float]:
    """The setup's figure minus none's, round by round (the rounds pair them in time)."""
    return [value(r[kind]) - value(b[kind]) for r, b in zip(rows, base)]


def _iqr(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[0]:.0f}..{q[2]:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=13)
    parser.add_argument("--calls", type=int, default=100, help="calls per block (one block per kind per round)")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between the starts of two calls")
    parser.add_argument("--peer", action="append", default=[], help="setup=/path/to/python")
    parser.add_argument("--worker")
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--sink", default="")
    parser.add_argument("--out", default=str(HERE.parent / "results" / "pipeline.txt"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.round, args.calls, args.interval, args.sink)))
        return

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = f"http://127.0.0.1:{server.server_address[1]}"
    pythons = {name: PYTHONS.get(name, sys.executable) for name in SETUPS}
    pythons.update(dict(p.split("=", 1) for p in args.peer))
    skipped = {name: f"no virtualenv at {python}" for name, python in pythons.items()
               if not pathlib.Path(python).exists()}
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
                row = _run(pythons[name], ["--worker", name, "--round", str(round_), "--calls", str(args.calls),
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
         f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"),
        (f"{args.rounds} interleaved rounds (each setup in a fresh process per round) x 4 blocks of {args.calls} "
         f"calls, one call every {args.interval * 1000:.0f} ms, then a flush; medians over rounds"),
        (f"load average (1 min) while measuring: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
         f"max {max(loads):.2f} ({minutes:.1f} min); the sink got {_Sink.requests} OTLP posts, "
         f"{_Sink.received / 1e6:.1f} MB"),
        ("app = the calling thread's CPU per call (time.thread_time); process = the whole process's CPU per call "
         "(time.process_time), which adds the background export; overhead = median over rounds of "
         "(setup - none) from the same round, its IQR = the interquartile range of those differences"),
        "export/span = ((process - app) of the setup - (process - app) of none) / spans per call",
        *NOTES,
        "",
        (f"{'kind':<12}{'setup':<13}{'app µs':>9}{'process µs':>12}{'wall p50 µs':>13}{'app ovh µs':>12}"
         f"{'proc ovh µs':>13}{'its IQR':>14}{'export/span µs':>16}{'spans/call':>12}"),
    ]
    for kind in KINDS:
        for name, data in rows.items():
            app = statistics.median(r[kind]["app"] for r in data)
            process = statistics.median(r[kind]["process"] for r in data)
            wall = statistics.median(r[kind]["wall"] for r in data)
            spans = statistics.median(r[kind]["spans"] for r in data)
            if name == "none":
                lines.append(f"{kind:<12}{name:<13}{app:>9.0f}{process:>12.0f}{wall:>13.0f}{'':>12}{'':>13}{'':>14}"
                             f"{'':>16}{spans:>12.1f}")
                continue
            app_ovh = _diffs(data, base, kind, lambda v: v["app"])
            proc_ovh = _diffs(data, base, kind, lambda v: v["process"])
            export = statistics.median(_diffs(data, base, kind, lambda v: v["process"] - v["app"]))
            lines.append(f"{kind:<12}{name:<13}{app:>9.0f}{process:>12.0f}{wall:>13.0f}"
                         f"{statistics.median(app_ovh):>12.0f}{statistics.median(proc_ovh):>13.0f}"
                         f"{_iqr(proc_ovh):>14}{export / spans if spans else 0.0:>16.1f}{spans:>12.1f}")
        lines.append("")
    lines.append("versions:")
    for name, found in versions.items():
        shown = found if name == "none" else {k: v for k, v in found.items() if k in VERSIONS[name]}
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    lines.append("not measured:" if skipped else "not measured: none (every setup ran)")
    for name, why in skipped.items():
        lines.append(f"  {name}: {why}")

    lines += ["", INSTRUCTIONS]

    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = pathlib.Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
