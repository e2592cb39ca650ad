"""Scores through configure()'s logs pipeline: the SQLite store, OTLP/HTTP to a real local sink, the console,
reconfigure, shutdown, an application's own logger provider, and opentelemetry-instrument.

configure() sets process-wide providers, so each scenario runs in a subprocess (tests/core/test_configure.run).
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from traceglass.store import TraceStore

from .test_configure import console_spans, run


def _last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def _stored(db) -> list[dict]:
    store = TraceStore(str(db))
    try:
        return [score.to_dict() for score in store.scores(limit=1000)]
    finally:
        store.close()


def _stored_ids(db) -> list[str]:
    """Every score id in the file, one per row (the store's list pages; this counts rows)."""
    with closing(sqlite3.connect(str(db))) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM scores")]


def test_configure_sqlite_then_flush_stores_the_score_beside_its_span(tmp_path):
    db = tmp_path / "t.db"
    result = run(
        f"""
        import json
        import traceglass
        traceglass.configure(exporters=["sqlite"], db_path={str(db)!r}, instrument=[], flush_interval=60)
        with traceglass.span("answer") as span:
            score = traceglass.score("helpfulness", 0.5, comment="ok", user_id="u-1", metadata={{"k": [1]}})
        flushed = traceglass.flush()
        from traceglass.store import TraceStore
        with TraceStore({str(db)!r}) as store:  # flush_interval=60: only flush() can have written it by now
            stored = [s.to_dict() for s in store.scores()]
        print(json.dumps({{"flushed": flushed, "score": score.to_dict(), "stored": stored}}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["flushed"] is True
    assert outcome["stored"] == [outcome["score"]]
    assert _stored(db) == [outcome["score"]]
    store = TraceStore(str(db))
    try:
        trace = store.get_trace(outcome["score"]["trace_id"])
        assert [s.to_dict() for s in trace.scores] == [outcome["score"]]
        assert [node.name for node in trace.spans] == ["answer"]
    finally:
        store.close()


def test_scores_pending_at_shutdown_are_stored_and_the_same_id_is_updated_not_duplicated(tmp_path):
    db = tmp_path / "t.db"
    result = run(
        f"""
        import json
        import traceglass
        traceglass.configure(exporters=["sqlite"], db_path={str(db)!r}, instrument=[], flush_interval=60)
        with traceglass.span("answer"):
            first = traceglass.score("thumbs", True, id="fb-7", source="human")
        traceglass.flush()
        with traceglass.span("answer"):
            second = traceglass.score("thumbs", False, id="fb-7", source="human", comment="changed")
        traceglass.shutdown()
        from traceglass.store import TraceStore
        with TraceStore({str(db)!r}) as store:  # read before the interpreter's exit could write anything
            stored = [s.to_dict() for s in store.scores()]
        print(json.dumps({{"stored": stored, "second": second.to_dict()}}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["stored"] == [outcome["second"]]
    assert _stored(db) == [outcome["second"]]


class _Sink:
    """A real OTLP/HTTP endpoint on 127.0.0.1 that keeps every /v1/logs request (the first ``fail`` get 503)."""

    def __init__(self, fail: int = 0) -> None:
        self.logs: list[ExportLogsServiceRequest] = []
        self.paths: list[str] = []
        self.fail = fail
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.paths.append(self.path)
                status = 200
                if self.path == "/v1/logs":
                    if sink.fail > 0:
                        sink.fail -= 1
                        status = 503
                    request = ExportLogsServiceRequest()
                    request.ParseFromString(body)
                    sink.logs.append(request)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _records(requests):
    out = []
    for request in requests:
        for resource_logs in request.resource_logs:
            resource = {kv.key: kv.value.string_value for kv in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    out.append((resource, scope_logs.scope.name, record))
    return out


def _attributes(record) -> dict:
    out = {}
    for kv in record.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


_OTLP_APP = """
    import json
    import traceglass
    traceglass.configure(exporters=["otlp"], service_name="feedback-app", instrument=[], metrics_enabled=False,
                         flush_interval=60)
    with traceglass.span("answer") as span:
        ids = [format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x")]
        score = traceglass.score("verdict", "correct", comment="matches the docs", source="eval")
    print(json.dumps({"flushed": traceglass.flush(20_000), "ids": ids, "score": score.to_dict()}))
    traceglass.shutdown(5_000)
"""


def test_configure_otlp_sends_the_score_as_an_evaluation_log_record_to_v1_logs():
    with _Sink() as sink:
        result = run(_OTLP_APP, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["flushed"] is True
    assert sorted(set(sink.paths)) == ["/v1/logs", "/v1/traces"]
    ((resource, scope, record),) = _records(sink.logs)
    assert resource["service.name"] == "feedback-app"
    assert scope == "traceglass"
    assert record.event_name == "gen_ai.evaluation.result"
    assert (record.trace_id.hex(), record.span_id.hex()) == tuple(outcome["ids"])
    score = outcome["score"]
    assert (score["trace_id"], score["span_id"]) == tuple(outcome["ids"])
    assert _attributes(record) == {
        "gen_ai.evaluation.name": "verdict",
        "gen_ai.evaluation.score.label": "correct",
        "gen_ai.evaluation.explanation": "matches the docs",
        "traceglass.score.id": score["id"],
        "traceglass.score.source": "eval",
        "traceglass.score.data_type": "categorical",
    }
    assert record.severity_number == 9  # INFO


def test_an_otlp_export_retried_after_a_503_carries_the_same_id_and_stores_once(tmp_path):
    # The exporter retries the whole batch: the collector sees the score twice, with one id, and the
    # SQLite log exporter, fed both deliveries (as a collector forwarding them would), keeps one row.
    from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord  # noqa: F401 - the SDK shape
    from traceglass.exporters.sqlite import SQLiteLogExporter

    with _Sink(fail=1) as sink:
        result = run(_OTLP_APP, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    deliveries = _records(sink.logs)
    assert len(deliveries) == 2
    assert {_attributes(record)["traceglass.score.id"] for _, _, record in deliveries} == {outcome["score"]["id"]}

    exporter = SQLiteLogExporter(tmp_path / "t.db")
    try:
        for _, _, record in deliveries:
            assert exporter.export([_sdk_record(record)]).name == "SUCCESS"
    finally:
        exporter.shutdown()
    assert _stored(tmp_path / "t.db") == [outcome["score"]]


def _sdk_record(pb):
    """An SDK ReadableLogRecord rebuilt from a decoded OTLP record (ids, time, attributes, event name)."""
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

    context = set_span_in_context(NonRecordingSpan(SpanContext(
        int.from_bytes(pb.trace_id, "big"), int.from_bytes(pb.span_id, "big"), is_remote=True)))
    record = LogRecord(timestamp=pb.time_unix_nano, context=context, attributes=_attributes(pb),
                       event_name=pb.event_name)
    return ReadableLogRecord(log_record=record, resource=Resource.create({}))


def test_console_prints_the_score_record_once_though_configure_ran_twice():
    result = run(
        """
        import traceglass
        traceglass.configure(exporters=["console"], instrument=[], metrics_enabled=False)
        traceglass.configure(exporters=["console"], instrument=[], metrics_enabled=False)
        with traceglass.span("answer"):
            traceglass.score("speed", 3, source="code")
        traceglass.shutdown()
        """
    )
    assert result.returncode == 0, result.stderr
    (log,) = [d for d in console_spans(result.stdout) if "event_name" in d]
    assert log["event_name"] == "gen_ai.evaluation.result"
    assert log["attributes"]["gen_ai.evaluation.name"] == "speed"
    assert log["attributes"]["gen_ai.evaluation.score.value"] == 3.0


def test_reconfigure_while_threads_score_stores_every_score_exactly_once(tmp_path):
    result = run(
        f"""
        import json, threading, time
        import traceglass

        paths = []

        def reconfigure():
            paths.append({str(tmp_path)!r} + f"/db{{len(paths)}}.db")
            traceglass.configure(exporters=["sqlite"], db_path=paths[-1], instrument=[], metrics_enabled=False,
                                 flush_interval=0.05)

        reconfigure()
        stop = threading.Event()
        made = [[] for _ in range(3)]

        def emit(out):
            # Paced, so the scores keep flowing through every configure() (slow on a busy machine)
            # without ever filling the export queue; capped as a safety net.
            while not stop.is_set() and len(out) < 5000:
                with traceglass.span("turn"):
                    out.append(traceglass.score("n", float(len(out))).id)
                time.sleep(0.005)

        threads = [threading.Thread(target=emit, args=(out,)) for out in made]
        for thread in threads:
            thread.start()
        for _ in range(8):
            # Each configuration sees scores, however slow the machine: wait (bounded) for a few more.
            start, deadline = sum(map(len, made)), time.monotonic() + 20
            while sum(map(len, made)) < start + 5 and time.monotonic() < deadline:
                time.sleep(0.005)
            reconfigure()
        stop.set()
        for thread in threads:
            thread.join(60)
        traceglass.shutdown()
        print(json.dumps({{"paths": paths, "ids": [i for out in made for i in out]}}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    stored: list[str] = []
    used = 0
    for path in outcome["paths"]:
        if os.path.exists(path):
            ids = _stored_ids(path)
            used += bool(ids)
            stored += ids
    assert used > 1  # the hand-over happened while scores were flowing
    assert len(outcome["ids"]) >= 40
    assert sorted(stored) == sorted(outcome["ids"])  # none lost, none twice


def test_a_busy_thread_scoring_never_waits_for_the_store_and_every_score_lands(tmp_path):
    db = tmp_path / "t.db"
    result = run(
        f"""
        import json, threading
        import traceglass
        traceglass.configure(exporters=["sqlite"], db_path={str(db)!r}, instrument=[], metrics_enabled=False,
                             flush_interval=0.01)
        ids = []

        def busy():
            for i in range(500):
                with traceglass.span("step"):
                    ids.append(traceglass.score("step-ok", i % 2 == 0, source="code").id)

        worker = threading.Thread(target=busy)
        worker.start()
        worker.join(60)
        flushed = traceglass.flush()
        import sqlite3
        stored = [row[0] for row in sqlite3.connect({str(db)!r}).execute("SELECT id FROM scores")]
        print(json.dumps({{"flushed": flushed, "ids": ids, "stored": stored}}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["flushed"] is True
    assert sorted(outcome["stored"]) == sorted(outcome["ids"])  # by flush(), not by the exit-time shutdown
    assert sorted(_stored_ids(db)) == sorted(outcome["ids"])
    assert len(outcome["ids"]) == 500


def test_an_applications_own_logger_provider_gets_our_processors_beside_its_own(tmp_path):
    db = tmp_path / "t.db"
    result = run(
        f"""
        import json
        from opentelemetry import _logs
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
        import traceglass

        mine = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(mine))
        _logs.set_logger_provider(provider)
        traceglass.configure(exporters=["sqlite"], db_path={str(db)!r}, instrument=[], metrics_enabled=False)
        traceglass.configure(exporters=["sqlite"], db_path={str(db)!r}, instrument=[], metrics_enabled=False)
        with traceglass.span("answer"):
            score = traceglass.score("grounded", 0.9)
        traceglass.flush()
        print(json.dumps({{"app": [r.log_record.attributes["traceglass.score.id"] for r in mine.get_finished_logs()],
                          "same": _logs.get_logger_provider() is provider, "score": score.to_dict()}}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["app"] == [outcome["score"]["id"]]
    assert outcome["same"] is True
    assert _stored(db) == [outcome["score"]]  # once, though configure() ran twice


def test_opentelemetry_instrument_with_the_sqlite_traces_exporter_stores_scores_too(tmp_path):
    db = tmp_path / "auto.db"
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import json
        from opentelemetry import trace
        import traceglass

        with trace.get_tracer("app").start_as_current_span("request"):
            score = traceglass.score("user_feedback", True, source="human", user_id="u-9")
        print(json.dumps(score.to_dict()))
    """))
    instrument = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEGLASS_", "OTEL_"))}
    # No OTEL_LOGS_EXPORTER: the distro routes logs (scores) to the store the traces go to.
    environ.update({"OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_SERVICE_NAME": "auto-app",
                    "TRACEGLASS_DB": str(db),
                    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai,traceglass_openai,traceglass_langchain"})
    result = subprocess.run([instrument, sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, env=environ)
    assert result.returncode == 0, result.stderr
    score = _last_json(result.stdout)
    assert _stored(db) == [score]  # written by the SDK's exit-time shutdown of the logger provider
    store = TraceStore(str(db))
    try:
        assert [node.name for node in store.get_trace(score["trace_id"]).spans] == ["request"]
    finally:
        store.close()


def test_the_log_fan_out_hands_back_old_processors_only_after_an_emit_in_flight_on_them_returns():
    from opentelemetry.sdk._logs import LogRecordProcessor

    from traceglass.processors._log_fanout import FanOutLogRecordProcessor

    entered, gate = threading.Event(), threading.Event()

    class Slow(LogRecordProcessor):
        def __init__(self):
            self.seen = []

        def on_emit(self, log_record):
            entered.set()
            gate.wait(30)
            self.seen.append(log_record)

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    old, new = Slow(), Slow()
    fanout = FanOutLogRecordProcessor([old])
    emitting = threading.Thread(target=fanout.on_emit, args=("first",))
    emitting.start()
    assert entered.wait(30)
    handed_back = []
    replacing = threading.Thread(target=lambda: handed_back.append(fanout.replace([new])))
    replacing.start()
    replacing.join(0.3)
    assert handed_back == []  # still waiting for the emit in flight on the old processor
    gate.set()
    replacing.join(30)
    emitting.join(30)
    assert handed_back == [(old,)] and old.seen == ["first"]
    fanout.on_emit("second")
    assert (old.seen, new.seen) == (["first"], ["second"])
