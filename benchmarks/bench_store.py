"""SQLite exporter throughput and TraceStore query latency on a large generated database.

Realistic GenAI spans: five per trace (agent -> embedding, retriever, llm, tool), about 15
attributes and 2 KB of captured content each. Two parts:

1. Sustained export: ``SQLiteSpanExporter.export`` in batches of 512 (the BatchSpanProcessor's
   default) against, in the same run, the same exporter storing every value as text (no
   compression), a bare ``executemany`` of the very same rows into the same schema, the span rows
   as one JSON document per batch unpacked by SQLite (``json_each``), and the no-index ceiling;
   CPU microseconds and bytes on disk per span beside each. Then the exporter, compressing and
   not, on the same spans with English prose (:func:`prose_corpus`) in place of their texts of 21
   repeated words, which compress and index better than captured content does. Span building is
   outside the timings; row conversion is inside the exporter's.
2. Export beside a CPU-busy application: a thread calls an ``@observe`` function in a tight loop
   for ``--busy-seconds`` through the real ``configure()`` pipeline (BatchSpanProcessor + this
   exporter), in a child process; spans stored per second while it runs. Then batches of the
   realistic spans exported while a thread of this process runs Python without pause: each time
   the writer gives up the GIL (a SQLite step, a zstd call) it waits to win it back.
3. Reads beside a CPU-busy thread: on a database of ``--busy-reads-spans`` spans, a trace, a page,
   the dashboard's page (with its types, models and previews), content searches, statistics, a session
   of 50 turns and an evaluation run's judge cost over a tenth of the spans, idle and while
   a thread of this process runs Python without pause (every step of SQLite and every call back into
   Python waits to win the GIL back).
4. A database of ``--spans`` spans (default 1,000,000) written through the exporter, then
   ``get_trace``, ``list_traces`` pages and ``stats`` over everything.

Run: python benchmarks/bench_store.py [--spans 1000000] [--throughput-spans 100000] [--busy-seconds 6]
     [--busy-reads-spans 50000]
Writes benchmarks/results/store.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import pathlib
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import orjson
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _packed, _schema, _search, _vocabulary
from traceglass.store._rows import (
    DATA_COLUMNS,
    INSERT_DATA,
    INSERT_SPAN,
    SPAN_COLUMNS,
    SpanRow,
    row_from_span,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _harness  # noqa: E402 - beside this file

BATCH = 512
SPANS_PER_TRACE = 5
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "o3-mini", "claude-sonnet-4", "gemini-2.5-flash"]
PROJECTS = [Resource.create({"service.name": name, "deployment.environment": "prod"})
            for name in ("support-bot", "search", "billing-agent")]
WORDS = ["the", "customer", "asked", "about", "refunds", "shipping", "delays", "invoices", "and", "whether", "the", "premium", "plan", "includes", "priority", "support", "for", "enterprise", "accounts", "in", "europe"]
SPAN_WINDOW_S = 30 * 86400  # traces spread over 30 days


def _held(attributes: dict) -> BoundedAttributes:
    """Attributes held as an SDK span holds them once ended (what an exporter receives)."""
    return BoundedAttributes(128, attributes, immutable=True)


def _text(rng: random.Random, size: int) -> str:
    out, length = [], 0
    while length < size:
        word = rng.choice(WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


@functools.lru_cache(maxsize=1)
def prose_corpus() -> str:
    """English prose with a real vocabulary: the docstrings of the standard library's modules,
    classes and functions (~1.4 MB, ~6,000 distinct words on 3.11; the same text for a Python
    version). ``WORDS`` texts repeat 21 words, which compress and index far better than captured
    prompts and completions do."""
    import ast

    root = pathlib.Path(os.__file__).parent
    docs: dict[str, None] = {}
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if path.parent.name in ("test", "tests", "idlelib", "site-packages"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    docs[doc] = None
    return "\n\n".join(docs)


def _prose(rng: random.Random, size: int) -> str:
    corpus = prose_corpus()
    start = rng.randrange(0, len(corpus) - size)
    return corpus[start:start + size]


class SpanFactory:
    """Five-span GenAI traces with unique ids, realistic attributes and ~2 KB content per span, their
    attributes held as the SDK holds them (``BoundedAttributes``; plain dicts before 2026-12-04)."""

    def __init__(self, seed: int = 7, traces: int = 200_000, sessions: int = 20_000, prose: bool = False) -> None:
        self.rng = random.Random(seed)
        self.sessions = sessions  # trace n is a turn of session n % sessions
        self.start_ns = int((time.time() - SPAN_WINDOW_S) * 1e9)
        self.step_ns = SPAN_WINDOW_S * 10**9 // max(1, traces)  # spread the traces over the window
        # WORDS texts from a shared pool (building stays cheap); with ``prose`` a window of prose_corpus()
        # of its own for each trace (a slice: cheap too), so that no text repeats across traces.
        self.prose = prose
        self.texts = [] if prose else [_text(self.rng, 1800) for _ in range(64)]
        self.count = 0

    def _ctx(self, trace_id: int, span_id: int) -> SpanContext:
        return SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))

    def trace(self) -> list[ReadableSpan]:
        rng, n = self.rng, self.count
        self.count += 1
        trace_id = rng.getrandbits(128) | 1
        root_id = rng.getrandbits(64) | 1
        start = self.start_ns + n * self.step_ns
        resource = PROJECTS[n % len(PROJECTS)]
        model = MODELS[n % len(MODELS)]
        session, user = f"session-{n % self.sessions}", f"user-{n % 500}"
        text = _prose(rng, 1800) if self.prose else self.texts[n % len(self.texts)]
        root_ctx = self._ctx(trace_id, root_id)
        failed = n % 50 == 0
        common = {"session.id": session, "user.id": user}
        tin, tout = 200 + n % 800, 20 + n % 300

        def child(name, kind, offset_ms, duration_ms, attributes, error=False):
            ctx = self._ctx(trace_id, rng.getrandbits(64) | 1)
            status = Status(StatusCode.ERROR, "rate limited") if error else Status(StatusCode.UNSET)
            return ReadableSpan(name=name, context=ctx, parent=root_ctx, resource=resource,
                                attributes=_held({**common, **attributes}), kind=kind, status=status,
                                start_time=start + offset_ms * 10**6,
                                end_time=start + (offset_ms + duration_ms) * 10**6)

        spans = [
            child("embeddings text-embedding-3-small", SpanKind.CLIENT, 5, 40 + n % 30, {
                "traceglass.span.type": "embedding", "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai", "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 30 + n % 20, "gen_ai.embeddings.dimension.count": 1536,
                "server.address": "api.openai.com", "server.port": 443, "traceglass.cost.total_usd": 6e-7,
                "traceglass.input": text[:1900], "traceglass.embeddings.input_count": 1,
                "gen_ai.request.encoding_formats": ("float",), "traceglass.embedder": "openai"}),
            child("retrieve knowledge-base", SpanKind.INTERNAL, 50, 30 + n % 40, {
                "traceglass.span.type": "retriever", "gen_ai.operation.name": "retrieval",
                "gen_ai.data_source.id": "kb-main", "gen_ai.retrieval.query.text": text[:200],
                "gen_ai.retrieval.documents": text[:1800], "traceglass.retrieval.document_count": 4,
                "traceglass.input": text[:120], "traceglass.tags": ("rag", "kb"),
                "traceglass.metadata.index": "v3", "traceglass.metadata.top_k": 4}),
            child(f"chat {model}", SpanKind.CLIENT, 90, 400 + n % 2000, {
                "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model, "gen_ai.response.model": f"{model}-2025-01-01",
                "gen_ai.response.id": f"chatcmpl-{n:012d}", "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 512,
                "gen_ai.usage.input_tokens": tin, "gen_ai.usage.output_tokens": tout,
                "gen_ai.usage.cache_read.input_tokens": tin // 4, "traceglass.cost.total_usd": tin * 1.5e-7 + tout * 6e-7,
                "server.address": "api.openai.com", "server.port": 443,
                "gen_ai.input.messages": text[:1400], "gen_ai.output.messages": text[1400:1800]}, error=failed),
            child("execute_tool lookup_order", SpanKind.INTERNAL, 2600, 15 + n % 50, {
                "traceglass.span.type": "tool", "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order", "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": f"call_{n:010d}", "gen_ai.tool.description": "Look up an order by id",
                "gen_ai.tool.call.arguments": f'{{"order_id": "{n}"}}', "gen_ai.tool.call.result": text[:1800],
                "traceglass.input": f'{{"order_id": "{n}"}}', "traceglass.output": text[:100],
                "traceglass.metadata.region": "eu"}),
        ]
        end = max(s.end_time for s in spans) + 2 * 10**6
        root = ReadableSpan(
            name="invoke_agent support", context=root_ctx, parent=None, resource=resource, kind=SpanKind.INTERNAL,
            attributes=_held({**common, "traceglass.span.type": "agent", "gen_ai.operation.name": "invoke_agent",
                        "gen_ai.agent.name": "support", "gen_ai.agent.id": "agent-1",
                        "traceglass.agent.tools": '["lookup_order"]', "traceglass.input": text[:900],
                        "traceglass.output": text[900:1800], "traceglass.tags": ("prod",),
                        "traceglass.metadata.version": "1.4.2", "gen_ai.conversation.id": session}),
            status=Status(StatusCode.ERROR, "llm failed") if failed else Status(StatusCode.OK),
            start_time=start, end_time=end)
        # Children end before their parent, as an SDK exports them.
        return spans + [root]

    def batches(self, total_spans: int) -> Iterator[list[ReadableSpan]]:
        batch: list[ReadableSpan] = []
        made = 0
        while made < total_spans:
            spans = self.trace()
            batch.extend(spans)
            made += len(spans)
            if len(batch) >= BATCH:
                yield batch[:BATCH]
                batch = batch[BATCH:]
        if batch:
            yield batch


def _fresh(path: pathlib.Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _content_bytes(spans: list[ReadableSpan]) -> float:
    rows = [row_from_span(s) for s in spans[:500]]
    return statistics.mean(len(r.data[0]) for r in rows)


def bench_throughput(workdir: pathlib.Path, total: int, report: Callable[[str], None]) -> None:
    factory = SpanFactory(seed=1, traces=total // SPANS_PER_TRACE)
    batches = list(factory.batches(total))
    spans = sum(len(b) for b in batches)
    report(f"spans per trace {SPANS_PER_TRACE}, attributes per span ~{statistics.mean(len(s.attributes) for s in batches[0]):.0f}, "
           f"attributes JSON per span ~{_content_bytes(batches[0]):.0f} bytes")

    # The exporter: row conversion + executemany into spans and span_data + trace summaries, per batch.
    path = workdir / "throughput-exporter.db"
    _fresh(path)
    split = _CpuSplit()
    with split.installed():
        exporter = SQLiteSpanExporter(path)
        exporter.export(batches[0][:1])  # open the file and create the schema outside the timing
        split.reset()

        def export() -> None:
            for batch in batches:
                exporter.export(batch)

        exporter_thread = time.thread_time()
        exporter_s, exporter_cpu = _wall_and_cpu(export)
        exporter_thread = time.thread_time() - exporter_thread
        exporter.shutdown()
    exporter_bytes = _size(path) / spans
    # The same exporter writing from a separate process: this process's CPU (encoding and piping the
    # spans) apart from the writer process's (read from /proc: it is still running).
    proc_path = workdir / "throughput-process.db"
    _fresh(proc_path)
    separate = SQLiteSpanExporter(proc_path, separate_process=True)
    separate.export(batches[0][:1])  # start the writer process outside the timing
    child_before = _harness.process_cpu(separate.writer_pid)
    separate_s, separate_cpu = _wall_and_cpu(lambda: [separate.export(batch) for batch in batches])
    separate_child_cpu = _harness.process_cpu(separate.writer_pid) - child_before
    separate.shutdown()
    separate_bytes = _size(proc_path) / spans
    # The same exporter storing every value as plain JSON text (what it did before compression).
    plain_s, plain_cpu, plain_bytes = _exported(workdir / "throughput-plain.db", batches, packed=False)
    # The same exporter without the content search's word index (as a SQLite without FTS5 runs it).
    noindex_s, noindex_cpu, noindex_bytes = _exported(workdir / "throughput-noindex.db", batches, indexed=False)
    # The exporter, compressing and not, on captured prose instead of WORDS texts.
    prose = list(SpanFactory(seed=1, traces=total // SPANS_PER_TRACE, prose=True).batches(total))
    prose_s, prose_cpu, prose_bytes = _exported(workdir / "throughput-prose.db", prose)
    prose_plain_s, prose_plain_cpu, prose_plain_bytes = _exported(workdir / "throughput-prose-plain.db", prose,
                                                                  packed=False)
    prose_words, prose_json = len(set(_prose_words(prose[0]))), _content_bytes(prose[0])
    del prose  # 100,000 more live spans would slow every collection of the parts below

    # Row conversion alone, then a bare executemany of the same rows into the same schema.
    row_batches: list[list[SpanRow]] = []
    convert_s, convert_cpu = _wall_and_cpu(
        lambda: row_batches.extend([row_from_span(s) for s in batch] for batch in batches))
    bare_s, bare_cpu = _bare_inserts(workdir / "throughput-bare.db", row_batches, _schema.connect)
    bare_bytes = _size(workdir / "throughput-bare.db") / spans
    # The ceiling of any layout: the same rows appended to the two tables with no index at all.
    ceiling_s, ceiling_cpu = _bare_inserts(workdir / "throughput-unindexed.db", row_batches, _unindexed)
    ceiling_bytes = _size(workdir / "throughput-unindexed.db") / spans
    # A candidate measured and not adopted: each batch's span rows as one JSON document that SQLite
    # unpacks itself (INSERT ... SELECT value->>0, ... FROM json_each(?)), instead of bound parameters.
    json_s, json_cpu = _bare_inserts(workdir / "throughput-json.db", row_batches, _schema.connect, as_json=True)
    json_bytes = _size(workdir / "throughput-json.db") / spans

    def line(label: str, wall: float, cpu: float, size: float, note: str) -> str:
        return (f"  {label:<34}{spans / wall:>9,.0f} spans/s  {wall:6.2f} s [{cpu:5.2f}]  "
                f"{cpu / spans * 1e6:5.1f} us CPU/span  {size:6,.0f} B/span  {note}")

    report(f"sustained export, {spans:,} spans in batches of {BATCH} (wall; CPU seconds of all threads in brackets; "
           "bytes on disk per span, WAL included):")
    report(line("SQLiteSpanExporter.export", exporter_s, exporter_cpu, exporter_bytes,
                "incl. row conversion, compression and trace summaries"))
    python = exporter_thread - split.sql - split.zstd
    report(f"    where its CPU goes (us a span): Python {python / spans * 1e6:.1f} (the exporting thread's CPU outside "
           f"SQLite and zstd), SQLite's statements {split.sql / spans * 1e6:.1f} ({split.statements / len(batches):.1f} "
           f"a batch; binding included), zstd on the exporting thread {split.zstd / spans * 1e6:.1f}, other threads "
           f"{(exporter_cpu - exporter_thread) / spans * 1e6:.1f} (the thread a large batch is compressed on, zstd's "
           "workers, the WAL checkpointer)")
    report(line("  the same, separate process", separate_s, separate_cpu, separate_bytes,
                f"this process's CPU; the writer process's: {separate_child_cpu / spans * 1e6:.1f} us/span"))
    report(line("  the same, values stored as text", plain_s, plain_cpu, plain_bytes, "(no compression)"))
    report(line("  the same, no word index", noindex_s, noindex_cpu, noindex_bytes, "(content search scans)"))
    report(line("  the same, prose content", prose_s, prose_cpu, prose_bytes,
                f"(content: stdlib docstrings, {prose_words:,} distinct words in a batch; "
                f"~{prose_json:.0f} bytes of attributes JSON a span)"))
    report(line("    prose, values stored as text", prose_plain_s, prose_plain_cpu, prose_plain_bytes,
                f"(no compression; compressed: {prose_bytes / prose_plain_bytes:.2f} of it, "
                f"WORDS content {exporter_bytes / plain_bytes:.2f})"))
    report(line("bare executemany of the same rows", bare_s, bare_cpu, bare_bytes, "rows prebuilt, text"))
    report(line("  spans as one JSON doc per batch", json_s, json_cpu, json_bytes, "rows prebuilt, json_each"))
    report(line("ceiling: no index at all", ceiling_s, ceiling_cpu, ceiling_bytes, "rows prebuilt, text"))
    report(line("row conversion alone", convert_s, convert_cpu, 0, ""))
    report(f"  exporter / bare executemany+conversion: {(bare_s + convert_s) / exporter_s:.2f}x; "
           f"ceiling with the conversion: {spans / (ceiling_s + convert_s):,.0f} spans/s "
           f"({(ceiling_cpu + convert_cpu) / spans * 1e6:.1f} us CPU/span)")
    for name in ("throughput-exporter.db", "throughput-process.db", "throughput-plain.db", "throughput-noindex.db",
                 "throughput-prose.db", "throughput-prose-plain.db", "throughput-bare.db", "throughput-unindexed.db",
                 "throughput-json.db"):
        _fresh(workdir / name)


def _exported(path: pathlib.Path, batches: list[list[ReadableSpan]], *, packed: bool = True,
              indexed: bool = True) -> tuple[float, float, float]:
    """``batches`` through a fresh SQLiteSpanExporter at ``path``: wall and CPU seconds, bytes on disk a
    span; ``packed=False`` stores every value as JSON text, ``indexed=False`` runs without the word index
    (as a SQLite without FTS5 does)."""
    _fresh(path)
    saved_min, saved_fts5 = _packed.MIN_PACKED, _search.FTS5
    if not packed:
        _packed.MIN_PACKED = float("inf")
    if not indexed:
        _search.FTS5 = False
    try:
        exporter = SQLiteSpanExporter(path)
        exporter.export(batches[0][:1])  # open the file and create the schema outside the timing
        wall, cpu = _wall_and_cpu(lambda: [exporter.export(batch) for batch in batches])
        exporter.shutdown()
    finally:
        _packed.MIN_PACKED, _search.FTS5 = saved_min, saved_fts5
    return wall, cpu, _size(path) / sum(len(batch) for batch in batches)


def _prose_words(spans: list[ReadableSpan]) -> list[str]:
    return [word.lower() for span in spans for value in span.attributes.values() if isinstance(value, str)
            for word in _WORD.findall(value)]


_WORD = re.compile(r"[A-Za-z0-9]+")


def _size(path: pathlib.Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


BUSY_APP = textwrap.dedent("""
    import sqlite3, sys, threading, time
    import traceglass

    db, seconds = sys.argv[1], float(sys.argv[2])
    traceglass.configure(exporters=["sqlite"], db_path=db, instrument=[], service_name="busy")

    @traceglass.observe(name="step")
    def step(i):
        return i * 2

    stop, emitted = threading.Event(), [0]

    def app():  # pure Python without pause: never gives the GIL up on its own
        n = 0
        while not stop.is_set():
            step(n)
            n += 1
        emitted[0] = n

    thread = threading.Thread(target=app)
    thread.start()
    time.sleep(seconds)
    conn = sqlite3.connect(db, timeout=30)
    stored = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    stop.set()
    thread.join()
    print(emitted[0], stored)
