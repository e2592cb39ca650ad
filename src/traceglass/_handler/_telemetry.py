"""The telemetry handler: the one place that turns invocations into spans and metrics.

Instrumentors and decorators fill an invocation and call ``start``/``stop``/``fail``; this module
owns span names and kinds, every attribute write, content capture, masking, truncation and the
GenAI client metrics. Each invocation type maps its plain fields to attributes in one table.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from traceglass import _config, semconv
from traceglass._context import current_session
from traceglass._guard import report
from traceglass._handler._content import EncodedJson, bounded_json, bounded_text
from traceglass._handler._invocations import (
    MODEL_CALLS,
    UNSET,
    AgentInvocation,
    EmbeddingInvocation,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._mask import apply_mask, report_mask_error
from traceglass._handler._span_attributes import set_span_attributes
from traceglass._handler._span_start import start_span
from traceglass._unicode import valid_unicode
from traceglass._version import __version__

SCOPE_NAME = "traceglass"

_current_invocation: ContextVar[Invocation | None] = ContextVar("traceglass_invocation", default=None)
# Frameworks that keep their own "current step" (the OpenAI Agents SDK's span scope) and tell us
# of steps through callbacks, where attaching an OTel context to detach it later is unsafe. Each
# resolver is handed the invocation being started and returns the open invocation of the
# framework's current step in this context, or None; a span started with no explicit parent goes
# under it unless the OTel current span is newer (opened inside that step, e.g. by a decorator in
# a tool). See ``add_parent_resolver``.
_parent_resolvers: list[Callable[[Invocation], Invocation | None]] = []

# field name -> attribute key, per invocation type; only non-None values are written.
_LLM_START = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("stop_sequences", semconv.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("choice_count", semconv.GEN_AI_REQUEST_CHOICE_COUNT),
    ("output_type", semconv.GEN_AI_OUTPUT_TYPE),
    ("conversation_id", semconv.GEN_AI_CONVERSATION_ID),
    ("request_service_tier", semconv.OPENAI_REQUEST_SERVICE_TIER),
    ("api_type", semconv.OPENAI_API_TYPE),
    ("streaming", semconv.GEN_AI_REQUEST_STREAM),
)
_LLM_END = (
    ("response_id", semconv.GEN_AI_RESPONSE_ID),
    ("response_model", semconv.GEN_AI_RESPONSE_MODEL),
    ("finish_reasons", semconv.GEN_AI_RESPONSE_FINISH_REASONS),
    ("response_service_tier", semconv.OPENAI_RESPONSE_SERVICE_TIER),
    ("system_fingerprint", semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ("input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_tokens", semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("reasoning_tokens", semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ("time_to_first_token_s", semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
)
_EMBEDDING_START = (("encoding_formats", semconv.GEN_AI_REQUEST_ENCODING_FORMATS),)
_EMBEDDING_END = (
    ("response_model", semconv.GEN_AI_RESPONSE_MODEL),
    ("dimension_count", semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
    ("input_count", semconv.EMBEDDINGS_INPUT_COUNT),
    ("input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
    ("embedder", semconv.EMBEDDER),
)
_TOOL_START = (
    ("tool_name", semconv.GEN_AI_TOOL_NAME),
    ("tool_description", semconv.GEN_AI_TOOL_DESCRIPTION),
    ("tool_type", semconv.GEN_AI_TOOL_TYPE),
    ("call_id", semconv.GEN_AI_TOOL_CALL_ID),
)
_RETRIEVAL_START = (
    ("embedder", semconv.EMBEDDER),
    ("data_source_id", semconv.GEN_AI_DATA_SOURCE_ID),
)
_AGENT_START = (
    ("agent_name", semconv.GEN_AI_AGENT_NAME),
    ("agent_id", semconv.GEN_AI_AGENT_ID),
    ("agent_description", semconv.GEN_AI_AGENT_DESCRIPTION),
)
_STEP_START = (
    ("graph_node", semconv.GRAPH_NODE),
    ("graph_step", semconv.GRAPH_STEP),
)
_START_TABLES: dict[type, tuple[tuple[str, str], ...]] = {
    LLMInvocation: _LLM_START,
    EmbeddingInvocation: _EMBEDDING_START,
    ToolInvocation: _TOOL_START,
    RetrievalInvocation: _RETRIEVAL_START,
    AgentInvocation: _AGENT_START,
    StepInvocation: _STEP_START,
}
_END_TABLES: dict[type, tuple[tuple[str, str], ...]] = {
    LLMInvocation: _LLM_END,
    EmbeddingInvocation: _EMBEDDING_END,
}
# Content fields -> attribute key, per invocation type, in the order they are written (and listed
# in ``traceglass.truncated``). A subclass uses its nearest listed ancestor's table.
_INPUT_OUTPUT = (("input_value", semconv.INPUT_VALUE), ("output_value", semconv.OUTPUT_VALUE))
_CONTENT_TABLES: dict[type, tuple[tuple[str, str], ...]] = {
    LLMInvocation: (
        ("system_instructions", semconv.GEN_AI_SYSTEM_INSTRUCTIONS),
        ("input_messages", semconv.GEN_AI_INPUT_MESSAGES),
        ("output_messages", semconv.GEN_AI_OUTPUT_MESSAGES),
        ("tool_definitions", semconv.GEN_AI_TOOL_DEFINITIONS),
        *_INPUT_OUTPUT,
    ),
    EmbeddingInvocation: (("inputs", semconv.INPUT_VALUE),),
    ToolInvocation: (
        ("input_value", semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
        ("output_value", semconv.GEN_AI_TOOL_CALL_RESULT),
    ),
    RetrievalInvocation: (
        ("query", semconv.GEN_AI_RETRIEVAL_QUERY_TEXT),
        ("documents", semconv.GEN_AI_RETRIEVAL_DOCUMENTS),
        *_INPUT_OUTPUT,
    ),
    Invocation: _INPUT_OUTPUT,
}
# Capture mode -> (on the span, as an event); a dict lookup instead of two enum properties.
_CAPTURE_TARGETS = {mode: (mode.on_span, mode.on_event) for mode in _config.ContentCapture}


def current_invocation() -> Invocation | None:
    """The innermost invocation made current by the handler in this context."""
    return _current_invocation.get()


def add_parent_resolver(resolver: Callable[[Invocation], Invocation | None]) -> None:
    """Register a framework's current-step lookup (idempotent); see ``_parent_resolvers``."""
    if resolver not in _parent_resolvers:
        _parent_resolvers.append(resolver)


