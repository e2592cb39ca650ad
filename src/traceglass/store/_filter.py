"""``TraceFilter``: the one definition of the trace-list filters, and of the statistics groups.

Each filter is a field of :class:`TraceFilter` whose metadata holds the rest of its definition
(:class:`FilterSpec`: its help text, its ``traceglass traces`` option, its REST query parameter, the
least value the REST API takes). ``TraceStore.list_traces``, the CLI, the REST handler and the
OpenAPI document are all derived from it, so a new filter is added here, once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Union

from traceglass.store._time import NS_MAX, NS_MIN, TimeLike, to_ns

# The ``group_by`` values of ``TraceStore.stats`` (per span: model, type; per trace: the others).
GROUPS = ("model", "project", "user", "session", "type", "day")

_TIME_DOC = "ISO 8601 time, epoch seconds or an age such as 1h or 7d"


@dataclass(frozen=True)
class FilterSpec:
    """How one filter is spelled outside Python: the CLI option, the REST parameter and its bounds."""

    name: str  # the TraceFilter field and the list_traces keyword
    kind: str  # "text", "time" or "number": how the CLI and REST parse it, and its OpenAPI type
    doc: str
    cli: str  # the `traceglass traces` option
    param: str  # the REST query parameter
    metavar: str | None = None
    choices: tuple[str, ...] | None = None  # the values the CLI offers (any case reaches the check)
    minimum: float | None = None  # the least value the REST API takes (Python and the CLI take any)


def _spec(kind: str, doc: str, cli: str, param: str, **extra: Any) -> Any:
    # The name is filled in from the field's own name below, so it is written once.
    return dataclasses.field(default=None, metadata={"spec": (kind, doc, cli, param, extra)})


def _number(name: str, value: Any) -> float:
    """A finite number from a filter argument (a number or numeric text); ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _time(name: str, value: TimeLike) -> int | None:
    try:
        return to_ns(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class TraceFilter:
    """Which traces ``TraceStore.list_traces`` returns; every field left None keeps every trace.

    ``span_type``/``model`` match any span of the trace (a model also matches its dated snapshots
    and provider-prefixed names); ``search`` matches span names and captured content; ``trace_id``
    may be a prefix; ``status`` is ``"ok"`` or ``"error"``; ``since``/``until`` take datetimes,
    epoch seconds, ISO text or ages like ``"1h"`` (resolved when the filter is made);
    ``score_name``/``min_score``/``max_score`` keep traces with one score matching them all (a
    range without a name: a score of any name). A bad value raises ValueError naming the field.
    """

    project: str | None = _spec("text", "Only traces of this project (the resource's service.name)",
                                "--project", "project")
    span_type: str | None = _spec("text", "Only traces with a span of this type (llm, tool, agent, ...)",
                                  "--type", "type")
    trace_id: str | None = _spec("text", "A trace id or a prefix of one", "--trace-id", "trace_id")
    session: str | None = _spec("text", "Only traces of this session.id", "--session", "session")
    user: str | None = _spec("text", "Only traces of this user.id", "--user", "user")
    model: str | None = _spec("text", "Only traces with a span that called this model", "--model", "model")
    status: str | None = _spec("text", "ok or error", "--status", "status", choices=("ok", "error"))
    since: TimeLike | None = _spec("time", _TIME_DOC, "--since", "since", metavar="TIME")
    until: TimeLike | None = _spec("time", _TIME_DOC, "--until", "until", metavar="TIME")
    min_cost: Union[float, str, None] = _spec("number", "Only traces costing at least this (USD)", "--min-cost",
                                             "min_cost", metavar="USD", minimum=0)
    min_latency_ms: Union[float, str, None] = _spec("number", "Only traces taking at least this long (ms)",
                                                   "--min-latency", "min_latency_ms", metavar="MS", minimum=0)
    search: str | None = _spec("text", "Text searched in span names and captured content", "--search", "q",
                               metavar="TEXT")
    score_name: str | None = _spec("text", "Only traces with a score of this name (with min/max: in that range)",
                                   "--score-name", "score_name", metavar="NAME")
    min_score: Union[float, str, None] = _spec("number", "Only traces with a score of at least this value",
                                              "--min-score", "min_score", metavar="VALUE")
    max_score: Union[float, str, None] = _spec("number", "Only traces with a score of at most this value",
                                              "--max-score", "max_score", metavar="VALUE")

    def __post_init__(self) -> None:
        # Checked (and times resolved) once, in the order list_traces always checked them.
        if self.status is not None and str(self.status).upper() not in ("OK", "ERROR"):
            raise ValueError(f"status must be 'ok' or 'error', got {self.status!r}")
        since = _time("since", self.since) if self.since is not None else None
        until = _time("until", self.until) if self.until is not None else None
        min_cost = _number("min_cost", self.min_cost) if self.min_cost is not None else None
        latency_ns = None
        if self.min_latency_ms is not None:
            # Any latency beyond what a 64-bit ns duration holds keeps nothing; clamping says so exactly.
            latency_ns = int(min(max(_number("min_latency_ms", self.min_latency_ms) * 1e6, NS_MIN), NS_MAX))
        if self.score_name is not None and (not isinstance(self.score_name, str) or not self.score_name.strip()):
            raise ValueError(f"score_name must be a non-empty text, got {self.score_name!r}")
        min_score = _number("min_score", self.min_score) if self.min_score is not None else None
        max_score = _number("max_score", self.max_score) if self.max_score is not None else None
        object.__setattr__(self, "_checked", _Checked(since, until, min_cost, latency_ns, min_score, max_score))

    @property
    def since_ns(self) -> int | None:
        """``since`` as Unix ns (None when not set)."""
        return self._checked.since_ns  # type: ignore[attr-defined]

    @property
    def until_ns(self) -> int | None:
        """``until`` as Unix ns (None when not set)."""
        return self._checked.until_ns  # type: ignore[attr-defined]

    @property
    def min_cost_usd(self) -> float | None:
        """``min_cost`` as a number."""
        return self._checked.min_cost  # type: ignore[attr-defined]

    @property
    def min_latency_ns(self) -> int | None:
        """``min_latency_ms`` in ns, clamped to what a stored duration holds."""
        return self._checked.min_latency_ns  # type: ignore[attr-defined]

    @property
    def min_score_value(self) -> float | None:
        """``min_score`` as a number."""
        return self._checked.min_score  # type: ignore[attr-defined]

    @property
    def max_score_value(self) -> float | None:
        """``max_score`` as a number."""
        return self._checked.max_score  # type: ignore[attr-defined]

    @classmethod
    def specs(cls) -> tuple[FilterSpec, ...]:
        """Every filter's definition, in field order: what the CLI, REST and OpenAPI are built from."""
        return _SPECS

    @classmethod
    def page_specs(cls) -> tuple[FilterSpec, FilterSpec]:
        """``limit`` and ``cursor``: not filters, but spelled beside them in the CLI, REST and OpenAPI."""
        return LIMIT, CURSOR


@dataclass(frozen=True)
class _Checked:
    since_ns: int | None
    until_ns: int | None
    min_cost: float | None
    min_latency_ns: int | None
    min_score: float | None = None
    max_score: float | None = None


_SPECS = tuple(FilterSpec(f.name, *f.metadata["spec"][:4], **f.metadata["spec"][4])
               for f in dataclasses.fields(TraceFilter))

# The page around the filters: not filters themselves, but spelled in the same places.
LIMIT = FilterSpec("limit", "integer", "Rows per page", "--limit", "limit")
CURSOR = FilterSpec("cursor", "text", "next_cursor of the previous page", "--cursor", "cursor")
PAGE_SPECS = (LIMIT, CURSOR)