""")


def bench_busy(workdir: pathlib.Path, seconds: float, report: Callable[[str], None]) -> None:
    path = workdir / "busy.db"
    report(f"export beside a CPU-busy app thread (tight loop of @observe calls, configure() defaults, "
           f"switch interval {sys.getswitchinterval() * 1000:g} ms), {seconds:g} s per run, 3 runs each:")
    for label, separate in (("in-process writer", "0"), ("separate process", "1")):
        rates = []
        for _ in range(3):
            _fresh(path)
            env = {**os.environ, "TRACEGLASS_DB_SEPARATE_PROCESS": separate}
            out = subprocess.run([sys.executable, "-c", BUSY_APP, str(path), str(seconds)], capture_output=True,
                                 text=True, timeout=seconds + 120, check=True, env=env).stdout.split()
            emitted, stored = int(out[0]), int(out[1])
            rates.append((stored / seconds, emitted / seconds))
        _fresh(path)
        report(f"  {label:<18} spans stored per second while it runs " + ", ".join(f"{r:,.0f}" for r, _ in rates)
               + "  (emitted per second " + ", ".join(f"{e:,.0f}" for _, e in rates) + ")")
    _busy_batches(workdir, report)


def _busy_batches(workdir: pathlib.Path, report: Callable[[str], None], count: int = 8) -> None:
    batches = list(SpanFactory(seed=3, traces=BATCH * count // SPANS_PER_TRACE).batches(BATCH * count))
    report(f"export of {count} batches of {BATCH} realistic spans while a thread of the same process runs Python "
           "without pause (ms a batch; spans stored per second):")
    for label, separate in (("in-process writer", False), ("separate process", True)):
        path = workdir / "busy-batches.db"
        _fresh(path)
        exporter = SQLiteSpanExporter(path, separate_process=separate)
        exporter.export(batches[0][:1])  # schema (and writer process) outside the timing
        stop = threading.Event()

        def spin() -> None:
            n = 0
            while not stop.is_set():
                n += 1

        thread = threading.Thread(target=spin)
        thread.start()
        took = []
        try:
            for batch in batches:
                start = time.perf_counter()
                exporter.export(batch)
                took.append(time.perf_counter() - start)
        finally:
            stop.set()
            thread.join()
            exporter.shutdown()
            _fresh(path)
        report(f"  {label:<18} median {statistics.median(took) * 1e3:,.0f} ms a batch (range "
               f"{min(took) * 1e3:,.0f}-{max(took) * 1e3:,.0f}), {len(batches) * BATCH / sum(took):,.0f} spans/s")


def _dashboard_page(store: TraceStore) -> None:
    """What the dashboard's trace list reads: a page, its root types and models, its previews."""
    ids = [t.trace_id for t in store.list_traces(limit=50).traces]
    store.types_and_models(ids)
    store.root_io(ids)


