"""``trace_graph()``: trace one LangGraph graph (or any runnable) without global patching."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, Mapping, Sequence

import functools

import wrapt

from traceglass._context import SessionScope, current_session, reset_session, set_session
from traceglass._stepped import AsyncStepped, Stepped
from traceglass.instrumentors.langchain._patch import with_callback


def trace_graph(graph: Any, name: str | None = None, session_id: str | None = None,
                user_id: str | None = None, tags: Sequence[str] = (),
                metadata: Mapping[str, Any] | None = None) -> Any:
    """Wrap a compiled LangGraph graph (or any runnable) so each run is traced as one tree.

    ``invoke``, ``ainvoke``, ``stream``, ``astream``, ``batch`` and ``abatch`` get traceglass's
    callback handler added to their config, so the graph run is one span (named ``name``, else the
    graph's name) with a ``graph_node`` span per node execution under it, even when the global
    :class:`LangChainInstrumentor` is off. The run joins the caller's trace when a span is
    current, otherwise it starts a new trace. ``session_id``, ``user_id``, ``tags`` and
    ``metadata`` go on every span of the run, as with ``traceglass.session(...)``.
    Everything else on the graph is passed through unchanged.
    """
    return _TracedGraph(graph, name, session_id, user_id, tuple(tags), dict(metadata or {}))


class _TracedGraph(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, graph: Any, name: str | None, session_id: str | None, user_id: str | None,
                 tags: tuple[str, ...], metadata: dict[str, Any]) -> None:
        super().__init__(graph)
        self._self_name = name
        has_session = session_id is not None or user_id is not None or tags or metadata
        self._self_session = (session_id, user_id, tags, metadata) if has_session else None

    def _self_config(self, config: Any) -> dict[str, Any]:
        config = with_callback(config)
        if self._self_name and "run_name" not in config:
            config["run_name"] = self._self_name
        return config

    def _self_scope(self) -> SessionScope | None:
        if self._self_session is None:
            return None
        session_id, user_id, tags, metadata = self._self_session
        return SessionScope.nested(current_session(), session_id, user_id, tags, metadata)

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        token = _enter(self._self_scope())
        try:
            return self.__wrapped__.invoke(input, self._self_config(config), **kwargs)
        finally:
            _leave(token)

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        token = _enter(self._self_scope())
        try:
            return await self.__wrapped__.ainvoke(input, self._self_config(config), **kwargs)
        finally:
            _leave(token)

    def batch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> Any:
        token = _enter(self._self_scope())
        try:
            return self.__wrapped__.batch(inputs, self._self_batch_config(config, len(inputs)), **kwargs)
        finally:
            _leave(token)

    async def abatch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> Any:
        token = _enter(self._self_scope())
        try:
            return await self.__wrapped__.abatch(inputs, self._self_batch_config(config, len(inputs)), **kwargs)
        finally:
            _leave(token)

    def _self_batch_config(self, config: Any, count: int) -> Any:
        if isinstance(config, (list, tuple)):
            return [self._self_config(c) for c in config]
        return self._self_config(config)

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        # The session is set and reset around each step only, so it never leaks into the consumer's loop body.
        enter = functools.partial(_enter, self._self_scope())
        return Stepped(self.__wrapped__.stream(input, self._self_config(config), **kwargs), enter, _leave)

    def astream(self, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        enter = functools.partial(_enter, self._self_scope())
        return AsyncStepped(self.__wrapped__.astream(input, self._self_config(config), **kwargs), enter, _leave)


def _enter(scope: SessionScope | None) -> Any:
    return set_session(scope) if scope is not None else None


def _leave(token: Any) -> None:
    if token is not None:
        reset_session(token)
