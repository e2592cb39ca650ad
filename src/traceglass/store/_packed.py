"""Large JSON values of ``span_data`` stored zstd-compressed, and the SQL function that reads them.

A span's attributes (captured prompts, completions, documents) are most of a trace database: about
2.3 KB of the 3.2 KB a benchmark span took. Attributes or events of at least :data:`MIN_PACKED`
bytes are stored as one zstd frame (a BLOB; level 1, about 3x smaller on captured text) when that
is smaller; shorter values, and everything written before, stay JSON text. The column's type says
which is which, so nothing else is needed to read either.

A batch's values are compressed together (:func:`pack_all`): one call into zstd, on up to
:data:`THREADS` cores. Each call gives up the GIL, and beside an application thread that runs
Python without pause each give-up costs the writer a wait of up to the switch interval to win it
back: one call a value made a 512-span batch take over two seconds there. A writer starts that call
on a thread of its own (:class:`Packing`) and runs its SQLite statements meanwhile: both give the GIL
up, so they take the two cores. A trace read back is decompressed the same way (:func:`unpacked_all`).

Every SQLite connection the store opens has ``tg_json(value)``: the JSON text of a stored value,
packed or not, for SQL that must read the text (the word index's backfill and deletions). The reads
themselves take the stored values out and decompress them here, all at once (a call into Python a
value would wait for the GIL each time: see ``_one_step``).
PostgreSQL keeps plain text: it compresses large values itself.
"""

from __future__ import annotations

import _thread
import array
import itertools
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
_THREADED = 64  # values in a call from which zstd's threads pay for starting
_BACKGROUND = 64 << 10  # characters of large texts from which a batch is packed on a thread of its own
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


class Packing:
    """:func:`pack_all` of ``texts`` begun now, on a thread of its own when they hold at least
    :data:`_BACKGROUND` characters to compress, so that the caller's statements run meanwhile;
    :meth:`result` waits for it. Where no thread can start (interpreter shutdown, no resources),
    :meth:`result` packs them on the caller's thread."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._outcome: tuple[bool, Any] | None = None
        self._done: Any = None
        if sum(len(text) for text in texts if len(text) >= MIN_PACKED) < _BACKGROUND:
            return
        done = _thread.allocate_lock()
        done.acquire()
        try:  # a bare thread: threading.Thread.start would wait for it to take the GIL once
            _thread.start_new_thread(self._run, (done,))
        except RuntimeError:
            return
        self._done = done

    def _run(self, done: Any) -> None:
        try:
            self._pack()
        finally:
            done.release()

    def _pack(self) -> None:
        try:
            self._outcome = (True, pack_all(self._texts))
        except BaseException as exc:  # noqa: BLE001 - raised by result(), on the caller's thread
            self._outcome = (False, exc)

    def wait(self) -> None:
        """Return once the thread, if any, has finished."""
        if self._done is not None:
            with self._done:
                pass

    def result(self) -> list[str | bytearray]:
        """What :func:`pack_all` returns for the texts (the same list each call), or its exception."""
        self.wait()
        if self._outcome is None:  # no thread: packed here
            self._pack()
        succeeded, value = self._outcome
        if not succeeded:
            raise value
        return value


def register(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the ``tg_json`` SQL function."""
    conn.create_function(FUNCTION, 1, unpacked, deterministic=True)


def unpacked_all(values: Sequence[Any]) -> list[Any]:
    """:func:`unpacked` of each of ``values``, the frames decompressed in one call (see :func:`decompressed_all`)."""
    texts = iter(decompressed_all([value for value in values if type(value) is bytes]))
    return [_decoded(next(texts)) if type(value) is bytes else value for value in values]


def decompressed_all(frames: Sequence[bytes]) -> list[bytes | None]:
    """The bytes each of ``frames`` holds (None for one that is not a frame of ours), decompressed in one
    call (one give-up of the GIL, against one a frame); one by one if any is not a frame of ours."""
    if len(frames) > 1 and _MULTI_READ:
        try:
            return [bytes(out) for out in _decompressor().multi_decompress_to_buffer(frames,
                                                                                      threads=_threads(len(frames)))]
        except (zstandard.ZstdError, ValueError, MemoryError):  # a frame without its size, or not a frame
            pass
    return [_decompressed(frame) for frame in frames]


def decompressed_each(blob: bytes, sizes: Sequence[int]) -> Sequence[Any]:
    """Each of the values stored one after another in ``blob`` (``sizes`` bytes each) decompressed: a
    bytes-like object (``bytes()`` copies it), None for one that is not a frame of ours. One call into
    zstd on up to :data:`THREADS` cores and no copy a value; one by one if any is not a frame of ours."""
    offsets = list(itertools.accumulate(sizes, initial=0))[:-1]
    if _MULTI_READ and len(sizes) > 1:
        segments = array.array("Q", [n for pair in zip(offsets, sizes) for n in pair]).tobytes()
        try:
            return _decompressor().multi_decompress_to_buffer(zstandard.BufferWithSegments(blob, segments),
                                                               threads=_threads(len(sizes)))
        except (zstandard.ZstdError, ValueError, MemoryError):  # a frame without its size, or not a frame
            pass
    return [_decompressed(blob[start:start + size]) for start, size in zip(offsets, sizes)]


def _threads(count: int) -> int:
    """zstd's threads for a call on ``count`` values (0: this thread); starting them costs more for a few."""
    return THREADS if THREADS > 1 and count >= _THREADED else 0


def _decompressor() -> Any:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor


def _decompressed(frame: bytes) -> bytes | None:
    try:
        return _decompressor().decompress(frame)
    except (zstandard.ZstdError, MemoryError):  # not a frame of ours (another tool wrote it)
        return None


def _decoded(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def unpacked(value: Any) -> Any:
    """The JSON text of a stored value read without ``tg_json`` (a frame decompressed; None if not one)."""
    return _decoded(_decompressed(value)) if type(value) is bytes else value
