"""``@trace_llm``, ``@observe``, ``span()`` and ``session()``: one core, four thin shells.

Each call opens a scope (a span through the telemetry handler, or a session in the context) and
:mod:`traceglass._wrapping` runs the function in it, whatever kind of function it is.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar, overload

from opentelemetry.trace import Span

from traceglass import semconv
from traceglass._context import SessionScope, current_session, reset_session, set_session
from traceglass._guard import guard
from traceglass._handler import (
    UNSET,
    AgentInvocation,
    EmbeddingInvocation,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._providers import provider_for_model
from traceglass._handler._usage import apply_model_response, looks_like_model_response
from traceglass._runtime import current as current_runtime
from traceglass._runtime import get_handler
from traceglass._wrapping import NullScope, generator_output, wrap
from traceglass.semconv import SpanType, operation_for

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("traceglass")

# Plain strings: Enum attribute access is measurable on the per-call path.
_MODEL_TYPES = (SpanType.LLM.value, SpanType.CHAT_MODEL.value)
_EMBEDDING = SpanType.EMBEDDING.value
_RETRIEVER = SpanType.RETRIEVER.value
_TOOL = SpanType.TOOL.value
_AGENT = SpanType.AGENT.value

# Online metrics (@observe(metrics=[...])): a finished span naming metrics is handed, with the call's
# input (its bound-arguments dict, or a function that makes it) and output, to this listener on the app's
# thread; it must only enqueue. traceglass.evals
# installs it (set_online_metrics_listener): the decorators cannot import that higher layer.
OnlineMetricsListener = Callable[[tuple[str, ...], Any, Any, Any], None]
_online_listener: OnlineMetricsListener | None = None


def set_online_metrics_listener(listener: OnlineMetricsListener | None) -> OnlineMetricsListener | None:
    """Install the callable ``(metrics, span, input, output)`` that runs a span's metrics; returns the
    previous one. For ``traceglass.evals``; not part of the decorators' public API."""
    global _online_listener
    previous, _online_listener = _online_listener, listener
    return previous


def _online_metrics(metrics: tuple[str, ...], span: Any, arguments: Any, output: Any) -> None:
    listener = _online_listener
    if listener is not None:
        listener(metrics, span, arguments, output)
    elif current_runtime().first_time("online-metrics-off"):
        logger.info("traceglass: spans name metrics %s but nothing runs them: import traceglass.evals "
                    "(and configure_judge() for LLM judges) to score them online", list(metrics))


@dataclass(frozen=True)
class _SpanOptions:
    span_type: str
    name: str | None = None
    model: str | None = None
    attributes: Mapping[str, Any] | None = None
    embedder: str | None = None
    description: str | None = None
    available_tools: tuple[str, ...] | None = None
    handoff_agents: tuple[str, ...] | None = None
    price_input_per_token: float | None = None
    price_output_per_token: float | None = None
    metrics: tuple[str, ...] | None = None

    def new_invocation(self, default_name: str) -> Invocation:
        name = self.name or default_name
        kind = self.span_type
        common: dict[str, Any] = {
            "span_type": kind,
            "name": name,
            "operation": operation_for(kind),
            "request_model": self.model,
            "provider": provider_for_model(self.model),
            "attributes": _user_attributes(self.attributes, self.metrics),
            "price_input_per_token": self.price_input_per_token,
            "price_output_per_token": self.price_output_per_token,
        }
        if kind in _MODEL_TYPES:
            return LLMInvocation(**common)
        if kind == _EMBEDDING:
            return EmbeddingInvocation(**common, embedder=self.embedder)
        if kind == _RETRIEVER:
            return RetrievalInvocation(**common, embedder=self.embedder)
        if kind == _TOOL:
            return ToolInvocation(**common, tool_name=name, tool_description=self.description)
        if kind == _AGENT:
            return AgentInvocation(
                **common,
                agent_name=name,
                agent_description=self.description,
                available_tools=list(self.available_tools) if self.available_tools else None,
                handoff_agents=list(self.handoff_agents) if self.handoff_agents else None,
            )
        return StepInvocation(**common)


def _user_attributes(attributes: Mapping[str, Any] | None, metrics: tuple[str, ...] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if isinstance(value, (str, bool, int, float)) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value)
        ):
            out[str(key)] = list(value) if isinstance(value, tuple) else value
        else:
            out[str(key)] = json.dumps(value, default=str, ensure_ascii=False)
    if metrics:
        out[semconv.METRICS] = list(metrics)
    return out


