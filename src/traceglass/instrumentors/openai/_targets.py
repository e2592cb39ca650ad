"""The one table of wrap targets: it drives both patching and unpatching.

Each target is wrapped on its own; a module or method an ``openai`` release lacks is skipped, so
a new or old SDK never disables the rest. Wrapping the resource classes covers every client
(``OpenAI``, ``AzureOpenAI``, any ``base_url``) and the paths that call these methods: the
``with_raw_response``/``with_streaming_response`` namespaces bind them per resource, and
``chat.completions.stream()``/``responses.stream()`` call ``create(stream=True)``. ``parse`` is
listed because it posts directly (``resource._post``), not through ``create``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

import wrapt

from traceglass.instrumentors.openai._wrappers import (
    OPERATIONS,
    async_wrapper,
    sync_wrapper,
)

logger = logging.getLogger("traceglass")


@dataclass(frozen=True)
class Target:
    module: str
    cls: str
    method: str
    operation: str
    is_async: bool


_CHAT = "openai.resources.chat.completions"
_BETA_CHAT = "openai.resources.beta.chat.completions"  # parse() lived here before openai 1.92
_COMPLETIONS = "openai.resources.completions"
_EMBEDDINGS = "openai.resources.embeddings"
_RESPONSES = "openai.resources.responses"

TARGETS: tuple[Target, ...] = (
    Target(_CHAT, "Completions", "create", "chat", False),
    Target(_CHAT, "AsyncCompletions", "create", "chat", True),
    Target(_CHAT, "Completions", "parse", "chat", False),
    Target(_CHAT, "AsyncCompletions", "parse", "chat", True),
    Target(_BETA_CHAT, "Completions", "parse", "chat", False),
    Target(_BETA_CHAT, "AsyncCompletions", "parse", "chat", True),
    Target(_COMPLETIONS, "Completions", "create", "text_completion", False),
    Target(_COMPLETIONS, "AsyncCompletions", "create", "text_completion", True),
    Target(_EMBEDDINGS, "Embeddings", "create", "embeddings", False),
    Target(_EMBEDDINGS, "AsyncEmbeddings", "create", "embeddings", True),
    Target(_RESPONSES, "Responses", "create", "responses", False),
    Target(_RESPONSES, "AsyncResponses", "create", "responses", True),
    Target(_RESPONSES, "Responses", "parse", "responses", False),
    Target(_RESPONSES, "AsyncResponses", "parse", "responses", True),
)


def _owner(target: Target) -> Any:
    """The class a target lives on, or None when this SDK release has no such method."""
    try:
        module = importlib.import_module(target.module)
    except ImportError:
        return None
    cls = getattr(module, target.cls, None)
    if cls is None or target.method not in vars(cls):
        return None
    return cls


def foreign_wrappers() -> list[str]:
    """Targets some other instrumentation has already wrapped (a wrapt proxy we did not make)."""
    found = []
    for target in TARGETS:
        cls = _owner(target)
        attr = vars(cls).get(target.method) if cls is not None else None
        if isinstance(attr, wrapt.ObjectProxy) and not getattr(attr, "_self_traceglass", False):
            found.append(f"{target.cls}.{target.method}")
    return found


def install() -> list[str]:
    """Wrap every target this SDK has; return the ``Class.method`` names wrapped."""
    done = []
    for target in TARGETS:
        cls = _owner(target)
        if cls is None:
            logger.debug("traceglass: openai has no %s.%s.%s; skipped", target.module, target.cls, target.method)
            continue
        if getattr(vars(cls)[target.method], "_self_traceglass", False):
            continue  # already ours
        op = OPERATIONS[target.operation]
        wrapper = async_wrapper(op) if target.is_async else sync_wrapper(op)
        try:
            proxy = wrapt.FunctionWrapper(vars(cls)[target.method], wrapper)
            proxy._self_traceglass = True
            setattr(cls, target.method, proxy)
        except Exception as exc:  # noqa: BLE001 - one target failing must not stop the others
            logger.warning("traceglass: could not wrap openai %s.%s: %s", target.cls, target.method, exc)
            continue
        done.append(f"{target.cls}.{target.method}")
    return done


def uninstall() -> None:
    """Restore every target whose outermost wrapper is ours."""
    for target in TARGETS:
        cls = _owner(target)
        if cls is None:
            continue
        attr = vars(cls)[target.method]
        if getattr(attr, "_self_traceglass", False):
            setattr(cls, target.method, attr.__wrapped__)
