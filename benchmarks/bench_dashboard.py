"""Time for the dashboard to render the waterfall of a 5,000-span trace in headless Chromium.

Builds a database with one trace of 5,000 spans (agents > steps > LLM calls with messages, tools,
retrievers), serves it with the real server on 127.0.0.1, and measures in the page itself with
performance marks, from the click on the trace row (or from navigation start, for a cold open of
the trace URL) to the waterfall laid out and the next frame painted. Medians of several rounds.

Run: python benchmarks/bench_dashboard.py [--spans 5000] [--rounds 7]
Writes benchmarks/results/dashboard.txt. Needs Debian's chromium at /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import socket
import statistics
import tempfile
import threading
import time

import uvicorn
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.server import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def build_trace(db: pathlib.Path, spans: int) -> str:
    """One trace of exactly ``spans`` spans, nested three levels deep, written with the SQLite exporter."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    made = 1
    with tracer.start_as_current_span("invoke_agent big-run", attributes={"traceglass.span.type": "agent"}) as root:
        step = 0
        while made < spans:
            with tracer.start_as_current_span(f"step {step}", attributes={"traceglass.span.type": "chain"}):
                made += 1
                for i in range(8):
                    if made >= spans:
                        break
                    kind = i % 4
                    if kind == 0:
                        attributes = {
                            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 100 + i,
                            "gen_ai.usage.output_tokens": 20 + i,
                            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                                {"type": "text", "content": f"Question {step}.{i}: summarise the document."}]}]),
                            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                                                   "parts": [{"type": "text", "content": "Done."}]}]),
                        }
                        name, span_kind = "chat gpt-4o-mini", SpanKind.CLIENT
                    elif kind == 1:
                        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                                      "gen_ai.tool.call.arguments": json.dumps({"q": f"item {i}"})}
                        name, span_kind = "execute_tool search", SpanKind.INTERNAL
                    elif kind == 2:
                        attributes = {"gen_ai.operation.name": "retrieval",
                                      "gen_ai.retrieval.documents": json.dumps([{"id": str(i), "score": 0.5}])}
                        name, span_kind = "retrieval docs", SpanKind.CLIENT
                    else:
                        attributes = {"traceglass.span.type": "custom"}
                        name, span_kind = f"parse {i}", SpanKind.INTERNAL
                    with tracer.start_as_current_span(name, kind=span_kind, attributes=attributes):
                        time.sleep(0)  # distinct timestamps are not needed; the shape is
                    made += 1
            step += 1
    trace_id = format(root.get_span_context().trace_id, "032x")
    exporter = SQLiteSpanExporter(db)
    exporter.export(memory.get_finished_spans())
    exporter.shutdown()
    provider.shutdown()
    return trace_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db = pathlib.Path(tmp) / "bench.db"
        trace_id = build_trace(db, args.spans)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        clicks, colds, api_ms, builds = [], [], [], []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                for _ in range(args.rounds):
                    # From a click on the trace's row in the list.
                    page.goto(url + "/")
                    page.wait_for_selector(f"tr.trace-row[data-trace-id='{trace_id}']")
                    page.click(f"tr.trace-row[data-trace-id='{trace_id}']")
                    page.wait_for_selector(f"body[data-rendered='{trace_id}']")
                    rows = int(page.evaluate("document.getElementById('waterfall').dataset.rows"))
                    assert rows == args.spans, rows
                    timings = page.evaluate("""() => {
                        const m = (n) => performance.getEntriesByName(n)[0].startTime;
                        return {total: performance.getEntriesByName('tg-waterfall')[0].duration,
                                api: m('tg-trace-loaded') - m('tg-trace-open'),
                                build: m('tg-waterfall-built') - m('tg-trace-loaded')};
                    }""")
                    clicks.append(timings["total"])
                    api_ms.append(timings["api"])
                    builds.append(timings["build"])
                    # A cold open of the trace's URL: from navigation start.
                    page.goto("about:blank")
                    page.goto(f"{url}/#/trace/{trace_id}")
                    page.wait_for_selector(f"body[data-rendered='{trace_id}']")
                    colds.append(page.evaluate("performance.getEntriesByName('tg-waterfall-rendered')[0].startTime"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    lines = [
        f"traceglass dashboard waterfall — {args.spans} spans in one trace, headless Chromium "
        f"({CHROMIUM}), CPython {platform.python_version()}, {args.rounds} rounds, medians (min-max); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the server runs in this process)",
        "scenario                                            ms",
        f"click on trace row -> waterfall rendered     {statistics.median(clicks):8.1f}  "
        f"({min(clicks):.1f}-{max(clicks):.1f})",
        f"  of which: GET /api/traces/<id> + JSON parse {statistics.median(api_ms):8.1f}",
        f"  of which: building the waterfall (windowed) {statistics.median(builds):8.1f}",
        f"cold open of /#/trace/<id> (from navigation) {statistics.median(colds):8.1f}  "
        f"({min(colds):.1f}-{max(colds):.1f})",
        f"target: under 1000 ms -> {'met' if statistics.median(clicks) < 1000 else 'NOT met'}",
    ]
    out = pathlib.Path(__file__).parent / "results" / "dashboard.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
