"""Turn arbitrary Python values into bounded JSON text for span attributes.

Pydantic models, dataclasses, OpenAI response objects, bytes, sets, enums, datetimes and cyclic
structures all serialize; long values are cut so that the text stays valid JSON and the cut is
reported to the caller, which marks the span.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

from traceglass._unicode import valid_unicode

_MAX_DEPTH = 12
_MIN_STRING = 16
TRUNCATION_MARK = "…[truncated]"


def to_jsonable(value: Any, _depth: int = 0, _seen: set[int] | None = None) -> Any:
    """A structure of dict/list/str/int/float/bool/None equivalent to ``value``; a NaN or infinite
    float becomes the text ``"NaN"``/``"Infinity"``/``"-Infinity"`` (strict JSON has no such number)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if _depth >= _MAX_DEPTH:
        return f"<{type(value).__name__}: too deep>"
    seen = _seen if _seen is not None else set()
    key = id(value)
    if key in seen:
        return f"<cycle: {type(value).__name__}>"
    seen.add(key)
    try:
        return _convert(value, _depth + 1, seen)
    finally:
        seen.discard(key)


def _convert(value: Any, depth: int, seen: set[int]) -> Any:
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, depth, seen) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, depth, seen) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, depth, seen)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name, None), depth, seen) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)  # pydantic v2, OpenAI SDK objects
    if callable(dump) and not isinstance(value, type):
        try:
            return to_jsonable(dump(mode="json", exclude_none=True), depth, seen)
        except Exception:  # noqa: BLE001 - fall through to other shapes
            pass
    for method in ("to_dict", "dict"):
        convert = getattr(value, method, None)
        if callable(convert) and not isinstance(value, type):
            try:
                return to_jsonable(convert(), depth, seen)
            except Exception:  # noqa: BLE001
                pass
    return _repr(value)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break tracing
        return f"<{type(value).__name__}>"


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _c_compact() -> Callable[[Any], str] | None:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` straight on the C encoder.

    ``json.dumps`` with non-default options builds a ``JSONEncoder`` and its C encoder on every
    call (about 1.5 us, as much as encoding two chat messages); content is serialized on every
    traced call, so we build the C encoder once. Without cycle markers (another 0.35 us per
    call) it keeps no state between calls, so one encoder serves every call and thread; a
    cyclic value ends in ``RecursionError``, which callers treat like ``TypeError``.
    None when this Python has no ``_json`` accelerator or its signature differs.
    """
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

        if c_make_encoder is None:
            return None
        # allow_nan=False: a NaN or infinity raises ValueError and goes the slow way (to_jsonable).
        encode = c_make_encoder(None, _not_serializable, encode_basestring, None, ":", ",", False, False, False)

        def compact(value: Any) -> str:
            return "".join(encode(value, 0))

        sample = {"a": [1, 2.5, None, True, "é\n\"x\""], "b": {"c": 1e300, "7": -0.0}}
        if compact(sample) != json.dumps(sample, ensure_ascii=False, separators=(",", ":"), allow_nan=False):
            return None
        try:
            compact(float("nan"))
            return None
        except ValueError:
            return compact
    except Exception:  # noqa: BLE001 - any surprise: the standard library path
        return None


def _py_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


compact_json: Callable[[Any], str] = _c_compact() or _py_compact
"""Compact JSON text of plain JSON data; ``TypeError``/``ValueError``/``RecursionError`` otherwise."""
# One JSON string literal (quotes and escapes) for a str, as ``compact_json`` writes it: what an
# instrumentor builds the text of a common content shape with, straight from the request.
encode_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


# What JSON escapes besides a newline, quotes and backslashes first: where a text holds one, it is found soonest.
_ESCAPED_BUT_NEWLINE = ('"', "\\", *(chr(c) for c in range(0x20) if c != 0x0A))
_LONG_TEXT = 256  # encode_text: shorter texts go to the C encoder (cheaper there than any check)
_SUBSTRING_TESTS_FROM = 420  # _escapes_only_newlines: where 33 substring tests cost less than isprintable (measured)


def _escapes_only_newlines(text: str) -> bool:
    """True when JSON escapes nothing in ``text`` but newlines (False: something else, or a short text
    holding a newline, which the one-pass check below does not tell apart).

    JSON escapes only quotes, backslashes and U+0000-U+001F. A short text takes one pass in C
    (``isprintable``, ~27 instructions a character: no control character passes it); a long one 33
    substring tests, which run at memory speed (~11,000 instructions on 300 characters, ~25,000 on
    3,500, where the C encoder spends ~35 a character).
    """
    if len(text) < _SUBSTRING_TESTS_FROM:
        return '"' not in text and "\\" not in text and text.isprintable()
    for char in _ESCAPED_BUT_NEWLINE:
        if char in text:
            return False
    return True


def _newlines_escaped(text: str) -> str:
    return text.replace("\n", "\\n") if "\n" in text else text


def encode_text(text: str) -> str:
    """``encode_string(text)``; a long text without anything to escape but newlines costs a third of it
    (at worst, an escape found last, a tenth more). Short texts go to the encoder directly."""
    if len(text) >= _LONG_TEXT and _escapes_only_newlines(text):
        return '"' + _newlines_escaped(text) + '"'
    return encode_string(text)


def encode_strings(items: list[str]) -> str:
    """The JSON array of ``items`` (each a str), exactly as ``compact_json`` writes it: when the items
    joined need no escape but newlines, each literal is the text in quotes, one check of the joined text
    costing about half of encoding item by item."""
    if not items:
        return "[]"
    if _escapes_only_newlines("".join(items)):
        return '["' + _newlines_escaped('","'.join(items)) + '"]'
    return "[" + ",".join(map(encode_string, items)) + "]"


class EncodedJson(str):
    """Content an instrumentor encoded itself: exactly the ``compact_json`` text of plain JSON data.

    Building the text of a common shape (a list of plain text messages) straight from the request
    or response costs a fraction of building the message dicts and encoding them. The handler writes
    it as it is when no mask applies and it fits the length limit; otherwise it decodes it back into
    that data first, so masking and truncation see exactly what they would have seen.
    """

    __slots__ = ()


_NOT_PLAIN = (TypeError, ValueError, RecursionError)


def bounded_json(value: Any, limit: int) -> tuple[str, bool]:
    """JSON text of ``value`` at most ``limit`` characters long, and whether it was cut.

    Strings inside the structure are shortened first, evenly (each marked with ``…[truncated]``),
    so the result stays valid JSON with its shape intact: an array of messages stays an array of
    messages. If strings at their shortest are still too long, arrays keep fewer items (their first
    and last ones) and then objects fewer keys; only a ``limit`` too small for the empty array or
    object (or a long number) itself gives a longer text.
    """
    try:  # fast path: plain JSON data goes straight through the C encoder
        text = compact_json(value)
        data = value
    except _NOT_PLAIN:  # objects, bytes, sets, cycles
        data = to_jsonable(value)
        text = compact_json(data)
    if len(text) <= limit:
        return valid_unicode(text), False
    data = to_jsonable(data)
    longest = _longest_string(data)
    cap = max(limit // 2, _MIN_STRING)
    while cap >= _MIN_STRING:
        if cap < longest:  # a cap above every string changes nothing: skip its encoding
            shortened = compact_json(_shorten(data, cap))
            if len(shortened) <= limit:
                return valid_unicode(shortened), True
        cap //= 2
    data = _shorten(data, _MIN_STRING)
    # Then arrays keep fewer items (down to one), objects fewer keys, and last arrays none.
    for keys, floor in ((False, 1), (True, 0), (False, 0)):
        low, high, best = floor, _widest(data, keys) - 1, None
        while low <= high:  # the widest cut that fits (a binary search: log2(width) encodings)
            width = (low + high) // 2
            text = compact_json(_thin(data, width, keys))
            if len(text) <= limit:
                best, low = text, width + 1
            else:
                high = width - 1
        if best is not None:
            return valid_unicode(best), True
        data = _thin(data, floor, keys)
    return valid_unicode(compact_json(data)), True  # nothing left to cut: a bare number or empty shape


def bounded_text(value: str, limit: int) -> tuple[str, bool]:
    """``value`` cut to ``limit`` characters (marked), and whether it was cut."""
    if len(value) <= limit:
        return valid_unicode(value), False
    keep = max(limit - len(TRUNCATION_MARK), 0)
    return valid_unicode(value[:keep]) + TRUNCATION_MARK, True



def _shorten(data: Any, cap: int) -> Any:
    if isinstance(data, str):
        return data if len(data) <= cap else data[:cap] + TRUNCATION_MARK
    if isinstance(data, dict):
        return {k: _shorten(v, cap) for k, v in data.items()}
    if isinstance(data, list):
        return [_shorten(v, cap) for v in data]
    return data


def _longest_string(data: Any) -> int:
    if isinstance(data, str):
        return len(data)
    if isinstance(data, dict):
        return max((_longest_string(v) for v in data.values()), default=0)
    if isinstance(data, list):
        return max((_longest_string(v) for v in data), default=0)
    return 0


def _widest(data: Any, keys: bool) -> int:
    """The most items of any array in ``data`` (of any object too, when ``keys``)."""
    if isinstance(data, dict):
        inner = max((_widest(v, keys) for v in data.values()), default=0)
        return max(inner, len(data)) if keys else inner
    if isinstance(data, list):
        return max(len(data), max((_widest(v, keys) for v in data), default=0))
    return 0


def _thin(data: Any, width: int, keys: bool) -> Any:
    """``data`` with every array cut to its first and last items, ``width`` in all (every object
    to its first ``width`` keys too, when ``keys``): a conversation keeps its start and its end."""
    if isinstance(data, dict):
        kept = list(data.items())[:width] if keys else data.items()
        return {k: _thin(v, width, keys) for k, v in kept}
    if isinstance(data, list):
        if len(data) > width:
            tail = width // 2
            data = data[: width - tail] + (data[len(data) - tail:] if tail else [])
        return [_thin(v, width, keys) for v in data]
    return data
