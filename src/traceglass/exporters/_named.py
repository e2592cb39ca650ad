"""Exporters by name, as ``configure(exporters=[...])`` and ``TRACEGLASS_EXPORTERS`` give them."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

KNOWN = ("sqlite", "otlp", "console", "none")


def otlp_protocol() -> str:
    """``grpc`` or ``http/protobuf``, from the standard OTEL_EXPORTER_OTLP_* variables."""
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip().lower()


def span_exporter(name: str, *, db_path: str | None = None, db_max_age: float | None = None,
                  db_max_size: int | None = None, db_separate_process: bool = False) -> SpanExporter | None:
    """A new span exporter for ``name`` (None for ``none``); ValueError for an unknown name.

    ``db_max_age`` (seconds) and ``db_max_size`` (bytes) come parsed, from ``Settings``.
    """
    key = name.strip().lower()
    if key == "none":
        return None
    if key == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if key == "otlp":
        if otlp_protocol().startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
        return OTLPSpanExporter()
    if key == "sqlite":
        from traceglass.exporters.sqlite import SQLiteSpanExporter

        return SQLiteSpanExporter(db_path, max_age=db_max_age, max_size=db_max_size,
                                  separate_process=db_separate_process)
    raise ValueError(f"unknown exporter {name!r}; use one of {list(KNOWN)} or a SpanExporter instance")


def metric_exporter(name: str) -> Any | None:
    """The metric exporter matching a span exporter name, where one exists."""
    key = name.strip().lower()
    if key == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    if key == "otlp":
        protocol = (os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or otlp_protocol()).lower()
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
        return OTLPMetricExporter()
    return None


def log_exporter(name: str, *, db_path: str | None = None) -> Any | None:
    """The log-record exporter (where scores go) matching a span exporter name, where one exists."""
    key = name.strip().lower()
    if key == "sqlite":
        from traceglass.exporters.sqlite import SQLiteLogExporter

        return SQLiteLogExporter(db_path)
    if key == "console":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter()
    if key == "otlp":
        protocol = (os.environ.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or otlp_protocol()).lower()
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter  # type: ignore[assignment]
        return OTLPLogExporter()
    return None