class _SpanScope:
    """One traced call: the invocation and how to activate, finish or fail it."""

    __slots__ = ("invocation", "_handler", "metrics", "arguments")

    def __init__(self, invocation: Invocation, metrics: tuple[str, ...] | None = None) -> None:
        self._handler = get_handler()
        self.invocation = self._handler.start(invocation, activate=False)
        self.metrics = metrics  # online metrics to run once the span has ended (None: none)
        self.arguments: Any = None  # the call's bound arguments (or a function making them), for the metrics

    def activate(self) -> Any:
        return self._handler.activate(self.invocation)

    def deactivate(self, token: Any) -> None:
        self._handler.deactivate(token)

    def finish(self, output: Any) -> None:
        inv = self.invocation
        if isinstance(inv, LLMInvocation) and looks_like_model_response(output):
            apply_model_response(inv, output)
        if inv.output_value is UNSET and _capturing(inv, self._handler):
            inv.output_value = output
        self._handler.stop(inv)
        if self.metrics and inv.span is not None and inv.span.get_span_context().trace_flags.sampled:
            with guard("decorators.online_metrics"):  # after the span ended: its export is not delayed
                _online_metrics(self.metrics, inv.span, self.arguments, None if output is UNSET else output)

    def fail(self, error: BaseException) -> None:
        self._handler.fail(self.invocation, error)

    def close_early(self, collected: list[Any]) -> None:
        self.finish(generator_output(collected))


def _capturing(inv: Invocation, handler: Any) -> bool:
    """Whether content is captured for ``inv``: its span records and its handler's settings say so."""
    return inv.span is not None and inv.span.is_recording() and handler.settings.capture_content.enabled


