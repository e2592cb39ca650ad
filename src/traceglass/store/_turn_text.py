"""A session turn as a chat exchange: the user's message and the app's answer, as text, out of a
trace's stored spans. Database-neutral: each backend reads the spans, this decides what they say.

Where a turn's text comes from, in order:
1. the root span's captured input/output (``traceglass.input``/``traceglass.output``, what
   ``@observe`` records), reduced to the message when it is chat-shaped: a message list (OpenAI's
   ``role``/``content``, OTel's ``role``/``parts``, LangChain's ``type``/``content``), a dict
   holding one under a usual key (``question``, ``messages``, ``answer``, ...) or a plain text;
2. else the model calls' messages (``gen_ai.input.messages``/``gen_ai.output.messages``): the
   first call's last user message and the last call's answer;
3. else the root's value as compact JSON (a function's arguments, say), or None when nothing was
   captured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from traceglass import semconv

TEXT_LIMIT = 20_000  # characters of a turn's input or output kept (a transcript, not an archive)

# Keys a function's arguments (or result) usually keep the user's message (or the answer) under.
_INPUT_KEYS = ("question", "query", "input", "prompt", "message", "user_input", "text", "content", "messages")
_OUTPUT_KEYS = ("answer", "output", "response", "reply", "result", "text", "content", "message", "messages")
_ROLES = {"human": "user", "ai": "assistant", "humanmessage": "user", "aimessage": "assistant"}


def _decoded(value: Any) -> Any:
    """A stored attribute value: JSON text decoded (captured values are stored as JSON), else as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _role(message: dict[str, Any]) -> str | None:
    role = message.get("role")
    if not isinstance(role, str):
        role = message.get("type")
    if not isinstance(role, str):
        return None
    role = role.lower()
    return _ROLES.get(role, role)


def _content(message: dict[str, Any]) -> str | None:
    """A message's text: its ``content`` (text, or OpenAI content parts) or its OTel ``parts``."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else message.get("parts")
    if not isinstance(parts, list):
        return None
    texts = [part.get("content") if isinstance(part.get("content"), str) else part.get("text")
             for part in parts if isinstance(part, dict)]
    texts = [text for text in texts if isinstance(text, str)]
    return "\n".join(texts) if texts else None


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and _role(value) is not None and (
        "content" in value or "parts" in value)


def _from_messages(messages: list[Any], role: str) -> str | None:
    """The text of the last message of ``role`` (of the last message, when none has it)."""
    chat = [m for m in messages if _is_message(m)]
    if not chat:
        return None
    chosen = next((m for m in reversed(chat) if _role(m) == role), None)
    return _content(chosen if chosen is not None else chat[-1])


_MAX_DEPTH = 8  # dicts inside dicts looked into: a message sits a level or two down, not thousands


def chat_text(value: Any, role: str, _depth: int = 0) -> str | None:
    """The message of ``role`` (``user`` for an input, ``assistant`` for an output) a captured value
    holds, or None when the value is not chat-shaped."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _from_messages(value, role)
    if isinstance(value, dict):
        if _is_message(value):
            return _content(value)
        if _depth >= _MAX_DEPTH:
            return None
        for key in _INPUT_KEYS if role == "user" else _OUTPUT_KEYS:
            if key in value:
                found = chat_text(value[key], role, _depth + 1)
                if found is not None:
                    return found
    return None


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= TEXT_LIMIT:
        return text
    return text[:TEXT_LIMIT - 1] + "…"


def _compact(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def turn_texts(root: dict[str, Any] | None, calls: Sequence[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(user input, final answer) of one turn, from its root span's attributes and its model calls'
    attributes (by start time; the root itself among them when it is a model call)."""
    root = root or {}
    texts: list[str | None] = []
    for key, role, pick in ((semconv.INPUT_VALUE, "user", 0), (semconv.OUTPUT_VALUE, "assistant", -1)):
        value = _decoded(root.get(key)) if key in root else None
        text = chat_text(value, role) if value is not None else None
        if text is None:
            messages_key = semconv.GEN_AI_INPUT_MESSAGES if role == "user" else semconv.GEN_AI_OUTPUT_MESSAGES
            for call in (calls if pick == 0 else reversed(calls)):
                messages = _decoded(call.get(messages_key))
                if isinstance(messages, list):
                    text = _from_messages(messages, role)
                    if text is not None:
                        break
        if text is None:
            text = _compact(value)
        texts.append(_cut(text))
    return texts[0], texts[1]