def bench_busy_reads(workdir: pathlib.Path, spans: int, report: Callable[[str], None],
                     give_up_after_s: float = 30.0) -> None:
    path = workdir / "busy-reads.db"
    _fresh(path)
    exporter = SQLiteSpanExporter(path)
    traces = spans // SPANS_PER_TRACE
    for batch in SpanFactory(seed=4, traces=traces, sessions=max(1, traces // 50)).batches(spans):
        exporter.export(batch)
    exporter.shutdown()
    store = TraceStore(path, create=False)
    some = [t.trace_id for t in store.list_traces(limit=50).traces]
    rare = f"call_{traces // 3:010d}"
    # An evaluation run's judge cost: every span since the run began is read (a tenth of the store here).
    run_began = store.list_traces(limit=max(1, traces // 10)).traces[-1].start_ns
    cases = [
        ("get_trace (5 spans)", lambda: store.get_trace(some[7])),
        ("list_traces page (50)", lambda: store.list_traces(limit=50)),
        ("the dashboard's page (+ types, models, previews)", lambda: _dashboard_page(store)),
        ("search 'priority support' (common phrase)", lambda: store.list_traces(search="priority support")),
        ("search 'tool_call' (many candidates, none holds it)", lambda: store.list_traces(search="tool_call")),
        (f"search '{rare}' (rare id)", lambda: store.list_traces(search=rare)),
        ("search 'call_00000012' (every span read)", lambda: store.list_traces(search="call_00000012")),
        # A lone word: the process's first such search reads the vocabulary whole (on threads: see _vocabulary),
        # the next ones look in the words it keeps.
        ("search 'zebra' (the vocabulary read whole)", lambda: (_vocabulary._kept.clear(),
                                                                store.list_traces(search="zebra"))),
        ("search 'zebra' (the words kept)", lambda: store.list_traces(search="zebra")),
        ('stats(group_by="model")', lambda: store.stats("model")),
        ("a session (50 turns)", lambda: store.session("session-7")),
        (f"an evaluation run's judge cost ({spans // 10:,} spans read)",
         lambda: store.attributed_cost("traceglass.eval.run_id", "run-1", since_ns=run_began)),
    ]
    report(f"reads on {spans:,} spans, idle and while a thread of this process runs Python without pause "
           f"(median ms of 3; one run when it takes over {give_up_after_s:g} s):")
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    def timed(func: Callable[[], object]) -> float:
        took = []
        for _ in range(3):
            start = time.perf_counter()
            func()
            took.append(time.perf_counter() - start)
            if took[-1] > give_up_after_s:
                break
        return statistics.median(took) * 1e3

    try:
        idle = [timed(func) for _, func in cases]
        thread = threading.Thread(target=spin)
        thread.start()
        try:
            busy = [timed(func) for _, func in cases]
        finally:
            stop.set()
            thread.join()
    finally:
        store.close()
        _fresh(path)
    for (label, _), quiet, loaded in zip(cases, idle, busy):
        report(f"  {label:<52} idle {quiet:9.2f} ms   beside the busy thread {loaded:10.1f} ms")


def _wall_and_cpu(func: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - wall, time.process_time() - cpu


_JSON_SPANS = (f"INSERT INTO spans (id, trace_no, {', '.join(SPAN_COLUMNS)}) SELECT "
               + ", ".join(f"value->>{i}" for i in range(len(SPAN_COLUMNS) + 2)) + " FROM json_each(?)")


class _CpuSplit:
    """The exporting thread's CPU inside SQLite's statements and inside zstd's calls (``time.thread_time``
    around each: a few calls a batch, so the timing itself costs nothing measurable). Other threads'
    statements (the WAL checkpointer's) are not counted: their CPU is the other threads'."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Count from zero, the calling thread's calls only."""
        self.sql = self.zstd = 0.0
        self.statements = 0
        self.thread = threading.get_ident()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Connections opened meanwhile time their statements; the batch compressor its calls."""
        split = self

        class Timed(sqlite3.Connection):
            def execute(self, *args):  # type: ignore[override]
                if threading.get_ident() != split.thread:
                    return super().execute(*args)
                start = time.thread_time()
                try:
                    return super().execute(*args)
                finally:
                    split.sql += time.thread_time() - start
                    split.statements += 1

        class Compressor:
            def __init__(self, real) -> None:
                self.real = real

            def __getattr__(self, name: str):
                method = getattr(self.real, name)

                def timed(*args, **kwargs):
                    if threading.get_ident() != split.thread:
                        return method(*args, **kwargs)
                    start = time.thread_time()
                    try:
                        return method(*args, **kwargs)
                    finally:
                        split.zstd += time.thread_time() - start
                return timed

        connect, compressor = sqlite3.connect, _packed._compressor
        sqlite3.connect = functools.partial(connect, factory=Timed)  # type: ignore[assignment]
        _packed._compressor = lambda *dictionary: Compressor(compressor(*dictionary))
        try:
            yield
        finally:
            sqlite3.connect, _packed._compressor = connect, compressor


def _bare_inserts(path: pathlib.Path, row_batches: list[list[SpanRow]],
                  connect: Callable[[pathlib.Path], sqlite3.Connection], *, as_json: bool = False) -> tuple[float, float]:
    _fresh(path)
    conn = connect(path)

    def insert() -> None:
        next_id, numbers = 1, {}  # row ids, and a number per trace (traces.id in the real schema)
        for rows in row_batches:
            for r in rows:
                numbers.setdefault(r.trace_id, len(numbers) + 1)
            conn.execute("BEGIN")
            spans = [(next_id + i, numbers[r.trace_id], *r.span) for i, r in enumerate(rows)]
            if as_json:
                conn.execute(_JSON_SPANS, (orjson.dumps(spans).decode(),))
            else:
                conn.executemany(INSERT_SPAN, spans)
            # The resource left out, as the exporter stores it: once per store, not per span (schema 14).
            conn.executemany(INSERT_DATA, [(next_id + i, *r.data[:3], "") for i, r in enumerate(rows)])
            conn.execute("COMMIT")
            next_id += len(rows)

    try:
        return _wall_and_cpu(insert)
    finally:
        conn.close()


def _unindexed(path: pathlib.Path) -> sqlite3.Connection:
    """The exporter's tables and settings (WAL, synchronous=NORMAL, page size) without any index."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA page_size = {_schema.PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_no, {', '.join(SPAN_COLUMNS)}, superseded DEFAULT 0)")
    conn.execute(f"CREATE TABLE span_data (id INTEGER PRIMARY KEY, {', '.join(DATA_COLUMNS)})")
    return conn


_cpu_ms: list[float] = []  # CPU time of the last _timed's calls: on a loaded machine wall time mostly waits


def _timed(func: Callable[[], object], repeat: int) -> list[float]:
    out = []
    _cpu_ms.clear()
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        func()
        out.append((time.perf_counter() - start) * 1000)
        _cpu_ms.append((time.process_time() - cpu) * 1000)
    return out


def _summary(label: str, samples_ms: list[float], target_ms: float | None = None) -> str:
    median = statistics.median(samples_ms)
    p95 = sorted(samples_ms)[max(0, -(-len(samples_ms) * 95 // 100) - 1)]  # nearest rank
    verdict = "" if target_ms is None else f"  [target < {target_ms:g} ms: {'met' if p95 < target_ms else 'MISSED'}]"
    return (f"  {label:<46} median {median:8.2f} ms  p95 {p95:8.2f} ms  CPU median {statistics.median(_cpu_ms):8.2f} ms"
            f"  (n={len(samples_ms)}){verdict}")


def bench_queries(workdir: pathlib.Path, total: int, report: Callable[[str], None], keep: bool) -> None:
    path = workdir / "big.db"
    _fresh(path)
    factory = SpanFactory(seed=2, traces=total // SPANS_PER_TRACE)
    exporter = SQLiteSpanExporter(path)
    sample_ids: list[str] = []
    rng = random.Random(3)
    written, export_s, started = 0, 0.0, time.perf_counter()
    for batch in factory.batches(total):
        if rng.random() < 0.2:
            sample_ids.append(format(batch[-1].context.trace_id, "032x"))
        start = time.perf_counter()
        exporter.export(batch)
        export_s += time.perf_counter() - start
        written += len(batch)
    exporter.shutdown()
    wall = time.perf_counter() - started
    size = _size(path)
    report(f"database of {written:,} spans ({written // SPANS_PER_TRACE:,} traces), {size / 1e9:.2f} GB on disk "
           f"({size / written:,.0f} bytes per span):")
    report(f"  built through the exporter in {wall:.1f} s wall ({written / export_s:,.0f} spans/s inside export)")

    store = TraceStore(path, create=False)
    ids = rng.sample(sample_ids, min(300, len(sample_ids)))
    it = iter(ids * 2)
    report(_summary("get_trace (random trace, 5 spans)", _timed(lambda: store.get_trace(next(it)), len(ids)), 5))
    report(_summary("list_traces first page (50)", _timed(lambda: store.list_traces(limit=50), 50), 50))
    page = store.list_traces(limit=50)
    for _ in range(20):
        page = store.list_traces(limit=50, cursor=page.next_cursor)
    cursor = page.next_cursor
    report(_summary("list_traces page 22 via cursor", _timed(lambda: store.list_traces(limit=50, cursor=cursor), 50), 50))
    report(_summary("list_traces project=search", _timed(lambda: store.list_traces(project="search"), 50), 50))
    report(_summary("list_traces user=user-42", _timed(lambda: store.list_traces(user="user-42"), 50), 50))
    report(_summary("list_traces model=o3-mini-2025-01-01 (any span)",
                    _timed(lambda: store.list_traces(model="o3-mini-2025-01-01"), 50), 50))
    report(_summary("list_traces status=error", _timed(lambda: store.list_traces(status="error"), 50), 50))
    report(_summary("list_traces since=7d min_cost=0.0003",
                    _timed(lambda: store.list_traces(since="7d", min_cost=0.0003), 20), 50))
    _bench_search(store, written // SPANS_PER_TRACE, report)
    _bench_arriving(path, store, report)
    report(_summary('stats(group_by="model") over everything', _timed(lambda: store.stats("model"), 5), 1000))
    for group in ("type", "project", "user", "day"):
        report(_summary(f'stats(group_by="{group}") over everything', _timed(lambda group=group: store.stats(group), 3)))
    report(_summary('stats(group_by="model", since="7d")', _timed(lambda: store.stats("model", since="7d"), 5)))
    _bench_pruned(store, written // SPANS_PER_TRACE, report)  # last: it deletes traces
    store.close()
    if not keep:
        _fresh(path)


# The content search before the word index (schema 9): every span's values decompressed into text for LIKE.
_OLD_SEARCH = """SELECT t.trace_id FROM traces t WHERE
    (EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND +s.name LIKE ? ESCAPE '\\')
     OR EXISTS (SELECT 1 FROM spans s JOIN span_data d ON d.id = s.id WHERE s.trace_no = t.id
     AND (tg_json(d.attributes) LIKE ? ESCAPE '\\' OR tg_json(d.events) LIKE ? ESCAPE '\\')))
    ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT 51"""


def _scanning(func: Callable[[], object]) -> Callable[[], object]:
    """``func`` run with the word index ignored: the search scans every span."""
    def run() -> object:
        saved, _search.FTS5 = _search.FTS5, False
        try:
            return func()
        finally:
            _search.FTS5 = saved
    return run


def _bench_search(store: TraceStore, traces: int, report: Callable[[str], None]) -> None:
    conn = store._db.conn
    rare = f"{traces // 3:010d}"  # the number in one tool call's id (call_0000066666): one word of one span
    cases = [
        ("'priority support' (common phrase)", "priority support", 10),
        ("'zebra-unicorn' (absent phrase)", "zebra-unicorn", 3),
        ("'zebra' (absent word: vocabulary)", "zebra", 3),
        (f"'call_{rare}' (rare id)", f"call_{rare}", 3),
        (f"'{rare}' (rare number: vocabulary)", rare, 3),
        (f"'{rare[3:]}' (infix of one: vocabulary)", rare[3:], 3),
    ]
    for label, needle, repeat in cases:
        # The first search that needs the whole vocabulary reads it (the process keeps it: _vocabulary).
        kept_before = len(_vocabulary._kept)
        cold = _summary("  its first search in this process",
                        _timed(lambda needle=needle: store.list_traces(search=needle).traces, 1))
        read_now = len(_vocabulary._kept) > kept_before
        found = store.list_traces(search=needle).traces
        scanned = _scanning(lambda needle=needle: store.list_traces(search=needle).traces)()
        assert [t.trace_id for t in found] == [t.trace_id for t in scanned], needle
        report(_summary(f"search {label}, word index", _timed(lambda needle=needle: store.list_traces(search=needle),
                                                                repeat)) + f"  {len(found)} found")
        if read_now:
            kept = sum(len(words.text) for words in _vocabulary._kept.values())
            report(f"{cold}  (it reads the vocabulary: {kept / 1e6:.1f} MB of words kept)")
        report(_summary("  the same scanning (index not used)",
                        _timed(_scanning(lambda needle=needle: store.list_traces(search=needle)), 1)))
        if needle in ("zebra-unicorn", "priority support"):
            pattern = _search.like(needle)
            report(_summary("  the same, the schema 9 scan (tg_json LIKE)",
                            _timed(lambda pattern=pattern: conn.execute(_OLD_SEARCH, (pattern,) * 3).fetchall(), 1)))


def _lone_word_after_each(store: TraceStore, steps: Iterable[Callable[[], object]]) -> tuple[list[float], int]:
    """'zebra' searched after each of ``steps`` (its words looked up once before): the wall ms of each search
    (their CPU in ``_cpu_ms``), and how many times the store's whole vocabulary was read meanwhile."""
    read_whole, passes = _vocabulary._read_whole, []

    def counted(conn: sqlite3.Connection, file: str, table: str) -> tuple:
        passes.append(file)
        return read_whole(conn, file, table)

    store.list_traces(search="zebra")
    samples, cpu = [], []
    _vocabulary._read_whole = counted
    try:
        for step in steps:
            step()
            start, started_cpu = time.perf_counter(), time.process_time()
            store.list_traces(search="zebra")
            samples.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
    finally:
        _vocabulary._read_whole = read_whole
    _cpu_ms[:] = cpu
    return samples, len(passes)


def _bench_arriving(path: pathlib.Path, store: TraceStore, report: Callable[[str], None], rounds: int = 40,
                    seed: int = 11) -> None:
    """A lone word searched after each of ``rounds`` batches stored by another exporter (spans arriving while
    a dashboard searches): what each search costs, and how often it read the whole vocabulary again."""
    exporter = SQLiteSpanExporter(path)
    batches = SpanFactory(seed=seed, traces=rounds * BATCH // SPANS_PER_TRACE).batches(rounds * BATCH)
    samples, passes = _lone_word_after_each(store, (functools.partial(exporter.export, batch) for batch in batches))
    exporter.shutdown()
    report(_summary(f"  'zebra' after each of {rounds} batches stored", samples)
           + f"  max {max(samples):.1f} ms, sum {sum(samples):,.0f} ms; the vocabulary read whole {passes} times")


def _bench_pruned(store: TraceStore, traces: int, report: Callable[[str], None], rounds: int = 5,
                  per_round: int = 1_000) -> None:
    """A lone word searched after each of ``rounds`` prunes by age of the oldest ``per_round`` traces (retention
    at work): what each search costs, and how often it read the whole vocabulary again."""
    oldest = time.time() - SPAN_WINDOW_S  # the factory's first trace (see SpanFactory)
    per_round = max(1, min(per_round, traces // (2 * rounds)))  # a small store keeps half its traces
    pruned: list[int] = []

    def prune(n: int) -> None:
        cutoff = oldest + SPAN_WINDOW_S * n * per_round / traces
        pruned.append(store.prune(older_than=time.time() - cutoff))

    samples, passes = _lone_word_after_each(store, (functools.partial(prune, n) for n in range(1, rounds + 1)))
    report(_summary(f"search 'zebra' after each of {rounds} prunes by age", samples)
           + f"  {sum(pruned):,} traces pruned; the vocabulary read whole {passes} times")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans in the query database (0: skip)")
    parser.add_argument("--throughput-spans", type=int, default=100_000)
    parser.add_argument("--busy-seconds", type=float, default=6.0, help="per run of the busy-app part (0: skip)")
    parser.add_argument("--busy-reads-spans", type=int, default=50_000,
                        help="spans in the database the reads beside a busy thread use (0: skip)")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="where the databases go")
    parser.add_argument("--keep", action="store_true", help="keep the big database")
    parser.add_argument("--search-db", type=pathlib.Path, default=None,
                        help="only time the content searches on this existing database (kept by --keep)")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path(__file__).parent / "results" / "store.txt")
    args = parser.parse_args()
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="traceglass-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    report(f"# bench_store.py --spans {args.spans} --throughput-spans {args.throughput_spans} "
           f"--busy-seconds {args.busy_seconds:g} --busy-reads-spans {args.busy_reads_spans}")
    report(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
           f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, {platform.machine()}")
    # The machine may be shared: the load average says how much of it this run had.
    report("# load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.search_db is not None:
        with TraceStore(args.search_db, create=False) as store:
            spans = store._db.conn.execute("SELECT count(*) FROM spans").fetchone()[0]
            report(f"content searches on {args.search_db.name}, {spans:,} spans:")
            _bench_search(store, spans // SPANS_PER_TRACE, report)
        report("# load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        args.output.write_text("\n".join(lines) + "\n")
        return
    if args.throughput_spans > 0:
        bench_throughput(workdir, args.throughput_spans, report)
    if args.busy_seconds > 0:
        bench_busy(workdir, args.busy_seconds, report)
    if args.busy_reads_spans > 0:
        bench_busy_reads(workdir, args.busy_reads_spans, report)
    if args.spans > 0:  # --spans 0: throughput only
        bench_queries(workdir, args.spans, report, args.keep)
    report("# load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
