"""The one table of wrap targets: it drives both patching and unpatching.

The targets are the ``litellm`` package's own entry points. LiteLLM's ``Router`` looks them up on
the package at call time (litellm >= 1.50), so its call paths (``completion``/``acompletion``,
``embedding``/``aembedding``, fallbacks, retries) are traced through them, one span per attempt.
A name bound earlier with ``from litellm import completion`` keeps the unwrapped function:
instrument before importing names from ``litellm``, or call ``litellm.completion(...)``.
A function a release lacks (``responses`` before 1.63) is skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import litellm
import wrapt

from traceglass.instrumentors.litellm._wrappers import OPERATIONS, async_wrapper, sync_wrapper

logger = logging.getLogger("traceglass")


@dataclass(frozen=True)
class Target:
    name: str
    operation: str
    is_async: bool


TARGETS: tuple[Target, ...] = (
    Target("completion", "chat", False),
    Target("acompletion", "chat", True),
    Target("text_completion", "text_completion", False),
    Target("atext_completion", "text_completion", True),
    Target("embedding", "embeddings", False),
    Target("aembedding", "embeddings", True),
    Target("responses", "responses", False),
    Target("aresponses", "responses", True),
)


def install() -> list[str]:
    """Wrap every target this release has; return the names wrapped."""
    done = []
    for target in TARGETS:
        current = getattr(litellm, target.name, None)
        if current is None:
            logger.debug("traceglass: litellm has no %s; skipped", target.name)
            continue
        if getattr(current, "_self_traceglass", False):
            continue  # already ours
        op = OPERATIONS[target.operation]
        try:
            proxy = wrapt.FunctionWrapper(current, async_wrapper(op) if target.is_async else sync_wrapper(op))
            proxy._self_traceglass = True
            setattr(litellm, target.name, proxy)
        except Exception as exc:  # noqa: BLE001 - one target failing must not stop the others
            logger.warning("traceglass: could not wrap litellm.%s: %s", target.name, exc)
            continue
        done.append(target.name)
    return done


def uninstall() -> None:
    """Restore every target whose outermost wrapper is ours."""
    for target in TARGETS:
        current = getattr(litellm, target.name, None)
        if getattr(current, "_self_traceglass", False):
            setattr(litellm, target.name, current.__wrapped__)
