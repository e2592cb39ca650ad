"""Helpers for the store tests: real SDK spans written by the real SQLite exporter."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from traceglass.exporters import SQLiteSpanExporter

BASE_S = 1_800_000_000  # 2027-01-15T08:00:00Z: fixed times keep orderings and days deterministic
SEC = 1_000_000_000


def ns(seconds: float) -> int:
    """Unix ns from seconds, exact to the millisecond (no float noise in stored durations)."""
    return round(seconds * 1000) * 1_000_000


@dataclass
class Sdk:
    path: Path
    provider: TracerProvider
    exporter: SQLiteSpanExporter

    @property
    def tracer(self) -> trace.Tracer:
        return self.provider.get_tracer("tests.store")

    def span(self, name: str, start_s: float, end_s: float, *, parent: Any = None,
             attributes: dict[str, Any] | None = None, error: str | None = None,
             children: Callable[[Any], None] | None = None) -> Any:
        """A finished span with explicit times; ``children(span)`` makes its children before it ends."""
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(name, context=context, start_time=ns(start_s),
                                      attributes=attributes or {})
        if children is not None:
            children(span)
        if error:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, f"{error} happened"))
        span.end(end_time=ns(end_s))
        return span

    def rag_trace(self, start_s: float, *, model: str = "gpt-4o-mini", session: str | None = None,
                  user: str | None = None, error: bool = False, question: str = "what is otel?") -> str:
        """chain -> (retriever, llm -> openai client span): the LLM usage is reported twice."""
        base = {"traceglass.span.type": "chain"}
        if session:
            base["session.id"] = session
        if user:
            base["user.id"] = user

        def children(root: Any) -> None:
            self.span("retrieve", start_s + 0.1, start_s + 0.3, parent=root,
                      attributes={"traceglass.span.type": "retriever", "gen_ai.operation.name": "retrieval",
                                  "gen_ai.retrieval.query.text": question})

            def client(llm: Any) -> None:
                self.span(f"chat {model}", start_s + 0.45, start_s + 1.4, parent=llm, attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": model, "gen_ai.response.model": f"{model}-2024-07-18",
                    "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                    "traceglass.cost.total_usd": 0.0012}, error="RateLimitError" if error else None)

            self.span("generate", start_s + 0.4, start_s + 1.5, parent=root, children=client, attributes={
                "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                "traceglass.cost.total_usd": 0.0012})

        root = self.span("rag", start_s, start_s + 2.0, attributes=base, children=children)
        return format(root.get_span_context().trace_id, "032x")


def make_sdk(path: Path, service: str = "shop", **exporter_options: Any) -> Sdk:
    exporter = SQLiteSpanExporter(path, **exporter_options)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Sdk(path, provider, exporter)


def downgrade_to_13(conn: sqlite3.Connection) -> None:
    """Undo schemas 15 and 14: drop ``search_index.changes``, give every span its resource text back and
    drop ``resources``, as a store of schema 13 has them (the caller sets the version)."""
    conn.execute("ALTER TABLE search_index DROP COLUMN changes")
    conn.execute("UPDATE span_data SET resource = (SELECT resource FROM resources WHERE id = resource_id) "
                 "WHERE resource_id IS NOT NULL")
    conn.execute("ALTER TABLE span_data DROP COLUMN resource_id")
    conn.execute("DROP TABLE resources")


def rows(path: Path | str, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Query the database directly (a SQLite file, or a PostgreSQL URL: ``?`` marks a parameter in
    both), rows as dicts."""
    if isinstance(path, str) and path.startswith("postgresql://"):
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(path, autocommit=True, row_factory=dict_row) as pg:
            return [dict(r) for r in pg.execute(sql.replace("%", "%%").replace("?", "%s"), params)]
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def chat_spans(count: int, attributes: Callable[[int], dict[str, Any]], chunk: Callable[[int], str],
               name: Callable[[int], str] = "chat {}".format) -> list:
    """One trace as an SDK finishes it: an ``agent`` root and ``count`` children named ``name(i)``, each with
    ``attributes(i)`` and a ``streamed`` event whose ``chunk`` is ``chunk(i)`` (called in that order)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.store")
    with tracer.start_as_current_span("agent"):
        for i in range(count):
            span = tracer.start_span(name(i), attributes=attributes(i))
            span.add_event("streamed", {"chunk": chunk(i)})
            span.end()
    return list(memory.get_finished_spans())
