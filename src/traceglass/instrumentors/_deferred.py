"""Patch a library when the application imports it, never by importing it ourselves.

``configure()`` turns on every instrumentor whose library is *installed*, and installed is not
used: importing litellm takes about 10 s (and, without ``LITELLM_LOCAL_MODEL_COST_MAP``, fetches a
price list over the network), anthropic about 5 s, openai 1-3 s. So an instrumentor whose library
is not imported yet registers a post-import hook and patches the moment the application imports
it; one that is imported already is patched at once, as before.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

import wrapt

from traceglass import _guard

logger = logging.getLogger("traceglass")


class Pending:
    """One instrument() call's patch, done now or at the library's import; ``cancel`` stops a later one."""

    def __init__(self, module_name: str, install: Callable[[], object]) -> None:
        self.module_name = module_name
        self._install = install
        self._lock = threading.Lock()
        self._state = "waiting"  # -> "installed" or "cancelled", once

    @property
    def installed(self) -> bool:
        return self._state == "installed"

    def run(self, _module: object = None) -> None:
        with self._lock:
            if self._state != "waiting":
                return
            self._state = "installed"
        if _module is None:
            self._install()  # from instrument(): a failure is the caller's, as before
            return
        # From inside the application's `import`: our failure must never break its import.
        with _guard.guard(f"instrumenting {self.module_name} on import"):
            self._install()

    def cancel(self) -> None:
        with self._lock:
            if self._state == "waiting":
                self._state = "cancelled"


def when_imported(module_name: str, install: Callable[[], object]) -> Pending:
    """Run ``install`` now when ``module_name`` is imported, else right after the application imports it."""
    pending = Pending(module_name, install)
    if module_name in sys.modules:
        pending.run()
    else:
        # wrapt calls the hook once the module has finished executing (or at once if it got
        # imported meanwhile); a cancelled Pending ignores it, as hooks cannot be unregistered.
        wrapt.register_post_import_hook(pending.run, module_name)
    return pending
