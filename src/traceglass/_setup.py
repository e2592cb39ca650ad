"""``configure()``: tracer, meter and logger providers, exporters, processors and instrumentors in one call."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from traceglass import _config, _runtime, instrumentors, semconv
from traceglass._handler import TelemetryHandler
from traceglass._sampling import CONTENT_SAMPLED, Exporter, Sampling, head_sampler
from traceglass.exporters import _named
from traceglass.processors._batch import BatchSpanProcessor
from traceglass.processors._fanout import FanOutSpanProcessor, remaining_millis
from traceglass.processors._hand_off import HandOffSpanProcessor
from traceglass.processors.session import SessionSpanProcessor

if TYPE_CHECKING:  # the metrics SDK (~50 ms to import) loads only when configure() sets up metrics
    from opentelemetry.sdk.metrics.export import MetricReader

logger = logging.getLogger("traceglass")

DEFAULT_EXPORTERS = ("sqlite",)
_MAX_QUEUE_SIZE = 65536
# Scores waiting for export (the SDK's default is 2,048): a burst of feedback or online metrics must not
# overflow it (the SDK drops with a warning then); a score record is about 1 KB.
_MAX_SCORE_QUEUE = 16384


@dataclass
class Telemetry:
    """What ``configure()`` set up; ``flush()`` and ``shutdown()`` never raise."""

    settings: _config.Settings
    tracer_provider: TracerProvider
    meter_provider: Any
    exporters: list[SpanExporter] = field(default_factory=list)
    instrumented: list[str] = field(default_factory=list)

    def flush(self, timeout_millis: int = 30000) -> bool:
        return flush(timeout_millis)

    def shutdown(self, timeout_millis: int = 30000) -> None:
        shutdown(timeout_millis)


@dataclass(eq=False)
class Pipeline:
    """What ``configure()`` attached to the OpenTelemetry SDK, shared by every runtime built on it.

    It outlives each ``configure()``: a tracer provider cannot drop a span processor (so the
    fan-out stays, and each configure() swaps what is behind it), OpenTelemetry lets a process set
    the global meter provider once, and the instrumentors' patches are process-wide.
    """

    tracer_provider: TracerProvider | None = None
    own_tracer_provider: TracerProvider | None = None  # set when configure() made it
    meter_provider: Any = None  # the meter provider configure() made, until shutdown()
    global_meter_provider: Any = None  # the one configure() made the global (can be set only once)
    # The trace_rate of the head sampler configure() gave the tracer provider it made (None: none given;
    # a provider's sampler cannot be changed, so a later configure() filters instead: _head_filter).
    head_rate: float | None = None
    fanout: FanOutSpanProcessor | None = None
    # Where traceglass.score() emits: the application's logger provider or ours (made once, kept
    # like the fan-out), and the log-record fan-out in it whose batch processors each configure() swaps.
    logger_provider: Any = None
    own_logger_provider: Any = None  # set when configure() made it
    log_fanout: Any = None  # processors._log_fanout.FanOutLogRecordProcessor
    telemetry: Telemetry | None = None
    # Instrumentors configure() turned on, with the providers and settings it gave them.
    instrumented: dict[str, tuple[Any, Any, Any, _config.Settings]] = field(default_factory=dict)


# configure() and shutdown() one at a time (a global: it must exist before any pipeline does).
_LOCK = threading.Lock()


def configure(
    *,
    service_name: str | None = None,
    exporters: Sequence[str | SpanExporter | Exporter] | None = None,
    db_path: str | None = None,
    db_max_age: Any = None,
    db_max_size: Any = None,
    db_separate_process: bool | None = None,
    instrument: Sequence[str] | None = None,
    prices: Any = None,
    cost: bool | None = None,
    metrics_enabled: bool | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
    flush_at: int | None = None,
    flush_interval: float | None = None,
    max_queue_bytes: int | str | None = None,
    capture_content: Any = None,
    max_content_length: int | None = None,
    mask: Callable[[Any], Any] | None = None,
    openai_stream_usage: bool | None = None,
    tracer_provider: TracerProvider | None = None,
    sampling: Sampling | None = None,
) -> Telemetry:
    """Set up tracing, metrics, cost and auto-instrumentation in one call.

    Every option not given is read from its ``TRACEGLASS_*`` variable (README lists them).
    ``exporters`` mixes names (``"sqlite"`` — the default, ``"otlp"``, ``"console"``) and
    ``SpanExporter`` instances; ``db_max_age`` ("30d") and ``db_max_size`` ("2GB") bound the
    SQLite store; ``db_separate_process=True`` writes it from a child process, off the app's GIL
    (docs/store.md). ``instrument=None`` turns on every instrumentor whose library is
    installed; ``[]`` turns none on. If the application already set an SDK tracer provider,
    traceglass attaches to it instead of replacing it. Calling ``configure`` again replaces the
    previous pipeline; it never duplicates processors, nor loses or repeats a span ending meanwhile.
    ``max_queue_bytes`` (bytes or "64MB") bounds the spans waiting for export, besides their count.
    ``openai_stream_usage=False``
    stops asking OpenAI streams for their token usage (docs/openai.md).
    ``sampling=traceglass.Sampling(...)`` samples traces and their content (docs/sampling.md); an
    exporter wrapped in ``traceglass.Exporter(name_or_exporter, content="all"|"sampled"|"none")``
    gets that content policy.
    """
    if isinstance(exporters, (str, bytes)):
        raise ValueError(f"exporters must be a list, got the string {exporters!r}")
    policies: dict[Any, str] = {}  # a name or an instance -> its content policy, when an Exporter said
    unwrapped: list[Any] = []
    for entry in exporters or ():
        if isinstance(entry, Exporter):
            key = entry.exporter.strip().lower() if isinstance(entry.exporter, str) else entry.exporter
            policies[key if isinstance(key, str) else id(key)] = entry.content
            entry = entry.exporter
        unwrapped.append(entry)
    names = [e for e in unwrapped if isinstance(e, str)] if exporters is not None else None
    instances = [e for e in unwrapped if not isinstance(e, str)] if exporters is not None else []
    for instance in instances:
        if not isinstance(instance, SpanExporter):
            raise ValueError(f"exporters must hold names, SpanExporter instances or traceglass.Exporter, "
                             f"got {instance!r}")
    settings = _config.Settings.from_env(
        service_name=service_name,
        exporters=names,
        db_path=db_path,
        db_max_age=db_max_age,
        db_max_size=db_max_size,
        db_separate_process=db_separate_process,
        instrument=instrument,
        prices=prices,
        cost=cost,
        metrics=metrics_enabled,
        flush_at=flush_at,
        flush_interval=flush_interval,
        max_queue_bytes=max_queue_bytes,
        capture_content=capture_content,
        max_content_length=max_content_length,
        mask=mask,
        openai_stream_usage=openai_stream_usage,
        sampling=sampling,
    )
    # Every bad argument has raised by now (Settings parsed them all), before any provider is touched.
    instrument_names = _instrument_names(settings.instrument)
    for name in names or ():
        if name.strip().lower() not in _named.KNOWN:
            raise ValueError(f"unknown exporter {name!r}; use one of {list(_named.KNOWN)} or a SpanExporter instance")
    with _LOCK:
        previous = _runtime.peek()
        pipeline = previous.pipeline if previous is not None and previous.pipeline is not None else Pipeline()
        provider = _tracer_provider(pipeline, settings, tracer_provider)
        if pipeline.tracer_provider is None:
            pipeline.tracer_provider = provider  # the resource of a meter provider made below
        meter_provider = _meter_provider(pipeline, settings, names or [], metric_readers)
        named = _named_exporters(settings, names, exporters is not None)
        span_exporters = [exporter for _, exporter in named] + instances
        content = [_content_policy(settings, policies, name) for name, _ in named]
        content += [policies.get(id(instance), CONTENT_SAMPLED) for instance in instances]
        downstream = [
            BatchSpanProcessor(
                exporter,
                max_export_batch_size=settings.flush_at,
                schedule_delay_millis=settings.flush_interval * 1000,
                max_queue_size=max(_MAX_QUEUE_SIZE, settings.flush_at * 4),
                max_queue_bytes=settings.max_queue_bytes,
                meter_provider=meter_provider,
            )
            for exporter in span_exporters
        ]
        # Pricing, roll-ups and the export queue run on a thread of their own, off the traced calls.
        processors = [HandOffSpanProcessor(_processors(settings, list(zip(content, downstream)), meter_provider,
                                                       _head_filter(pipeline, settings, provider)))]
        if pipeline.fanout is None or pipeline.tracer_provider is not provider:
            pipeline.fanout = FanOutSpanProcessor()
            provider.add_span_processor(SessionSpanProcessor())
            provider.add_span_processor(pipeline.fanout)
            pipeline.tracer_provider = provider
        for old in pipeline.fanout.replace(processors):  # returns once no span is being handed to them
            _shutdown_quietly(old)
        _install_log_processors(pipeline, _named_log_exporters(settings, names, exporters is not None))
        handler = TelemetryHandler(tracer_provider=provider, meter_provider=meter_provider, settings=settings)
        # Installed before instrumenting: instrumentors take their handlers' settings from it.
        _runtime.install(_runtime.Runtime(settings, handler, pipeline,
                                          previous.reported if previous is not None else set(),
                                          logger_provider=pipeline.logger_provider))
        done = _instrument(pipeline, instrument_names, provider, meter_provider, settings)
        pipeline.telemetry = Telemetry(settings, provider, meter_provider, span_exporters, done)
        return pipeline.telemetry


def _processors(settings: _config.Settings, destinations: list[tuple[str, SpanProcessor]], meter_provider: Any,
                head_rate: float | None = None) -> list[SpanProcessor]:
    """The processors behind the fan-out: the cost processor wraps the content sampling processor (so
    roll-ups and the cost counter see whole spans), which wraps the export processors."""
    downstream = [processor for _, processor in destinations]
    sampling = settings.sampling
    if head_rate is not None or sampling.samples_content or any(p != CONTENT_SAMPLED for p, _ in destinations):
        from traceglass.processors.sampling import ContentSamplingProcessor

        downstream = [ContentSamplingProcessor(sampling, destinations, head_rate=head_rate,
                                               meter_provider=meter_provider)]
    if not settings.cost:
        return downstream
    from traceglass.processors.cost import CostSpanProcessor

    # settings.prices is a validated table (or None); meter_provider=None: the global one.
    return [CostSpanProcessor(downstream, prices=settings.prices, meter_provider=meter_provider)]


def _pipeline() -> Pipeline | None:
    """What configure() set up (None: it was never called); builds no default runtime."""
    runtime = _runtime.peek()
    return runtime.pipeline if runtime is not None else None


def _tracer_provider(pipeline: Pipeline, settings: _config.Settings, explicit: TracerProvider | None) -> TracerProvider:
    if explicit is not None:
        return explicit
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # the application's (or opentelemetry-instrument's): attach to it
    if pipeline.tracer_provider is not None:
        return pipeline.tracer_provider
    attributes = {semconv.SERVICE_NAME: settings.service_name} if settings.service_name else {}
    rate = settings.sampling.trace_rate
    if rate < 1.0 and not _otel_sampler_set():
        pipeline.head_rate = rate
        provider = TracerProvider(resource=Resource.create(attributes), sampler=head_sampler(rate))
    else:  # the SDK's default, or OTEL_TRACES_SAMPLER(_ARG), which the SDK reads and which wins
        provider = TracerProvider(resource=Resource.create(attributes))
    trace.set_tracer_provider(provider)
    pipeline.own_tracer_provider = provider
    return provider


def _otel_sampler_set() -> bool:
    # The SDK reads OTEL_TRACES_SAMPLER itself; we only look whether it is there, so that it wins.
    return bool(os.environ.get("OTEL_TRACES_SAMPLER", "").strip())


def _head_filter(pipeline: Pipeline, settings: _config.Settings, provider: TracerProvider) -> float | None:
    """The trace_rate our own processors apply, when the tracer provider's sampler does not.

    A tracer provider's sampler cannot be changed: on the application's provider (or ours, made by an
    earlier configure() with another rate) our exporters receive the traces whose id falls under the
    rate (TraceIdRatioBased's test, by id only), and the provider's sampler still decides what is
    recorded. OTEL_TRACES_SAMPLER, when set, wins: no filter.
    """
    rate = settings.sampling.trace_rate
    if provider is pipeline.own_tracer_provider and pipeline.head_rate == (rate if rate < 1.0 else None):
        return None  # its sampler is this rate's
    if rate >= 1.0 and (provider is not pipeline.own_tracer_provider or pipeline.head_rate is None):
        return None
    if _otel_sampler_set():
        return None
    if rate >= 1.0:
        logger.warning("traceglass: trace_rate=1.0 cannot undo the head sampler (trace_rate=%s) an earlier "
                       "configure() gave the tracer provider", pipeline.head_rate)
        return None
    logger.warning("traceglass: the tracer provider's sampler cannot be changed; traceglass's exporters "
                   "receive the traces whose id falls under trace_rate=%s (docs/sampling.md)", rate)
    return rate


def _content_policy(settings: _config.Settings, policies: dict[Any, str], name: str) -> str:
    """A named exporter's content policy: its Exporter's, else TRACEGLASS_EXPORTER_CONTENT's, else sampled."""
    key = name.strip().lower()
    if key in policies:
        return policies[key]
    return (settings.exporter_content or {}).get(key, CONTENT_SAMPLED)


def _chosen_names(settings: _config.Settings, names: list[str] | None, given: bool) -> list[str]:
    """The destinations by name: configure()'s argument when given, else TRACEGLASS_EXPORTERS, else the default."""
    chosen = names if given else (list(settings.exporters) if settings.exporters is not None else None)
    return list(DEFAULT_EXPORTERS) if chosen is None else chosen


def _named_exporters(settings: _config.Settings, names: list[str] | None, given: bool) -> list[tuple[str, SpanExporter]]:
    chosen = _chosen_names(settings, names, given)
    out = []
    for name in dict.fromkeys(chosen):
        try:
            exporter = _named.span_exporter(name, db_path=settings.db_path, db_max_age=settings.db_max_age,
                                            db_max_size=settings.db_max_size,
                                            db_separate_process=settings.db_separate_process)
        except ValueError as exc:  # an unknown name (the settings' values are already valid)
            if given:
                raise  # a developer's bad argument
            logger.warning("traceglass: ignoring exporter %r: %s", name, exc)  # from the environment
            continue
        if exporter is not None:
            out.append((name, exporter))
    return out


def _named_log_exporters(settings: _config.Settings, names: list[str] | None, given: bool) -> list[Any]:
    """Where scores go: the log exporter of each named destination that has one (sqlite, otlp, console)."""
    chosen = _chosen_names(settings, names, given)
    # Unknown names from the environment were warned about (and skipped) with the span exporters.
    known = [name for name in dict.fromkeys(chosen) if name.strip().lower() in _named.KNOWN]
    return [e for e in (_named.log_exporter(name, db_path=settings.db_path) for name in known) if e is not None]


def _install_log_processors(pipeline: Pipeline, exporters: list[Any]) -> None:
    """A batch processor per log exporter behind the log fan-out; the old ones flushed and stopped."""
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from traceglass.processors._log_fanout import FanOutLogRecordProcessor

    provider = _logger_provider(pipeline)
    if pipeline.log_fanout is None or pipeline.logger_provider is not provider:
        pipeline.log_fanout = FanOutLogRecordProcessor()
        provider.add_log_record_processor(pipeline.log_fanout)
        pipeline.logger_provider = provider
    deadline = time.monotonic() + 30
    processors = [BatchLogRecordProcessor(exporter, max_queue_size=_MAX_SCORE_QUEUE) for exporter in exporters]
    for old in pipeline.log_fanout.replace(processors):
        _bounded(_stopper(old), deadline)


def _logger_provider(pipeline: Pipeline) -> Any:
    from opentelemetry import _logs
    from opentelemetry._logs._internal import (
        ProxyLoggerProvider,  # the API's stand-in until one is set
    )
    from opentelemetry.sdk._logs import LoggerProvider

    current = _logs.get_logger_provider()
    if isinstance(current, LoggerProvider):
        return current  # the application's (or opentelemetry-instrument's, or an earlier configure()'s)
    if pipeline.logger_provider is not None:
        return pipeline.logger_provider
    resource = pipeline.tracer_provider.resource if pipeline.tracer_provider is not None else Resource.create()
    provider = LoggerProvider(resource=resource)
    if isinstance(current, ProxyLoggerProvider):  # none set yet (a no-op one set by someone cannot be replaced)
        _logs.set_logger_provider(provider)  # so other libraries' log events reach the same destinations
    pipeline.own_logger_provider = provider
    return provider


def _stopper(processor: Any) -> Callable[..., None]:
    """``processor.shutdown`` in the shape ``_bounded`` calls (the logs SDK's takes no timeout)."""

    def stop(timeout_millis: int) -> None:
        processor.shutdown()

    stop.__qualname__ = f"shutdown of {type(processor).__name__}"
    return stop


def _meter_provider(pipeline: Pipeline, settings: _config.Settings, names: list[str],
                    readers: Sequence[MetricReader] | None) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    current = metrics.get_meter_provider()
    if isinstance(current, MeterProvider) and current is not pipeline.global_meter_provider:
        return current  # the application's (or opentelemetry-instrument's)
    if pipeline.meter_provider is not None:
        if readers and not set(readers) <= set(pipeline.meter_provider._all_metric_readers):  # noqa: SLF001
            logger.warning("traceglass: metric_readers ignored: configure() already set up a meter provider; "
                           "call traceglass.shutdown() first to start a new one")
        return pipeline.meter_provider
    if not settings.metrics:
        return None
    chosen = names or list(settings.exporters or ())
    all_readers = list(readers or ())
    for name in dict.fromkeys(chosen):
        exporter = _named.metric_exporter(name)
        if exporter is not None:
            all_readers.append(PeriodicExportingMetricReader(exporter))
    if not all_readers:
        return None
    provider = MeterProvider(metric_readers=all_readers, resource=pipeline.tracer_provider.resource
                             if pipeline.tracer_provider is not None else Resource.create())
    if pipeline.global_meter_provider is None:
        metrics.set_meter_provider(provider)
        pipeline.global_meter_provider = provider
    # else: the global one, set by an earlier configure(), was shut down and cannot be replaced;
    # this one is handed explicitly to our handler, cost processor and instrumentors instead.
    pipeline.meter_provider = provider
    return provider


def _instrument_names(requested: tuple[str, ...] | None) -> list[str]:
    if requested is None:
        return instrumentors.available()
    unknown = [name for name in requested if name not in instrumentors.INSTRUMENTORS]
    if unknown:
        raise ValueError(f"unknown instrumentor(s) {unknown}; known: {sorted(instrumentors.INSTRUMENTORS)}")
    return list(dict.fromkeys(requested))


def _instrument(pipeline: Pipeline, names: list[str], tracer_provider: TracerProvider, meter_provider: Any,
                settings: _config.Settings) -> list[str]:
    done = []
    for name in names:
        spec = instrumentors.INSTRUMENTORS[name]
        if not spec.library_installed():
            logger.warning("traceglass: not instrumenting %s: %s is not installed", name, spec.library)
            continue
        try:
            instrumentor = spec.load()()
            ours = pipeline.instrumented.get(name)
            if ours is not None and instrumentor.is_instrumented_by_opentelemetry and (
                    ours[1] is not tracer_provider or ours[2] is not meter_provider or ours[3] != settings):
                # Ours, with providers since replaced (e.g. after shutdown()) or other settings: its
                # handler holds the old ones, so it is instrumented anew.
                instrumentor.uninstrument()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
                pipeline.instrumented[name] = (instrumentor, tracer_provider, meter_provider, settings)
            done.append(name)
        except Exception:  # noqa: BLE001 - one instrumentor failing must not stop the others
            logger.warning("traceglass: could not instrument %s", name, exc_info=True)
    return done


def _shutdown_quietly(processor: SpanProcessor, timeout_millis: int = 30000) -> None:
    """Shut ``processor`` down; our batch processors in it (behind the cost processor too) within the timeout."""
    deadline = time.monotonic() + timeout_millis / 1000
    try:
        drain = getattr(processor, "drain", None)
        if drain is not None:  # spans still being handed to the processors behind it go first
            drain(remaining_millis(deadline))
        _decide_pending(processor)  # spans waiting for their trace's content decision go to the batches first
        for batch in _batch_processors(processor):
            batch.shutdown(remaining_millis(deadline))
        if drain is not None:  # the hand-off waits for its thread: within what is left
            processor.shutdown(timeout_millis=remaining_millis(deadline))
        else:
            processor.shutdown()  # our batch processors in it are already down: this returns at once
    except Exception:  # noqa: BLE001
        logger.debug("traceglass: error shutting down a replaced processor", exc_info=True)


def _decide_pending(processor: SpanProcessor) -> None:
    decide = getattr(processor, "decide_pending", None)
    if decide is not None:
        decide()
    for inner in getattr(processor, "downstream", ()):
        _decide_pending(inner)


def _batch_processors(processor: SpanProcessor) -> list[BatchSpanProcessor]:
    if isinstance(processor, BatchSpanProcessor):
        return [processor]
    return [b for inner in getattr(processor, "downstream", ()) for b in _batch_processors(inner)]


def _bounded(call: Callable[..., Any], deadline: float) -> Any:
    """``call(timeout_millis=...)`` on a helper thread, waited for until ``deadline``; None if late.

    The SDK's metric readers do not keep to the timeout they are given (an OTLP exporter retrying
    a dead collector takes ~10 s), and flush()/shutdown() must return on time.
    """
    remaining = remaining_millis(deadline)
    if remaining <= 0:
        return None
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call(timeout_millis=remaining))
        except Exception:  # noqa: BLE001
            logger.warning("traceglass: %s failed", getattr(call, "__qualname__", call), exc_info=True)

    helper = threading.Thread(target=run, name="traceglass-bounded", daemon=True)
    helper.start()
    helper.join(remaining / 1000)
    return result[0] if result else None


