"""The evaluation run in progress, per context: set by ``evaluate_traces`` around each scorer
call (in its worker threads and on its event loop), read by the LLM judges to mark their spans
with the run's id, so a run can sum what its judge calls cost."""

from __future__ import annotations

from contextvars import ContextVar

_run_id: ContextVar[str | None] = ContextVar("traceglass_eval_run_id", default=None)


def current_run_id() -> str | None:
    """The id of the evaluation run whose scorer is running in this context, or None."""
    return _run_id.get()


__all__ = ["current_run_id"]
