"""What our background threads' owners do in a forked child: start afresh.

A forked child inherits none of the parent's threads, and may inherit a lock one of them held; what
was queued stays the parent's to export. Objects that own a thread register their ``_reset`` here.
"""

from __future__ import annotations

import os
import weakref
from typing import Callable


def reset_in_forked_child(reset: Callable[[], None]) -> None:
    """Call the bound method ``reset`` in every child forked from now on, for as long as its object lives."""
    if not hasattr(os, "register_at_fork"):
        return
    weak_reset = weakref.WeakMethod(reset)  # the registration must not keep its object alive

    def after_in_child() -> None:
        method = weak_reset()
        if method is not None:
            method()

    os.register_at_fork(after_in_child=after_in_child)


__all__ = ["reset_in_forked_child"]
