"""The sampling policy: which traces are exported, and whose prompts and completions are kept.

``Sampling`` is the public, validated policy ``configure(sampling=...)`` takes (and ``Settings`` builds
from ``TRACEGLASS_SAMPLING_*``); ``Exporter`` names a destination and its content policy;
``FinishedTrace`` is what a ``keep_content_when`` callable is given. The decisions are pure functions
of a trace id (``content_fraction``) and a trace's summary, so every process decides alike.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from traceglass._units import parse_duration, parse_size

# The content policies of a destination (``Exporter(content=...)``).
CONTENT_ALL = "all"
CONTENT_SAMPLED = "sampled"
CONTENT_NONE = "none"
CONTENT_POLICIES = (CONTENT_ALL, CONTENT_SAMPLED, CONTENT_NONE)

DEFAULT_MAX_SPANS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_DECISION_TIMEOUT = 60.0


@dataclass(frozen=True)
class FinishedTrace:
    """What is known of a trace when its content is decided (a ``keep_content_when`` callable's argument).

    ``duration_s``: from the earliest start to the latest end of its spans seen here. Tokens and cost
    follow ``traceglass.rollup`` (each model call once); ``cost_usd`` is None when nothing was priced.
    ``complete``: False when decided before its local root ended (timeout, buffer pressure, flush).
    """

    trace_id: str
    root_name: str | None
    error: bool
    duration_s: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    span_count: int
    complete: bool = True

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


Condition = Union[str, Callable[[FinishedTrace], bool]]


@dataclass(frozen=True)
class _Rule:
    """A parsed ``keep_content_when`` entry: its text (or the callable) and its test."""

    name: str
    test: Callable[[FinishedTrace], bool]


_COMPARISON = re.compile(r"\s*(latency|cost|tokens)\s*>\s*(\S+)\s*")


def parse_condition(condition: Condition) -> _Rule:
    """``"error"``, ``"latency>5s"``, ``"cost>0.05"`` (USD), ``"tokens>10000"`` or a callable."""
    if callable(condition):
        return _Rule(getattr(condition, "__name__", "callable"), condition)
    if not isinstance(condition, str):
        raise ValueError(f"keep_content_when holds strings or callables, got {condition!r}")
    text = condition.strip().lower()
    if text == "error":
        return _Rule("error", lambda trace: trace.error)
    match = _COMPARISON.fullmatch(text)
    if match is None:
        raise ValueError(f"unknown keep_content_when condition {condition!r}; use 'error', 'latency>5s', "
                         "'cost>0.05', 'tokens>10000' or a callable taking the finished trace")
    what, raw = match.groups()
    if what == "latency":
        seconds = _parse_latency(raw)
        return _Rule(f"latency>{raw}", lambda trace: trace.duration_s > seconds)
    bound = float(raw)
    if not math.isfinite(bound) or bound < 0:
        raise ValueError(f"{what} bound must be a finite number >= 0, got {raw!r}")
    if what == "cost":
        return _Rule(f"cost>{raw}", lambda trace: trace.cost_usd is not None and trace.cost_usd > bound)
    return _Rule(f"tokens>{raw}", lambda trace: trace.total_tokens > bound)


def _parse_latency(raw: str) -> float:
    if raw.endswith("ms"):
        return float(raw[:-2]) / 1000
    return parse_duration(raw)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number from 0.0 to 1.0, got {value!r}")
    return float(value)


def _parsed(name: str, parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class Sampling:
    """Which traces are exported, and whose content (prompts, completions, inputs, outputs) is kept.

    ``trace_rate``: head sampling of whole traces, by trace id and parent-based (the SDK's
    ``ParentBased(TraceIdRatioBased)``); ``OTEL_TRACES_SAMPLER`` wins when set. 0.0 exports none.
    ``content_rate``: the fraction of traces whose content is kept, decided per trace by its id.
    ``keep_content_when``: conditions that always keep a trace's content: ``"error"``,
    ``"latency>5s"``, ``"cost>0.05"``, ``"tokens>10000"`` or a callable taking a :class:`FinishedTrace`.
    A trace's spans wait (at most ``max_buffered_spans`` spans and ``max_buffered_bytes`` bytes in
    all) until its local root ends, or ``decision_timeout`` seconds; docs/sampling.md says more.
    """

    trace_rate: float = 1.0
    content_rate: float = 1.0
    keep_content_when: tuple[Condition, ...] = ("error",)
    max_buffered_spans: int = DEFAULT_MAX_SPANS
    max_buffered_bytes: int = DEFAULT_MAX_BYTES
    decision_timeout: float = DEFAULT_DECISION_TIMEOUT
    _rules: tuple[_Rule, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trace_rate", _rate("trace_rate", self.trace_rate))
        object.__setattr__(self, "content_rate", _rate("content_rate", self.content_rate))
        conditions = self.keep_content_when
        if isinstance(conditions, str) or callable(conditions):
            conditions = (conditions,)
        conditions = tuple(conditions)
        object.__setattr__(self, "keep_content_when", conditions)
        object.__setattr__(self, "_rules", tuple(parse_condition(c) for c in conditions))
        for name in ("max_buffered_spans", "max_buffered_bytes"):
            value = getattr(self, name)
            if name == "max_buffered_bytes" and isinstance(value, str):
                value = _parsed(name, parse_size, value)
                object.__setattr__(self, name, value)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        timeout = self.decision_timeout
        if isinstance(timeout, str):
            timeout = _parsed("decision_timeout", parse_duration, timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ValueError(f"decision_timeout must be a positive number of seconds, got {timeout!r}")
        object.__setattr__(self, "decision_timeout", float(timeout))

    @property
    def samples_content(self) -> bool:
        """True when some successful trace may lose its content (``content_rate`` below 1)."""
        return self.content_rate < 1.0

    @property
    def rules(self) -> tuple[_Rule, ...]:
        return self._rules


# Sampling's fields read from TRACEGLASS_SAMPLING_<FIELD> by Settings, with their parsers.
ENV_PREFIX = "TRACEGLASS_SAMPLING_"
ENV_FIELDS: dict[str, Callable[[str], Any]] = {
    "trace_rate": float,
    "content_rate": float,
    "keep_content_when": lambda text: tuple(p.strip() for p in text.split(",") if p.strip()),
    "max_buffered_spans": int,
    "max_buffered_bytes": parse_size,
    "decision_timeout": parse_duration,
}


@dataclass(frozen=True)
class Exporter:
    """A destination for ``configure(exporters=[...])`` with its content policy.

    ``exporter``: a name (``"sqlite"``, ``"otlp"``, ``"console"``) or a ``SpanExporter``.
    ``content``: ``"all"`` (every span as captured), ``"sampled"`` (the default: content kept as
    ``Sampling`` decides) or ``"none"`` (no content ever; metadata only).
    """

    exporter: Any
    content: str = CONTENT_SAMPLED

    def __post_init__(self) -> None:
        if self.content not in CONTENT_POLICIES:
            raise ValueError(f"Exporter content must be one of {list(CONTENT_POLICIES)}, got {self.content!r}")
        if isinstance(self.exporter, bytes) or self.exporter is None:
            raise ValueError(f"Exporter takes a name or a SpanExporter, got {self.exporter!r}")


def parse_content_policies(text: str) -> dict[str, str]:
    """``"otlp=none,sqlite=sampled"`` (``TRACEGLASS_EXPORTER_CONTENT``) as {name: policy}."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, policy = part.partition("=")
        policy = policy.strip().lower()
        if not sep or not name.strip() or policy not in CONTENT_POLICIES:
            raise ValueError(f"expected name=all|sampled|none, got {part.strip()!r}")
        out[name.strip().lower()] = policy
    return out