def remove_parent_resolver(resolver: Callable[[Invocation], Invocation | None]) -> None:
    if resolver in _parent_resolvers:
        _parent_resolvers.remove(resolver)


def _resolved_parent(invocation: Invocation) -> Invocation | None:
    """The framework step a new span belongs under, when it is newer than the OTel current span.

    Both the framework's current step and the OTel current span are current in this very
    context, so one encloses the other: the one that started later is the inner one.
    """
    best: Invocation | None = None
    for resolver in tuple(_parent_resolvers):
        try:
            found = resolver(invocation)
        except Exception as exc:  # noqa: BLE001
            report("handler.parent_resolver", exc)
            continue
        if found is not None and found.span is not None and (best is None or found.start_time_ns > best.start_time_ns):
            best = found
    if best is None:
        return None
    started = getattr(trace.get_current_span(), "start_time", None)  # SDK spans only
    if isinstance(started, int) and started > best.start_time_ns:
        return None
    return best


class TelemetryHandler:
    """Starts, stops and fails spans for invocations; records the GenAI client metrics.

    ``settings``: the content capture, length limit and mask it applies, fixed for its lifetime
    (None: read from the environment now). ``configure()`` and ``testing.capture()`` hand it theirs.
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, *,
                 settings: _config.Settings | None = None) -> None:
        self.settings = _config.Settings.from_env() if settings is None else settings
        self._tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider=tracer_provider)
        self._recording_tracer = False  # once True, stays True (see ``enabled``)
        self._recording_meter = False  # likewise (see ``metrics_enabled``)
        meter = otel_metrics.get_meter(SCOPE_NAME, __version__, meter_provider=meter_provider)
        self._meter = meter
        self._duration = meter.create_histogram(
            semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self._tokens = meter.create_histogram(
            semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(semconv.TOKEN_USAGE_BUCKETS),
        )
        self._first_chunk = meter.create_histogram(
            semconv.METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )

    @property
    def enabled(self) -> bool:
        """False when spans cannot record at all (no SDK provider): callers may skip all work.

        Reads ``ProxyTracer._tracer`` (opentelemetry-api 1.x): the global proxy resolves to a
        no-op tracer until an SDK provider is set, so a False answer is checked again every time;
        a True one is kept (a proxy, once resolved to a real tracer, never goes back).
        """
        if self._recording_tracer:
            return True
        tracer = self._tracer
        if isinstance(tracer, trace.ProxyTracer):
            tracer = tracer._tracer
        if isinstance(tracer, trace.NoOpTracer):
            return False
        self._recording_tracer = True
        return True

    @property
    def metrics_enabled(self) -> bool:
        """False while no SDK meter provider is behind our meter (recording would be a no-op).

        Reads ``_ProxyMeter._real_meter`` (opentelemetry-api 1.x), set once a provider is installed
        (and never unset: a True answer is kept).
        """
        if self._recording_meter:
            return True
        meter = self._meter
        if type(meter).__name__ == "_ProxyMeter":
            meter = getattr(meter, "_real_meter", None)
            if meter is None:
                return False
        if isinstance(meter, otel_metrics.NoOpMeter):
            return False
        self._recording_meter = True
        return True

    # --- lifecycle ------------------------------------------------------------------------
    def start(
        self,
        invocation: Invocation,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        parent_context: otel_context.Context | None = None,
        activate: bool = True,
        start_time_ns: int | None = None,
    ) -> Invocation:
        """Open the invocation's span (current in this context when ``activate``)."""
        invocation.parent = _current_invocation.get()
        if parent_context is None and _parent_resolvers:
            found = _resolved_parent(invocation)
            if found is not None:
                invocation.parent = found
                parent_context = trace.set_span_in_context(found.span)  # type: ignore[arg-type]
        invocation.start_time_ns = start_time_ns or time.time_ns()
        attributes = self._start_attributes(invocation)
        invocation.span = start_span(
            self._tracer,
            _span_name(invocation),
            context=parent_context,
            kind=kind,
            attributes=attributes,
            start_time=invocation.start_time_ns,
        )
        if activate:
            invocation._tokens = self.activate(invocation)  # type: ignore[attr-defined]
        return invocation

    def activate(self, invocation: Invocation) -> tuple[Token[Invocation | None], object]:
        """Make the invocation's span current; hand the result to :meth:`deactivate`."""
        ctx = trace.set_span_in_context(invocation.span)  # type: ignore[arg-type]
        return _current_invocation.set(invocation), otel_context.attach(ctx)

    @staticmethod
    def rename(invocation: Invocation, name: str) -> None:
        """Rename an open invocation's span: for frameworks that learn a step's model or target
        only when it ends (an Agents SDK response span, a handoff's destination)."""
        invocation.name = name
        span = invocation.span
        if span is not None and span.is_recording():
            span.update_name(name)

    @staticmethod
    def deactivate(tokens: tuple[Token[Invocation | None], object]) -> None:
        invocation_token, otel_token = tokens
        otel_context.detach(otel_token)  # type: ignore[arg-type]
        _current_invocation.reset(invocation_token)

    def stop(self, invocation: Invocation, *, end_time_ns: int | None = None) -> None:
        """Write the end attributes, record metrics, and end the span."""
        span = invocation.span
        if span is None:
            return
        # try/except rather than ``guard`` objects: the same protection, no cost on this hot path.
        # Not a field: set by ``start(activate=True)`` only (a dict lookup, not a failed getattr).
        tokens = invocation.__dict__.pop("_tokens", None)
        if tokens is not None:
            try:
                self.deactivate(tokens)
            except Exception as exc:  # noqa: BLE001
                report("handler.deactivate", exc)
        if span.is_recording():
            try:
                self._write_end(invocation, span)
            except Exception as exc:  # noqa: BLE001
                report("handler.end_attributes", exc)
        if isinstance(invocation, MODEL_CALLS) and self.metrics_enabled:
            try:
                self._record_metrics(invocation, end_time_ns)
            except Exception as exc:  # noqa: BLE001
                report("handler.metrics", exc)
        parent = invocation.parent
        if parent is not None:
            if invocation.has_usage() or invocation.subtree_reported_usage:
                parent.subtree_reported_usage = True
            if isinstance(invocation, MODEL_CALLS) or invocation.subtree_model_call:
                parent.subtree_model_call = True
        span.end(end_time=end_time_ns)

    def fail(self, invocation: Invocation, error: BaseException, *, end_time_ns: int | None = None) -> None:
        """Record ``error`` on the span (status, ``error.type``, exception event) and stop it."""
        span = invocation.span
        if span is not None and span.is_recording():
            try:
                error_type = invocation.error_type or type(error).__qualname__
                invocation.attributes[semconv.ERROR_TYPE] = error_type
                # The user's exception may fail to print (a raising ``__str__``): that must not
                # leave a failure looking like a success, so its text is read once, safely.
                text = _safe_text(error)
                span.set_status(Status(StatusCode.ERROR, _error_message(error, text)))
                _record_exception(span, error, text)
            except Exception as exc:  # noqa: BLE001
                report("handler.fail", exc)
        self.stop(invocation, end_time_ns=end_time_ns)

    def stop_failed(self, invocation: Invocation, error_type: str, message: str | None = None, *,
                    end_time_ns: int | None = None) -> None:
        """Record a failure the operation reported without raising (a Responses API response
        with status ``failed``, an ``error`` event in its stream): status ERROR and
        ``error.type``, no exception event. Then stop."""
        span = invocation.span
        if span is not None and span.is_recording():
            try:
                invocation.error_type = error_type
                invocation.attributes[semconv.ERROR_TYPE] = error_type
                span.set_status(Status(StatusCode.ERROR, message))
            except Exception as exc:  # noqa: BLE001
                report("handler.stop_failed", exc)
        self.stop(invocation, end_time_ns=end_time_ns)

    # --- attributes -----------------------------------------------------------------------
    def _start_attributes(self, inv: Invocation) -> dict[str, Any]:
        values = inv.__dict__  # dataclass fields: one dict lookup each instead of getattr
        attributes: dict[str, Any] = {semconv.SPAN_TYPE: values["span_type"]}
        value = values["operation"]
        if value:
            attributes[semconv.GEN_AI_OPERATION_NAME] = value
        value = values["provider"]
        if value:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = value
        value = values["request_model"]
        if value:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = value
        value = values.get("server_address")
        if value:
            attributes[semconv.SERVER_ADDRESS] = value
            value = values.get("server_port")
            if value:
                attributes[semconv.SERVER_PORT] = value
        table = _START_TABLES.get(inv.__class__)
        if table:
            _put_fields(attributes, inv, table)
        # From the start: the cost processor carries a price to the model calls inside the span.
        value = values["price_input_per_token"]
        if value is not None:
            attributes[semconv.PRICE_INPUT_PER_TOKEN] = value
        value = values["price_output_per_token"]
        if value is not None:
            attributes[semconv.PRICE_OUTPUT_PER_TOKEN] = value
        session = current_session()
        if session is not None:
            attributes.update(session.attributes)
        return attributes

    def _write_end(self, inv: Invocation, span: Any) -> None:
        attributes: dict[str, Any] = {}
        _put_fields(attributes, inv, _END_TABLES.get(type(inv), ()))
        if isinstance(inv, LLMInvocation):
            if inv.cache_creation_tokens is not None:
                attributes[semconv.names().cache_creation_input_tokens] = inv.cache_creation_tokens
            if inv.usage_estimated:
                attributes[semconv.USAGE_ESTIMATED] = True
        if isinstance(inv, AgentInvocation):
            if inv.available_tools:
                attributes[semconv.AGENT_TOOLS] = list(inv.available_tools)
            if inv.handoff_agents:
                attributes[semconv.AGENT_HANDOFFS] = list(inv.handoff_agents)
        if isinstance(inv, RetrievalInvocation) and isinstance(inv.documents, (list, tuple)):
            attributes[semconv.RETRIEVAL_DOCUMENT_COUNT] = len(inv.documents)
        if inv.attributes:
            attributes.update(inv.attributes)
        settings = self.settings
        on_span, on_event = _CAPTURE_TARGETS[settings.capture_content]
        if on_event:
            content = _content_attributes(inv, settings, {})
            if content:
                if on_span:
                    attributes.update(content)
                span.add_event(semconv.EVENT_GEN_AI_INFERENCE_DETAILS, attributes=content)
        elif on_span:  # the default: content goes straight into the one dict of end attributes
            _content_attributes(inv, settings, attributes)
        if attributes:
            set_span_attributes(span, attributes)

    def _record_metrics(self, inv: Invocation, end_time_ns: int | None) -> None:
        if not inv.operation:
            return
        attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: inv.operation}
        if inv.provider:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = inv.provider
        if inv.request_model:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = inv.request_model
        response_model = getattr(inv, "response_model", None)
        if response_model:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = response_model
        address = getattr(inv, "server_address", None)
        if address:
            attributes[semconv.SERVER_ADDRESS] = address
            if getattr(inv, "server_port", None):
                attributes[semconv.SERVER_PORT] = inv.server_port  # type: ignore[attr-defined]
        error_type = inv.attributes.get(semconv.ERROR_TYPE)
        if error_type:
            attributes[semconv.ERROR_TYPE] = error_type
        # One model call, one operation: when two layers trace it (a LangChain chat model and the
        # OpenAI client under it) the innermost records the duration, and the innermost layer
        # that knows the call's usage records its tokens (the rule of traceglass.rollup).
        if not inv.subtree_model_call:
            end = end_time_ns or time.time_ns()
            self._duration.record(max(end - inv.start_time_ns, 0) / 1e9, attributes)
            if isinstance(inv, LLMInvocation) and inv.time_to_first_token_s is not None:
                self._first_chunk.record(inv.time_to_first_token_s, attributes)
        if error_type or inv.subtree_reported_usage:
            return
        input_tokens = getattr(inv, "input_tokens", None)
        if input_tokens is not None:
            self._tokens.record(input_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: semconv.GenAITokenType.INPUT})
        output_tokens = getattr(inv, "output_tokens", None)
        if output_tokens is not None:
            self._tokens.record(
                output_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: semconv.GenAITokenType.OUTPUT}
            )


