"""Large JSON values of ``span_data`` stored zstd-compressed, and the SQL function that reads them.

A span's attributes (captured prompts, completions, documents) are most of a trace database: about
2.3 KB of the 3.2 KB a benchmark span took. Attributes or events of at least :data:`MIN_PACKED`
bytes are stored as one zstd frame (a BLOB; level 1, about 3x smaller on captured text) when that
is smaller; shorter values, and everything written before, stay JSON text. The column's type says
which is which, so nothing else is needed to read either.

A batch's values are compressed together (:func:`pack_all`): one call into zstd, on up to
:data:`THREADS` cores. Each call gives up the GIL, and beside an application thread that runs
Python without pause each give-up costs the writer a wait of up to the switch interval to win it
back: one call a value made a 512-span batch take over two seconds there. A trace read back is
decompressed the same way (:func:`unpacked_all`).

Every SQLite connection the store opens has ``tg_json(value)``: the JSON text of a stored value,
packed or not. Each SQL reader of ``span_data.attributes`` / ``events`` goes through it (content
search, previews, a trace's spans). PostgreSQL keeps plain text: it compresses large values itself.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import zstandard

MIN_PACKED = 1024  # characters of JSON text; below, a frame's ~10 bytes of framing and the call cost more
_LEVEL = 1  # on bench_store's spans: 0.31 of the size, as zlib level 1 at about half its CPU
FUNCTION = "tg_json"
# zstd's own threads for a batch (the frames are the same), up to the CPUs this process may use.
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_FEATURES = getattr(zstandard, "backend_features", ())  # the batch calls are not in the cffi backend
_MULTI = "multi_compress_to_buffer" in _FEATURES
_MULTI_READ = "multi_decompress_to_buffer" in _FEATURES
_local = threading.local()  # a zstd context is not for two threads at once: one per thread


def _compressor() -> Any:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=_LEVEL)
    return compressor


def pack_all(texts: Sequence[str]) -> list[str | bytearray]:
    """What to store for each JSON text of ``texts``: a frame when large and smaller, else the text
    itself, the large ones compressed in one call. (A bytearray: the sqlite3 module binds one
    directly, bytes after a lookup in its adapters.)"""
    out: list[str | bytearray] = list(texts)
    large = [i for i, text in enumerate(out) if len(text) >= MIN_PACKED and text]
    if not large:
        return out
    raws = [out[i].encode() for i in large]
    compressor = _compressor()
    if _MULTI and len(raws) > 1:
        frames: Any = compressor.multi_compress_to_buffer(raws, threads=THREADS if THREADS > 1 else 0)
    else:
        frames = [compressor.compress(raw) for raw in raws]
    for i, raw, frame in zip(large, raws, frames):
        if len(frame) < len(raw):
            out[i] = bytearray(frame)
    return out


def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the ``tg_json`` SQL function."""
    conn.create_function(FUNCTION, 1, unpacked, deterministic=True)


def unpacked_all(values: Sequence[Any]) -> list[Any]:
    """:func:`unpacked` of each of ``values``, the frames decompressed in one call (one give-up of the
    GIL, against one a value); one by one if any is not a frame of ours."""
    frames = [value for value in values if type(value) is bytes]
    if len(frames) > 1 and _MULTI_READ:
        try:
            texts = iter(_decompressor().multi_decompress_to_buffer(frames))
        except (zstandard.ZstdError, ValueError, MemoryError):  # a frame without its size, or not a frame
            pass
        else:
            return [bytes(next(texts)).decode("utf-8", "replace") if type(value) is bytes else value
                    for value in values]
    return [unpacked(value) for value in values]


def _decompressor() -> Any:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def unpacked(value: Any) -> Any:
    """The JSON text of a stored value read without ``tg_json`` (a frame decompressed; None if not one)."""
    if type(value) is not bytes:
        return value
    try:
        return _decompressor().decompress(value).decode("utf-8", "replace")
    except (zstandard.ZstdError, MemoryError):  # not a frame of ours (another tool wrote it)
        return None
