"""configure(sampling=...): head sampling by trace id, parent-based, OTEL_TRACES_SAMPLER winning, per-exporter
content policies, the TRACEGLASS_SAMPLING_* variables. Each runs in a subprocess: configure() sets globals."""

from __future__ import annotations

import json
import logging

import pytest

from traceglass import Exporter, Sampling
from traceglass._config import Settings

from tests.core.test_configure import console_spans, run

PRELUDE = """
import json
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
import traceglass
from traceglass import Exporter, LlmAttributes, Sampling, trace_llm, update_current_span_attributes

PRICES = {"m": {"input_per_1k": 1.0, "output_per_1k": 1.0}}

@trace_llm(name="llm", model="m")
def llm():
    update_current_span_attributes(LlmAttributes(input="q", output="a", input_token_count=1000, output_token_count=0))

def metric_sums(reader):
    data = reader.get_metrics_data()
    return {m.name: sum(getattr(p, "sum", getattr(p, "value", 0)) for p in m.data.data_points)
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name in ("gen_ai.client.token.usage", "traceglass.gen_ai.client.cost")}
"""


def _last(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_trace_rate_zero_exports_nothing_and_metrics_stay_exact():
    outcome = _last(run(PRELUDE + """
exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
traceglass.configure(exporters=[exporter], instrument=[], prices=PRICES, metric_readers=[reader],
                     sampling=Sampling(trace_rate=0.0))
for _ in range(20):
    llm()
assert traceglass.flush() is True
print(json.dumps([len(exporter.get_finished_spans()), metric_sums(reader)]))
"""))
    assert outcome == [0, {"gen_ai.client.token.usage": 20000, "traceglass.gen_ai.client.cost": 20.0}]


def test_trace_rate_is_the_sdks_trace_id_ratio_and_children_follow_their_parent():
    outcome = _last(run(PRELUDE + """
exporter = InMemorySpanExporter()
traceglass.configure(exporters=[exporter], instrument=[], sampling=Sampling(trace_rate=0.3))
tracer = trace.get_tracer("t")
started = []
for _ in range(2000):
    with tracer.start_as_current_span("root") as root:
        started.append(root.get_span_context().trace_id)
        with tracer.start_as_current_span("child"):
            pass
# a sampled remote parent is followed even where the ratio says no; an unsampled one is too
bound = TraceIdRatioBased.get_bound_for_rate(0.3)
above = next(t for t in started if t & TraceIdRatioBased.TRACE_ID_LIMIT >= bound)
for flags in (TraceFlags.SAMPLED, TraceFlags.DEFAULT):
    remote = trace.set_span_in_context(NonRecordingSpan(SpanContext(above + 1 if flags else above + 2, 7, True,
                                                                    TraceFlags(flags))))
    with tracer.start_as_current_span("server", context=remote):
        pass
assert traceglass.flush() is True
spans = exporter.get_finished_spans()
want = {t for t in started if t & TraceIdRatioBased.TRACE_ID_LIMIT < bound}
got = {s.context.trace_id for s in spans if s.name != "server"}
print(json.dumps([got == want, len(want), sorted(s.name for s in spans if s.name == "server"),
                  sum(1 for s in spans if s.name == "child") == len(want)]))
"""))
    assert outcome[0] is True and outcome[3] is True
    assert 500 < outcome[1] < 700
    assert outcome[2] == ["server"]


def test_otel_traces_sampler_wins_over_trace_rate():
    outcome = _last(run(PRELUDE + """
exporter = InMemorySpanExporter()
traceglass.configure(exporters=[exporter], instrument=[], sampling=Sampling(trace_rate=0.0))
for _ in range(5):
    llm()
assert traceglass.flush() is True
print(json.dumps(len(exporter.get_finished_spans())))
""", OTEL_TRACES_SAMPLER="always_on"))
    assert outcome == 5


def test_the_variables_reach_configure():
    outcome = _last(run(PRELUDE + """
exporter = InMemorySpanExporter()
telemetry = traceglass.configure(exporters=[exporter], instrument=[])
for _ in range(3):
    llm()
assert traceglass.flush() is True
print(json.dumps([len(exporter.get_finished_spans()), telemetry.settings.sampling.content_rate]))
""", TRACEGLASS_SAMPLING_TRACE_RATE="0", TRACEGLASS_SAMPLING_CONTENT_RATE="0.25"))
    assert outcome == [0, 0.25]


def test_on_the_applications_provider_our_exporters_get_the_rate_and_a_warning_says_so():
    result = run(PRELUDE + """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
app_exporter, ours = InMemorySpanExporter(), InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(app_exporter))
trace.set_tracer_provider(provider)
traceglass.configure(exporters=[ours], instrument=[], sampling=Sampling(trace_rate=0.5))
tracer = trace.get_tracer("t")
for _ in range(1000):
    tracer.start_span("s").end()
assert traceglass.flush() is True
bound = TraceIdRatioBased.get_bound_for_rate(0.5)
print(json.dumps([len(app_exporter.get_finished_spans()), len(ours.get_finished_spans()),
                  all(s.context.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound for s in ours.get_finished_spans())]))
""")
    app, ours, under = _last(result)
    assert app == 1000 and under is True and 400 < ours < 600
    assert "the tracer provider's sampler cannot be changed" in result.stderr


def test_per_exporter_content_policies_through_configure():
    outcome = _last(run(PRELUDE + """
everything, sampled, nothing, plain = (InMemorySpanExporter() for _ in range(4))
traceglass.configure(instrument=[], sampling=Sampling(content_rate=0.0), exporters=[
    Exporter(everything, content="all"), Exporter(sampled), Exporter(nothing, content="none"), plain])
llm()
assert traceglass.flush() is True
def view(e):
    return [(s.attributes.get("traceglass.input"), s.attributes.get("traceglass.content.sampled"),
             s.attributes.get("gen_ai.usage.input_tokens")) for s in e.get_finished_spans()]
print(json.dumps([view(e) for e in (everything, sampled, nothing, plain)]))
"""))
    assert outcome == [[["q", None, 1000]], [[None, False, 1000]], [[None, False, 1000]], [[None, False, 1000]]]


def test_exporter_content_by_name_from_the_environment(tmp_path):
    outcome = run(PRELUDE + f"""
traceglass.configure(instrument=[], exporters=["console", Exporter("sqlite", content="all")],
                     db_path={str(tmp_path / "t.db")!r})
llm()
traceglass.flush()
from traceglass.store import TraceStore
trace_ = TraceStore({str(tmp_path / "t.db")!r}).list_traces().traces[0]
span = TraceStore({str(tmp_path / "t.db")!r}).get_trace(trace_.trace_id).root
print("RESULT", json.dumps(span.attributes.get("traceglass.input")))
""", TRACEGLASS_EXPORTER_CONTENT="console=all,sqlite=none", TRACEGLASS_METRICS="false",
              TRACEGLASS_SAMPLING_CONTENT_RATE="0")
    assert outcome.returncode == 0, outcome.stderr
    assert [line for line in outcome.stdout.splitlines() if line.startswith("RESULT")] == ['RESULT "q"']
    # the Exporter's own policy wins over the variable; the console, named alone, takes the variable's
    (printed,) = console_spans(outcome.stdout)
    assert (printed["attributes"].get("traceglass.input"), printed["attributes"].get("traceglass.content.sampled")) == (
        "q", None)


def test_sampling_from_the_environment_and_bad_values_warn(caplog):
    env = {"TRACEGLASS_SAMPLING_TRACE_RATE": "0.5", "TRACEGLASS_SAMPLING_CONTENT_RATE": "1.5",
           "TRACEGLASS_SAMPLING_KEEP_CONTENT_WHEN": "error, latency>2s", "TRACEGLASS_SAMPLING_DECISION_TIMEOUT": "2m",
           "TRACEGLASS_SAMPLING_MAX_BUFFERED_BYTES": "8MB", "TRACEGLASS_EXPORTER_CONTENT": "otlp=none, sqlite=sampled"}
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        settings = Settings.from_env(env)
    assert settings.sampling == Sampling(trace_rate=0.5, keep_content_when=("error", "latency>2s"),
                                         decision_timeout=120.0, max_buffered_bytes=8_000_000)
    assert settings.source("sampling") == "environment"
    assert settings.exporter_content == {"otlp": "none", "sqlite": "sampled"}
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: ignoring TRACEGLASS_SAMPLING_CONTENT_RATE='1.5': content_rate must be a number from 0.0 to "
        "1.0, got 1.5; using the default"]
    assert Settings.from_env(env, sampling=Sampling()).sampling == Sampling()  # the argument wins, whole


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trace_rate": -0.1}, "trace_rate must be a number from 0.0 to 1.0"),
    ({"content_rate": True}, "content_rate must be a number from 0.0 to 1.0"),
    ({"keep_content_when": ("latency>fast",)}, "not a duration"),
    ({"keep_content_when": ("costly",)}, "unknown keep_content_when condition"),
    ({"keep_content_when": ("cost>-0.01",)}, "cost bound must be a finite number >= 0, got '-0.01'"),
    ({"keep_content_when": ("tokens>inf",)}, "tokens bound must be a finite number >= 0, got 'inf'"),
    ({"max_buffered_spans": 0}, "max_buffered_spans must be a positive integer"),
    ({"decision_timeout": 0}, "decision_timeout must be a positive number"),
    ({"max_buffered_spans": True}, "max_buffered_spans must be a positive integer, got True"),
    ({"max_buffered_spans": 1.5}, "max_buffered_spans must be a positive integer"),
    ({"max_buffered_spans": "100"}, "max_buffered_spans must be a positive integer, got '100'"),
    ({"max_buffered_bytes": "0MB"}, "max_buffered_bytes: size must be positive, got '0MB'"),
    ({"max_buffered_bytes": "lots"}, "max_buffered_bytes: not a size: 'lots'"),
    ({"decision_timeout": "soon"}, "decision_timeout: not a duration: 'soon'"),
    ({"decision_timeout": float("inf")}, "decision_timeout must be a positive number of seconds, got inf"),
    ({"decision_timeout": True}, "decision_timeout must be a positive number"),
    ({"keep_content_when": ("error", 5)}, "keep_content_when holds strings or callables, got 5"),
])
def test_a_bad_sampling_argument_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**kwargs)


