"""Faults around content sampling: a raising condition, our own faults, re-entrant spans, hostile variables."""

from __future__ import annotations

import logging

from opentelemetry import trace

from traceglass import Sampling
from traceglass._config import Settings

from tests.sampling._pipeline import Pipeline


def test_a_raising_condition_is_not_met_and_is_logged_once(caplog):
    def broken(finished):
        raise RuntimeError("user bug")

    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=(broken,)))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        for _ in range(3):
            with pipeline.tracer.start_as_current_span("root") as root:
                root.set_attribute("traceglass.input", "secret")
    assert [s["attributes"] for s in pipeline.spans()] == [{"traceglass.content.sampled": False}] * 3
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: keep_content_when condition 'broken' raised RuntimeError('user bug'); treated as not met"]


def test_a_condition_that_ends_spans_does_not_deadlock():
    pipeline = None

    def traced(finished):
        with pipeline.tracer.start_as_current_span("inside the condition"):
            pass
        return False

    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=(traced,)))
    with pipeline.tracer.start_as_current_span("root"):
        pass
    # the condition's own span is a trace of its own, decided (by the same condition) when it ended
    assert sorted(s["name"] for s in pipeline.spans()) == ["inside the condition", "root"]


def test_our_fault_while_deciding_drops_content_keeps_metadata_and_never_reaches_the_app(monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    monkeypatch.setattr("traceglass.processors.sampling.summarize",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("our bug")))
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        with pipeline.tracer.start_as_current_span("root") as root:
            root.set_attributes({"traceglass.input": "secret", "gen_ai.usage.input_tokens": 3})
    assert [s["attributes"] for s in pipeline.spans()] == [
        {"gen_ai.usage.input_tokens": 3, "traceglass.content.sampled": False}]
    assert pipeline.counters()[("content_dropped", "root_ended", "internal_error")] == 1


def test_our_fault_while_stripping_loses_that_span_not_the_others(monkeypatch):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")
    import traceglass.processors.sampling as module

    real = module.strip_content

    def flaky(span):
        if span.name == "bad":
            raise RuntimeError("our bug")
        return real(span)

    monkeypatch.setattr(module, "strip_content", flaky)
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with pipeline.tracer.start_as_current_span("root"):
        with pipeline.tracer.start_as_current_span("bad"):
            pass
    assert [s["name"] for s in pipeline.spans()] == ["root"]  # never exported with its content


def test_hostile_sampling_variables_warn_and_fall_back(caplog):
    env = {"TRACEGLASS_SAMPLING_TRACE_RATE": "nan", "TRACEGLASS_SAMPLING_CONTENT_RATE": "-0",
           "TRACEGLASS_SAMPLING_KEEP_CONTENT_WHEN": "error,rm -rf /", "TRACEGLASS_SAMPLING_MAX_BUFFERED_SPANS": "1e9",
           "TRACEGLASS_SAMPLING_DECISION_TIMEOUT": "inf", "TRACEGLASS_EXPORTER_CONTENT": "otlp"}
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        settings = Settings.from_env(env)
    assert settings.sampling == Sampling(content_rate=0.0)  # "-0" is a valid 0.0
    assert settings.exporter_content is None
    assert sorted(r.getMessage().split("=")[0] for r in caplog.records) == [
        "traceglass: ignoring TRACEGLASS_EXPORTER_CONTENT", "traceglass: ignoring TRACEGLASS_SAMPLING_DECISION_TIMEOUT",
        "traceglass: ignoring TRACEGLASS_SAMPLING_KEEP_CONTENT_WHEN",
        "traceglass: ignoring TRACEGLASS_SAMPLING_MAX_BUFFERED_SPANS", "traceglass: ignoring TRACEGLASS_SAMPLING_TRACE_RATE"]


def test_spans_after_shutdown_are_not_buffered():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    pipeline.processor.shutdown()
    root = pipeline.tracer.start_span("root")
    pipeline.tracer.start_span("child", context=trace.set_span_in_context(root)).end()
    assert pipeline.processor.pending == (0, 0, 0)