def flush(timeout_millis: int = 30000) -> bool:
    """Export everything pending now, waiting at most ``timeout_millis``.

    True only when every span ended before the call was delivered (and none was dropped since
    the previous flush) and the metrics were exported; False when something was not, or the time
    ran out. Never raises. Without ``configure()``, flushes the global tracer provider.
    """
    deadline = time.monotonic() + max(0, timeout_millis) / 1000
    ok = True
    try:
        pipeline = _pipeline() or Pipeline()  # unconfigured: the global provider alone
        if pipeline.fanout is not None:
            ok = bool(pipeline.fanout.force_flush(timeout_millis))  # our pipeline: bounded and truthful
        provider = pipeline.tracer_provider or trace.get_tracer_provider()
        if provider is not pipeline.own_tracer_provider and hasattr(provider, "force_flush"):
            # The application's (or opentelemetry-instrument's) processors too, within the same time.
            ok = _bounded(provider.force_flush, deadline) is True and ok
        meter_provider = pipeline.meter_provider
        if meter_provider is not None:
            ok = _bounded(meter_provider.force_flush, deadline) is True and ok
        ok = _flush_logs(pipeline, deadline) and ok
    except Exception:  # noqa: BLE001
        logger.warning("traceglass: flush failed", exc_info=True)
        return False
    return ok


