"""Anthropic's Messages API for the demo server: the wire shapes, and the demo's replies in them.

The shape builders (:func:`message`, :func:`usage`, :func:`stream_events`, :func:`error_body`,
:func:`sse`) write exactly what the API sends, and are shared with the test suite's fake
(``tests/anthropic/_fake_api.py``), so the demo and the tests speak one format. :func:`messages_route`
and :func:`count_tokens_route` are the demo server's ``POST /v1/messages`` and
``/v1/messages/count_tokens``: plausible replies from :mod:`traceglass.demo._replies`, a ``tool_use``
block when tools are offered, and prompt caching as the API does it — the prefix up to the last
``cache_control`` breakpoint is written to the cache the first time (``cache_creation_input_tokens``)
and read from it afterwards (``cache_read_input_tokens``); ``input_tokens`` counts only the rest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from traceglass.demo import _replies

#: HTTP status -> the API's ``error.type``.
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
#: Aliases -> the dated snapshot the API answers with.
DATED_MODELS = {"claude-sonnet-4-5": "claude-sonnet-4-5-20250929", "claude-haiku-4-5": "claude-haiku-4-5-20251001",
                "claude-opus-4-1": "claude-opus-4-1-20250805"}
_TOOL_TYPES = ("tool_use", "tool_result")


# --- wire shapes --------------------------------------------------------------------------------
def usage(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    """A Message's usage. ``input_tokens`` counts only what was neither read from nor written to the cache."""
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": output_tokens, "service_tier": "standard"}


def message(message_id: str, model: str, content: list[dict[str, Any]], stop_reason: str,
            usage: dict[str, Any]) -> dict[str, Any]:
    """A ``Message`` body, as ``POST /v1/messages`` answers without ``stream``."""
    return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}


def words(text: str) -> list[str]:
    """Text deltas one word each, the spaces kept on the following word (as the API's deltas read)."""
    parts = text.split(" ")
    return [part if i == 0 else " " + part for i, part in enumerate(parts)]


def stream_events(final: dict[str, Any], text_pieces: Callable[[str], list[str]] = words,
                  ) -> list[tuple[str, dict[str, Any]]]:
    """The event stream of the Message ``final``, as the API sends it with ``"stream": true``.

    ``message_start`` (no content, no stop reason, the input usage and an output count of 1), per
    block ``content_block_start`` / ``content_block_delta``... / ``content_block_stop`` (a ``ping`` after
    the first text block starts), ``message_delta`` with the stop reason and the output tokens,
    ``message_stop``. ``text_pieces`` splits a text block into its deltas."""
    start_usage = {**final["usage"], "output_tokens": 1}
    out: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
        **final, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]

    def delta(index: int, body: dict[str, Any]) -> None:
        out.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": body}))

    for index, block in enumerate(final["content"]):
        kind = block["type"]
        if kind == "text":
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}))
            if index == 0:
                out.append(("ping", {"type": "ping"}))
            for piece in text_pieces(block["text"]):
                delta(index, {"type": "text_delta", "text": piece})
        elif kind == "thinking":
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "thinking", "thinking": "",
                                                                  "signature": ""}}))
            half = len(block["thinking"]) // 2
            for piece in (block["thinking"][:half], block["thinking"][half:]):
                delta(index, {"type": "thinking_delta", "thinking": piece})
            delta(index, {"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {**block, "input": {}}}))
            args = json.dumps(block["input"])
            for start in range(0, len(args), 7):
                delta(index, {"type": "input_json_delta", "partial_json": args[start:start + 7]})
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None},
                                  "usage": {"output_tokens": final["usage"]["output_tokens"]}}))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    """Events as the bytes of a ``text/event-stream`` body."""
    return "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events).encode()


def error_body(status: int, text: str, request_id: str | None = None) -> dict[str, Any]:
    """The API's error body for an HTTP ``status``."""
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": text},
            "request_id": request_id or _id("req_011")}


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:22]


# --- the demo's replies -------------------------------------------------------------------------
def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "tool_use":
        return json.dumps(block.get("input") or {})
    if block.get("type") == "tool_result":
        return _content_text(block.get("content"))
    return str(block.get("text") or "")


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(_block_text(block) for block in content)
    return _block_text(content)


