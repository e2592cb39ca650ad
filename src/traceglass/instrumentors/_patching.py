"""Wrapping an SDK's methods in place, shared by the SDK instrumentors (OpenAI, Anthropic).

A target names a method by ``module``, ``cls`` and ``method``; each instrumentor says which
wrapper a target gets. Our wrappers are wrapt proxies marked ``_self_traceglass``, so installing
twice is a no-op, uninstalling restores only what we wrapped, and another instrumentation's
proxy is told from ours.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import wrapt

logger = logging.getLogger("traceglass")


class Target(Protocol):
    module: str
    cls: str
    method: str


def owner(target: Target) -> Any:
    """The class a target lives on, or None when this SDK release has no such method."""
    try:
        module = importlib.import_module(target.module)
    except ImportError:
        return None
    cls = getattr(module, target.cls, None)
    if cls is None or target.method not in vars(cls):
        return None
    return cls


def foreign_wrappers(targets: Iterable[Target]) -> list[str]:
    """Targets some other instrumentation has already wrapped (a wrapt proxy we did not make)."""
    found = []
    for target in targets:
        cls = owner(target)
        attr = vars(cls).get(target.method) if cls is not None else None
        if isinstance(attr, wrapt.ObjectProxy) and not getattr(attr, "_self_traceglass", False):
            found.append(f"{target.cls}.{target.method}")
    return found


def wrap(targets: Iterable[Target], library: str, wrapper_for: Callable[[Any], Any]) -> list[Target]:
    """Wrap every target this SDK release has with ``wrapper_for(target)``; return those wrapped now."""
    done = []
    for target in targets:
        cls = owner(target)
        if cls is None:
            logger.debug("traceglass: %s has no %s.%s.%s; skipped", library, target.module, target.cls, target.method)
            continue
        if getattr(vars(cls)[target.method], "_self_traceglass", False):
            continue  # already ours
        try:
            proxy = wrapt.FunctionWrapper(vars(cls)[target.method], wrapper_for(target))
            proxy._self_traceglass = True
            setattr(cls, target.method, proxy)
        except Exception as exc:  # noqa: BLE001 - one target failing must not stop the others
            logger.warning("traceglass: could not wrap %s %s.%s: %s", library, target.cls, target.method, exc)
            continue
        done.append(target)
    return done


def unwrap(targets: Iterable[Target]) -> None:
    """Restore every target whose outermost wrapper is ours."""
    for target in targets:
        cls = owner(target)
        if cls is None:
            continue
        attr = vars(cls)[target.method]
        if getattr(attr, "_self_traceglass", False):
            setattr(cls, target.method, attr.__wrapped__)
