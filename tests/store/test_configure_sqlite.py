"""``configure()`` writes to SQLite by default; ``opentelemetry-instrument`` picks the exporter by name.

Both set global providers, so each runs in its own interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from ._helpers import rows

APP = textwrap.dedent("""
    import sys
    import traceglass

    traceglass.configure(exporters={exporters}, db_path={db!r}, instrument=[], service_name="configured")

    @traceglass.observe(type="chain", name="job")
    def job():
        return inner()

    @traceglass.trace_llm(model="gpt-4o-mini")
    def inner():
        traceglass.update_current_span_attributes(
            traceglass.LlmAttributes(input="q", output="a", input_token_count=4, output_token_count=2))
        return "a"

    job()
    traceglass.shutdown()
""")


def _run(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEGLASS_", "OTEL_"))}
    environ["TRACEGLASS_RAISE_INTERNAL_ERRORS"] = "1"
    environ.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environ)


def _check(db):
    assert rows(db, "SELECT name, span_type, project, model, input_tokens FROM spans ORDER BY start_ns") == [
        {"name": "job", "span_type": "chain", "project": "configured", "model": None, "input_tokens": None},
        {"name": "inner", "span_type": "llm", "project": "configured", "model": "gpt-4o-mini", "input_tokens": 4},
    ]
    assert rows(db, "SELECT name, total_tokens FROM traces") == [{"name": "job", "total_tokens": 6}]


def test_configure_with_the_sqlite_exporter_writes_rows(store_target):
    db = store_target  # a file, or a postgresql:// URL (configure(db_path=url))
    result = _run(APP.format(exporters='["sqlite"]', db=str(db)))
    assert result.returncode == 0, result.stderr
    _check(db)


def test_configure_uses_sqlite_by_default_and_reads_traceglass_db(store_target):
    db = store_target  # a file, or a postgresql:// URL in TRACEGLASS_DB
    result = _run(APP.format(exporters="None", db=None), env={"TRACEGLASS_DB": str(db)})
    assert result.returncode == 0, result.stderr
    _check(db)


def _instrumented(tmp_path, code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``code`` run as app.py under ``opentelemetry-instrument`` with only ``env`` of the TRACEGLASS_*/OTEL_*
    variables (and OpenAI/LangChain instrumentation off); it must exit 0."""
    script = tmp_path / "app.py"
    script.write_text(code)
    instrument = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEGLASS_", "OTEL_"))}
    environ.update(env, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai,traceglass_openai,traceglass_langchain")
    result = subprocess.run([instrument, sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, env=environ)
    assert result.returncode == 0, result.stderr
    return result


def test_opentelemetry_instrument_uses_it_by_entry_point_name(tmp_path):
    db = tmp_path / "auto.db"
    code = textwrap.dedent("""
        from opentelemetry import trace
        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("outer"):
            with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}):
                pass
    """)
    _instrumented(tmp_path, code, {"OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_METRICS_EXPORTER": "none",
                                   "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "auto-app",
                                   "TRACEGLASS_DB": str(db)})
    assert rows(db, "SELECT name, span_type, project FROM spans ORDER BY start_ns") == [
        {"name": "outer", "span_type": None, "project": "auto-app"},
        {"name": "chat m", "span_type": "llm", "project": "auto-app"},
    ]


def test_opentelemetry_instrument_writes_spans_and_scores_to_postgresql_as_traceglass_store(tmp_path, postgres_url):
    """The team path without a server: OTEL_TRACES_EXPORTER=traceglass_store and a PostgreSQL URL in
    TRACEGLASS_DB; the distro sends the scores (log records) to the same store."""
    from traceglass.store import TraceStore

    code = textwrap.dedent("""
        import traceglass
        from opentelemetry import trace
        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("outer"):
            with tracer.start_as_current_span("chat m", attributes={"gen_ai.operation.name": "chat"}):
                traceglass.score("helpful", 0.75, source="code")
    """)
    _instrumented(tmp_path, code, {"OTEL_TRACES_EXPORTER": "traceglass_store", "OTEL_SERVICE_NAME": "team-app",
                                   "TRACEGLASS_DB": postgres_url})
    with TraceStore(postgres_url) as store:
        [summary] = store.list_traces().traces
        trace = store.get_trace(summary.trace_id)
        scores = store.scores().scores
    assert [(s.name, s.type, trace.project) for s in trace.spans] == [("outer", None, "team-app"),
                                                                       ("chat m", "llm", "team-app")]
    assert [(s.name, s.value, s.span_id) for s in scores] == [("helpful", 0.75, trace.span("chat m").span_id)]


def test_spans_flushed_only_at_interpreter_exit_are_written(tmp_path):
    db = tmp_path / "exit.db"
    code = textwrap.dedent(f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from traceglass.exporters import SQLiteSpanExporter

        provider = TracerProvider()
        # A long delay: the first export happens in the SDK's atexit shutdown.
        provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter({str(db)!r}),
                                                       schedule_delay_millis=600_000))
        trace.set_tracer_provider(provider)
        with trace.get_tracer("app").start_as_current_span("last words"):
            pass
    """)
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT name FROM spans") == [{"name": "last words"}]


def test_opentelemetry_instrument_with_the_writer_process_starts_one_that_traces_nothing(tmp_path):
    """TRACEGLASS_DB_SEPARATE_PROCESS=1 under opentelemetry-instrument: one writer process, started
    without the auto-instrumentation hook (so it starts no exporter, nor a writer, of its own)."""
    db = tmp_path / "auto.db"
    code = textwrap.dedent("""
        import json, os
        from opentelemetry import trace
        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("outer"):
            pass
        trace.get_tracer_provider().force_flush()

        def children(pid):
            found = []
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as listed:
                    found += [int(p) for p in listed.read().split()]
            return found

        out = []
        for pid in children(os.getpid()):
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = [a.decode() for a in cmdline.read().split(b"\\0") if a]
            with open(f"/proc/{pid}/environ", "rb") as environ:
                env = dict(e.decode().split("=", 1) for e in environ.read().split(b"\\0") if b"=" in e)
            out.append({"argv": argv[1:], "pythonpath": env.get("PYTHONPATH", ""), "children": children(pid)})
        print(json.dumps(out))
    """)
    result = _instrumented(tmp_path, code, {
        "OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "auto-app", "TRACEGLASS_DB": str(db), "TRACEGLASS_DB_SEPARATE_PROCESS": "1"})
    processes = json.loads(result.stdout.strip().splitlines()[-1])
    assert [p["argv"] for p in processes] == [["-m", "traceglass.store._writer_child"]]
    assert "auto_instrumentation" not in processes[0]["pythonpath"]
    assert processes[0]["children"] == []
    assert rows(db, "SELECT name, project FROM spans") == [{"name": "outer", "project": "auto-app"}]
