"""Traces for the evaluation tests, stored in a real SQLite file by the real exporter: the app's
own (decorators and the OpenAI SDK against the bundled fake server) and hand-built SDK spans
with exact attributes."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceglass.exporters import SQLiteSpanExporter

BASE_NS = 1_800_000_000 * 10**9  # fixed times: deterministic order and latencies
MS = 1_000_000


@contextmanager
def stored_app(path: Path) -> Iterator[Any]:
    """traceglass's capture runtime with the SQLite exporter added: what the app traces is stored."""
    from traceglass.testing import capture

    with capture(capture_content=True) as captured:
        exporter = SQLiteSpanExporter(path)
        captured.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        try:
            yield captured
        finally:
            captured.tracer_provider.force_flush()
            exporter.shutdown()


class Spans:
    """Hand-built spans with exact attributes and times, exported straight into ``path``."""

    def __init__(self, path: Path, *, project: str = "shop") -> None:
        self.exporter = SQLiteSpanExporter(path)
        self.provider = TracerProvider(resource=Resource.create({"service.name": project}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests.evals")

    def span(self, name: str, start_ms: float, end_ms: float, attributes: dict[str, Any], *, parent: Any = None,
             children: Any = None) -> Any:
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(name, context=context, start_time=BASE_NS + int(start_ms * MS),
                                      attributes=attributes)
        if children is not None:
            children(span)
        span.end(end_time=BASE_NS + int(end_ms * MS))
        return span

    def chat(self, at_ms: float, question: str, reply: str, *, judge: bool = False, cost: float = 0.002,
             extra: dict[str, Any] | None = None) -> tuple[str, str]:
        """A one-span chat trace (or a judge's: ``judge <name>`` around the chat); (trace id, span id)."""
        attributes = {
            "traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5, "traceglass.cost.total_usd": cost,
            "gen_ai.input.messages": f'[{{"role":"user","parts":[{{"type":"text","content":"{question}"}}]}}]',
            "gen_ai.output.messages": (f'[{{"role":"assistant","parts":[{{"type":"text","content":"{reply}"}}],'
                                       '"finish_reason":"stop"}]'),
            **(extra or {}),
        }
        if judge:
            found: list[Any] = []
            root = self.span("judge relevance", at_ms, at_ms + 300, {
                "traceglass.span.type": "evaluator", "traceglass.eval.judge": True,
                "traceglass.eval.scorer": "relevance", "traceglass.rollup.cost_usd": cost},
                children=lambda parent: found.append(self.span("chat gpt-4o-mini", at_ms + 1, at_ms + 299,
                                                                attributes, parent=parent)))
            span = found[0]
        else:
            span = root = self.span("chat gpt-4o-mini", at_ms, at_ms + 250, attributes)
        context = span.get_span_context()
        return format(root.get_span_context().trace_id, "032x"), format(context.span_id, "016x")

    def close(self) -> None:
        self.provider.shutdown()
