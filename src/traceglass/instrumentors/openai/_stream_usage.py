"""Exact token usage for streamed calls: ask the API for it, hide what the caller did not ask for.

A Chat Completions (or legacy Completions) stream reports usage only when the request sets
``stream_options.include_usage``. The API then sends one more chunk before ``[DONE]`` (``choices``
empty, ``usage`` set) and adds ``"usage": null`` to every other chunk. When the caller did not ask,
traceglass asks, and the stream proxy hides both differences (:func:`hidden`), so the caller gets
the chunks an untraced call yields. A server that rejects the option (HTTP 400/422 naming
``stream_options``, as older Azure API versions and some OpenAI-compatible servers answer) gets the
call again without it, once; its base URL is remembered so later calls go without asking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traceglass._guard import report
from traceglass.instrumentors.openai._extract import given

# openai._constants.RAW_RESPONSE_HEADER (1.x-3.x): set by with_raw_response/with_streaming_response.
# The caller of those reads the raw body, which we could not hide the usage chunk from: never ask.
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
_OPTION = "stream_options"
_REJECTED_LIMIT = 256  # base URLs remembered per options object


def endpoint_key(client: Any) -> str:
    """What a rejection is remembered by: the client's base URL."""
    return str(getattr(client, "_base_url", None) or getattr(client, "base_url", None) or "")


def asking_for_usage(kwargs: dict[str, Any], client: Any, rejected: set[str]) -> dict[str, Any] | None:
    """A copy of ``kwargs`` that asks for the stream's usage, or None to send the call as it is
    (the caller set ``include_usage`` or ``stream_options`` in ``extra_body`` themselves, reads
    the raw response, or the server rejected the option before).

    When the caller set no ``stream_options``, the ask goes in ``extra_body``, which the SDK merges
    into the request's JSON as it is: the same bytes are sent, while a ``stream_options`` argument
    would cost the SDK's type-driven transform of the arguments about 180,000 instructions a call
    (openai 3.x). Other ``stream_options`` of the caller's are kept, in the argument they gave.
    """
    options = given(kwargs, _OPTION)
    extra_body = given(kwargs, "extra_body")
    if options is None:
        if extra_body is not None and (not isinstance(extra_body, Mapping) or _OPTION in extra_body):
            return None
        key, wanted = "extra_body", {**(extra_body or {}), _OPTION: {"include_usage": True}}
    elif isinstance(options, Mapping) and "include_usage" not in options:
        key, wanted = _OPTION, {**options, "include_usage": True}
    else:
        return None
    headers = given(kwargs, "extra_headers")
    if isinstance(headers, Mapping) and _RAW_RESPONSE_HEADER in headers:
        return None
    if rejected and endpoint_key(client) in rejected:
        return None
    return {**kwargs, key: wanted}  # copies: never the user's dicts


def rejects_option(error: BaseException) -> bool:
    """True for the API's answer that it does not know ``stream_options``."""
    if getattr(error, "status_code", None) not in (400, 422):
        return False
    for value in (getattr(error, "param", None), getattr(error, "message", None), getattr(error, "body", None)):
        if value is not None and _OPTION in (value if isinstance(value, str) else repr(value)):
            return True
    return False


def remember_rejection(client: Any, rejected: set[str]) -> None:
    if len(rejected) < _REJECTED_LIMIT:
        rejected.add(endpoint_key(client))


def hidden(chunk: Any) -> bool:
    """True for the usage chunk traceglass asked for. Any other chunk loses the ``usage`` field the
    option added to it (``"usage": null`` counts as set: ``chunk.to_dict()`` would show it).

    Runs once per chunk of such a stream, so it reads the SDK's (pydantic 2) model directly. A chunk
    it cannot read is passed on, the fault reported: ours, never the user's stream's. The stream
    proxies' ``for`` and ``async for`` loops inline the pydantic 2 reads (a call costs a third of them)
    and come here for any other chunk: a change here goes there too.
    """
    try:
        if chunk.usage is not None and not chunk.choices:
            return True
        try:
            fields = chunk.__pydantic_fields_set__
        except AttributeError:
            fields = getattr(chunk, "__fields_set__", None)  # pydantic 1
        if fields is not None:
            fields.discard("usage")
    except Exception as exc:  # noqa: BLE001 - our fault: never the user's stream
        report("openai.stream.chunk", exc)
    return False
