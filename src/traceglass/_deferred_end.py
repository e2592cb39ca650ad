"""Work a span's maker may leave to the thread that hands ended spans on, off the traced call.

``configure()`` ends spans through a hand-off (``processors._hand_off``): the calling thread queues
each ended span and one thread hands them to the processors behind, in order. A span's maker with
work still to do before the span can end (a stream's kept chunks, read into its output attributes)
may queue that work there too, as a task: the hand-off thread runs it in the queue's order, the span
it ends is handed on in the task's place (ahead of every span queued after it: a parent's roll-up
still sees it), and the traced call's own thread has only queued it.

Only where nothing else sees the span end: when the hand-off is the one processor of the span's
provider with an ``on_end`` or ``_on_ending``. Another processor beside it (the user's,
opentelemetry-instrument's exporters) would see the span end on the calling thread without the
work's attributes; there the work stays on the calling thread. A processor that takes such tasks
says so with a class attribute ``defers_span_work = True`` and a ``defer`` method (so the
span-making side imports no processor), and runs each through ``run_task``, which records whose
task a thread is running (``running_owner``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from threading import get_ident
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

Deferrer = Callable[[Callable[[], None]], bool]


def deferrer_for(span: Any) -> Deferrer | None:
    """The ``defer(task) -> bool`` of the hand-off that is the one span processor of ``span`` to see
    it end, else None. (Processors that act only as a span starts, such as configure()'s session
    processor, may sit beside it.)

    ``defer`` queues ``task`` and returns True, or returns False (nothing queued: the hand-off shut
    down) and the caller runs the task itself.
    """
    try:
        processors = span._span_processor._span_processors  # noqa: SLF001 - the SDK span's fan-out
    except AttributeError:
        return None
    if processors.__class__ is not tuple:
        return None
    found = None
    for processor in processors:
        if getattr(processor, "defers_span_work", False) is True and found is None:
            found = processor
        elif _sees_ends(processor):
            return None
    return None if found is None else found.defer


def _sees_ends(processor: Any) -> bool:
    """False for a processor whose ``on_end`` and ``_on_ending`` are the SDK base class's no-ops."""
    kind = processor.__class__
    return (getattr(kind, "on_end", None) is not SpanProcessor.on_end
            or getattr(kind, "_on_ending", None) is not getattr(SpanProcessor, "_on_ending", None))


# Thread id -> the processor running a deferred task on that thread. A span the task ends goes to that
# processor, even if configure() has swapped the pipeline meanwhile (shutdown swaps in an empty one,
# then drains the old): the span goes through the pipeline it started in, as every span does.
RUNNING: dict[int, Any] = {}
if hasattr(os, "register_at_fork"):  # a forked child runs none of the parent's tasks (its threads are gone)
    os.register_at_fork(after_in_child=RUNNING.clear)


def run_task(owner: Any, task: Callable[[], None]) -> None:
    """Run ``task`` for ``owner``: a span it ends on this thread is handed to ``owner`` (``running_owner``)."""
    ident = get_ident()
    outer = RUNNING.get(ident)
    RUNNING[ident] = owner
    try:
        task()
    finally:
        if outer is None:
            del RUNNING[ident]
        else:  # a task run inside another's (not done today): the outer one is this thread's again
            RUNNING[ident] = outer


def running_owner() -> Any:
    """The processor whose deferred task this thread is running, or None."""
    return RUNNING.get(get_ident()) if RUNNING else None


__all__ = ["RUNNING", "Deferrer", "deferrer_for", "run_task", "running_owner"]
