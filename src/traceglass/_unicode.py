"""Text that UTF-8 can encode: a Python string may hold lone surrogates (from JSON escapes, bad
decoding), which the OTLP protobuf encoder, SQLite's UTF-8 text and strict JSON parsers all refuse."""

from __future__ import annotations


def is_valid_unicode(text: str) -> bool:
    """True when ``text`` holds no lone surrogate (ASCII, most text, is checked in one C call)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by one U+FFFD; a split pair is joined into its character."""
    if is_valid_unicode(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
