"""Chat messages in the GenAI conventions' JSON shape (``gen-ai-input-messages.json``).

A message is ``{"role": ..., "parts": [...]}``; output messages add ``finish_reason``. Parts are
plain dicts built by the helpers below, so providers map their payloads without new classes.
"""

from __future__ import annotations

from typing import Any

from traceglass._handler._content import to_jsonable


def text_part(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def reasoning_part(content: str) -> dict[str, Any]:
    return {"type": "reasoning", "content": content}


def tool_call_part(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_call_response_part(call_id: str | None, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def uri_part(modality: str, uri: str, mime_type: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "uri", "modality": modality, "uri": uri}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def blob_part(modality: str, content: str, mime_type: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "blob", "modality": modality, "content": content}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def message(role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        msg["finish_reason"] = finish_reason
    return msg


def messages_from_value(value: Any, default_role: str) -> list[dict[str, Any]]:
    """Best-effort messages from what a decorated function saw: a string, or a list of
    OpenAI-style ``{"role", "content"}`` dicts; anything else becomes one text message."""
    if isinstance(value, str):
        return [message(default_role, [text_part(value)])]
    if isinstance(value, (list, tuple)) and value and all(isinstance(m, dict) and "role" in m for m in value):
        out = []
        for m in value:
            content = m.get("content")
            parts = [text_part(content if isinstance(content, str) else _as_text(content))] if content else []
            out.append(message(str(m["role"]), parts))
        return out
    return [message(default_role, [text_part(_as_text(value))])]


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(to_jsonable(value), ensure_ascii=False)
