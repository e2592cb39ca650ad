"""Deterministic, plausible replies and token counts for the fake OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")

# Canned answers for the topics the examples ask about; anything else gets a generic answer.
_CANNED: tuple[tuple[str, str], ...] = (
    (r"capital of france|\bparis\b", "The capital of France is Paris, which sits on the Seine."),
    (r"refund", "Yes: refunds are accepted within 30 days of delivery, so you can still return it."),
    (r"haiku", "Spans fall like leaves / each call carries its own cost / the trace tells the tale"),
    (r"opentelemetry|tracing|trace", "OpenTelemetry records each step of a request as a span; "
                                     "spans nest into a trace, so you can see where time and money go."),
    (r"token", "Providers bill per token; cached input tokens cost less, so stable prompt prefixes pay off."),
    (r"lisbon", "Lisbon in May is warm and bright: try pastel de nata (about 1.50 euros) and ride tram 28."),
    (r"porto", "The train from Lisbon to Porto takes about 3 hours (from 25 euros); see the Ribeira quarter."),
    (r"oslo", "Oslo in winter hovers around -5 degrees; visit the Viking Ship Museum and the Opera roof."),
    (r"bergen", "Bergen is famously rainy, so pack a raincoat; the Floibanen funicular is worth it."),
    (r"eat|food", "Try the local seafood and a bakery breakfast; lunch menus run about 12 to 15 euros."),
    (r"museum", "The national museum is the best single visit; tickets are around 15 euros."),
    (r"cold|weather|rain", "Expect changeable weather; dress in layers and check the forecast each morning."),
    (r"hello|greeting|hi\b", "Hello! Happy to help with whatever you are working on."),
)
_GENERIC = (
    "Here is a short answer: start with the simplest approach that works, then measure before optimising.",
    "Based on the context provided, the key points are covered above; the rest follows from them.",
    "In short: it depends on your constraints, but the usual default is a safe first choice.",
)


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _topic(prompt: str) -> str:
    """The subject of a request: its last proper noun ("Lisbon"), else its last long word."""
    words = re.findall(r"[A-Za-z][A-Za-z-]{2,}", prompt)
    proper = [w for w in words[1:] if w[0].isupper()]
    if proper:
        return proper[-1]
    long_words = [w for w in words if len(w) > 3]
    return long_words[-1].lower() if long_words else "this"


def reply_text(question: str, context: str = "") -> str:
    """A plausible assistant reply to the last user ``question`` (``context``: earlier text)."""
    lowered = question.lower()
    for pattern, answer in _CANNED:
        if re.search(pattern, lowered):
            return answer
    return _GENERIC[_seed(context + question) % len(_GENERIC)]


def tool_result_reply(tool_output: str) -> str:
    """The model's answer once a tool result is in the conversation."""
    return f"According to the tool: {tool_output.strip()[:200]}"


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
