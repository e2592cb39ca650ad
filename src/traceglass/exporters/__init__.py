"""Span exporters: the bundled SQLite exporter, and named exporters for ``configure()``.

OTLP is the upstream exporter (``opentelemetry-exporter-otlp``), not a re-implementation.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SQLiteSpanExporter"]


def __getattr__(name: str) -> Any:
    if name == "SQLiteSpanExporter":
        from traceglass.exporters.sqlite import SQLiteSpanExporter

        return SQLiteSpanExporter
    raise AttributeError(name)