def _bound_arguments(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    arguments = dict(bound.arguments)
    for implicit in ("self", "cls"):
        arguments.pop(implicit, None)
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and name in arguments:
            arguments.update(arguments.pop(name))
    return arguments


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _decorate(func: F, options: _SpanOptions) -> F:
    signature = _signature(func)
    default_name = getattr(func, "__name__", None) or type(func).__name__

    def open_scope(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _SpanScope | None:
        if not get_handler().enabled:
            return None  # no SDK provider: the OTel no-op path, nothing to build
        scope = _SpanScope(options.new_invocation(default_name), options.metrics)
        inv = scope.invocation
        if _capturing(inv, scope._handler):
            inv.input_value = scope.arguments = _bound_arguments(signature, args, kwargs)
        elif options.metrics:  # bound later, on the metrics worker: the app thread only keeps references
            scope.arguments = functools.partial(_bound_arguments, signature, args, kwargs)
        return scope

    return wrap(func, open_scope)  # type: ignore[return-value]


def _check_name(name: Any) -> None:
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")


def _check_price(label: str, value: Any) -> None:
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                              or not 0 <= value < math.inf):  # also refuses NaN
        raise ValueError(f"{label} must be a non-negative number, got {value!r}")


def _names(label: str, values: Iterable[Any] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(f"{label} must be a list, got the string {values!r}")
    out = []
    for value in values:
        out.append(value if isinstance(value, str) else getattr(value, "name", None) or getattr(
            value, "__name__", None) or type(value).__name__)
    return tuple(str(v) for v in out)


@overload
def trace_llm(name: F) -> F: ...
@overload
def trace_llm(
    name: str | None = None,
    event_type: str = "llm",
    model: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    cost_per_1k_input: float | None = None,
    cost_per_1k_output: float | None = None,
    metrics: Iterable[Any] | None = None,
) -> Callable[[F], F]: ...


def trace_llm(
    name: Any = None,
    event_type: str = "llm",
    model: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    cost_per_1k_input: float | None = None,
    cost_per_1k_output: float | None = None,
    metrics: Iterable[Any] | None = None,
) -> Any:
    """Trace a function as an LLM call (or another span type given by ``event_type``).

    ``cost_per_1k_input``/``cost_per_1k_output`` (USD per 1,000 tokens) price this span and the
    model calls made inside it (an instrumented client's span) ahead of any price table.
    ``metrics`` names scorers run on the call once its span ends (``traceglass.evals``). Works on
    sync and async functions, generators and async generators.
    """
    if callable(name):
        return trace_llm()(name)
    _check_name(name)
    if not isinstance(event_type, str) or not event_type:
        raise ValueError(f"event_type must be a non-empty string, got {event_type!r}")
    _check_price("cost_per_1k_input", cost_per_1k_input)
    _check_price("cost_per_1k_output", cost_per_1k_output)
    options = _SpanOptions(
        span_type=event_type,
        name=name,
        model=model,
        attributes=attributes,
        price_input_per_token=None if cost_per_1k_input is None else cost_per_1k_input / 1000,
        price_output_per_token=None if cost_per_1k_output is None else cost_per_1k_output / 1000,
        metrics=_names("metrics", metrics),
    )
    return lambda func: _decorate(func, options)


def _observe_options(
    type: str,
    name: str | None,
    model: str | None,
    embedder: str | None,
    description: str | None,
    available_tools: Iterable[Any] | None,
    handoff_agents: Iterable[Any] | None,
    cost_per_input_token: float | None,
    cost_per_output_token: float | None,
    metrics: Iterable[Any] | None,
) -> _SpanOptions:
    if not isinstance(type, str) or not type:
        raise ValueError(f"type must be a non-empty string, got {type!r}")
    _check_name(name)
    _check_price("cost_per_input_token", cost_per_input_token)
    _check_price("cost_per_output_token", cost_per_output_token)
    return _SpanOptions(
        span_type=type,
        name=name,
        model=model,
        embedder=embedder,
        description=description,
        available_tools=_names("available_tools", available_tools),
        handoff_agents=_names("handoff_agents", handoff_agents),
        price_input_per_token=cost_per_input_token,
        price_output_per_token=cost_per_output_token,
        metrics=_names("metrics", metrics),
    )


def observe(
    type: Any = "custom",
    name: str | None = None,
    model: str | None = None,
    embedder: str | None = None,
    description: str | None = None,
    available_tools: Iterable[Any] | None = None,
    handoff_agents: Iterable[Any] | None = None,
    cost_per_input_token: float | None = None,
    cost_per_output_token: float | None = None,
    metrics: Iterable[Any] | None = None,
) -> Any:
    """Trace a function as a span of ``type`` (``llm``, ``tool``, ``agent``, ``retriever``, ...).

    A ``type`` outside :class:`~traceglass.semconv.SpanType` is kept as given (a custom type).
    ``available_tools``/``handoff_agents`` describe an agent; ``metrics`` names the evaluation
    metrics that apply to the span; per-token costs price it and the model calls made inside it
    ahead of any price table.
    """
    if callable(type):
        return observe()(type)
    options = _observe_options(type, name, model, embedder, description, available_tools, handoff_agents,
                               cost_per_input_token, cost_per_output_token, metrics)
    return lambda func: _decorate(func, options)


class span:  # noqa: N801 - used like a function: ``with traceglass.span("step"):``
    """A traced block of code: ``with traceglass.span("rerank", type="tool") as s: ...``.

    Takes the options of :func:`observe`; yields the OpenTelemetry span.
    """

    def __init__(self, name: str, type: str = "custom", **options: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        allowed = {"model", "embedder", "description", "available_tools", "handoff_agents",
                   "cost_per_input_token", "cost_per_output_token", "metrics"}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"span() got unexpected options {sorted(unknown)}")
        values = {key: options.get(key) for key in allowed}
        self._options = _observe_options(type, name, **values)
        self._scope: _SpanScope | None = None
        self._token: Any = None

    def __enter__(self) -> Span:
        from opentelemetry.trace import INVALID_SPAN

        with guard("span.enter"):
            self._scope = _SpanScope(self._options.new_invocation(self._options.name or "span"),
                                     self._options.metrics)
            self._token = self._scope.activate()
            return self._scope.invocation.span  # type: ignore[return-value]
        return INVALID_SPAN

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        scope, self._scope = self._scope, None
        if scope is None:
            return
        with guard("span.exit"):
            scope.deactivate(self._token)
            if exc is not None:
                scope.fail(exc)
            else:
                scope.finish(UNSET)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


class _SessionScope(NullScope):
    """Makes a session current while the decorated function (or generator step) runs."""

    __slots__ = ("_scope",)

    def __init__(self, scope: SessionScope) -> None:
        self._scope = scope

    def activate(self) -> Any:
        return set_session(SessionScope.nested(current_session(), self._scope.session_id, self._scope.user_id,
                                               self._scope.tags, self._scope.metadata))

    def deactivate(self, token: Any) -> None:
        reset_session(token)


class session:  # noqa: N801 - used like a function
    """Carry a session id, user id, tags and metadata onto every span started inside.

    Use as ``with traceglass.session("s-1", user_id="u-7"):`` or as a decorator on any function;
    spans made by auto-instrumentors inside carry them too.
    """

    def __init__(
        self,
        session_id: str | None,
        user_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(tags, str):
            raise ValueError(f"tags must be a list of strings, got the string {tags!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a mapping, got {metadata!r}")
        self._scope = SessionScope(session_id, user_id, tuple(tags), dict(metadata or {}))
        self._tokens: list[Any] = []

    def __enter__(self) -> "session":
        self._tokens.append(_SessionScope(self._scope).activate())
        return self

    def __exit__(self, *exc: Any) -> None:
        reset_session(self._tokens.pop())

    async def __aenter__(self) -> "session":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__()

    def __call__(self, func: F) -> F:
        return wrap(func, lambda args, kwargs: _SessionScope(self._scope))  # type: ignore[return-value]
