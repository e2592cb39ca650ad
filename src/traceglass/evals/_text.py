"""The text a scorer looks at, whatever shape an item's input or output has.

Items made from chat spans hold messages (OpenAI's ``{"role", "content"}`` or the GenAI
conventions' ``{"role", "parts": [{"type": "text", "content"}]}``); items from decorated functions
hold the function's arguments and return value; hand-written items hold strings. Scorers compare
text, so this module turns each shape into one string, the same way every time.
"""

from __future__ import annotations

import json
from typing import Any

# Keys that hold a message's or a return value's text, most specific first.
_TEXT_KEYS = ("content", "text", "output", "answer", "response", "result")
_MAX_DEPTH = 20  # hostile nesting: past this, the value is shown as JSON text


def as_text(value: Any) -> str:
    """``value`` as text: a string as is, messages as their texts joined by newlines, a dict by
    its text key (``content``, ``text``, ``output``, ...), anything else as JSON (None: "")."""
    return _text(value, 0)


def question_of(value: Any) -> str:
    """The question an input asks: the last user message of a chat, the only argument of a
    function called with one, else the whole input as text."""
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        users = [m for m in value if m.get("role") == "user"]
        return _text(users[-1] if users else value[-1], 0)
    if isinstance(value, dict) and len(value) == 1 and not _has_text_key(value):
        return _text(next(iter(value.values())), 0)
    return _text(value, 0)


def _has_text_key(value: dict[Any, Any]) -> bool:
    return any(key in value for key in _TEXT_KEYS) or "parts" in value


def _text(value: Any, depth: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if depth < _MAX_DEPTH:
        if isinstance(value, dict):
            if isinstance(value.get("parts"), list):
                return "\n".join(t for t in (_part(p, depth + 1) for p in value["parts"]) if t)
            for key in _TEXT_KEYS:
                if key in value and value[key] is not None:
                    return _text(value[key], depth + 1)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (dict, str)) for v in value):
            return "\n".join(t for t in (_text(v, depth + 1) for v in value) if t)
    return _json(value)


def _part(part: Any, depth: int) -> str:
    if isinstance(part, dict) and part.get("type") not in (None, "text", "output_text", "input_text"):
        return ""  # tool calls, images, ...: not text
    return _text(part, depth)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=_str, sort_keys=True)
    except (TypeError, ValueError, RecursionError):  # mixed key types, deep nesting
        return _str(value)


def _str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a hostile __str__: the type is all we can say
        return f"<{type(value).__name__}>"


__all__ = ["as_text", "question_of"]
