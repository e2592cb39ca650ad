"""LangChain embeddings: the ``Embeddings`` interface has no callbacks, so its methods are wrapped.

Every class implementing ``langchain_core.embeddings.Embeddings`` — those already imported at
``instrument()`` and those defined later (through ``__init_subclass__``) — gets its own
``embed_documents``/``embed_query``/``aembed_documents``/``aembed_query`` wrapped. One call makes
one ``embedding`` span, however the methods call each other (``embed_query`` calling
``embed_documents``, the async defaults running the sync ones in an executor). The span is current
while the call runs, so an OpenAI client span below nests under it and the call counts once.
Vectors are never recorded: input count and dimensions only (inputs when content is captured).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

import wrapt

from traceglass import semconv
from traceglass._guard import guard
from traceglass._handler import EmbeddingInvocation, TelemetryHandler
from traceglass.instrumentors.langchain._extract import provider_of

_METHODS = ("embed_documents", "embed_query", "aembed_documents", "aembed_query")
_MODEL_ATTRIBUTES = ("model", "model_name", "model_id", "deployment", "deployment_name")
_inside: ContextVar[bool] = ContextVar("traceglass_langchain_embedding", default=False)


def _model(instance: Any) -> str | None:
    for name in _MODEL_ATTRIBUTES:
        value = getattr(instance, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _provider(instance: Any) -> str | None:
    # "langchain_openai.embeddings.base" -> "openai"; langchain-core's own fakes have none.
    package = type(instance).__module__.split(".", 1)[0]
    if not package.startswith("langchain_") or package == "langchain_core":
        return None
    return provider_of(None, {"ls_provider": package.removeprefix("langchain_")})


def _invocation(instance: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> EmbeddingInvocation:
    given = args[0] if args else kwargs.get("texts", kwargs.get("text"))
    texts = [given] if method.endswith("query") else list(given or ())
    model = _model(instance)
    return EmbeddingInvocation(
        operation=semconv.GenAIOperation.EMBEDDINGS,
        name=f"{semconv.GenAIOperation.EMBEDDINGS} {model}" if model else None,
        request_model=model,
        provider=_provider(instance),
        embedder=type(instance).__name__,
        input_count=len(texts),
        inputs=[t if isinstance(t, str) else str(t) for t in texts],
    )


def _dimensions(result: Any, method: str) -> int | None:
    vector = result if method.endswith("query") else (result[0] if result else None)
    return len(vector) if isinstance(vector, (list, tuple)) else None


class _Wrapper:
    """The wrapt wrapper of one method name; sync and async differ only by ``await``."""

    def __init__(self, method: str, telemetry: Callable[[], TelemetryHandler]) -> None:
        self.method = method
        self.telemetry = telemetry

    def _begin(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _inside.get():
            return None
        handler = self.telemetry()
        if not handler.enabled:
            return None
        with guard("langchain.embeddings.begin"):
            invocation = handler.start(_invocation(instance, self.method, args, kwargs))
            return handler, invocation, _inside.set(True)
        return None

    def _end(self, state: Any, result: Any = None, error: BaseException | None = None) -> None:
        handler, invocation, token = state
        _inside.reset(token)
        with guard("langchain.embeddings.end"):
            if error is not None:
                handler.fail(invocation, error)
            else:
                invocation.dimension_count = _dimensions(result, self.method)
                handler.stop(invocation)

    def __call__(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.method.startswith("a"):
            return self._async(wrapped, instance, args, kwargs)
        state = self._begin(instance, args, kwargs)
        if state is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            self._end(state, error=exc)
            raise
        self._end(state, result)
        return result

    async def _async(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        state = self._begin(instance, args, kwargs)
        if state is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            self._end(state, error=exc)
            raise
        self._end(state, result)
        return result


class EmbeddingsPatch:
    """Wraps the embedding methods of every ``Embeddings`` class; ``remove()`` undoes it."""

    def __init__(self, telemetry: Callable[[], TelemetryHandler]) -> None:
        self._wrappers = {method: _Wrapper(method, telemetry) for method in _METHODS}
        self._patched: list[tuple[type, str]] = []

    def apply(self) -> None:
        from langchain_core.embeddings import Embeddings

        stack: list[type] = [Embeddings]
        while stack:
            cls = stack.pop()
            self.patch_class(cls)
            stack.extend(cls.__subclasses__())
        patch = self

        def __init_subclass__(cls: type, **kwargs: Any) -> None:  # noqa: N807
            super(Embeddings, cls).__init_subclass__(**kwargs)
            with guard("langchain.embeddings.subclass"):
                patch.patch_class(cls)

        self._had_hook = "__init_subclass__" in Embeddings.__dict__
        self._old_hook = Embeddings.__dict__.get("__init_subclass__")
        Embeddings.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]

    def patch_class(self, cls: type) -> None:
        for method in _METHODS:
            current = cls.__dict__.get(method)
            if current is None or isinstance(current, wrapt.FunctionWrapper):
                continue
            wrapt.wrap_function_wrapper(cls, method, self._wrappers[method])
            self._patched.append((cls, method))

    def remove(self) -> None:
        from langchain_core.embeddings import Embeddings

        for cls, method in reversed(self._patched):
            current = cls.__dict__.get(method)
            if isinstance(current, wrapt.FunctionWrapper):
                setattr(cls, method, current.__wrapped__)
        self._patched.clear()
        if self._had_hook:
            Embeddings.__init_subclass__ = self._old_hook  # type: ignore[assignment]
        else:
            del Embeddings.__init_subclass__
