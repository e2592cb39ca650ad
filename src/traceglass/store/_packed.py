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

A store trains one zstd dictionary on its own values (:func:`trained`: the first batch holding
:data:`TRAIN_FROM` large values, with those of its newest :data:`SAMPLE_EVERY` stored spans added when
the batch passes a multiple of that many; on the compressing thread, ~50 ms once) and compresses every later
value with it: a dictionary holds what values share (the JSON around the content, the content's
common words and phrases), so a 2 KB value need not carry them itself. On English prose, trained on
one half of a corpus and measured on the other: values 0.45 -> 0.33 of their size, and faster to
compress. The dictionaries are rows of ``zstd_dicts`` (schema 12), stored in the transaction of the
first values that use them and never deleted; a frame names its dictionary (zstd's dictionary id,
derived from its content), and a process reads a dictionary it has not seen from the store file it
opened (:func:`dictionary`), once.

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
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
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
logger = logging.getLogger("traceglass")

DICT_TABLE = "zstd_dicts"
TRAIN_FROM = 128  # large values in a batch from which a store without a dictionary trains one
# Smaller batches (an application exporting a few spans at a time): each time the store's spans pass a
# multiple of this many, the writer adds the values of that many stored spans to the batch's to train on.
SAMPLE_EVERY = 512
_DICT_SIZE = 16 << 10  # bytes; 16-64 KB measured alike on prose (0.334-0.329 of the values' size)
_dicts: dict[int, Any] = {}  # every dictionary this process has read or trained, by id (never changes)
_missing: set[int] = set()  # ids looked for in every store file and not found (see dictionary())
_files: dict[str, None] = {}  # the store files this process opened: where a dictionary it lacks is
_dicts_lock = threading.Lock()


def _compressor(dictionary: Any = None) -> Any:
    compressors = _local.__dict__.setdefault("compressors", {})
    key = 0 if dictionary is None else dictionary.dict_id()
    compressor = compressors.get(key)
    if compressor is None:
        compressor = compressors[key] = zstandard.ZstdCompressor(level=_LEVEL, dict_data=dictionary)
    return compressor


def trained(texts: Sequence[str]) -> Any:
    """A dictionary trained on the large values of ``texts``, or None: fewer than :data:`TRAIN_FROM`,
    zstd could not train one, or its id is taken by another dictionary this process knows."""
    large = [text for text in texts if len(text) >= MIN_PACKED]
    if len(large) < TRAIN_FROM:
        return None
    raws = [text.encode() for text in large]
    try:
        made = zstandard.train_dictionary(_DICT_SIZE, raws, level=_LEVEL)
    except zstandard.ZstdError as exc:  # e.g. values too alike or too few bytes to learn from
        logger.debug("traceglass: no compression dictionary from this batch: %s", exc)
        return None
    return remember(made.as_bytes())


def remember(data: bytes) -> Any:
    """The dictionary ``data`` holds, known to this process from now on; None when it is not one, or
    its id names another dictionary already (ids come from the content: ~2**-31 for two of them)."""
    try:
        made = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
        dict_id = made.dict_id()
    except zstandard.ZstdError:
        return None
    with _dicts_lock:
        known = _dicts.setdefault(dict_id, made)
        _missing.discard(dict_id)
    return known if known is made or known.as_bytes() == data else None


def dictionary(dict_id: int | None, conn: sqlite3.Connection | None = None) -> Any:
    """The dictionary ``dict_id`` names: known to this process, else read from ``conn`` or, without
    one, from each store file this process opened (a new read-only connection: a reader sees a frame
    only once the transaction that stored its dictionary has committed). None when none has it."""
    if not dict_id:
        return None
    known = _dicts.get(dict_id)
    if known is not None or dict_id in _missing:
        return known
    if conn is not None:
        return _read(conn, dict_id)
    for file in list(_files):
        try:
            reader = sqlite3.connect(f"{Path(file).as_uri()}?mode=ro", uri=True)
        except (sqlite3.Error, ValueError):
            continue
        try:
            found = _read(reader, dict_id)
        finally:
            reader.close()
        if found is not None:
            return found
    with _dicts_lock:
        _missing.add(dict_id)
    logger.warning("traceglass: values compressed with zstd dictionary %d cannot be read: no store file this "
                   "process opened holds it", dict_id)
    return None


