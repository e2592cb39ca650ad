"""Put the current ``traceglass.session(...)`` values on every span, whoever starts it."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

from traceglass._context import current_session


class SessionSpanProcessor(SpanProcessor):
    """Copies session id, user id, tags and metadata onto spans as they start.

    ``configure()`` adds it; add it yourself to a provider you build by hand so spans from
    other instrumentations (HTTP clients, the official OpenAI instrumentor) carry them too.
    """

    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start writes attributes and reads none (see ``_handler._span_start``)."""
        return ()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        scope = current_session()
        if scope is not None and scope.attributes:
            try:
                span.set_attributes(scope.attributes)
            except Exception:  # noqa: BLE001 - never fail a span start
                pass
