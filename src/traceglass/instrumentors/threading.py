"""Keep the caller's context (span parent, session) in work submitted to a thread pool.

Patches ``concurrent.futures.ThreadPoolExecutor.submit`` so the callable runs in a copy of the
submitting thread's ``contextvars`` context. ``executor.map`` goes through ``submit`` too. For a
raw ``threading.Thread``, pass ``contextvars.copy_context().run`` as its target yourself.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from wrapt import wrap_function_wrapper

from traceglass._guard import guard


def _submit_in_context(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not args:
        return wrapped(*args, **kwargs)
    call_args = args
    with guard("threading.submit"):
        context = contextvars.copy_context()
        call_args = (context.run, *args)
    return wrapped(*call_args, **kwargs)


class ThreadingInstrumentor(BaseInstrumentor):
    """Context propagation into ``ThreadPoolExecutor`` workers."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        wrap_function_wrapper(concurrent.futures.ThreadPoolExecutor, "submit", _submit_in_context)

    def _uninstrument(self, **kwargs: Any) -> None:
        submit = concurrent.futures.ThreadPoolExecutor.submit
        original = getattr(submit, "__wrapped__", None)
        if original is not None:
            concurrent.futures.ThreadPoolExecutor.submit = original  # type: ignore[method-assign]
