"""configure(): run in real subprocesses, since it sets the process-wide providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest


def run(script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=120, env=environment,
    )


def console_spans(stdout: str) -> list[dict]:
    """The spans ConsoleSpanExporter printed (one JSON document per span)."""
    decoder = json.JSONDecoder()
    spans, index = [], 0
    while True:
        start = stdout.find("{", index)
        if start < 0:
            return spans
        document, index = decoder.raw_decode(stdout, start)
        spans.append(document)


def test_configure_exports_spans_with_the_service_name():
    result = run(
        """
        import traceglass
        handle = traceglass.configure(service_name="svc-a", exporters=["console"], instrument=[])

        @traceglass.observe(type="tool")
        def tool():
            return 1

        tool()
        assert handle.flush() is True
        """,
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
    )
    assert result.returncode == 0, result.stderr
    (span,) = console_spans(result.stdout)
    assert span["name"] == "tool"
    assert span["resource"]["attributes"]["service.name"] == "svc-a"
    assert span["resource"]["attributes"]["deployment.environment"] == "test"


def test_otel_service_name_is_honoured():
    result = run(
        """
        import traceglass
        traceglass.configure(exporters=["console"], instrument=[])
        with traceglass.span("x"):
            pass
        """,
        OTEL_SERVICE_NAME="from-env",
    )
    assert result.returncode == 0, result.stderr
    assert console_spans(result.stdout)[0]["resource"]["attributes"]["service.name"] == "from-env"


def test_configure_twice_does_not_duplicate_spans():
    result = run(
        """
        import traceglass
        traceglass.configure(exporters=["console"], instrument=[])
        traceglass.configure(exporters=["console"], instrument=[])
        with traceglass.span("once"):
            pass
        traceglass.flush()
        """
    )
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in console_spans(result.stdout)] == ["once"]


def test_pending_spans_are_flushed_at_interpreter_exit():
    result = run(
        """
        import traceglass
        traceglass.configure(exporters=["console"], instrument=[], flush_interval=600, flush_at=1000)
        for i in range(3):
            with traceglass.span(f"s{i}"):
                pass
        # no flush(): the exit hook must export them
        """
    )
    assert result.returncode == 0, result.stderr
    assert sorted(s["name"] for s in console_spans(result.stdout)) == ["s0", "s1", "s2"]


def test_attaches_to_the_applications_provider():
    result = run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        app_provider = TracerProvider(resource=Resource.create({"service.name": "app-owned"}))
        trace.set_tracer_provider(app_provider)

        import traceglass
        handle = traceglass.configure(exporters=["console"], instrument=[])
        assert handle.tracer_provider is app_provider
        with trace.get_tracer("app").start_as_current_span("app-span"):
            with traceglass.span("ours"):
                pass
        traceglass.flush()
        """
    )
    assert result.returncode == 0, result.stderr
    spans = {s["name"]: s for s in console_spans(result.stdout)}
    assert set(spans) == {"app-span", "ours"}
    assert spans["ours"]["parent_id"] == spans["app-span"]["context"]["span_id"]
    assert spans["ours"]["resource"]["attributes"]["service.name"] == "app-owned"


def test_exporters_and_capture_from_environment():
    result = run(
        """
        import traceglass
        traceglass.configure(instrument=[])

        @traceglass.observe(type="tool")
        def tool(secret):
            return secret

        tool("hunter2")
        traceglass.flush()
        """,
        TRACEGLASS_EXPORTERS="console",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="NO_CONTENT",
    )
    assert result.returncode == 0, result.stderr
    (span,) = console_spans(result.stdout)
    assert span["attributes"] == {"traceglass.span.type": "tool", "gen_ai.operation.name": "execute_tool",
                                  "gen_ai.tool.name": "tool"}


def test_flush_and_shutdown_never_raise_even_unconfigured():
    result = run(
        """
        import traceglass
        assert traceglass.flush() is True
        traceglass.shutdown()
        traceglass.shutdown()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('instrument=["nope"]', "unknown instrumentor"),
        ('exporters=["carrier-pigeon"]', "unknown exporter"),
        ('exporters="console"', "exporters must be a list"),
        ("flush_interval=0", "flush_interval"),
        ('db_max_size="lots"', "not a size"),
        ("db_max_age=-5", "age must be positive"),
    ],
)
def test_bad_arguments_raise_value_error(arguments, message):
    result = run(
        f"""
        import traceglass
        try:
            traceglass.configure({arguments})
        except ValueError as exc:
            print("ValueError:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ValueError:") and message in result.stdout


def test_retention_options_reach_the_sqlite_exporter(tmp_path):
    result = run(
        f"""
        import traceglass
        handle = traceglass.configure(db_path={str(tmp_path / "t.db")!r}, db_max_size="2MB", instrument=[])
        (exporter,) = handle.exporters
        print(type(exporter).__name__, exporter.max_size, exporter.max_age)
        """,
        TRACEGLASS_DB_MAX_AGE="7d",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SQLiteSpanExporter", "2000000", "604800.0"]
