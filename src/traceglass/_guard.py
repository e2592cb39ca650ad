"""The one guard that keeps traceglass's own faults away from the user's code.

In production a fault is logged once per call site on the ``traceglass`` logger and swallowed.
Under the test suite (``TRACEGLASS_RAISE_INTERNAL_ERRORS=1``) it is re-raised, so tests are loud.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, TypeVar

logger = logging.getLogger("traceglass")

RAISE_ENV = "TRACEGLASS_RAISE_INTERNAL_ERRORS"
_reported: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


def _should_raise() -> bool:
    return os.environ.get(RAISE_ENV, "") not in ("", "0", "false")


def report(where: str, exc: BaseException) -> None:
    """Log an internal fault once per ``where``; re-raise it when tests asked us to."""
    if _should_raise():
        raise exc
    if where not in _reported:
        _reported.add(where)
        logger.warning("traceglass internal error in %s (further ones here are logged at debug)", where,
                       exc_info=exc)
    else:
        logger.debug("traceglass internal error in %s", where, exc_info=exc)


class guard:  # noqa: N801 - reads as a function: ``with guard("where"):``
    """Run a block of our own work; an ``Exception`` in it is reported, never propagated.

    A class rather than ``@contextmanager``: it sits on every traced call's hot path.
    """

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is not None and issubclass(exc_type, Exception):
            report(self.where, exc)
            return True
        return False


def guarded(where: str, default: Any = None) -> Callable[[F], F]:
    """Decorator form of :func:`guard` that returns ``default`` after a fault."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                report(where, exc)
                return default

        return wrapper  # type: ignore[return-value]

    return decorate