def _span_name(inv: Invocation) -> str:
    if inv.name:
        return inv.name
    if inv.operation:
        target = inv.request_model
        if isinstance(inv, ToolInvocation):
            target = inv.tool_name
        elif isinstance(inv, AgentInvocation):
            target = inv.agent_name
        return f"{inv.operation} {target}" if target else inv.operation
    return inv.span_type


def _put_fields(attributes: dict[str, Any], inv: Invocation, table: Iterable[tuple[str, str]]) -> None:
    values = inv.__dict__  # dataclass fields: one dict lookup each instead of getattr
    for field_name, key in table:
        value = values[field_name]
        if value is not None:
            attributes[key] = value


def _documents(documents: Any) -> Any:
    """Retrieved documents as the spec's array of objects (plain strings become ``content``)."""
    if isinstance(documents, (list, tuple)):
        return [{"content": d} if isinstance(d, str) else d for d in documents]
    return documents


def _safe_text(error: BaseException) -> str | None:
    """``str(error)``, or None when the exception cannot be printed (its ``__str__`` raises)."""
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - the user's exception is broken, not our code
        return None


def _error_message(error: BaseException, text: str | None) -> str:
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _record_exception(span: Any, error: BaseException, text: str | None) -> None:
    """The spec's exception event. The SDK's ``record_exception`` calls ``str(error)`` itself, so
    an exception that cannot be printed gets the same event built here, its type name as message."""
    if text is not None:
        try:
            span.record_exception(error)
            return
        except Exception:  # noqa: BLE001 - ``__str__`` may fail only on a second call
            pass
    cls = type(error)
    module = cls.__module__
    attributes: dict[str, Any] = {
        semconv.EXCEPTION_TYPE: f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__,
        semconv.EXCEPTION_MESSAGE: cls.__name__,
    }
    try:  # traceback prints "<exception str() failed>" for the message itself
        attributes[semconv.EXCEPTION_STACKTRACE] = "".join(traceback.format_exception(error))
    except Exception:  # noqa: BLE001 - a stack trace we cannot format is left out, not the event
        pass
    attributes[semconv.EXCEPTION_ESCAPED] = "False"
    span.add_event(semconv.EVENT_EXCEPTION, attributes=attributes)


