"""Time for the dashboard to render the waterfall of a 5,000-span trace in headless Chromium.

Builds a database with one trace of 5,000 spans (agents > steps > LLM calls with messages, tools,
retrievers), serves it with the real server on 127.0.0.1, and measures in the page itself with
performance marks, from the click on the trace row (or from navigation start, for a cold open of
the trace URL) to the waterfall laid out and the next frame painted. Medians of several rounds.

Run: python benchmarks/bench_dashboard.py [--spans 5000] [--rounds 7]
     python benchmarks/bench_dashboard.py --charts [--charts-store DB] [--charts-spans 1000000]   (issue 19:
     the Aggregates page's 30-day charts over a large store; appends a dated section to results/dashboard.txt)
     python benchmarks/bench_dashboard.py --sessions [--store DB] [--store-spans 1000000]   (issue 19: the
     Sessions, session and Users pages over a large store; appends a dated section to results/dashboard.txt)
Writes benchmarks/results/dashboard.txt. Needs Debian's chromium at /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import threading
import time
from urllib.parse import quote

import uvicorn
from _harness import free_port
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--charts", action="store_true",
                        help="time the Aggregates page's 30-day charts over a large store instead (issue 19)")
    parser.add_argument("--charts-store", type=pathlib.Path, default=None,
                        help="with --charts: the store to read (built with bench_store's traces when missing)")
    parser.add_argument("--charts-spans", type=int, default=1_000_000, help="with --charts: spans of a built store")
    parser.add_argument("--sessions", action="store_true",
                        help="time the Sessions, session and Users pages over a large store instead (issue 19)")
    parser.add_argument("--store", type=pathlib.Path, default=None,
                        help="with --sessions: the store to read (built with bench_store's traces when missing)")
    parser.add_argument("--store-spans", type=int, default=1_000_000, help="with --sessions: spans of a built store")
    args = parser.parse_args()
    if args.charts:
        bench_charts(args)
        return
    if args.sessions:
        bench_sessions(args)
        return
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


def build_store(db: pathlib.Path, spans: int) -> None:
    """bench_store's five-span GenAI traces (20,000 sessions, 500 users, over 30 days) via the exporter."""
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from bench_store import SPANS_PER_TRACE, SpanFactory

    factory = SpanFactory(seed=3, traces=spans // SPANS_PER_TRACE)
    exporter = SQLiteSpanExporter(db)
    for batch in factory.batches(spans):
        exporter.export(batch)
    exporter.shutdown()


def bench_sessions(args: argparse.Namespace) -> None:
    """The Sessions page, a session's transcript and the Users page in headless Chromium over a large
    store: from navigation start to the page's rows rendered, and the store calls alone. Appends a
    dated section to results/dashboard.txt."""
    from playwright.sync_api import sync_playwright

    from traceglass.store import TraceStore

    with tempfile.TemporaryDirectory() as tmp:
        db = args.store or pathlib.Path(tmp) / "sessions.db"
        built = ""
        if not db.exists():
            started = time.perf_counter()
            build_store(db, args.store_spans)
            built = f", built in {time.perf_counter() - started:.0f} s"
        with TraceStore(db, read_only=True) as store:
            counts = store.count()
            session_id = store.sessions(limit=1).sessions[0].session_id
            calls = {"TraceStore.sessions() (first page of 50)": lambda: store.sessions(),
                     "TraceStore.sessions(cursor=...) (page 2)": lambda: store.sessions(
                         cursor=store.sessions().next_cursor),
                     "TraceStore.session(id) (its turns)": lambda: store.session(session_id),
                     "TraceStore.users() (first page of 50)": lambda: store.users()}
            store_ms = {}
            for label, call in calls.items():
                times = []
                for _ in range(args.rounds):
                    started = time.perf_counter()
                    call()
                    times.append((time.perf_counter() - started) * 1000)
                store_ms[label] = times
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        # Per page: from navigation start to its rows rendered (the dashboard's other first requests, the
        # trace list and app.js's counts from /api/stats, share the store with it), and from the page's
        # own request to its rows rendered (the tg-sessions / tg-session measures in sessions.js).
        pages = {"/sessions": ("/sessions", "sessions", "tg-sessions"),
                 "session view": ("/#/sessions/" + quote(session_id, safe=""), "session", "tg-session"),
                 "/users": ("/users", "users", "tg-sessions")}
        page_ms: dict[str, list[float]] = {}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                for _ in range(args.rounds):
                    for label, (path, rendered, measure) in pages.items():
                        page.goto("about:blank")
                        page.goto(url + path)
                        page.wait_for_selector(f"body[data-sessions-rendered='{rendered}']")
                        nav, own = page.evaluate(f"[performance.now(), performance.getEntriesByName('{measure}')"
                                                 ".slice(-1)[0].duration]")
                        page_ms.setdefault(f"{label}: from navigation to rows rendered", []).append(nav)
                        page_ms.setdefault(f"{label}: its request to rows rendered", []).append(own)
                    # Within the app: a click on a session of the list to its transcript rendered.
                    page.goto(url + "/#/sessions")
                    page.wait_for_selector("body[data-sessions-rendered='sessions']")
                    page.click("tr.session-row td.sessions-id a >> nth=0")
                    page.wait_for_selector("body[data-sessions-rendered='session']")
                    page_ms.setdefault("click on a session -> transcript rendered", []).append(
                        page.evaluate("performance.getEntriesByName('tg-session').slice(-1)[0].duration"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    def row(label: str, values: list[float]) -> str:
        return f"{label:58s} {statistics.median(values):8.1f}  ({min(values):.1f}-{max(values):.1f})"

    slowest = max(statistics.median(v) for k, v in page_ms.items() if "navigation" not in k)
    lines = [
        "",
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} -- Sessions and Users pages (issue 19): "
        f"{counts['spans']:,} spans / {counts['traces']:,} traces (bench_store's traces: 20,000 sessions, "
        f"500 users{built}), headless Chromium, CPython {platform.python_version()}, {args.rounds} rounds, "
        f"medians (min-max); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the server runs in "
        "this process)",
        "scenario                                                         ms",
        *(row(label, values) for label, values in page_ms.items()),
        *(row(label, values) for label, values in store_ms.items()),
        f"target: every page's own request rendered under 1000 ms -> {'met' if slowest < 1000 else 'NOT met'}",
    ]
    out = pathlib.Path(__file__).parent / "results" / "dashboard.txt"
    with out.open("a") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def bench_charts(args: argparse.Namespace) -> None:
    """The 30-day charts over a large store (issue 19): TraceStore.timeseries per day (one series, per
    model, per project) and per hour, GET /api/timeseries, and the Aggregates page in headless Chromium
    (from the charts' requests to the charts painted: the tg-charts measure in charts.js; and from
    navigation, which includes the page's four /api/stats tables sharing the store). Appends a dated
    section to results/dashboard.txt."""
    import sys

    import httpx
    from playwright.sync_api import sync_playwright

    from traceglass.store import TraceStore

    with tempfile.TemporaryDirectory() as tmp:
        db = args.charts_store or pathlib.Path(tmp) / "charts.db"
        built = ""
        if not db.exists():
            sys.path.insert(0, str(pathlib.Path(__file__).parent))
            from bench_store import (  # five-span traces over the last 30 days
                SPANS_PER_TRACE,
                SpanFactory,
            )

            started = time.perf_counter()
            exporter = SQLiteSpanExporter(db)
            for batch in SpanFactory(seed=2, traces=args.charts_spans // SPANS_PER_TRACE).batches(args.charts_spans):
                exporter.export(batch)
            exporter.shutdown()
            built = f", built in {time.perf_counter() - started:.0f} s"
        store_ms: dict[str, list[float]] = {}
        cpu_ms: dict[str, list[float]] = {}
        with TraceStore(db) as store:  # (migrates a store an older traceglass built)
            counts = store.count()
            calls = {'timeseries("day", since="30d")': lambda: store.timeseries("day", since="30d"),
                     'timeseries("day", since="30d", group_by="model")':
                         lambda: store.timeseries("day", since="30d", group_by="model"),
                     'timeseries("day", since="30d", group_by="project")':
                         lambda: store.timeseries("day", since="30d", group_by="project"),
                     'timeseries("hour", since="30d") (721 buckets)': lambda: store.timeseries("hour", since="30d"),
                     'timeseries("hour", since="7d")': lambda: store.timeseries("hour", since="7d"),
                     'score_timeseries("day", since="30d")': lambda: store.score_timeseries("day", since="30d")}
            model_calls = sum(p.calls for s in store.timeseries("day", since="30d").series for p in s.points)
            for label, call in calls.items():
                for _ in range(args.rounds):
                    wall, cpu = time.perf_counter(), time.process_time()
                    call()
                    store_ms.setdefault(label, []).append((time.perf_counter() - wall) * 1000)
                    cpu_ms.setdefault(label, []).append((time.process_time() - cpu) * 1000)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        page_ms: dict[str, list[float]] = {}
        try:
            for _ in range(args.rounds):
                started = time.perf_counter()
                response = httpx.get(url + "/api/timeseries", params={"bucket": "day", "since": "30d"}, timeout=60)
                assert response.status_code == 200 and len(response.json()["buckets"]) == 31, response.text
                page_ms.setdefault("GET /api/timeseries?bucket=day&since=30d (HTTP + JSON)", []).append(
                    (time.perf_counter() - started) * 1000)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                # bypass_csp: Playwright's polling of a JavaScript expression needs eval, which the CSP forbids.
                page = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True).new_page()
                for _ in range(args.rounds):
                    page.goto("about:blank")
                    page.goto(url + "/#/stats")  # since 30 days (the page's default), series: all calls
                    page.wait_for_selector("#stats-charts-body[data-painted] svg[data-chart='cost']", timeout=120_000)
                    bars = page.locator("svg[data-chart='cost'] .bar").count()
                    assert bars >= 30, bars
                    own, nav = page.evaluate("[performance.getEntriesByName('tg-charts').slice(-1)[0].duration,"
                                             " performance.getEntriesByName('tg-charts').slice(-1)[0].startTime"
                                             " + performance.getEntriesByName('tg-charts').slice(-1)[0].duration]")
                    page_ms.setdefault("Aggregates page: the charts' requests -> 6 charts painted", []).append(own)
                    page_ms.setdefault("Aggregates page: navigation -> charts painted (+ its /api/stats tables)",
                                       []).append(nav)
                    # Regrouping on the page: per model (one request pair, the tables stay).
                    page.select_option("#c-group", "model")
                    page.wait_for_function("() => performance.getEntriesByName('tg-charts').length > 1",
                                           timeout=120_000)
                    page_ms.setdefault("Aggregates page: switch to per model -> charts painted", []).append(
                        page.evaluate("performance.getEntriesByName('tg-charts').slice(-1)[0].duration"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    def row(label: str, values: list[float], cpu: list[float] | None = None) -> str:
        text = f"{label:66s} {statistics.median(values):8.1f}  ({min(values):.1f}-{max(values):.1f})"
        return text + (f"  cpu {statistics.median(cpu):.1f}" if cpu else "")

    chart = statistics.median(page_ms["Aggregates page: the charts' requests -> 6 charts painted"])
    lines = [
        "",
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} -- 30-day charts on Aggregates (issue 19): "
        f"{counts['spans']:,} spans / {counts['traces']:,} traces, {model_calls:,} model calls in the last 30 days "
        f"(bench_store's traces{built}), headless Chromium, CPython {platform.python_version()}, {args.rounds} "
        f"rounds, medians (min-max) in wall ms, store calls also in CPU ms; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs (the server runs in this process)",
        "scenario                                                                 ms",
        *(row(label, values) for label, values in page_ms.items()),
        *(row("TraceStore." + label, values, cpu_ms[label]) for label, values in store_ms.items()),
        f"target: the 30-day chart painted under 1000 ms -> {'met' if chart < 1000 else 'NOT met'}",
    ]
    out = pathlib.Path(__file__).parent / "results" / "dashboard.txt"
    with out.open("a") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
