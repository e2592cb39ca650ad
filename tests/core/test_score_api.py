"""traceglass.score() and current_trace_id(): the checked Score, and the log record the real logs SDK exports.

Each test runs under ``traceglass.testing.capture()`` (a private logger provider with an in-memory
exporter and a simple processor: what ``score()`` emits is exported before it returns).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timezone

import pytest
from opentelemetry import trace

import traceglass
from traceglass import _runtime
from traceglass._scores import ScoreError
from traceglass.testing import capture


def _name(prefix: str = "quality") -> str:
    # Data types are remembered per name for the whole process: each test scores fresh names.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _records(captured):
    return [item.log_record for item in captured.log_exporter.get_finished_logs()]


def test_a_score_inside_a_span_is_one_evaluation_record_parented_to_that_span():
    name = _name("helpfulness")
    with capture() as captured:
        with traceglass.span("answer") as span:
            context = span.get_span_context()
            result = traceglass.score(name, 0.75, comment="cited its sources", source="llm", user_id="judge-1",
                                      metadata={"model": "judge-v2", "rubric": [1, 2]})
    assert result.trace_id == format(context.trace_id, "032x")
    assert result.span_id == format(context.span_id, "016x")
    assert (result.value, result.label, result.data_type) == (0.75, None, "numeric")
    assert result.created_at.tzinfo == timezone.utc
    (record,) = _records(captured)
    assert record.event_name == "gen_ai.evaluation.result"
    assert (record.trace_id, record.span_id) == (context.trace_id, context.span_id)
    assert record.timestamp == result.created_ns
    assert record.severity_number.name == "INFO"
    assert dict(record.attributes) == {
        "gen_ai.evaluation.name": name,
        "gen_ai.evaluation.score.value": 0.75,
        "gen_ai.evaluation.explanation": "cited its sources",
        "traceglass.score.id": result.id,
        "traceglass.score.source": "llm",
        "traceglass.score.data_type": "numeric",
        "user.id": "judge-1",
        "traceglass.score.metadata": '{"model": "judge-v2", "rubric": [1, 2]}',
    }
    assert captured.scores == [result]
    (item,) = captured.log_exporter.get_finished_logs()
    assert item.instrumentation_scope.name == "traceglass"


def test_booleans_and_labels_carry_their_label():
    thumbs, verdict = _name("thumbs"), _name("verdict")
    with capture() as captured:
        with traceglass.span("answer"):
            up = traceglass.score(thumbs, False, source="human")
            label = traceglass.score(verdict, "  partially correct ", source="eval")
    assert (up.value, up.label, up.data_type) == (0.0, "false", "boolean")
    assert (label.value, label.label, label.data_type) == (None, "partially correct", "categorical")
    first, second = (dict(r.attributes) for r in _records(captured))
    assert first == {"gen_ai.evaluation.name": thumbs, "gen_ai.evaluation.score.value": 0.0,
                     "gen_ai.evaluation.score.label": "false", "traceglass.score.id": up.id,
                     "traceglass.score.source": "human", "traceglass.score.data_type": "boolean"}
    assert second == {"gen_ai.evaluation.name": verdict, "gen_ai.evaluation.score.label": "partially correct",
                      "traceglass.score.id": label.id, "traceglass.score.source": "eval",
                      "traceglass.score.data_type": "categorical"}
    assert captured.scores == [up, label]


def test_explicit_ids_score_another_trace_or_span_outside_any_span():
    name = _name()
    trace_id, span_id = "0AF7651916CD43DD8448EB211C80319C", "B7AD6B7169203331"
    with capture() as captured:
        on_trace = traceglass.score(name, 1, trace_id=trace_id, id="client-chosen-1")
        with traceglass.span("unrelated"):  # explicit ids win over the current span
            on_span = traceglass.score(name, 2.5, trace_id=trace_id, span_id=span_id)
    assert (on_trace.trace_id, on_trace.span_id, on_trace.id) == (trace_id.lower(), None, "client-chosen-1")
    assert (on_span.trace_id, on_span.span_id) == (trace_id.lower(), span_id.lower())
    first, second = _records(captured)
    assert (first.trace_id, first.span_id) == (int(trace_id, 16), 0)  # a trace-level score: no span id
    assert (second.trace_id, second.span_id) == (int(trace_id, 16), int(span_id, 16))
    assert captured.scores == [on_trace, on_span]


def test_outside_any_span_without_ids_is_a_value_error_naming_the_way_out():
    with capture() as captured:
        with pytest.raises(ValueError) as raised:
            traceglass.score(_name(), 1.0)
    assert isinstance(raised.value, ScoreError)
    assert raised.value.problems == [
        ("trace_id", "traceglass.score() was called outside any span: pass trace_id= "
                     "(e.g. from traceglass.current_trace_id() inside the traced request)")]
    assert captured.scores == [] and _records(captured) == []


def test_a_span_id_without_a_trace_id_is_a_value_error_and_every_problem_is_listed():
    with capture() as captured:
        with pytest.raises(ScoreError) as raised:
            traceglass.score("", float("nan"), span_id="b7ad6b7169203331", source="robot", comment="x" * 10_001)
    assert raised.value.problems == [
        ("trace_id", "is required when span_id is given (a span is found by its trace id and its id)"),
        ("name", "must not be empty"),
        ("value", "must be a finite number, got nan"),
        ("comment", "must be at most 10000 characters, got 10001"),
        ("source", "must be one of human, api, llm, code, eval, got 'robot'"),
    ]
    assert _records(captured) == []


@pytest.mark.parametrize(("bad", "problem"), [
    ({"trace_id": "xyz"}, ("trace_id", "must be 32 hex digits, not all zero, got 'xyz'")),
    ({"trace_id": "0" * 32}, ("trace_id", "must be 32 hex digits, not all zero, got '" + "0" * 32 + "'")),
    ({"trace_id": "1" * 32, "span_id": "12"}, ("span_id", "must be 16 hex digits, not all zero, got '12'")),
])
def test_malformed_explicit_ids_are_refused(bad, problem):
    with capture() as captured:
        with pytest.raises(ScoreError) as raised:
            traceglass.score(_name(), 1.0, **bad)
    assert raised.value.problems == [problem]
    assert _records(captured) == []


def test_a_name_keeps_its_data_type_in_this_process():
    name = _name("thumbs")
    with capture() as captured:
        with traceglass.span("answer"):
            first = traceglass.score(name, True)
            with pytest.raises(ScoreError) as raised:
                traceglass.score(name, 0.5)
            again = traceglass.score(name, False)
    assert raised.value.problems == [("value", f"scores named {name!r} are boolean; got a numeric value (0.5)")]
    assert captured.scores == [first, again]


def test_the_same_id_again_is_emitted_again_for_the_store_to_update():
    name = _name()
    with capture() as captured:
        with traceglass.span("answer"):
            traceglass.score(name, 1.0, id="fb-1")
            traceglass.score(name, 3.0, id="fb-1", comment="changed my mind")
    assert [(s.id, s.value, s.comment) for s in captured.scores] == [("fb-1", 1.0, None),
                                                                    ("fb-1", 3.0, "changed my mind")]


def test_current_trace_id():
    assert traceglass.current_trace_id() is None
    with capture():
        with traceglass.span("outer") as span:
            with traceglass.span("inner"):
                assert traceglass.current_trace_id() == format(span.get_span_context().trace_id, "032x")
    tracer = trace.NoOpTracerProvider().get_tracer("x")
    with tracer.start_as_current_span("invalid"):  # a non-recording span without ids
        assert traceglass.current_trace_id() is None


def test_without_configure_a_score_is_returned_and_one_info_line_says_to_configure(monkeypatch, caplog):
    from opentelemetry import _logs

    monkeypatch.setattr(_logs, "get_logger_provider", lambda: _logs.NoOpLoggerProvider())
    previous = _runtime.install(_runtime.Runtime.build())  # a default runtime: no configure(), no capture()
    try:
        with capture() as spans:  # only for a span to score; its runtime is swapped out below
            with traceglass.span("answer"):
                with _runtime.installed(_runtime.Runtime.build()):
                    with caplog.at_level(logging.INFO, logger="traceglass"):
                        first = traceglass.score(_name(), 1.0)
                        second = traceglass.score(_name(), 2.0)
    finally:
        _runtime.install(previous)
    assert (first.value, second.value) == (1.0, 2.0)
    assert spans.scores == []
    assert [r.getMessage() for r in caplog.records if r.name == "traceglass"] == [
        "traceglass: scores go nowhere: no logger provider is set up; call traceglass.configure() "
        "(or run under opentelemetry-instrument with OTEL_LOGS_EXPORTER) to store or send them"]


def test_without_configure_scores_go_to_the_global_sdk_logger_provider(monkeypatch, caplog):
    from opentelemetry import _logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    monkeypatch.setattr(_logs, "get_logger_provider", lambda: provider)  # as opentelemetry-instrument sets it
    name = _name()
    with capture():
        with traceglass.span("answer"):
            with _runtime.installed(_runtime.Runtime.build()):
                with caplog.at_level(logging.INFO, logger="traceglass"):
                    result = traceglass.score(name, 4.0)
    (item,) = exporter.get_finished_logs()
    assert item.log_record.event_name == "gen_ai.evaluation.result"
    assert item.log_record.attributes["traceglass.score.id"] == result.id
    assert [r for r in caplog.records if r.name == "traceglass"] == []


def test_captured_clear_forgets_scores_too():
    with capture() as captured:
        with traceglass.span("answer"):
            traceglass.score(_name(), 1.0)
        captured.clear()
        assert (captured.scores, captured.spans()) == ([], [])


def test_public_names():
    assert traceglass.Score is __import__("traceglass._scores", fromlist=["Score"]).Score
    assert {"score", "current_trace_id", "Score"} <= set(traceglass.__all__)