def _segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt's pieces in the API's cache order (tools, system, messages): (text, cache breakpoint)."""
    out: list[tuple[str, bool]] = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            text = json.dumps({k: v for k, v in tool.items() if k != "cache_control"})
            out.append((text, "cache_control" in tool))
    system = body.get("system")
    for block in system if isinstance(system, list) else [system] if system else ():
        out.append((_block_text(block), isinstance(block, dict) and "cache_control" in block))
    for entry in body.get("messages") or ():
        content = entry.get("content") if isinstance(entry, dict) else None
        for block in content if isinstance(content, list) else [content]:
            out.append((_block_text(block), isinstance(block, dict) and "cache_control" in block))
    return out


def _prompt_usage(body: dict[str, Any], cache: Any) -> tuple[int, int, int]:
    """(uncached input, cache read, cache write) tokens of a request."""
    segments = _segments(body)
    total = _replies.count_tokens("\n".join(text for text, _ in segments)) + 4 * len(body.get("messages") or ())
    marked = [i for i, (_, breakpoint_) in enumerate(segments) if breakpoint_]
    if not marked:
        return total, 0, 0
    prefix = "\n".join(text for text, _ in segments[:marked[-1] + 1])
    read = cache.cached_tokens(prefix)  # 0 on a miss; the prefix is remembered either way
    size = _replies.count_tokens(prefix)
    write = size if not read and size >= 32 else 0  # the cache's minimum: shorter prefixes are not cached
    return total - read - write, read, write


def _tool_results(entry: dict[str, Any]) -> str:
    content = entry.get("content")
    if not isinstance(content, list):
        return ""
    return " ".join(_block_text(b) for b in content if isinstance(b, dict) and b.get("type") == "tool_result")


def _pick_tool(body: dict[str, Any], question: str) -> dict[str, Any] | None:
    """The tool the model calls: the one ``tool_choice`` names; any with ``any``; with ``auto`` (the
    default) the first whose name fits the question (``get_weather`` for "the weather in Lisbon?")."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    kind = choice.get("type", "auto")
    if not tools or kind == "none":
        return None
    if kind == "tool":
        return next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    if kind == "any":
        return tools[0]
    lowered = question.lower()
    return next((t for t in tools if any(len(word) > 3 and word in lowered
                                         for word in str(t["name"]).lower().split("_"))), None)


def reply(body: dict[str, Any], cache: Any) -> dict[str, Any]:
    """The demo's answer to a valid Messages request: a Message body."""
    messages = body["messages"]
    last = messages[-1]
    question = _content_text(last.get("content"))
    results = _tool_results(last) if last.get("role") == "user" else ""
    tool = None if results or last.get("role") != "user" else _pick_tool(body, question)
    content: list[dict[str, Any]]
    if results:
        text, stop = _replies.tool_result_reply(results), "end_turn"
    elif tool is not None:
        text, stop = f"I'll look that up with {tool['name']}.", "tool_use"
    else:
        context = "\n".join(_content_text(m.get("content")) for m in messages[:-1] if isinstance(m, dict))
        text, stop = _replies.reply_text(question, context), "end_turn"
    limit = int(body["max_tokens"])
    if len(text.split()) > limit:
        text, stop, tool = " ".join(text.split()[:limit]), "max_tokens", None
    content = [{"type": "text", "text": text, "citations": None}]
    output_tokens = _replies.count_tokens(text)
    if tool is not None:
        arguments = _replies.tool_arguments({"parameters": tool.get("input_schema") or {}}, question)
        content.append({"type": "tool_use", "id": _id("toolu_01"), "name": tool["name"],
                        "input": json.loads(arguments)})
        output_tokens += _replies.count_tokens(arguments)
    fresh, read, write = _prompt_usage(body, cache)
    model = str(body.get("model") or "")
    return message(_id("msg_01"), DATED_MODELS.get(model, model), content, stop,
                   usage(fresh, output_tokens, cache_read=read, cache_write=write))


def _invalid(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return "messages: Field required"
    if messages[-1].get("role") not in ("user", "assistant"):
        return "messages: roles must be 'user' or 'assistant'"
    return None


def messages_route(handler: Any, body: dict[str, Any], model: str) -> None:
    """``POST /v1/messages`` on the demo server (``handler``: its request handler)."""
    problem = _invalid(body)
    if problem is None and not isinstance(body.get("max_tokens"), int):
        problem = "max_tokens: Field required"
    if problem:
        handler._send_json(400, error_body(400, problem))
        return
    final = reply(body, handler.server.cache)
    if body.get("stream") is True:
        handler._send_events(iter(stream_events(final)))
    else:
        handler._send_json(200, final)


def count_tokens_route(handler: Any, body: dict[str, Any], model: str) -> None:
    """``POST /v1/messages/count_tokens``: the request's input tokens, cached or not."""
    problem = _invalid(body)
    if problem:
        handler._send_json(400, error_body(400, problem))
        return
    segments = _segments(body)
    total = _replies.count_tokens("\n".join(text for text, _ in segments)) + 4 * len(body["messages"])
    handler._send_json(200, {"input_tokens": total})
