"""Span processors: sessions onto every span, and the pipeline configure() builds."""

from traceglass.processors.session import SessionSpanProcessor

__all__ = ["SessionSpanProcessor"]