def head_sampler(rate: float) -> Any:
    """The SDK's ``ParentBased(TraceIdRatioBased(rate))``, except that a trace it leaves out is still
    recorded (``RECORD_ONLY``: not sampled, so no exporter receives it and ``traceparent`` says so):
    the handler's metrics and the cost processor's counter see every call, at any rate."""
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased

    class _RecordingHeadSampler(Sampler):
        _decides_without_attributes = True  # see _handler._span_start: its inner sampler reads none

        def __init__(self) -> None:
            self._inner = ParentBased(TraceIdRatioBased(rate))
            self.rate = rate

        def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                          attributes: Any = None, links: Any = None, trace_state: Any = None) -> Any:
            result = self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
            if result.decision is Decision.DROP:
                # The span's attributes come from the result (the SDK's DROP result carries none).
                return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
            return result

        def get_description(self) -> str:
            return f"TraceglassRecording{{{self._inner.get_description()}}}"

    return _RecordingHeadSampler()


_SCALE = float(1 << 64)


def content_fraction(trace_id: int) -> float:
    """A number in [0, 1) fixed by the trace id, the same in every process and independent of the
    head sampler's (which reads the id's low 64 bits): content is kept when it is below the rate."""
    digest = hashlib.blake2b(trace_id.to_bytes(16, "big"), digest_size=8, person=b"tg-content").digest()
    return int.from_bytes(digest, "big") / _SCALE


def keeps_content(sampling: Sampling, trace: FinishedTrace, trace_id: int,
                  on_error: Callable[[str, Exception], None] | None = None, *,
                  conditions: bool = True) -> tuple[bool, str]:
    """Whether ``trace`` keeps its content under ``sampling``, and why: a condition's name, ``"rate"``
    or ``"sampled_out"``. A callable that raises is a condition not met, told to ``on_error``.
    ``conditions=False``: by the rate alone."""
    for rule in sampling.rules if conditions else ():
        try:
            met = rule.test(trace)
        except Exception as exc:  # noqa: BLE001 - the user's callable: a condition not met
            if on_error is not None:
                on_error(rule.name, exc)
            continue
        if met:
            return True, rule.name
    if sampling.content_rate >= 1.0 or content_fraction(trace_id) < sampling.content_rate:
        return True, "rate"
    return False, "sampled_out"


__all__ = ["Exporter", "FinishedTrace", "Sampling"]
