"""Several threads and several real processes writing one database file lose nothing."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from functools import partial
from unittest.mock import patch

from opentelemetry.sdk.trace.export import SpanExportResult

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore
from traceglass.store import _schema as schema

from ._helpers import BASE_S, make_sdk, rows
from .test_packed import ANSWER, QUESTION, _batch

WRITER = textwrap.dedent("""
    import os, sys, time
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from traceglass.exporters import SQLiteSpanExporter

    db, go, worker, traces = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    provider = TracerProvider(resource=Resource.create({"service.name": f"worker-{worker}"}))
    provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter(db), max_export_batch_size=25,
                                                   schedule_delay_millis=5))
    tracer = provider.get_tracer("writer")
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:  # start together
        time.sleep(0.005)
    for i in range(traces):
        with tracer.start_as_current_span(f"job {worker}-{i}"):
            with tracer.start_as_current_span("chat m", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                    "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2}):
                pass
            with tracer.start_as_current_span("tool t"):
                pass
    provider.shutdown()
""")


def test_processes_writing_one_file_lose_nothing(tmp_path):
    db, go = tmp_path / "shared.db", tmp_path / "go"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    workers, traces = 4, 150
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(go), str(w), str(traces)],
                              stderr=subprocess.PIPE, text=True) for w in range(workers)]
    time.sleep(0.5)
    go.write_text("go")
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "could not export" not in err
    assert rows(db, "SELECT count(*) AS n FROM spans") == [{"n": workers * traces * 3}]
    assert rows(db, "SELECT count(*) AS n FROM span_data") == [{"n": workers * traces * 3}]
    assert rows(db, "SELECT project, count(*) AS traces, sum(span_count) AS spans, sum(total_tokens) AS tokens "
                    "FROM traces GROUP BY project ORDER BY project") == [
        {"project": f"worker-{w}", "traces": traces, "spans": traces * 3, "tokens": traces * 5}
        for w in range(workers)]


def test_threads_sharing_one_exporter_and_with_their_own_lose_nothing(db_path):
    shared = make_sdk(db_path)
    own = [make_sdk(db_path, service=f"own-{i}") for i in range(3)]
    errors = []

    def work(sdk, offset):
        try:
            for i in range(60):
                sdk.rag_trace(BASE_S + offset + i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(shared, 1000 * i)) for i in range(3)]
    threads += [threading.Thread(target=work, args=(sdk, 10_000 + 1000 * i)) for i, sdk in enumerate(own)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    # A thread still writing (a very busy machine) would make the count below short without a loss.
    assert not [thread for thread in threads if thread.is_alive()]
    assert errors == []
    assert rows(db_path, "SELECT count(*) AS n FROM spans") == [{"n": 6 * 60 * 4}]
    assert rows(db_path, "SELECT count(*) AS n, sum(total_tokens) AS tokens FROM traces") == [
        {"n": 6 * 60, "tokens": 6 * 60 * 120}]
    for sdk in [shared, *own]:
        sdk.provider.shutdown()


def _child_writes(sdk) -> None:
    sdk.rag_trace(BASE_S + 50)
    sdk.provider.shutdown()


def test_a_forked_child_opens_its_own_connection(db_path):
    sdk = make_sdk(db_path)
    sdk.rag_trace(BASE_S)  # the parent's connection is open now
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(sdk,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    sdk.rag_trace(BASE_S + 100)  # and the parent's connection still works
    assert rows(db_path, "SELECT count(*) AS n FROM traces") == [{"n": 3}]
    sdk.provider.shutdown()


def _fork_while(work: Callable[[threading.Event], None], children: list[tuple[Callable, tuple]]) -> None:
    """Run each child ``(target, args)`` in a forked process, one after another, while a thread runs
    ``work(stop)`` until they are done; each child must exit with 0."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,))
    thread.start()
    try:
        context = multiprocessing.get_context("fork")
        for i, (target, args) in enumerate(children):
            child = context.Process(target=target, args=args)
            child.start()
            child.join(60)
            assert child.exitcode == 0, f"child {i} exit code {child.exitcode}"
    finally:
        stop.set()
        thread.join(60)


def _child_writes_at(sdk, start_s) -> None:
    sdk.rag_trace(start_s)
    sdk.provider.shutdown()


def test_forking_while_the_parent_keeps_exporting_is_safe(db_path):
    # Without the fork lock a child inherits SQLite mutexes or lock state held mid-write by the
    # parent's threads and hangs or reads a "malformed" database now and then.
    sdk = make_sdk(db_path)
    written = []

    def keep_writing(stop: threading.Event) -> None:
        while not stop.is_set():
            written.append(sdk.rag_trace(BASE_S + 10_000 + len(written), question="x" * 3000))

    _fork_while(keep_writing, [(_child_writes_at, (sdk, BASE_S + i)) for i in range(12)])
    sdk.provider.shutdown()
    assert rows(db_path, "SELECT count(*) AS n FROM traces") == [{"n": 12 + len(written)}]


def _child_exports(exporter: SQLiteSpanExporter, batch: list) -> None:
    if exporter.export(batch) is not SpanExportResult.SUCCESS:
        sys.exit(3)
    exporter.shutdown()


def test_forking_while_batches_are_compressed_on_their_own_thread_is_safe(tmp_path):
    # Batches compressed on a thread of their own while another thread forks: a fork waits for the write
    # in progress (the fork lock), and a write for its compression, so no child inherits a compression
    # (or a lock zstd or we hold for one) midway; each child and then the parent write batches of their own.
    exporter = SQLiteSpanExporter(tmp_path / "fork.db")
    parent = [_batch(30) for _ in range(6)]  # ~165 KB each to compress: over Packing's threshold
    exported = []

    def keep_exporting(stop: threading.Event) -> None:
        while not stop.is_set():  # the same six traces again and again: each re-export replaces its spans
            exported.append(exporter.export(parent[len(exported) % len(parent)]))

    _fork_while(keep_exporting, [(_child_exports, (exporter, _batch(30))) for _ in range(12)])
    assert len(exported) >= len(parent) and set(exported) == {SpanExportResult.SUCCESS}
    assert exporter.export(_batch(30)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert rows(tmp_path / "fork.db", "SELECT count(*) AS traces, sum(span_count) AS spans FROM traces") == [
        {"traces": 6 + 12 + 1, "spans": 31 * (6 + 12 + 1)}]
    with TraceStore(tmp_path / "fork.db") as store:  # every trace's values read back exactly
        chats = [{s.name: s for s in store.get_trace(t.trace_id).spans}["chat 29"]
                 for t in store.list_traces(limit=100).traces]
    assert len(chats) == 19 and all(chat.attributes == {"gen_ai.input.messages": f"29 {QUESTION}", "n": 29}
                                    and chat.events[0]["attributes"] == {"chunk": f"{ANSWER} 29"} for chat in chats)


class _Interleaved(sqlite3.Connection):
    """A connection that lets another connection's whole ``connect()`` (as another process's would) run
    between two of its statements."""

    fire_at: int = 0
    statements = 0
    fired = False
    other: object = None

    def execute(self, *args, **kwargs):
        # Before statement k + 1, when statement k's cursor is gone. Inside this connection's write
        # transaction the other one would wait for it: no interleaving there.
        cls = type(self)
        if not cls.fired and cls.statements >= cls.fire_at and not self.in_transaction:
            cls.fired = True
            cls.other()
        cls.statements += 1
        return super().execute(*args, **kwargs)


def _statements_of_a_fresh_connect(tmp_path) -> int:
    counting = type("Counting", (_Interleaved,), {"fire_at": 10**9})
    with patch.object(sqlite3, "connect", partial(sqlite3.connect, factory=counting)):
        schema.connect(tmp_path / "count.db").close()
    return counting.statements


def test_a_database_created_by_another_process_between_any_two_statements_is_opened(tmp_path):
    # Two processes opening a new file at once: each check must read one snapshot, or a first
    # process's freshly created tables look like another application's (CI saw it once).
    real_connect = sqlite3.connect
    total = _statements_of_a_fresh_connect(tmp_path)
    assert total > 3
    for k in range(1, total):
        path = tmp_path / f"race-{k}.db"

        def other(path=path):
            with patch.object(sqlite3, "connect", real_connect):
                schema.connect(path).close()

        racing = type("Racing", (_Interleaved,), {"fire_at": k, "other": staticmethod(other)})
        with patch.object(sqlite3, "connect", partial(real_connect, factory=racing)):
            conn = schema.connect(path)
        assert racing.fired, k
        conn.close()
        assert rows(path, "SELECT count(*) AS n FROM traces") == [{"n": 0}]
        check = real_connect(path)
        assert check.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        check.close()
