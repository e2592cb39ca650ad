"""One-line previews of a trace's input and output for the trace list, from its root span's stored values.

A chat input previews as its last user message, a chat output as its last assistant message; a
function's arguments as their one text value when there is exactly one (a result object: its only
field's), else compact JSON; anything else as text.
"""

from __future__ import annotations

import json
from typing import Any

PREVIEW_CHARS = 160  # enough to recognise a question on a wide screen; the full text is in the trace view


def preview(value: Any, *, output: bool = False) -> str | None:
    """``value`` (a stored attribute value) as one short line, or None when there is nothing to show."""
    if value is None:
        return None
    data = _parsed(value)
    if data in ("", [], {}):  # a function called without arguments
        return None
    if _is_messages(data):
        text = _message_text(data, "assistant" if output else "user")
    elif isinstance(data, dict) and (len(data) == 1 or not output) and len(
            texts := [v for v in data.values() if isinstance(v, str)]) == 1:
        text = texts[0]  # a function's one text argument (the question), or a result's only field
    elif isinstance(data, str):
        text = data
    else:
        text = _compact(data)
    text = " ".join(str(text).split())
    if not text:
        return None
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"


def _parsed(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value  # plain text (a function's string result is stored as it is)


def _compact(data: Any) -> str:
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    except (ValueError, RecursionError):
        return str(data)


def _is_messages(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and all(isinstance(m, dict) and "role" in m for m in data)


def _message_text(messages: list[dict[str, Any]], role: str) -> str:
    """The text of the last message of ``role`` (else of the last message): its text parts, or its content."""
    chosen = next((m for m in reversed(messages) if m.get("role") == role), messages[-1])
    parts = chosen.get("parts")
    if isinstance(parts, list):
        texts = [p.get("content") for p in parts if isinstance(p, dict) and p.get("type", "text") == "text"]
        texts = [t if isinstance(t, str) else _compact(t) for t in texts if t is not None]
        if texts:
            return " ".join(texts)
        return _compact(parts)
    content = chosen.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(texts) if texts else _compact(content)
    return "" if content is None else _compact(content)
