"""LangGraph: telling node runs apart, and ``trace_graph()`` for one graph without global patching.

LangGraph reports each node execution as a chain run named after the node, tagged
``graph:step:N`` and carrying ``langgraph_node``/``langgraph_step`` metadata (langgraph 1.2, tested).
That metadata is inherited by everything the node calls, so a run is the node itself only when
its name is the node's name and it carries the step tag.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, Mapping, Sequence

import wrapt

from traceglass._context import SessionScope, current_session, reset_session, set_session

_NODE_KEY = "langgraph_node"
_STEP_KEY = "langgraph_step"
_STEP_TAG = "graph:step:"
# Exceptions LangGraph raises to steer the graph (interrupts, Command(graph=PARENT) jumps).
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})


def graph_node_of(name: str, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None
                  ) -> tuple[str, int | None] | None:
    """``(node, step)`` when this chain run is a LangGraph node execution, else None."""
    if not metadata:
        return None
    node = metadata.get(_NODE_KEY)
    if not isinstance(node, str) or node != name:
        return None
    if tags is not None and tags and not any(t.startswith(_STEP_TAG) for t in tags):
        return None
    step = metadata.get(_STEP_KEY)
    return node, step if isinstance(step, int) and not isinstance(step, bool) else None


def is_control_flow(error: BaseException) -> bool:
    """True for LangGraph's control-flow exceptions, which end a run without failing it."""
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)


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
        from traceglass.instrumentors.langchain._patch import with_callback

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
        scope = self._self_scope()
        return _SteppedIterator(self.__wrapped__.stream(input, self._self_config(config), **kwargs), scope)

    def astream(self, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        scope = self._self_scope()
        return _SteppedAsyncIterator(self.__wrapped__.astream(input, self._self_config(config), **kwargs), scope)


def _enter(scope: SessionScope | None) -> Any:
    return set_session(scope) if scope is not None else None


def _leave(token: Any) -> None:
    if token is not None:
        reset_session(token)


class _SteppedIterator:
    """Runs each step of a stream with the session current, set and reset around that step only,
    so the session never leaks into the consumer's loop body and every reset is in its own context."""

    def __init__(self, iterator: Iterator[Any], scope: SessionScope | None) -> None:
        self._iterator = iterator
        self._scope = scope

    def __iter__(self) -> "_SteppedIterator":
        return self

    def __next__(self) -> Any:
        token = _enter(self._scope)
        try:
            return next(self._iterator)
        finally:
            _leave(token)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            token = _enter(self._scope)
            try:
                close()
            finally:
                _leave(token)

    def __enter__(self) -> "_SteppedIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _SteppedAsyncIterator:
    def __init__(self, iterator: AsyncIterator[Any], scope: SessionScope | None) -> None:
        self._iterator = iterator
        self._scope = scope

    def __aiter__(self) -> "_SteppedAsyncIterator":
        return self

    async def __anext__(self) -> Any:
        token = _enter(self._scope)
        try:
            return await self._iterator.__anext__()
        finally:
            _leave(token)

    async def aclose(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            token = _enter(self._scope)
            try:
                await aclose()
            finally:
                _leave(token)

    async def __aenter__(self) -> "_SteppedAsyncIterator":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
