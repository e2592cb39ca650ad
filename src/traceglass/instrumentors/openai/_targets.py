"""The one table of wrap targets: it drives both patching and unpatching.

Each target is wrapped on its own; a module or method an ``openai`` release lacks is skipped, so
a new or old SDK never disables the rest. Wrapping the resource classes covers every client
(``OpenAI``, ``AzureOpenAI``, any ``base_url``) and the paths that call these methods: the
``with_raw_response``/``with_streaming_response`` namespaces bind them per resource, and
``chat.completions.stream()``/``responses.stream()`` call ``create(stream=True)``. ``parse`` is
listed because it posts directly (``resource._post``), not through ``create``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traceglass.instrumentors import _patching
from traceglass.instrumentors.openai._wrappers import (
    OPERATIONS,
    async_wrapper,
    sync_wrapper,
)


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


_owner = _patching.owner  # the class a target lives on (None: not in this SDK release)


def foreign_wrappers() -> list[str]:
    """Targets some other instrumentation has already wrapped (a wrapt proxy we did not make)."""
    return _patching.foreign_wrappers(TARGETS)


def install() -> list[str]:
    """Wrap every target this SDK has; return the ``Class.method`` names wrapped."""
    def wrapper_for(target: Target) -> Any:
        op = OPERATIONS[target.operation]
        return async_wrapper(op) if target.is_async else sync_wrapper(op)

    return [f"{t.cls}.{t.method}" for t in _patching.wrap(TARGETS, "openai", wrapper_for)]


def uninstall() -> None:
    """Restore every target whose outermost wrapper is ours."""
    _patching.unwrap(TARGETS)
