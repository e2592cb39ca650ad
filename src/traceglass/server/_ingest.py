"""Store spans (and scores) received over OTLP: priced by the cost processor, written by the store's TraceWriter.

The received spans go through the same :class:`~traceglass.processors.cost.CostSpanProcessor`
an in-process pipeline uses, so a span from any SDK, in any language, is priced (and its subtree
rolled up) by the same rules, then written in one transaction per request, by the same
:class:`~traceglass.store.TraceWriter` the SQLite exporter writes through.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanContext

from traceglass import _config, _runtime
from traceglass._guard import report
from traceglass._scores import Score
from traceglass.store import TraceWriter

logger = logging.getLogger("traceglass")

# How long a request waits for a database another process keeps locked before it is answered 503
# (the client retries later): an HTTP client must not hang for the exporter's 30 s.
RETRY_FOR_S = 3.0


class _Collect(SpanProcessor):
    """The cost processor's downstream: keeps the (enriched) spans it is handed."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _depths(spans: Sequence[ReadableSpan]) -> dict[int, int]:
    """Depth of each span within the request (a parent sent in another request counts as a root)."""
    parents = {s.context.span_id: (s.parent.span_id if s.parent is not None else None) for s in spans}
    depths: dict[int, int] = {}
    for span_id in parents:
        chain, node = [], span_id
        while node in parents and node not in depths and node not in chain:
            chain.append(node)
            node = parents[node]
        base = depths.get(node, -1) if node in parents else -1
        for offset, item in enumerate(reversed(chain), start=1):
            depths[item] = base + offset
    return depths


class SpanIngest:
    """Price and write batches of SDK spans into the database at ``db_path``."""

    def __init__(self, db_path: str | os.PathLike[str] | None, *, prices: Any = None, price: bool = True,
                 _retry_for: float = RETRY_FOR_S) -> None:
        # A prices argument is parsed as configure()'s is (a bad one raises ValueError, before the
        # database is opened); else the settings in force, where a bad TRACEGLASS_PRICES was
        # already dropped with a warning.
        table = _config.Settings.from_env(only=(), prices=prices).prices if prices is not None else None
        if table is None and price:
            table = _runtime.current().settings.prices
        self.writer = TraceWriter(db_path, retry_for=_retry_for)
        self._failing = False  # one warning per streak of failed writes
        # Told the trace ids of each batch stored (the alert rules checked per trace); must not block.
        self.on_written: Callable[[list[str]], Any] | None = None
        self._collect = _Collect()
        self._cost: SpanProcessor | None = None
        if price:
            from traceglass.processors.cost import CostSpanProcessor

            self._cost = CostSpanProcessor(self._collect, prices=table)
        # One request at a time through the cost processor: it keeps per-span state between calls.
        self._lock = threading.Lock()

    def write(self, spans: Sequence[ReadableSpan]) -> bool:
        """Price ``spans`` and write them in one transaction; False when the database write failed."""
        with self._lock:
            batch = self._priced(spans) if self._cost is not None else list(spans)
        try:
            self.writer.write(batch)
        except TraceWriter.STORAGE_ERRORS as exc:  # locked past the retries, read-only, full, missing
            level = logging.DEBUG if self._failing else logging.WARNING
            self._failing = True
            logger.log(level, "traceglass: could not store %d received span(s) in %s (answered 503): %s",
                       len(batch), self.writer.path, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SpanIngest.write", exc)
            return False
        if self._failing:
            self._failing = False
            logger.info("traceglass: storing received spans in %s works again", self.writer.path)
        if self.on_written is not None:
            try:
                self.on_written(sorted({format(span.context.trace_id, "032x") for span in batch if span.context}))
            except Exception as exc:  # noqa: BLE001 - the spans are stored; a listener's bug is logged
                report("SpanIngest.on_written", exc)
        return True

    def write_scores(self, scores: Sequence[Score]) -> list[Score] | None:
        """Store ``scores`` in one transaction; the ones stored (a name's other data type is refused),
        or None when the database write failed."""
        try:
            return self.writer.write_scores(scores)
        except TraceWriter.STORAGE_ERRORS as exc:
            level = logging.DEBUG if self._failing else logging.WARNING
            self._failing = True
            logger.log(level, "traceglass: could not store %d received score(s) in %s (answered 503): %s",
                       len(scores), self.writer.path, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SpanIngest.write_scores", exc)
            return None

    def price(self, trace_id: str, span_id: str, attributes: Mapping[str, Any], start_ns: int) -> dict[str, Any]:
        """What the cost processor adds to one span with these ``attributes`` (cost, roll-up), as for any span."""
        if self._cost is None:
            return {}
        span = ReadableSpan(name="priced", context=SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False),
                            attributes=dict(attributes), start_time=start_ns, end_time=start_ns)
        with self._lock:
            [out] = self._priced([span])
        return {key: value for key, value in (out.attributes or {}).items() if attributes.get(key) != value}

    def _priced(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        cost = self._cost
        assert cost is not None
        self._collect.spans = []
        # Replay the batch as a live pipeline would see it: every span starts (parents first),
        # then they end children first, so each parent's roll-up includes its children's.
        for span in sorted(spans, key=lambda s: s.start_time or 0):
            cost.on_start(span)  # type: ignore[arg-type]
        depths = _depths(spans)
        for span in sorted(spans, key=lambda s: -depths.get(s.context.span_id, 0)):
            cost.on_end(span)
        out, self._collect.spans = self._collect.spans, []
        return out

    def shutdown(self) -> None:
        if self._cost is not None:
            self._cost.shutdown()
        self.writer.close()
