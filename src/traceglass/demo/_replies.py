"""Deterministic, plausible replies and token counts for the fake OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")

_OPENERS = (
    "Here is what I found.",
    "Short answer first, then the detail.",
    "Good question.",
    "Based on the context you gave me,",
)
_BODIES = (
    "{topic} comes down to three things: what you measure, what it costs, and how fast it answers.",
    "The key facts about {topic} are in the retrieved context; the rest is a careful summary of them.",
    "For {topic}, start with the simplest approach that works and measure before you optimise.",
    "{topic} is best understood by following one request end to end and reading each step.",
)


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _topic(prompt: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", prompt) if w.lower() not in _STOP]
    return " ".join(words[-3:]) if words else "this"


_STOP = {"what", "which", "when", "where", "does", "that", "this", "with", "from", "about", "please",
         "there", "their", "have", "your", "tell", "explain", "answer", "question", "context"}


def reply_text(prompt: str) -> str:
    """A plausible assistant reply that depends only on the prompt."""
    seed = _seed(prompt)
    topic = _topic(prompt)
    body = _BODIES[seed % len(_BODIES)].format(topic=topic)
    return f"{_OPENERS[(seed >> 8) % len(_OPENERS)]} {body[0].upper()}{body[1:]}"


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whatever its content shape (string or parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def tool_arguments(tool: dict[str, Any], prompt: str) -> str:
    """JSON arguments for a function tool, filled from its JSON schema and the prompt."""
    schema = (tool.get("function") or tool).get("parameters") or {}
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    arguments: dict[str, Any] = {}
    for name in required:
        kind = (properties.get(name) or {}).get("type", "string")
        if kind in ("integer", "number"):
            arguments[name] = 3
        elif kind == "boolean":
            arguments[name] = True
        elif kind == "array":
            arguments[name] = [_topic(prompt)]
        else:
            arguments[name] = _topic(prompt)
    return json.dumps(arguments)


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from the text (similar texts are not similar: it is a demo)."""
    seed = _seed(text)
    values = [math.sin(seed * (i + 1) * 0.0001) for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def base64_floats(values: list[float]) -> str:
    import base64

    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
