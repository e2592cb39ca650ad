"""Under opentelemetry-instrument: the head sampler from TRACEGLASS_SAMPLING_TRACE_RATE, and per-exporter content
policies by their OTEL_TRACES_EXPORTER names (TRACEGLASS_EXPORTER_CONTENT)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from traceglass._config import Settings
from traceglass.distro import TraceglassConfigurator, _SharedCostPipeline
from traceglass.processors._hand_off import HandOffSpanProcessor
from traceglass.processors.cost import CostSpanProcessor
from traceglass.processors.sampling import ContentSamplingProcessor


def test_exporters_take_their_policy_by_entry_point_name():
    settings = Settings.from_env({"TRACEGLASS_EXPORTER_CONTENT": "console=none",
                                  "TRACEGLASS_SAMPLING_CONTENT_RATE": "0"})
    pipeline = _SharedCostPipeline(settings.prices, settings)
    console, memory = ConsoleSpanExporter(out=open("/dev/null", "w")), InMemorySpanExporter()  # noqa: SIM115
    first = pipeline(console)
    second = pipeline(memory)
    assert isinstance(first, HandOffSpanProcessor) and type(second).__name__ == "_NothingProcessor"
    (cost,) = first.downstream
    assert isinstance(cost, CostSpanProcessor)
    (sampling,) = cost.downstream
    assert isinstance(sampling, ContentSamplingProcessor)
    policies = [(policy, processor.span_exporter) for policy, processor in sampling._pairs]  # noqa: SLF001
    assert policies == [("none", console), ("sampled", memory)]
    provider = TracerProvider()
    provider.add_span_processor(first)
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("traceglass.input", "secret")
    provider.force_flush()
    assert [dict(s.attributes) for s in memory.get_finished_spans()] == [{"traceglass.content.sampled": False}]
    provider.shutdown()


def test_the_configurator_passes_our_head_sampler(monkeypatch):
    from traceglass import _runtime

    seen = {}
    monkeypatch.setattr("opentelemetry.sdk._configuration._OTelSDKConfigurator._configure",
                        lambda self, **kwargs: seen.update(kwargs))
    runtime = _runtime.Runtime.build(Settings.from_env({"TRACEGLASS_SAMPLING_TRACE_RATE": "0.25"}))
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    with _runtime.installed(runtime):
        TraceglassConfigurator()._configure()
        assert seen["sampler"].get_description().startswith("TraceglassRecording{ParentBased{root:TraceIdRatioBased{0.25}")
        seen.clear()
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")  # the standard variable wins
        TraceglassConfigurator()._configure()
        assert "sampler" not in seen
