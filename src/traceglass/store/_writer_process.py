"""``WriterProcess``: the store's write side moved into a process of its own.

In-process, a batch's row conversion, compression, word index and SQLite binding hold the GIL
that the application's threads need: 50-70 µs of CPU a span. Here the application's side only
encodes each span into plain values (:mod:`~traceglass.store._span_wire`, a few µs) and writes
them to a pipe; a child Python (``traceglass.store._writer_child``) does the rest on another core
and answers each batch once it is committed, so a write still returns only once its batch is
stored (or has failed, as :class:`TraceWriter`'s would).

The child is started at the first write, restarted (and the batch sent again once) if it died,
and ends when its stdin closes: at :meth:`close`, or when the application dies. POSIX only (it
waits on the pipes with ``poll``); where none can start, the writer says so once and writes
in-process (a :class:`TraceWriter`) from then on.
"""

from __future__ import annotations

import json
import logging
import marshal
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: no writer process there anyway
    fcntl = None  # type: ignore[assignment]

from traceglass._units import as_seconds, parse_size
from traceglass.store import _paths
from traceglass.store._postgres_url import DatabaseURL
from traceglass.store._span_wire import Encoder
from traceglass.store._trace_writer import TraceWriter
from traceglass.store._writer_child import CONFIG, FAULT, HEADER, OK, REPLY

logger = logging.getLogger("traceglass")

# Beyond the child's own retries of a locked database (retry_for), how long a reply may take
# before the child is deemed stuck, killed and the batch reported lost.
REPLY_MARGIN_S = 30.0
_CLOSE_WAIT_S = 10.0  # for the child to commit, stop retention and exit after its stdin closes
_POLL_S = 0.25  # how often a wait looks at close()
_PIPE_SIZES = (2 << 20, 1 << 20, 256 << 10)  # tried in turn for the pipe to the process


class WriterProcessError(OSError):
    """The writer process did not store a batch: the database refused it (the message says why),
    or the process died or stopped answering."""


class _Unavailable(RuntimeError):
    """No writer process can be started here (no Python executable, not POSIX, spawn failed)."""


class _Lost(Exception):
    """The process ended, or its pipe broke, before the reply."""


