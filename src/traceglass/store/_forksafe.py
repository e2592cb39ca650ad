"""Keep ``os.fork()`` from landing while our own threads are inside SQLite.

SQLite has process-wide mutexes (its allocator, the unix VFS). If a process forks while another
thread holds one, the child inherits it locked and its first SQLite call hangs forever
(multiprocessing's default start method on Linux is fork). Every SQLite step our exporter and its
background threads take holds :data:`LOCK`; a fork waits for the step in progress to finish.
"""

from __future__ import annotations

import os
import threading

LOCK = threading.RLock()

if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    # The forking thread holds the lock through the fork, so it may release it on both sides.
    os.register_at_fork(before=LOCK.acquire, after_in_parent=LOCK.release, after_in_child=LOCK.release)
