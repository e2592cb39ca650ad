"""A content sampling pipeline on a private tracer provider, with deterministic ids and in-memory exporters."""

from __future__ import annotations

import random
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from traceglass._sampling import Sampling
from traceglass.processors.sampling import ContentSamplingProcessor
from traceglass.testing import span_to_dict


class SeededIds(IdGenerator):
    """Random-looking ids from a fixed seed: the same run gives the same trace ids."""

    def __init__(self, seed: int = 17) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pipeline:
    """``ContentSamplingProcessor`` feeding one in-memory exporter per policy given."""

    def __init__(self, sampling: Sampling, policies: tuple[str, ...] = ("sampled",), *, seed: int = 17,
                 head_rate: float | None = None, timer: bool = False, extra: Any = ()) -> None:
        self.clock = FakeClock()
        self.exporters = {policy: InMemorySpanExporter() for policy in policies}
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.processor = ContentSamplingProcessor(
            sampling, [(policy, SimpleSpanProcessor(e)) for policy, e in self.exporters.items()],
            head_rate=head_rate, meter_provider=self.meter_provider, _clock=self.clock, _timer=timer)
        self.provider = TracerProvider(id_generator=SeededIds(seed))
        for processor in extra:
            self.provider.add_span_processor(processor)
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("test")

    def spans(self, policy: str = "sampled") -> list[dict[str, Any]]:
        return [span_to_dict(s) for s in self.exporters[policy].get_finished_spans()]

    def counters(self) -> dict[tuple, int]:
        """traceglass.sampling.traces points: (outcome, trigger, reason) -> count; spans stripped under ()."""
        out: dict[tuple, int] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:
                        if metric.name == "traceglass.sampling.traces":
                            a = point.attributes
                            out[(a["traceglass.sampling.outcome"], a["traceglass.sampling.trigger"],
                                 a["traceglass.sampling.reason"])] = point.value
                        elif metric.name == "traceglass.sampling.spans_stripped":
                            out[()] = point.value
        return out
