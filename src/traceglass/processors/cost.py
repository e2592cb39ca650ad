"""The cost processor: prices every GenAI span and rolls tokens and cost up each span's subtree.

Wrap the processors that export (``CostSpanProcessor(BatchSpanProcessor(exporter))``): when a span
ends, the wrapped processors receive a copy carrying

* its cost, when it reports token usage for a model some price source knows and no span below it
  reported usage (the span whose usage counts under :mod:`traceglass.rollup`: one per model call,
  so the same call reported by two layers is priced once). The spec has no cost
  attribute yet (the open proposal is semantic-conventions-genai#443), so the total goes to the key
  ``semconv.names().cost_total`` picks — ``gen_ai.usage.cost``, which OpenLIT writes and Langfuse
  reads, or the proposal's ``gen_ai.usage.cost.amount`` (+ currency and source) under the latest
  experimental switch — and the breakdown and the price source live under ``traceglass.cost.*``,
  where no future upstream name can collide with them;
* its roll-up (``traceglass.rollup.*``): tokens and cost of its in-process subtree under the one
  rule of :mod:`traceglass.rollup`, so a plain Jaeger or Tempo shows what a chain cost on its root.

It also counts the cost on the ``traceglass.gen_ai.client.cost`` counter (USD), once per model call.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from traceglass import semconv
from traceglass._ended_span import frozen_attributes
from traceglass._guard import report
from traceglass._pipeline_changes import forwarding_changed
from traceglass._pricing import (
    Cost,
    Price,
    PriceBook,
    compute_cost,
    load_price_table,
)
from traceglass._span_usage import SpanUsage, read_span_usage
from traceglass._version import __version__
from traceglass.processors._enrich import EnrichedSpan, price_overrides
from traceglass.processors._fanout import ending_hooks, flush_all
from traceglass.rollup import NOTHING, UsageTotals, own_usage, subtree_totals

logger = logging.getLogger("traceglass")

DEFAULT_MAX_OPEN_SPANS = 100_000
_DIGITS = 12  # as the per-span costs: sums of floats lose their noise too
_USER_KEYS = (semconv.USER_ID, semconv.SESSION_ID)

class _CountedOnce:
    """Span ids whose cost was counted lately, shared by every cost processor of the process.

    When two cost processors see one span (opentelemetry-instrument's pipeline and configure()'s,
    attached to the same provider), the counter still counts the call once. Process-wide by
    nature (listed in traceglass._runtime): both pipelines exist at once, whatever the runtime.
    Spans end in order, so a short memory is enough; it is only consulted while more than one
    cost processor is live (``live``), so the common case pays nothing.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self.live = 0
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()

    def opened(self, change: int) -> None:
        """A cost processor started (+1) or shut down (-1)."""
        with self._lock:
            self.live += change

    def first(self, span_id: int) -> bool:
        """True for the first processor to count ``span_id``."""
        with self._lock:
            if span_id in self._ids:
                return False
            self._ids[span_id] = None
            if len(self._ids) > self.LIMIT:
                self._ids.popitem(last=False)
            return True


_COUNTED = _CountedOnce()