def _read(conn: sqlite3.Connection, dict_id: int) -> Any:
    try:
        row = conn.execute(f"SELECT data FROM {DICT_TABLE} WHERE dict_id = ?", (dict_id,)).fetchone()
    except sqlite3.Error:  # a store without the table (older, or another's): not there
        return None
    found = None if row is None else remember(bytes(row[0]))
    return found if found is not None and found.dict_id() == dict_id else None


def pack_all(texts: Sequence[str], dictionary: Any = None) -> list[str | bytearray]:
    """What to store for each JSON text of ``texts``: a frame when large and smaller, else the text
    itself, the large ones compressed in one call (with ``dictionary``, when given). (A bytearray:
    the sqlite3 module binds one directly, bytes after a lookup in its adapters.)"""
    out: list[str | bytearray] = list(texts)
    large = [i for i, text in enumerate(out) if len(text) >= MIN_PACKED and text]
    if not large:
        return out
    raws = [out[i].encode() for i in large]
    compressor = _compressor(dictionary)
    if _MULTI and len(raws) > 1:
        frames: Any = compressor.multi_compress_to_buffer(raws, threads=THREADS if THREADS > 1 else 0)
    else:
        frames = [compressor.compress(raw) for raw in raws]
    for i, raw, frame in zip(large, raws, frames):
        if len(frame) < len(raw):
            out[i] = bytearray(frame)
    return out


class Packing:
    """:func:`pack_all` of ``texts`` with ``dictionary`` begun now, on a thread of its own when they
    hold at least :data:`_BACKGROUND` characters to compress, so that the caller's statements run
    meanwhile; :meth:`result` waits for it. Where no thread can start (interpreter shutdown, no
    resources), :meth:`result` packs them on the caller's thread. With ``train`` (the store has no
    dictionary yet), one is first :func:`trained` on the texts and ``samples`` and, if it can be, used:
    ``trained``."""

    def __init__(self, texts: Sequence[str], dictionary: Any = None, *, train: bool = False,
                 samples: Sequence[str] = ()) -> None:
        self._texts = texts
        self._dictionary = dictionary
        self._train = train and dictionary is None
        self._samples = samples  # more values to train on (stored ones), not to pack
        self.trained: Any = None  # the dictionary trained for these texts, once result() has returned
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
            dictionary = self._dictionary
            if self._train:
                dictionary = self.trained = trained([*self._texts, *self._samples])
            self._outcome = (True, pack_all(self._texts, dictionary))
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
    """Give ``conn`` the ``tg_json`` SQL function, and note its file: where a dictionary is."""
    conn.create_function(FUNCTION, 1, unpacked, deterministic=True)
    try:
        file = conn.execute("PRAGMA database_list").fetchone()[2]
    except (sqlite3.Error, TypeError, IndexError):
        return
    if file:
        _files[file] = None


def unpacked_all(values: Sequence[Any]) -> list[Any]:
    """:func:`unpacked` of each of ``values``, the frames decompressed in one call (see :func:`decompressed_all`)."""
    texts = iter(decompressed_all([value for value in values if type(value) is bytes]))
    return [_decoded(next(texts)) if type(value) is bytes else value for value in values]


def decompressed_all(frames: Sequence[bytes]) -> list[bytes | None]:
    """The bytes each of ``frames`` holds (None for one that is not a frame of ours), decompressed in one
    call (one give-up of the GIL, against one a frame) for each dictionary they name (or none); one by
    one for a dictionary's frames if any of them is not a frame of ours."""
    if len(frames) < 2 or not _MULTI_READ:
        return [_decompressed(frame) for frame in frames]
    out: list[bytes | None] = [None] * len(frames)
    for dict_id, indexes in _by_dictionary(frames).items():
        group = [frames[i] for i in indexes]
        for i, raw in zip(indexes, _decompressed_together(dict_id, group, group)):
            out[i] = None if raw is None else bytes(raw)
    return out