def test_sampling_arguments_given_as_text_or_one_condition_are_normalized():
    def slow(trace):
        return trace.duration_s > 1

    sampling = Sampling(trace_rate=1, content_rate=0, keep_content_when="error", max_buffered_spans=1,
                        max_buffered_bytes="8MB", decision_timeout="2m")
    assert (sampling.trace_rate, sampling.content_rate) == (1.0, 0.0)
    assert type(sampling.trace_rate) is float and type(sampling.decision_timeout) is float
    assert sampling.keep_content_when == ("error",) and [rule.name for rule in sampling.rules] == ["error"]
    assert (sampling.max_buffered_spans, sampling.max_buffered_bytes) == (1, 8_000_000)
    assert sampling.decision_timeout == 120.0
    one = Sampling(keep_content_when=slow)
    assert one.keep_content_when == (slow,) and [rule.name for rule in one.rules] == ["slow"]
    assert Sampling(keep_content_when=["error", "tokens>5"]).keep_content_when == ("error", "tokens>5")
    assert type(Sampling(decision_timeout=5).decision_timeout) is float


def test_bad_configure_arguments_raise_before_anything_is_set_up():
    import traceglass

    with pytest.raises(ValueError, match="sampling must be a traceglass.Sampling"):
        traceglass.configure(sampling={"trace_rate": 0.5})
    with pytest.raises(ValueError, match="Exporter content must be one of"):
        Exporter("sqlite", content="some")