def _content_table(cls: type) -> tuple[tuple[str, str], ...]:
    table = _CONTENT_TABLES.get(cls)
    if table is None:
        table = next(_CONTENT_TABLES[base] for base in cls.__mro__ if base in _CONTENT_TABLES)
        _CONTENT_TABLES[cls] = table
    return table


def _content_attributes(inv: Invocation, settings: _config.Settings, out: dict[str, Any]) -> dict[str, Any]:
    """The content attributes of ``inv`` (masked, bounded JSON text), added to ``out``.

    The mask sees every string inside a value (``_mask.apply_mask``), before truncation, so a
    secret is never cut in two halves the mask no longer recognises.

    Over the limit, ``bounded_json`` shortens every string in the value evenly, so each message
    part keeps its share and the JSON keeps its shape. A value that fails to serialize is
    reported and left out; the others are still written.
    """
    limit = settings.max_content_length
    mask = settings.mask
    values = inv.__dict__  # dataclass fields: one dict lookup each instead of getattr
    truncated: list[str] | None = None
    for field_name, key in _CONTENT_TABLES.get(inv.__class__) or _content_table(inv.__class__):
        value = values[field_name]
        if value is None or value is UNSET:
            continue
        try:
            if value.__class__ is EncodedJson:  # an instrumentor's own compact JSON of plain data
                if mask is None and len(value) <= limit:
                    out[key] = valid_unicode(str(value))
                    continue
                value = json.loads(value)  # masked or cut as the data it encodes
            if field_name == "documents":
                value = _documents(value)
            if mask is None:
                is_text = isinstance(value, str)
            else:
                try:
                    value, is_text = apply_mask(mask, value, field_name)
                except Exception as exc:  # noqa: BLE001 - the user's mask: lose this value, never leak it
                    report_mask_error(key, exc)
                    continue
            if is_text:
                text, cut = bounded_text(value, limit)
            else:
                text, cut = bounded_json(value, limit)
        except Exception as exc:  # noqa: BLE001 - our fault: lose this value, keep the span
            report("handler.content", exc)
            continue
        if cut:
            if truncated is None:
                truncated = []
            truncated.append(key)
        out[key] = text
    if truncated:
        out[semconv.TRUNCATED] = truncated
    return out


__all__ = ["TelemetryHandler", "add_parent_resolver", "current_invocation", "remove_parent_resolver"]