def decompressed_each(blob: bytes, sizes: Sequence[int]) -> Sequence[Any]:
    """Each of the values stored one after another in ``blob`` (``sizes`` bytes each) decompressed: a
    bytes-like object (``bytes()`` copies it), None for one that is not a frame of ours. One call into
    zstd on up to :data:`THREADS` cores and no copy a value when they name one dictionary (or none), as
    :func:`decompressed_all` else; one by one if any of them is not a frame of ours."""
    offsets = list(itertools.accumulate(sizes, initial=0))[:-1]
    if len(sizes) < 2 or not _MULTI_READ:
        return [_decompressed(blob[start:start + size]) for start, size in zip(offsets, sizes)]
    view = memoryview(blob)
    groups = _by_dictionary([view[start:start + _HEADER] for start in offsets])
    if len(groups) > 1:  # frames of several dictionaries (a store's first ones and later): copied apart
        return decompressed_all([blob[start:start + size] for start, size in zip(offsets, sizes)])
    segments = array.array("Q", [n for pair in zip(offsets, sizes) for n in pair]).tobytes()
    (dict_id,) = groups
    return _decompressed_together(dict_id, zstandard.BufferWithSegments(blob, segments),
                                  [view[start:start + size] for start, size in zip(offsets, sizes)])


def _by_dictionary(frames: Sequence[Any]) -> dict[int, list[int]]:
    """The indexes of ``frames`` (their headers will do) by the dictionary each names (0: none)."""
    groups: dict[int, list[int]] = {}
    for i, frame in enumerate(frames):
        groups.setdefault(_dict_id(frame), []).append(i)
    return groups


def _decompressed_together(dict_id: int, batch: Any, frames: Sequence[Any]) -> Sequence[Any]:
    """``frames``, all of dictionary ``dict_id``, decompressed in one call on ``batch`` (the same frames,
    as zstd takes them), or one by one if that call fails; all None when the dictionary is nowhere."""
    decompressor = _decompressor(dict_id)
    if decompressor is None:  # its dictionary is nowhere (logged once)
        return [None] * len(frames)
    if len(frames) > 1:
        try:
            return decompressor.multi_decompress_to_buffer(batch, threads=_threads(len(frames)))
        except (zstandard.ZstdError, ValueError, MemoryError):  # a frame without its size, or not a frame
            pass
    return [_decompressed(bytes(frame)) for frame in frames]


def _threads(count: int) -> int:
    """zstd's threads for a call on ``count`` values (0: this thread); starting them costs more for a few."""
    return THREADS if THREADS > 1 and count >= _THREADED else 0


_HEADER = 18  # bytes: the longest zstd frame header, which names the frame's dictionary


def _dict_id(frame: Any) -> int:
    """The id of the dictionary ``frame`` was compressed with (0: none, or not a frame)."""
    try:
        return zstandard.get_frame_parameters(frame).dict_id
    except zstandard.ZstdError:
        return 0


def _decompressor(dict_id: int = 0) -> Any:
    """This thread's decompressor for frames of dictionary ``dict_id`` (0: none); None when the
    dictionary cannot be found."""
    decompressors = _local.__dict__.setdefault("decompressors", {})
    decompressor = decompressors.get(dict_id)
    if decompressor is None:
        found = dictionary(dict_id)
        if dict_id and found is None:
            return None
        decompressor = decompressors[dict_id] = zstandard.ZstdDecompressor(dict_data=found)
    return decompressor


def _decompressed(frame: bytes) -> bytes | None:
    decompressor = _decompressor(_dict_id(frame))
    if decompressor is None:  # its dictionary is nowhere (logged once)
        return None
    try:
        return decompressor.decompress(frame)
    except (zstandard.ZstdError, MemoryError):  # not a frame of ours (another tool wrote it)
        return None


def _decoded(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def unpacked(value: Any) -> Any:
    """The JSON text of a stored value read without ``tg_json`` (a frame decompressed; None if not one)."""
    return _decoded(_decompressed(value)) if type(value) is bytes else value
