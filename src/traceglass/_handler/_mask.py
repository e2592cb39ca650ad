"""The user's mask (``configure(mask=fn)``) applied to captured content.

A mask sees strings: every string inside a captured value (message parts' text, tool arguments,
function inputs and outputs, system instructions, retrieved documents), one call per string, and
what it returns is recorded in its place. Dict keys, numbers, booleans and None pass through, and
so do the message shape's own strings (a role, a part's type, a tool call's id and name). A mask
that wants the whole Python value of each content attribute instead is wrapped in
:func:`mask_whole_values`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceglass._guard import logger
from traceglass._handler._content import to_jsonable

_warned = False  # the first failure of a mask is a warning, later ones debug lines


class _WholeValueMask:
    """A mask that receives each content attribute's whole value (see ``mask_whole_values``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, value: Any) -> Any:
        return self.fn(value)

    def __repr__(self) -> str:
        return f"mask_whole_values({self.fn!r})"


def mask_whole_values(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap ``fn`` so ``configure(mask=...)`` hands it each content attribute's whole value.

    ``fn`` then gets the Python value as captured (messages as a list of ``{"role", "parts"}``
    dicts, a function's arguments as a dict, ...; README "Prompts and completions" lists them)
    instead of one string at a time, and what it returns is recorded, serialized as JSON.
    """
    if isinstance(fn, _WholeValueMask):
        return fn
    if not callable(fn):
        raise ValueError(f"mask_whole_values needs a callable, got {fn!r}")
    return _WholeValueMask(fn)


# The GenAI message shape's own strings (gen-ai-input-messages.json): a role, a part's type, a
# tool call's id and name, ... are structure, not content, and stay readable under any mask (a
# mask that redacts everything still leaves messages the dashboard and evals can read). Everything
# else in a message or part (text, tool arguments and results, URIs, unknown keys) is masked.
_MESSAGE_KEYS = frozenset({"role", "finish_reason"})
_PART_KEYS = frozenset({"type", "id", "name", "modality", "mime_type"})
# Invocation field -> the shape of its value: a list of messages, or a list of parts (system
# instructions; tool definitions, whose "type" and "name" are structure too).
_SHAPES = {"input_messages": "messages", "output_messages": "messages",
           "system_instructions": "parts", "tool_definitions": "parts"}


def apply_mask(mask: Callable[[Any], Any], value: Any, field: str = "") -> tuple[Any, bool]:
    """``value`` (of invocation field ``field``) with ``mask`` applied, and whether it is to be
    recorded as plain text rather than JSON.

    ``mask`` is applied to every string inside the value but the message shape's own, or to the
    whole value when it came from :func:`mask_whole_values`. A value that was not a string stays
    JSON even when it is made of one string (bytes, an object's repr). The mask's exceptions
    propagate.
    """
    if mask.__class__ is _WholeValueMask:
        value = mask(value)
        return value, isinstance(value, str)
    if value.__class__ is str:
        value = mask(value)
        return value, isinstance(value, str)
    # to_jsonable builds a fresh tree of dicts and lists (objects, tuples and sets made plain,
    # cycles and depth cut), so masking it in place touches nothing of the application's.
    data = to_jsonable(value)
    if isinstance(data, str):
        return mask(data), False
    shape = _SHAPES.get(field)
    if shape is not None and isinstance(data, list):
        _mask_items(data, mask, shape == "messages")
    elif isinstance(data, (dict, list)):
        _mask_in_place(data, mask)
    return data, False


def _mask_items(items: list[Any], mask: Callable[[Any], Any], messages: bool) -> None:
    """Mask a list of messages (or of parts), keeping their structural strings; an item of
    another shape is masked whole, like any value."""
    for index, node in enumerate(items):
        if not isinstance(node, dict):
            if isinstance(node, str):
                items[index] = mask(node)
            elif isinstance(node, list):
                _mask_in_place(node, mask)
            continue
        keep = _MESSAGE_KEYS if messages else _PART_KEYS
        for key, item in list(node.items()):
            if isinstance(item, str):
                if key not in keep:
                    node[key] = mask(item)
            elif messages and key == "parts" and isinstance(item, list):
                _mask_items(item, mask, False)
            elif isinstance(item, (dict, list)):
                _mask_in_place(item, mask)


def _mask_in_place(data: dict[str, Any] | list[Any], mask: Callable[[Any], Any]) -> None:
    """Every string in ``data`` (not its keys) replaced by what ``mask`` returns for it."""
    pending: list[dict[str, Any] | list[Any]] = [data]
    while pending:  # a loop, not recursion: to_jsonable's depth cap is ours, not the stack's
        node = pending.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                node[key] = mask(item)  # type: ignore[index]
            elif isinstance(item, (dict, list)):
                pending.append(item)


def report_mask_error(key: str, exc: Exception) -> None:
    """Log a raising mask: a warning the first time, then at debug. The user's fault, not ours,
    so never re-raised (not even under the test suite): the value is left out of the span."""
    global _warned
    if not _warned:
        _warned = True
        logger.warning("configure(mask=...) raised on %s; that value was left out of the span "
                       "(further mask errors are logged at debug)", key, exc_info=exc)
    else:
        logger.debug("configure(mask=...) raised on %s; that value was left out", key, exc_info=exc)