class WriterProcess:
    """Write spans through a child process; the same ``write``/``close`` as :class:`TraceWriter`.

    Safe to share between threads (one batch at a time). A fork gives the child process a writer
    process of its own at its first write.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age: float | timedelta | None = None,
        max_size: int | str | None = None,
        retry_for: float = 30.0,
    ) -> None:
        resolved = _paths.resolve(path)
        self.path = resolved.absolute() if isinstance(resolved, Path) else resolved
        self.max_age = as_seconds(max_age) if max_age is not None else None
        self.max_size = parse_size(max_size) if max_size is not None else None
        self.retry_for = retry_for
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = os.getpid()
        self._encoder = Encoder()
        self._here: TraceWriter | None = None  # where no process can start: writing in-process
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork_in_child(ref))

    @property
    def pid(self) -> int | None:
        """The writer process's pid while one runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def write(self, spans: Sequence[Any]) -> None:
        """Store finished SDK spans in one transaction, in the writer process; returns once committed.

        Raises :class:`WriterProcessError` (an ``OSError``) when the batch was not stored, and
        ``RuntimeError`` carrying the child's traceback for a fault of ours there; in-process (no
        process could start), what :meth:`TraceWriter.write` raises."""
        if not spans:
            return
        here = self._here
        if here is None:
            with self._lock:
                if self._closed:
                    raise WriterProcessError(f"the writer process for {self.path} is closed")
                here = self._through_process(spans)
                if here is None:
                    return
        here.write(spans)

    def _through_process(self, spans: Sequence[Any]) -> TraceWriter | None:
        """Send the batch through the process (caller holds ``_lock``). None once it is stored; where
        no process can start, the in-process writer to use from now on (``_here``)."""
        kind, payload = self._encoder.encode(spans)
        frame = HEADER.pack(kind, len(payload)) + payload
        attempts = 0
        while True:
            try:
                self._exchange(self._process(), frame)
                return None
            except _Unavailable as exc:
                logger.warning("traceglass: writing to %s from this process: %s", self.path, exc)
                self._here = TraceWriter(self.path, max_age=self.max_age, max_size=self.max_size,
                                         retry_for=self.retry_for)
                return self._here
            except _Lost as exc:
                if self._proc is not None:
                    self._discard(self._proc, graceful=False)
                attempts += 1
                if attempts == 2 or self._closed:
                    raise WriterProcessError(f"the writer process for {self.path} {exc}") from None
                logger.warning("traceglass: the writer process for %s %s; starting a new one", self.path, exc)

    def close(self) -> None:
        """Let the writer process finish and exit (killed after 10 s); idempotent. Ends a write's wait."""
        self._closed = True
        self._stop.set()
        if self._here is not None:
            self._here.close()
        locked = self._lock.acquire(timeout=_CLOSE_WAIT_S)
        try:
            proc, self._proc = self._proc, None
            if proc is not None and self._pid == os.getpid():
                self._discard(proc, graceful=locked)
        finally:
            if locked:
                self._lock.release()

    def __repr__(self) -> str:
        return f"WriterProcess({str(self.path)!r})"

    # -- internals ---------------------------------------------------------------------------
    def _process(self) -> subprocess.Popen[bytes]:
        if self._pid != os.getpid():  # forked: the parent's process and pipes are not ours
            self._proc, self._pid = None, os.getpid()
        if self._proc is None:
            self._proc = _spawn()
            assert self._proc.stdin is not None
            self._send(self._proc.stdin.fileno(), self._config(), time.monotonic() + REPLY_MARGIN_S)
        return self._proc

    def _config(self) -> bytes:
        """The first frame: the configuration (on the pipe: a URL's password stays off the command line)."""
        path = self.path.secret() if isinstance(self.path, DatabaseURL) else str(self.path)
        body = json.dumps({"path": path, "max_age": self.max_age, "max_size": self.max_size,
                           "retry_for": self.retry_for, "log_level": logger.getEffectiveLevel()}).encode()
        return HEADER.pack(CONFIG, len(body)) + body

    def _exchange(self, proc: subprocess.Popen[bytes], frame: bytes) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + self.retry_for + REPLY_MARGIN_S
        self._send(proc.stdin.fileno(), frame, deadline)
        size = REPLY.unpack(self._receive(proc.stdout.fileno(), REPLY.size, deadline))[0]
        try:
            status, message, logs = marshal.loads(self._receive(proc.stdout.fileno(), size, deadline))
        except (ValueError, EOFError, TypeError) as exc:  # out of step with us: not to be spoken to again
            raise _Lost(f"answered with something else than a reply ({exc})") from None
        for level, text in logs:
            logger.log(level, "%s", text)
        if status == OK:
            return
        if status == FAULT:
            raise RuntimeError(f"the writer process for {self.path} failed:\n{message}")
        raise WriterProcessError(message)

    def _wait(self, fd: int, event: int, deadline: float) -> None:
        poller = select.poll()
        poller.register(fd, event | select.POLLHUP | select.POLLERR)
        while True:
            if self._stop.is_set():
                raise WriterProcessError(f"the writer process for {self.path} was closed during a write")
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise WriterProcessError(f"the writer process for {self.path} did not answer in "
                                         f"{self.retry_for + REPLY_MARGIN_S:g} s (stopped)")
            if poller.poll(min(left, _POLL_S) * 1000):
                return

    def _send(self, fd: int, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(fd, select.POLLOUT, deadline)
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                continue
            except OSError as exc:  # BrokenPipeError: the process has gone
                raise _Lost(f"could not be written to ({exc.strerror or exc})") from None
            view = view[written:]

    def _receive(self, fd: int, size: int, deadline: float) -> bytes:
        chunks, left = [], size
        while left:
            self._wait(fd, select.POLLIN, deadline)
            try:
                chunk = os.read(fd, left)
            except BlockingIOError:
                continue
            if not chunk:
                raise _Lost("ended before answering")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._discard(proc, graceful=False)

    def _discard(self, proc: subprocess.Popen[bytes], *, graceful: bool) -> None:
        """End ``proc``: close its stdin and let it finish (graceful), else kill it; reap it."""
        if self._proc is proc:
            self._proc = None
        try:
            if not graceful:
                proc.kill()
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=_CLOSE_WAIT_S)
            except subprocess.TimeoutExpired:
                logger.warning("traceglass: the writer process for %s did not exit in %g s; killed it",
                               self.path, _CLOSE_WAIT_S)
                proc.kill()
                proc.wait(timeout=_CLOSE_WAIT_S)
            if proc.stdout is not None:
                proc.stdout.close()
        except (OSError, subprocess.SubprocessError) as exc:
            logger.debug("traceglass: ending the writer process for %s: %s", self.path, exc)

    def _forget_after_fork(self) -> None:
        # The parent's process and pipes: close our copies of its pipes (so the writer process
        # still sees its stdin end when the parent closes it), neither wait for it nor kill it.
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            proc.returncode = 0  # not our child: never to be waited for (nor reaped by subprocess)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pid = os.getpid()


def _child_path() -> str:
    """PYTHONPATH for the child: this process's import path (traceglass first), without the
    auto-instrumentation hook ``opentelemetry-instrument`` adds (the child must not trace itself)."""
    package_root = str(Path(__file__).resolve().parents[2])
    entries = [package_root] + [p for p in sys.path if isinstance(p, str) and p and "auto_instrumentation" not in p]
    return os.pathsep.join(dict.fromkeys(entries))


def _spawn() -> subprocess.Popen[bytes]:
    executable = sys.executable
    if os.name != "posix" or not hasattr(select, "poll"):
        raise _Unavailable("a writer process needs POSIX pipes and poll()")
    if not executable or not os.path.basename(executable).lower().startswith(("python", "pypy")):
        raise _Unavailable(f"sys.executable ({executable!r}) is not a Python interpreter")
    env = dict(os.environ)
    env.update(PYTHONPATH=_child_path(), PYTHONSAFEPATH="1", OTEL_SDK_DISABLED="true")
    try:
        proc = subprocess.Popen(
            [executable, "-m", "traceglass.store._writer_child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise _Unavailable(f"could not start {executable}: {exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None
    _widen(proc.stdin.fileno())
    os.set_blocking(proc.stdin.fileno(), False)
    os.set_blocking(proc.stdout.fileno(), False)
    return proc


def _widen(fd: int) -> None:
    """Let the pipe hold a whole usual batch (512 spans with 2 KB of content: about 1 MB) where the
    system allows (Linux). Every write, and every wait for the pipe to drain, gives up the GIL, and
    beside an application thread running Python without pause each costs a switch interval to win
    it back: through the default 64 KB a batch took a dozen."""
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # None where fcntl is None (not POSIX) too
    if setting is None:
        return
    for size in _PIPE_SIZES:
        try:
            fcntl.fcntl(fd, setting, size)
            return
        except OSError:  # above /proc/sys/fs/pipe-max-size (1 MB by default) or the user's pipe quota
            continue


def _after_fork_in_child(ref: weakref.ref[WriterProcess]) -> None:
    writer = ref()
    if writer is not None:
        writer._forget_after_fork()
