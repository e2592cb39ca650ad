"""Exporters: the bundled SQLite span and log (score) exporters, and named exporters for ``configure()``.

OTLP is the upstream exporter (``opentelemetry-exporter-otlp``), not a re-implementation.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SQLiteLogExporter", "SQLiteSpanExporter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from traceglass.exporters import sqlite

        return getattr(sqlite, name)
    raise AttributeError(name)