class CostSpanProcessor(SpanProcessor):
    """Prices GenAI spans and adds subtree roll-ups, then hands a copy to ``downstream`` processors.

    ``downstream``: processors (or lists of them) that receive every span, enriched when there is
    something to add. ``prices``: a user price table (dict, JSON/YAML path or inline JSON) checked
    before genai-prices; a per-span override on the span wins over both. ``meter_provider``: where
    the cost counter goes (None: the global one). ``metric_user_attributes``: also put ``user.id``
    and ``session.id`` on the counter — opt-in, since every user becomes a new time series.
    ``use_genai_prices=False`` prices from overrides and the user table only.
    ``max_open_spans``: bound on spans started but not yet ended whose roll-ups are tracked; past it
    the oldest are forgotten, so spans that never end cannot grow memory without limit.
    """

    def __init__(
        self,
        *downstream: SpanProcessor | Iterable[SpanProcessor],
        prices: Any = None,
        meter_provider: Any = None,
        metric_user_attributes: bool = False,
        max_open_spans: int = DEFAULT_MAX_OPEN_SPANS,
        use_genai_prices: bool = True,
    ) -> None:
        self._downstream: tuple[SpanProcessor, ...] = tuple(_flatten(downstream))
        self._endings = ending_hooks(self._downstream)
        self._book = PriceBook(load_price_table(prices), use_library=use_genai_prices)
        self._user_attributes = metric_user_attributes
        self._max_open = max(1, max_open_spans)
        # span id -> sum of its ended children's subtree totals, oldest first (O(1) eviction).
        self._open: OrderedDict[int, UsageTotals] = OrderedDict()
        # span id -> the USD-per-token prices (input, output) in force inside an open span: its own
        # traceglass.price.* attributes at start, else its parent's, per direction. Usually empty.
        self._prices: dict[int, tuple[float | None, float | None]] = {}
        self._lock = threading.Lock()
        self._unknown_logged: set[tuple[str | None, str | None]] = set()
        self._shut = False
        _COUNTED.opened(+1)
        self._names = semconv.names()  # the cost keys in force (read once: the env is read per call)
        meter = otel_metrics.get_meter("traceglass", __version__, meter_provider=meter_provider)
        self._cost_counter = meter.create_counter(
            semconv.METRIC_COST, unit="USD", description="Cost of GenAI model calls, priced by traceglass"
        )

    @property
    def downstream(self) -> tuple[SpanProcessor, ...]:
        return self._downstream

    def add_downstream(self, processor: SpanProcessor) -> None:
        """Hand spans to one more processor (the ``opentelemetry-instrument`` configurator uses it)."""
        with self._lock:
            self._downstream = (*self._downstream, processor)
            self._endings = ending_hooks(self._downstream)
        forwarding_changed()

    # --- SpanProcessor ---------------------------------------------------------------------
    # The guard is spelled out (try/report) rather than ``with guard(...)``: a context manager
    # costs a microsecond, and these run for every span of the process.
    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start reads only the span's ``traceglass.price.*`` attributes, and hands the span to
        these (see ``_handler._span_start``, which gives a span with prices its attributes at once)."""
        return self._downstream

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            span_id = span.get_span_context().span_id
            with self._lock:
                self._open[span_id] = NOTHING
                if len(self._open) > self._max_open:
                    self._open.popitem(last=False)  # the oldest span that never ended
            self._start_prices(span, span_id)
        except Exception as exc:  # noqa: BLE001
            report("cost.on_start", exc)
        for processor in self._downstream:
            processor.on_start(span, parent_context=parent_context)

    def _start_prices(self, span: Any, span_id: int) -> None:
        """Carry a user's price (``@trace_llm(cost_per_1k_input=...)``) down to the spans inside.

        The call a priced function makes is often reported by an instrumented client inside it too;
        that span is the one priced (its usage counts under traceglass.rollup), so it takes the
        user's price, whichever instrumentation made it. Per direction, a span's own price wins."""
        attributes = frozen_attributes(span)
        own = attributes.get(semconv.PRICE_INPUT_PER_TOKEN), attributes.get(semconv.PRICE_OUTPUT_PER_TOKEN)
        prices = self._prices
        inherited = None
        if prices:
            parent = span.parent
            if parent is not None and not parent.is_remote:
                inherited = prices.get(parent.span_id)
        if inherited is None and own[0] is None and own[1] is None:
            return  # the common case: no price anywhere above
        own_in, own_out = price_overrides(attributes)
        if inherited is not None:
            own_in = own_in if own_in is not None else inherited[0]
            own_out = own_out if own_out is not None else inherited[1]
        if own_in is None and own_out is None:
            return
        with self._lock:
            prices[span_id] = (own_in, own_out)
            if len(prices) > self._max_open:
                del prices[next(iter(prices))]  # the oldest span that never ended

    def _on_ending(self, span: Any) -> None:
        for hook in self._endings:
            hook(span)

    def on_end(self, span: ReadableSpan) -> None:
        out: ReadableSpan = span
        try:
            attributes = frozen_attributes(span)
            extra = self._enrich(span, attributes)
            if extra:
                merged = dict(attributes)
                merged.update(extra)
                out = EnrichedSpan(span, merged)
        except Exception as exc:  # noqa: BLE001
            report("cost.on_end", exc)
        for processor in self._downstream:
            processor.on_end(out)

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        _COUNTED.opened(-1)
        for processor in self._downstream:
            processor.shutdown()
        with self._lock:
            self._open.clear()
            self._prices.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return flush_all(self._downstream, timeout_millis)

    # --- pricing and roll-ups --------------------------------------------------------------
    def _enrich(self, span: ReadableSpan, attributes: Any) -> dict[str, Any]:
        span_id = span.context.span_id
        with self._lock:
            below = self._open.pop(span_id, None)
            scope = self._prices.pop(span_id, None) if self._prices else None
        extra: dict[str, Any] = {}
        own: UsageTotals | None = None
        # A span's usage counts only when no span below reported usage (traceglass.rollup). Only
        # the span whose usage counts is priced: one span per model call carries its cost, so
        # summing the cost key over spans (as Langfuse does) counts each call once.
        usage = read_span_usage(attributes) if below is None or not below.calls else None
        if usage is not None and usage.counted:
            cost = self._price(usage, attributes, span.start_time, scope, extra)
            if cost is not None:
                _put_cost(extra, cost, self._names)
                if _COUNTED.live <= 1 or _COUNTED.first(span_id):  # once per span process-wide
                    self._count_cost(cost, attributes, usage)
            own = own_usage(usage.input_tokens, usage.output_tokens, cost.total_usd if cost else None)
        subtree = subtree_totals(own, (below,) if below is not None else ())
        if subtree.calls:
            extra[semconv.ROLLUP_INPUT_TOKENS] = subtree.input_tokens
            extra[semconv.ROLLUP_OUTPUT_TOKENS] = subtree.output_tokens
            extra[semconv.ROLLUP_TOTAL_TOKENS] = subtree.total_tokens
            if subtree.cost_usd is not None:
                extra[semconv.ROLLUP_COST] = round(subtree.cost_usd, _DIGITS)
            parent = span.parent
            if parent is not None and not parent.is_remote:
                with self._lock:
                    sum_below = self._open.get(parent.span_id)
                    if sum_below is not None:
                        self._open[parent.span_id] = sum_below + subtree
        return extra

    def _price(self, usage: SpanUsage, attributes: Any, start_time: int | None,
               scope: tuple[float | None, float | None] | None = None, extra: dict[str, Any] | None = None,
               ) -> Cost | None:
        override_in, override_out = price_overrides(attributes)
        if scope is not None:  # a price from a span above (or this span's own, given at start)
            if override_in is None and scope[0] is not None:
                override_in = scope[0]
                if extra is not None:  # the priced span shows the price it was priced at
                    extra[semconv.PRICE_INPUT_PER_TOKEN] = override_in
            if override_out is None and scope[1] is not None:
                override_out = scope[1]
                if extra is not None:
                    extra[semconv.PRICE_OUTPUT_PER_TOKEN] = override_out
        price: Price | None = None
        if override_in is not None and override_out is not None:
            price = Price(override_in, override_out, source=semconv.COST_SOURCE_SPAN)
        elif usage.model is not None:
            price = self._book.lookup(usage.provider, usage.model)
            if price is None and usage.request_model is not None and usage.request_model != usage.model:
                price = self._book.lookup(usage.provider, usage.request_model)
            if price is not None and (override_in is not None or override_out is not None):
                # One direction overridden on the span; the other from the table or the library.
                price = Price(
                    override_in if override_in is not None else price.input,
                    override_out if override_out is not None else price.output,
                    None if override_in is not None else price.cached_input,
                    None if override_in is not None else price.cache_write,
                    source=semconv.COST_SOURCE_SPAN,
                    library=price.library,  # a price the library gives per call: the other direction's
                )
        elif override_in is not None or override_out is not None:
            price = Price(override_in, override_out, source=semconv.COST_SOURCE_SPAN)
        cost = None
        if price is not None:
            read, write = usage.cache_counts()
            cost = compute_cost(
                price, usage.input_tokens or 0, usage.output_tokens or 0, read, write, when_ns=start_time,
            )
        if cost is None:
            self._log_unknown(usage)
        return cost

    def _log_unknown(self, usage: SpanUsage) -> None:
        key = (usage.provider, usage.model)
        if key not in self._unknown_logged and len(self._unknown_logged) < 1024:
            self._unknown_logged.add(key)
            logger.debug("traceglass: no price for model %r (provider %r); the span carries no cost",
                         usage.model, usage.provider)

    def _count_cost(self, cost: Cost, attributes: Any, usage: SpanUsage) -> None:
        metric_attributes: dict[str, Any] = {}
        operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
        if operation is not None:
            metric_attributes[semconv.GEN_AI_OPERATION_NAME] = operation
        # The models as the span-usage reader found them, in whichever dialect the span spoke (a span
        # with a model name but no request model, as OpenInference writes, counts under that name).
        request_model = usage.request_model or (usage.model if usage.response_model is None else None)
        if request_model is not None:
            metric_attributes[semconv.GEN_AI_REQUEST_MODEL] = request_model
        if usage.response_model is not None:
            metric_attributes[semconv.GEN_AI_RESPONSE_MODEL] = usage.response_model
        if usage.provider is not None:
            metric_attributes[semconv.GEN_AI_PROVIDER_NAME] = usage.provider
        if self._user_attributes:
            for key in _USER_KEYS:
                value = attributes.get(key)
                if value is not None:
                    metric_attributes[key] = value
        self._cost_counter.add(cost.total_usd, metric_attributes)


def _put_cost(extra: dict[str, Any], cost: Cost, names: semconv.LatestNames) -> None:
    extra[names.cost_total] = cost.total_usd
    if names.cost_currency is not None:
        extra[names.cost_currency] = semconv.COST_CURRENCY_USD
    if names.cost_source is not None:
        extra[names.cost_source] = semconv.COST_SOURCE_LOCAL
    extra[semconv.COST_INPUT] = cost.input_usd
    extra[semconv.COST_OUTPUT] = cost.output_usd
    extra[semconv.COST_CACHED_INPUT] = cost.cached_input_usd
    extra[semconv.COST_TOTAL] = cost.total_usd
    extra[semconv.COST_SOURCE] = cost.source


def _flatten(items: Iterable[Any]) -> Iterable[SpanProcessor]:
    for item in items:
        if isinstance(item, SpanProcessor):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            raise TypeError(f"CostSpanProcessor wraps SpanProcessors, got {item!r}")


__all__ = ["CostSpanProcessor"]
