"""Keep ``os.fork()`` from landing while our own threads are inside SQLite.

SQLite has process-wide mutexes (its allocator, the unix VFS). If a process forks while another
thread holds one, the child inherits it locked and its first SQLite call hangs forever
(multiprocessing's default start method on Linux is fork). Every SQLite step our exporter and its
background threads take holds :data:`LOCK`; a fork waits for the steps in progress to finish.

The lock is shared among those steps: the export and the background checkpoint run at the same
time (the sqlite3 module releases the GIL while SQLite works), only a fork excludes them.
"""

from __future__ import annotations

import os
import threading


class ForkGate:
    """A context manager many threads may hold at once (re-entrantly); a fork waits until none does."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active = 0  # threads inside at least one ``with``
        self._forking = False
        self._local = threading.local()

    def __enter__(self) -> ForkGate:  # noqa: PYI034 - the module holds one instance
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cond:
                while self._forking:
                    self._cond.wait()
                self._active += 1
        self._local.depth = depth + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    def before_fork(self) -> None:
        """Wait until no other thread is inside; keep new ones out until the fork is done."""
        self._cond.acquire()
        self._forking = True
        own = 1 if getattr(self._local, "depth", 0) else 0  # the forking thread itself may be inside
        while self._active > own:
            self._cond.wait()
        # The condition's lock stays held through the fork: nobody enters meanwhile.

    def after_fork_in_parent(self) -> None:
        self._forking = False
        self._cond.notify_all()
        self._cond.release()

    def after_fork_in_child(self) -> None:
        # Only the forking thread exists in the child: start afresh, keeping its own depth.
        depth = getattr(self._local, "depth", 0)
        self._reset()
        self._active = 1 if depth else 0
        self._local.depth = depth


LOCK = ForkGate()

if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(before=LOCK.before_fork, after_in_parent=LOCK.after_fork_in_parent,
                        after_in_child=LOCK.after_fork_in_child)
