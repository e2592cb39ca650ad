"""The SQLite exporter writing from a separate process (``separate_process=True``): what it stores is
exactly what the in-process writer stores, and the process is looked after: restarted when it dies,
stopped when stuck, ended with the application, replaced after a fork, and never required."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _writer_process

from ._helpers import BASE_S, ns, rows



def _finished_spans() -> list[ReadableSpan]:
    """Real SDK spans with everything a span can carry: nesting, events, links, an error, odd values."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "deployment.environment": "eu"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.writer_process")
    with tracer.start_as_current_span("invoke_agent support", start_time=ns(BASE_S),
                                      attributes={"traceglass.span.type": "agent", "session.id": "s-1",
                                                  "user.id": "ada", "traceglass.tags": ("prod", "eu")}) as root:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=ns(BASE_S + 1),
                                          attributes={
                                              "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                              "gen_ai.request.model": "gpt-4o-mini",
                                              "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
                                              "traceglass.cost.total_usd": 3.6e-05,
                                              "gen_ai.request.temperature": 0.25,
                                              "gen_ai.response.finish_reasons": ("stop",),
                                              "gen_ai.input.messages": json.dumps([{"role": "user", "content": "héllo ✓ " * 200}]),
                                              "odd.surrogate": "half \ud800 pair", "odd.huge": 2**70 - 1,
                                              "odd.nan": float("nan"), "odd.flags": (True, False)},
                                          end_on_exit=False) as chat:
            chat.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hi"}, timestamp=ns(BASE_S + 1.1))
            chat.add_event("retry")
            chat.set_status(Status(StatusCode.ERROR, "rate limited"))
            chat.set_attribute("error.type", "RateLimitError")
            chat.end(end_time=ns(BASE_S + 2.5))
        link = Link(SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1)), {"why": "retry of"})
        tool = tracer.start_span("execute_tool lookup", links=[link], start_time=ns(BASE_S + 3),
                                 attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"})
        tool.end(end_time=ns(BASE_S + 3.5))
        root.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _stored(path: Path) -> tuple[list[dict], list[dict]]:
    spans = rows(path, "SELECT * FROM spans ORDER BY span_id")
    store = TraceStore(path)
    try:
        traces = [store.get_trace(trace_id) for trace_id in sorted({row["trace_id"] for row in spans})]
    finally:
        store.close()
    nodes = [
        {"span_id": s.span_id, "attributes": s.attributes, "events": s.events, "links": s.links,
         "resource": s.resource, "status": s.status, "status_message": s.status_message, "kind": s.kind}
        for trace in traces for s in trace.spans
    ]
    return spans, sorted(nodes, key=lambda n: n["span_id"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _wait_until_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def exporter(tmp_path):
    made = SQLiteSpanExporter(tmp_path / "traces.db", separate_process=True)
    yield made
    made.shutdown()


def test_the_writer_process_stores_exactly_what_the_in_process_writer_stores(tmp_path, exporter):
    spans = _finished_spans()
    here = SQLiteSpanExporter(tmp_path / "here.db")
    assert here.export(spans) == SpanExportResult.SUCCESS
    here.shutdown()

    assert exporter.export(spans) == SpanExportResult.SUCCESS
    pid = exporter.writer_pid
    assert pid is not None and pid != os.getpid() and _alive(pid)

    there_spans, there_nodes = _stored(tmp_path / "traces.db")
    here_spans, here_nodes = _stored(tmp_path / "here.db")
    assert len(there_spans) == 3
    assert there_spans == here_spans
    assert there_nodes == here_nodes
    chat = next(n for n in there_nodes if n["status"] == "ERROR")
    assert chat["attributes"]["odd.flags"] == [True, False]
    assert [e["name"] for e in chat["events"]] == ["gen_ai.content.prompt", "retry"]
    tool = next(n for n in there_nodes if n["links"])
    assert tool["links"][0]["trace_id"] == format(0xABC, "032x") and tool["links"][0]["attributes"] == {"why": "retry of"}
    assert there_nodes[0]["resource"]["deployment.environment"] == "eu"


def test_a_value_marshal_refuses_is_converted_in_the_application(tmp_path, exporter):
    # Spans the SDK did not validate (built by hand) may hold any object: the batch goes as rows.
    context = SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=TraceFlags(1))
    odd = ReadableSpan(name="hand made", context=context, attributes={"thing": object(), "n": 3},
                       start_time=ns(BASE_S), end_time=ns(BASE_S + 1), resource=Resource.create({}))
    plain = ReadableSpan(name="plain", context=SpanContext(0x1234, 0x9999, is_remote=False),
                         parent=context, attributes={"k": "v"}, start_time=ns(BASE_S), end_time=ns(BASE_S + 1))
    assert exporter.export([odd, plain]) == SpanExportResult.SUCCESS
    here = SQLiteSpanExporter(tmp_path / "here.db")
    assert here.export([odd, plain]) == SpanExportResult.SUCCESS
    here.shutdown()
    assert _stored(tmp_path / "traces.db") == _stored(tmp_path / "here.db")
    stored = rows(tmp_path / "traces.db", "SELECT name FROM spans ORDER BY name")
    assert [r["name"] for r in stored] == ["hand made", "plain"]


def test_a_killed_writer_process_is_replaced_and_the_batch_still_stored(tmp_path, exporter, caplog):
    spans = _finished_spans()
    assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS
    first = exporter.writer_pid
    os.kill(first, signal.SIGKILL)
    assert _wait_until_gone(first)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(spans[1:]) == SpanExportResult.SUCCESS
    assert exporter.writer_pid not in (None, first)
    assert any("starting a new one" in r.getMessage() for r in caplog.records)
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


def test_a_stuck_writer_process_is_stopped_and_its_batch_reported_lost(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(_writer_process, "REPLY_MARGIN_S", 0.5)
    exporter = SQLiteSpanExporter(tmp_path / "traces.db", separate_process=True, _retry_for=0.5)
    try:
        spans = _finished_spans()
        assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS
        stuck = exporter.writer_pid
        os.kill(stuck, signal.SIGSTOP)
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            started = time.monotonic()
            assert exporter.export(spans[1:2]) == SpanExportResult.FAILURE
            assert time.monotonic() - started < 10
        assert _wait_until_gone(stuck)
        assert any("did not answer in 1 s" in r.getMessage() and "could not export 1 span(s)" in r.getMessage()
                   for r in caplog.records)
        monkeypatch.setattr(_writer_process, "REPLY_MARGIN_S", 30.0)  # time for a new process to start
        assert exporter.export(spans[2:]) == SpanExportResult.SUCCESS
        assert exporter.writer_pid not in (None, stuck)
    finally:
        exporter.shutdown()
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 2


def test_a_database_that_cannot_be_opened_fails_the_export_with_its_reason(tmp_path, caplog):
    (tmp_path / "a-directory.db").mkdir()
    exporter = SQLiteSpanExporter(tmp_path / "a-directory.db", separate_process=True)
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            assert exporter.export(_finished_spans()) == SpanExportResult.FAILURE
        messages = [r.getMessage() for r in caplog.records]
        assert any("could not export 3 span(s)" in m and "OperationalError" in m and "a-directory.db" in m
                   for m in messages), messages
        assert exporter.writer_pid is not None  # the process stays: the next batch may succeed
    finally:
        exporter.shutdown()


def test_the_writer_process_log_reaches_the_application_log(tmp_path, exporter, caplog):
    spans = _finished_spans()
    assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'traces.db'}{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export(spans[1:]) == SpanExportResult.SUCCESS
    assert any("was deleted or replaced while in use" in r.getMessage() for r in caplog.records)
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 2


def test_shutdown_ends_the_writer_process_after_its_last_batch(tmp_path, exporter):
    assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
    pid = exporter.writer_pid
    exporter.shutdown()
    assert not _alive(pid)
    assert exporter.export(_finished_spans()) == SpanExportResult.FAILURE
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


def test_ctrl_c_in_the_terminal_does_not_end_the_writer_process(exporter):
    spans = _finished_spans()
    assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS
    pid = exporter.writer_pid
    os.kill(pid, signal.SIGINT)
    time.sleep(0.2)
    assert exporter.export(spans[1:]) == SpanExportResult.SUCCESS
    assert exporter.writer_pid == pid


APP_DIES = textwrap.dedent("""
    import os, sys
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext
    from traceglass.exporters import SQLiteSpanExporter

    exporter = SQLiteSpanExporter(sys.argv[1], separate_process=True)
    span = ReadableSpan(name="last words", context=SpanContext(7, 8, is_remote=False), start_time=1, end_time=2)
    assert exporter.export([span]).name == "SUCCESS"
    print(exporter.writer_pid, flush=True)
    os._exit(0)  # no shutdown, no atexit: the writer process sees its stdin end
""")


def test_the_writer_process_ends_when_the_application_dies(tmp_path):
    done = subprocess.run([sys.executable, "-c", APP_DIES, str(tmp_path / "traces.db")], capture_output=True,
                          text=True, timeout=60, check=True)
    pid = int(done.stdout.strip())
    assert _wait_until_gone(pid)
    assert [r["name"] for r in rows(tmp_path / "traces.db", "SELECT name FROM spans")] == ["last words"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_writer_process_of_its_own(tmp_path, exporter, caplog):
    spans = _finished_spans()
    assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS
    parent_writer = exporter.writer_pid
    go, told = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child reports through its exit code
        code = 1
        try:
            os.close(told)
            os.read(go, 1)  # alive, exporting nothing, while the parent shuts its writer down
            ok = exporter.export(spans[1:2]) == SpanExportResult.SUCCESS
            mine = exporter.writer_pid
            exporter.shutdown()
            code = 0 if ok and mine not in (None, parent_writer) and not _alive(mine) else 2
        finally:
            os._exit(code)
    os.close(go)
    try:
        assert exporter.export(spans[2:]) == SpanExportResult.SUCCESS
        assert exporter.writer_pid == parent_writer  # the parent's process was left alone
        # The child closed its copies of the pipes at the fork: the parent's writer sees its stdin
        # end and exits at once, though the child still runs (not killed after a wait).
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            exporter.shutdown()
        assert not _alive(parent_writer)
        assert not [r.getMessage() for r in caplog.records if "did not exit" in r.getMessage()]
    finally:
        os.write(told, b"x")  # the child now exports through a writer process of its own
        os.close(told)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


def test_without_a_python_to_start_it_writes_in_process_and_says_so(tmp_path, monkeypatch, caplog):
    # An embedded interpreter's host (uWSGI, say) is no Python to start with -m.
    monkeypatch.setattr(sys, "executable", shutil.which("true"))
    exporter = SQLiteSpanExporter(tmp_path / "traces.db", separate_process=True)
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
        assert exporter.writer_pid is None
        assert any("from this process" in r.getMessage() and "is not a Python interpreter" in r.getMessage()
                   for r in caplog.records)
    finally:
        exporter.shutdown()
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


def test_configure_and_the_environment_turn_it_on(tmp_path, monkeypatch, caplog):
    import traceglass
    from traceglass import _config

    monkeypatch.setenv("TRACEGLASS_DB_SEPARATE_PROCESS", "yes")
    assert _config.Settings.from_env().db_separate_process is True
    monkeypatch.setenv("TRACEGLASS_DB_SEPARATE_PROCESS", "sometimes")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert _config.Settings.from_env().db_separate_process is False
    assert any("TRACEGLASS_DB_SEPARATE_PROCESS" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="db_separate_process must be True or False"):
        traceglass.configure(db_separate_process="yes", instrument=[])
    monkeypatch.delenv("TRACEGLASS_DB_SEPARATE_PROCESS")

    telemetry = traceglass.configure(db_path=str(tmp_path / "traces.db"), db_separate_process=True, instrument=[],
                                     service_name="svc")
    try:
        @traceglass.observe(name="step")
        def step(value: int) -> int:
            return value * 2

        assert step(21) == 42
        telemetry.tracer_provider.force_flush()
        exporters = [e for e in telemetry.exporters if isinstance(e, SQLiteSpanExporter)]
        assert len(exporters) == 1 and exporters[0].writer_pid not in (None, os.getpid())
        pid = exporters[0].writer_pid
    finally:
        telemetry.shutdown()
    assert not _alive(pid)
    assert [r["name"] for r in rows(tmp_path / "traces.db", "SELECT name FROM spans")] == ["step"]


def test_the_writer_process_writes_to_postgresql_too_and_keeps_the_password_off_its_command_line(db_path):
    # db_path: a SQLite file, then a PostgreSQL URL with a password (the same test on both backends).
    exporter = SQLiteSpanExporter(db_path, separate_process=True)
    try:
        assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
        with open(f"/proc/{exporter.writer_pid}/cmdline", "rb") as cmdline:
            arguments = cmdline.read().split(b"\0")
    finally:
        exporter.shutdown()
    assert b"-m" in arguments and b"traceglass.store._writer_child" in arguments
    if str(db_path).startswith("postgresql://"):
        secret = db_path.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert secret and not any(secret.encode() in argument for argument in arguments)
    assert sorted(r["name"] for r in rows(db_path, "SELECT name FROM spans")) == [
        "chat gpt-4o-mini", "execute_tool lookup", "invoke_agent support"]


GARBLED = textwrap.dedent("""
    import os, struct, sys
    stdin = sys.stdin.buffer
    for _ in range(2):  # the configuration, then one batch
        kind, length = struct.unpack("!BI", stdin.read(5))
        stdin.read(length)
    os.write(1, struct.pack("!I", 5) + b"\\xffjunk")  # a reply of the right length that is no reply
    stdin.read()
""")


def test_a_writer_process_answering_garbage_is_replaced_and_the_batch_sent_again(tmp_path, monkeypatch, caplog):
    real_spawn, spawned = _writer_process._spawn, []

    def garbled_first() -> subprocess.Popen:
        if spawned:
            return real_spawn()
        spawned.append(True)
        proc = subprocess.Popen([sys.executable, "-c", GARBLED], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(proc.stdout.fileno(), False)
        return proc

    monkeypatch.setattr(_writer_process, "_spawn", garbled_first)
    exporter = SQLiteSpanExporter(tmp_path / "traces.db", separate_process=True)
    try:
        with caplog.at_level(logging.WARNING, logger="traceglass"):
            assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert any("answered with something else than a reply" in r.getMessage() for r in caplog.records)
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


def test_a_batch_whose_application_has_gone_is_committed_and_the_writer_exits_quietly(tmp_path):
    # The writer process run by hand: configuration and one batch sent, then the reply pipe closed
    # unread (the application died waiting): the batch stays committed, the process ends cleanly.
    from traceglass.store._span_wire import Encoder
    from traceglass.store._writer_child import CONFIG, HEADER

    config = json.dumps({"path": str(tmp_path / "traces.db")}).encode()
    kind, payload = Encoder().encode(_finished_spans())
    child = subprocess.Popen([sys.executable, "-m", "traceglass.store._writer_child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    child.stdin.write(HEADER.pack(CONFIG, len(config)) + config + HEADER.pack(kind, len(payload)) + payload)
    child.stdin.close()
    assert child.wait(timeout=60) == 0
    assert child.stderr.read() == b""
    child.stderr.close()
    assert len(rows(tmp_path / "traces.db", "SELECT span_id FROM spans")) == 3


@pytest.mark.parametrize("cut", [0, 3, "header", "half"])
def test_a_writer_process_whose_application_ends_while_starting_it_exits_quietly(tmp_path, cut):
    # stdin ends before, inside, or right after the configuration frame's header, or halfway through its
    # body: the application died while starting the process. It exits cleanly and creates nothing.
    from traceglass.store._writer_child import CONFIG, HEADER

    config = json.dumps({"path": str(tmp_path / "traces.db")}).encode()
    frame = HEADER.pack(CONFIG, len(config)) + config
    sent = frame[:{"header": HEADER.size, "half": HEADER.size + len(config) // 2}.get(cut, cut)]
    done = subprocess.run([sys.executable, "-m", "traceglass.store._writer_child"], input=sent,
                          capture_output=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    assert not (tmp_path / "traces.db").exists()


def test_a_writer_process_sent_a_batch_before_its_configuration_says_so():
    from traceglass.store._writer_child import HEADER

    done = subprocess.run([sys.executable, "-m", "traceglass.store._writer_child"], input=HEADER.pack(9, 0),
                          capture_output=True, timeout=60)
    assert done.returncode != 0
    assert b"expected its configuration first, got a frame of kind 9" in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's (F_SETPIPE_SZ)")
def test_a_batch_of_realistic_spans_goes_into_the_pipe_in_one_write(tmp_path, exporter, monkeypatch):
    # Each write (and each wait for the pipe to drain) gives up the GIL; beside an application thread
    # running Python without pause, winning it back waits out the switch interval. Through a 64 KB
    # pipe a 512-span batch took a dozen of them: 90 ms against 35 ms with the pipe holding the batch.
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.writer_process")
    content = "the customer asked about refunds and shipping delays " * 40  # ~2 KB, as captured prompts
    with tracer.start_as_current_span("agent"):
        for i in range(300):
            tracer.start_span(f"chat {i}", attributes={"gen_ai.input.messages": f"{i} {content}"}).end()
    spans = list(memory.get_finished_spans())
    assert exporter.export(spans[:1]) == SpanExportResult.SUCCESS  # the process runs: its pipe is open
    pipe = exporter._writer._proc.stdin.fileno()
    writes, real_write = [], os.write

    def counting_write(fd, data):
        written = real_write(fd, data)
        if fd == pipe:
            writes.append(written)
        return written

    monkeypatch.setattr(os, "write", counting_write)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    monkeypatch.undo()
    assert sum(writes) > 600_000  # the frame: 301 spans of ~2 KB
    assert len(writes) == 1
    assert len(rows(tmp_path / "traces.db", "SELECT id FROM spans")) == 301
