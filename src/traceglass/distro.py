"""``opentelemetry-instrument`` support: spans are priced and rolled up there too.

Under ``opentelemetry-instrument`` the SDK's configurator builds the pipeline from ``OTEL_*``
variables, and only a configurator or distro entry point can change it. ``TraceglassConfigurator``
is the SDK's own configurator with one change: every exporter named in ``OTEL_TRACES_EXPORTER`` is
fed through one :class:`~traceglass.processors.cost.CostSpanProcessor`, through the SDK's public
``export_span_processor`` hook. ``TraceglassDistro`` sets the upstream distro's defaults (OTLP)
when the user chose no trace exporter, and selects this configurator.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)
from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_PROTOCOL
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from traceglass import _runtime
from traceglass._sampling import CONTENT_SAMPLED, head_sampler
from traceglass.processors.session import SessionSpanProcessor

logger = logging.getLogger("traceglass")

CONFIGURATOR_NAME = "traceglass"  # our opentelemetry_configurator entry point


class TraceglassDistro(BaseDistro):
    """Our configurator, OTLP defaults only where the user sends traces over OTLP, and a warning
    when two OpenAI instrumentations trace the same calls."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "otlp")
        # Metrics and logs follow the traces: a user who chose only our store
        # (OTEL_TRACES_EXPORTER=traceglass_sqlite) has no collector, and an OTLP exporter would
        # print connection errors and hold the exit ~10 s retrying. Logs carry the scores
        # (traceglass.score()): they go to the store when the traces do. A variable the user set wins.
        traces = os.environ[OTEL_TRACES_EXPORTER]
        default = "otlp" if _names_otlp(traces) else "none"
        os.environ.setdefault(OTEL_METRICS_EXPORTER, default)
        store = _store_name(traces)  # scores go to the store under the name the user chose for it
        logs = [name for name, chosen in ((store, store is not None), ("otlp", default == "otlp")) if chosen]
        os.environ.setdefault(OTEL_LOGS_EXPORTER, ",".join(logs) or "none")
        os.environ.setdefault(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")
        # Another installed configurator (opentelemetry-distro's) would otherwise race ours.
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, CONFIGURATOR_NAME)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Load as the base distro does; then say once if two instrumentations patch openai."""
        super().load_instrumentor(entry_point, **kwargs)
        if entry_point.name in _OPENAI_ENTRY_POINTS:
            _warn_if_openai_traced_twice()


# Our OpenAI instrumentor's entry point, and the name the official, OpenLLMetry and OpenInference
# ones share. Whichever loads second (entry-point order is not defined) finds the other active.
_OPENAI_ENTRY_POINTS = ("traceglass_openai", "openai")


def _names_otlp(exporters: str) -> bool:
    return any(name.strip().lower().startswith("otlp") for name in exporters.split(","))


# The store exporter's entry-point names: traceglass_store (a SQLite file or a PostgreSQL URL) and
# its first name, traceglass_sqlite.
_STORE_NAMES = ("traceglass_store", "traceglass_sqlite")


def _store_name(exporters: str) -> str | None:
    return next((name.strip().lower() for name in exporters.split(",") if name.strip().lower() in _STORE_NAMES),
                None)


def _warn_if_openai_traced_twice() -> None:
    if "traceglass.instrumentors.openai" not in sys.modules:
        return  # ours was not loaded (disabled, or openai is not installed)
    from traceglass.instrumentors.openai import _instrumentor

    ours = _instrumentor.OpenAIInstrumentor()
    if not ours.is_instrumented_by_opentelemetry:
        return
    others = _instrumentor._other_instrumentors()  # noqa: SLF001
    # The instrumentor's own once-only warning (the runtime remembers which were given).
    if others and _runtime.current().first_time(_instrumentor.PEERS_WARNING):
        logger.warning(
            "traceglass: another OpenAI instrumentation is active (%s); each call makes two spans. "
            "Disable one of them: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai (the other's) or "
            "=traceglass_openai (ours).", ", ".join(others),
        )


class TraceglassConfigurator(_OTelSDKConfigurator):
    """The SDK configurator, with sessions on every span and every exporter behind the cost processor.

    ``TRACEGLASS_COST=false`` turns pricing off; ``TRACEGLASS_PRICES`` gives the user price table.
    Relies on ``_OTelSDKConfigurator`` (private, but meant to be subclassed by distros) and its
    ``export_span_processor``/``span_processors`` arguments (opentelemetry-sdk >= 1.39).
    """

    def _configure(self, **kwargs: Any) -> None:
        kwargs.setdefault("span_processors", [SessionSpanProcessor()])
        # The runtime's settings: read from the environment once, shared with the handler.
        settings = _runtime.current().settings
        sampling = settings.sampling
        if sampling.trace_rate < 1.0 and not os.environ.get("OTEL_TRACES_SAMPLER", "").strip():
            # TRACEGLASS_SAMPLING_TRACE_RATE, when OTEL_TRACES_SAMPLER (which wins) is not set.
            kwargs.setdefault("sampler", head_sampler(sampling.trace_rate))
        policies = settings.exporter_content or {}
        if settings.cost or sampling.samples_content or any(p != CONTENT_SAMPLED for p in policies.values()):
            kwargs.setdefault("export_span_processor", _SharedCostPipeline(settings.prices, settings))
        super()._configure(**kwargs)


class _SharedCostPipeline:
    """Called once per exporter by the SDK; puts all of them behind ONE cost processor.

    One processor, so each span is priced once and the cost counter counts each call once, however
    many exporters there are. The first call returns it; later calls add their batch processor to
    it and return a processor that does nothing.
    """

    def __init__(self, prices: Any, settings: Any = None) -> None:
        self._prices = prices  # a validated table (a bad TRACEGLASS_PRICES was dropped, with a warning)
        self._settings = settings
        self._cost: Any = None
        self._sampling: Any = None

    def __call__(self, exporter: SpanExporter) -> SpanProcessor:
        batch: SpanProcessor = BatchSpanProcessor(exporter)
        settings = self._settings
        first = self._cost is None and self._sampling is None
        if settings is not None and (settings.sampling.samples_content or settings.exporter_content):
            # Content sampling behind the cost processor (roll-ups see whole spans), in front of the batches.
            from traceglass.processors.sampling import ContentSamplingProcessor

            policy = _content_policy(exporter, settings.exporter_content or {})
            if self._sampling is None:
                self._sampling = ContentSamplingProcessor(settings.sampling, ())
            self._sampling.add_downstream(policy, batch)
            if not first:
                return _NothingProcessor()
            batch = self._sampling
        elif not first:
            self._cost.add_downstream(batch)
            return _NothingProcessor()
        if settings is not None and not settings.cost:
            return batch
        from traceglass.processors._hand_off import HandOffSpanProcessor
        from traceglass.processors.cost import CostSpanProcessor

        self._cost = CostSpanProcessor(batch, prices=self._prices)
        return HandOffSpanProcessor([self._cost])  # pricing and the batch queues off the traced call, as configure()


def _content_policy(exporter: SpanExporter, policies: dict[str, str]) -> str:
    """The TRACEGLASS_EXPORTER_CONTENT policy of the OTEL_TRACES_EXPORTER name this exporter came from."""
    from opentelemetry.util._importlib_metadata import entry_points

    for name, policy in policies.items():
        for point in entry_points(group="opentelemetry_traces_exporter", name=name):
            try:
                if point.load() is type(exporter):
                    return policy
            except Exception:  # noqa: BLE001 - an entry point that fails to load names no exporter of ours
                continue
    return CONTENT_SAMPLED


class _NothingProcessor(SpanProcessor):
    """Stands in for the exporters after the first: the SDK base class does nothing by default."""

    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        return ()


__all__ = ["TraceglassConfigurator", "TraceglassDistro"]
