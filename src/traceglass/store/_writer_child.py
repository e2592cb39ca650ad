"""The writer process's main loop (``python -m traceglass.store._writer_child``), started by
:class:`~traceglass.store._writer_process.WriterProcess`.

It reads frames from stdin (a 5-byte header: kind and length; then the payload): first its
configuration (JSON: the database, which may be a URL with a password, so never on the command
line), then batches (:mod:`~traceglass.store._span_wire`); it writes each batch with a :class:`TraceWriter` in one
transaction, and answers each with one reply on its own pipe: ``(status, message, logs)`` where
status is ``OK``, ``STORAGE`` (the database refused: the message says why) or ``FAULT`` (a bug of
ours: the traceback), and logs are the ``traceglass`` log records since the last reply, for the
application to log. It ends at the end of stdin (the application closed it, or died), after
closing the database. SIGINT is ignored: a Ctrl-C in the terminal reaches the whole process group,
and the application still has its last batch to send.
"""

from __future__ import annotations

import json
import logging
import marshal
import os
import signal
import struct
import sys
import traceback
from typing import BinaryIO

HEADER = struct.Struct("!BI")  # frame kind, payload length
CONFIG = 0  # the kind of the first frame: the configuration as JSON
REPLY = struct.Struct("!I")  # reply length
OK, STORAGE, FAULT = 0, 1, 2
MAX_LOGS = 100  # log records kept for one reply (the oldest are dropped past it)


class _Collect(logging.Handler):
    """Keeps the ``traceglass`` log records for the next reply."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is dropped
            return
        self.records.append((record.levelno, text))
        del self.records[:-MAX_LOGS]

    def drain(self) -> list[tuple[int, str]]:
        records, self.records = self.records, []
        return records


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None  # end of input
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(stream: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[stream.write(view) or 0:]


def _config(stdin: BinaryIO) -> dict | None:
    header = _read_exact(stdin, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    if kind != CONFIG:
        raise SystemExit(f"traceglass writer process: expected its configuration first, got a frame of kind {kind}")
    payload = _read_exact(stdin, length)
    if payload is None:
        return None  # the application ended while starting this process: nothing to do
    return json.loads(payload)


def serve(stdin: BinaryIO, reply: BinaryIO) -> None:
    """Read the configuration, then write every frame read from ``stdin`` until its end; one reply
    each on ``reply``."""
    from traceglass.store._span_wire import Decoder
    from traceglass.store._trace_writer import TraceWriter

    config = _config(stdin)
    if config is None:
        return

    collect = _Collect()
    logger = logging.getLogger("traceglass")
    logger.addHandler(collect)
    logger.setLevel(config.get("log_level", logging.WARNING))
    logger.propagate = False
    writer = TraceWriter(config["path"], max_age=config.get("max_age"), max_size=config.get("max_size"),
                         retry_for=config.get("retry_for", 30.0))
    decoder = Decoder()
    try:
        while True:
            header = _read_exact(stdin, HEADER.size)
            if header is None:
                break
            kind, length = HEADER.unpack(header)
            payload = _read_exact(stdin, length)
            if payload is None:
                break
            try:
                writer._write_rows(decoder.decode(kind, payload))
                status, message = OK, ""
            except TraceWriter.STORAGE_ERRORS as exc:
                status, message = STORAGE, f"{type(exc).__name__}: {exc}"
            except Exception:  # noqa: BLE001 - a bug of ours: sent to the application to report
                status, message = FAULT, traceback.format_exc()
            body = marshal.dumps((status, message, collect.drain()))
            try:
                _write_all(reply, REPLY.pack(len(body)) + body)
            except BrokenPipeError:  # the application has gone: its batch is committed, nobody to tell
                break
    finally:
        writer.close()
        for level, text in collect.drain():  # nobody left to reply to: the inherited stderr
            print(f"traceglass writer process: {logging.getLevelName(level)}: {text}", file=sys.stderr)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to a copy of stdout; stdout itself becomes stderr so that nothing printed by
    # accident (a library's warning) can corrupt a reply.
    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    with os.fdopen(0, "rb", buffering=0) as stdin:
        serve(stdin, reply)


if __name__ == "__main__":
    main()
