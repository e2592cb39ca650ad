"""Large JSON values of ``span_data`` stored zstd-compressed, and the SQL function that reads them.

A span's attributes (captured prompts, completions, documents) are most of a trace database: about
2.3 KB of the 3.2 KB a benchmark span took. Attributes or events of at least :data:`MIN_PACKED`
bytes are stored as one zstd frame (a BLOB; level 1, about 3x smaller on captured text) when that
is smaller; shorter values, and everything written before, stay JSON text. The column's type says
which is which, so nothing else is needed to read either.

Every SQLite connection the store opens has ``tg_json(value)``: the JSON text of a stored value,
packed or not. Each SQL reader of ``span_data.attributes`` / ``events`` goes through it (content
search, previews, a trace's spans). PostgreSQL keeps plain text: it compresses large values itself.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import zstandard

MIN_PACKED = 1024  # characters of JSON text; below, a frame's ~10 bytes of framing and the call cost more
_LEVEL = 1  # on bench_store's spans: 0.31 of the size, as zlib level 1 at about half its CPU
FUNCTION = "tg_json"
_local = threading.local()  # a zstd context is not for two threads at once: one per thread


def pack(text: str) -> str | bytearray:
    """What to store for the JSON text ``text``: a frame when large and smaller, else the text itself.
    (A bytearray: the sqlite3 module binds one directly, bytes after a lookup in its adapters.)"""
    if len(text) < MIN_PACKED:
        return text
    compress = getattr(_local, "compress", None)
    if compress is None:
        compress = _local.compress = zstandard.ZstdCompressor(level=_LEVEL).compress
    raw = text.encode()
    frame = compress(raw)
    return bytearray(frame) if len(frame) < len(raw) else text


def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the ``tg_json`` SQL function."""
    conn.create_function(FUNCTION, 1, unpacked, deterministic=True)


def unpacked(value: Any) -> Any:
    """The JSON text of a stored value read without ``tg_json`` (a frame decompressed; None if not one)."""
    if type(value) is not bytes:
        return value
    decompress = getattr(_local, "decompress", None)
    if decompress is None:
        decompress = _local.decompress = zstandard.ZstdDecompressor().decompress
    try:
        return decompress(value).decode("utf-8", "replace")
    except (zstandard.ZstdError, MemoryError):  # not a frame of ours (another tool wrote it)
        return None
