"""The user's mask (``configure(mask=fn)``) applied to captured content.

A mask sees strings: every string inside a captured value (message parts' text, tool arguments,
function inputs and outputs, system instructions, retrieved documents), one call per string, and
what it returns is recorded in its place. Dict keys, numbers, booleans and None pass through, and
so do the message shape's own strings (a role, a part's type, a tool call's id and name). A mask
that wants the whole Python value of each content attribute instead is wrapped in
:func:`mask_whole_values`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from traceglass._guard import logger
from traceglass._handler._content import to_jsonable

_MAX_DEPTH = 12  # as to_jsonable: plain data deeper than this is made plain by it (cycles cut)
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
    whole value when it came from :func:`mask_whole_values`. The result is a new structure: the
    application's objects are never changed. A value that was not a string stays JSON even when
    it is made of one string (bytes, an object's repr). The mask's exceptions propagate.
    """
    if mask.__class__ is _WholeValueMask:
        value = mask(value)
        return value, isinstance(value, str)
    if value.__class__ is str:
        value = mask(value)
        return value, isinstance(value, str)
    shape = _SHAPES.get(field)
    if shape is not None and value.__class__ is list:
        inner = _PART_KEYS if shape == "messages" else None
        keep = _MESSAGE_KEYS if inner is not None else _PART_KEYS
        return [_masked_shape(item, mask, keep, inner) for item in value], False
    return _masked(value, mask, 0), False


def _masked_shape(node: Any, mask: Callable[[Any], Any], keep: frozenset[str], inner: frozenset[str] | None) -> Any:
    """A message (``inner``: its parts' structural keys) or a part, masked but for the strings
    under ``keep``; an item of another shape is masked like any value."""
    if node.__class__ is not dict:
        return _masked(node, mask, 1)
    out = {}
    for key, item in node.items():
        if item.__class__ is str:
            out[key] = item if key in keep else mask(item)
        elif inner is not None and key == "parts" and item.__class__ is list:
            out[key] = [_masked_shape(part, mask, inner, None) for part in item]
        else:
            out[key] = _masked(item, mask, 2)
    return out


def _masked(value: Any, mask: Callable[[Any], Any], depth: int) -> Any:
    """A copy of ``value`` with every string (not dict keys) replaced by what ``mask`` returns.

    Plain data (dict, list, tuple, str, finite numbers, None) is walked directly: what content
    capture records is mostly that, and one call per node keeps a mask cheap. Anything else, and
    anything deeper than ``to_jsonable`` goes, is first made plain by it (objects, bytes, sets and
    NaN become dicts, lists and text, cycles are cut) and then walked.
    """
    cls = value.__class__
    if cls is str:
        return mask(value)
    if depth < _MAX_DEPTH:
        if cls is dict:
            return {key: _masked(item, mask, depth + 1) for key, item in value.items()}
        if cls is list or cls is tuple:
            return [_masked(item, mask, depth + 1) for item in value]
        if value is None or cls is bool or cls is int or (cls is float and math.isfinite(value)):
            return value
    plain = to_jsonable(value)
    if plain.__class__ is str:
        return mask(plain)
    if plain.__class__ is dict or plain.__class__ is list:
        return _masked(plain, mask, 0)  # to_jsonable's output is acyclic and depth-capped
    return plain


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