def _flush_logs(pipeline: Pipeline, deadline: float) -> bool:
    """Scores pending in our log processors, and in the application's (or opentelemetry-instrument's) provider."""
    from opentelemetry import _logs

    ok = True
    if pipeline.log_fanout is not None:
        ok = _bounded(pipeline.log_fanout.force_flush, deadline) is True
    provider = pipeline.logger_provider or _logs.get_logger_provider()
    if provider is not pipeline.own_logger_provider and hasattr(provider, "force_flush"):
        ok = _bounded(provider.force_flush, deadline) is True and ok
    return ok


def shutdown(timeout_millis: int = 30000) -> None:
    """Flush and stop what ``configure()`` set up, within ``timeout_millis``. Never raises; safe to call twice.

    ``configure()`` may be called again afterwards: it sets up new exporters and a new meter provider.
    """
    deadline = time.monotonic() + max(0, timeout_millis) / 1000
    try:
        pipeline = _pipeline()
        if pipeline is None:
            return  # configure() was never called
        fanout = pipeline.fanout
        if fanout is not None:
            for processor in fanout.replace(()):
                _shutdown_quietly(processor, remaining_millis(deadline))
        if pipeline.meter_provider is not None:
            meter_provider, pipeline.meter_provider = pipeline.meter_provider, None
            _bounded(meter_provider.shutdown, deadline)
        if pipeline.log_fanout is not None:
            for processor in pipeline.log_fanout.replace(()):  # the provider and its fan-out stay, like the tracer's
                _bounded(_stopper(processor), deadline)
    except Exception:  # noqa: BLE001
        logger.warning("traceglass: shutdown failed", exc_info=True)
