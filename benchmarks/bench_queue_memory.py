"""Memory and time bounds with the collector down: what spans waiting for export hold.

An app ends ``--spans`` spans of ``--payload`` bytes of content each under ``traceglass.configure``
with the OTLP exporter pointed at a closed port on 127.0.0.1 (the collector is down), then calls
``traceglass.flush(2000)``. Reported per setup, each in a fresh process: the process's peak RSS
(``ru_maxrss``) over an empty baseline of the same imports, the spans the pipeline counted as dropped,
what ``flush`` returned and how long it took (it must keep to its 2 s).

Setups: ``traceglass`` (configure() defaults: the hand-off, the batch queue bounded by 65,536 spans and
64 MB) and ``sdk-batch`` (the SDK's own ``BatchSpanProcessor`` with its default 2,048-span queue and
the same OTLP exporter, what the peers' default setups use). ``PYTHONPATH=/other/src`` measures another
traceglass.

    python benchmarks/bench_queue_memory.py [--spans 100000] [--payload 16384]

Each run appends a dated section to benchmarks/results/queue_memory.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
import _harness  # noqa: E402

SETUPS = ("baseline", "traceglass", "sdk-batch")


def _worker(setup: str, spans: int, payload: int, port: int) -> None:
    import resource
    import time

    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{port}/v1/traces"
    os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1"
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import traceglass

    text = "x" * payload
    out: dict = {}
    if setup == "baseline":
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        _report(out)
    if setup == "traceglass":
        traceglass.configure(exporters=["otlp"], instrument=[], metrics_enabled=False)
        tracer = trace.get_tracer("app")
    else:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        tracer = provider.get_tracer("app")
    for i in range(spans):
        with tracer.start_as_current_span("s") as span:
            span.set_attribute("traceglass.output", text)
    started = time.monotonic()
    flushed = traceglass.flush(2000) if setup == "traceglass" else provider.force_flush(2000)
    out["flush_s"] = round(time.monotonic() - started, 2)
    out["flushed"] = flushed
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _report(out)


def _report(out: dict) -> None:
    print(json.dumps(out), flush=True)
    os._exit(0)  # no exit-time export to a dead collector


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--payload", type=int, default=16384)
    parser.add_argument("--worker")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", default=str(HERE.parent / "results" / "queue_memory.txt"))
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.spans, args.payload, args.port)  # prints its JSON line and exits
    import traceglass

    started_load = _harness.load()
    port = _harness.free_port()
    results = {}
    for setup in SETUPS:
        proc = subprocess.run([sys.executable, str(HERE), "--worker", setup, "--spans", str(args.spans),
                               "--payload", str(args.payload), "--port", str(port)],
                              capture_output=True, text=True, timeout=1800)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"{setup} failed:\n{proc.stderr[-2000:]}")
        results[setup] = json.loads(lines[-1])
        print(setup, results[setup], file=sys.stderr, flush=True)
    base = results["baseline"]["rss_mb"]
    rows = [f"  {'setup':11s} {'peak RSS over baseline':>24s} {'flush(2000)':>12s} {'took':>6s}"]
    for setup in SETUPS[1:]:
        r = results[setup]
        rows.append(f"  {setup:11s} {r['rss_mb'] - base:>21,.0f} MB {str(r['flushed']):>12s} {r['flush_s']:>5.2f}s")
    source = os.environ.get("PYTHONPATH") or str(pathlib.Path(traceglass.__file__).parent)
    text = "\n".join([
        f"Collector down: {args.spans:,} spans of {args.payload:,} bytes of content each, then flush(2000) — CPython "
        f"{sys.version.split()[0]}",
        _harness.header(started_load),
        f"traceglass from {source}; baseline (the same imports, no span) peak RSS {base:,.0f} MB",
        *rows,
    ])
    _harness.write_result(args.out, text, append=True)


if __name__ == "__main__":
    main()
