"""Faults around traceglass.score(): an unwritable, read-only or locked store, a broken logger provider,
hostile log records reaching the SQLite log exporter, and fuzzed score() arguments.

A score is the application's feedback path: whatever the store or an exporter does, score() returns
(or raises ValueError for bad input) and the application goes on.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import uuid
from contextlib import closing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

import traceglass
from traceglass import _guard, _runtime
from traceglass._scores import ScoreError, event_attributes, new_score
from traceglass.exporters.sqlite import SQLiteLogExporter
from traceglass.testing import capture

from ..core.test_configure import run

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def _record(attributes, *, trace_id=TRACE, span_id=SPAN, event_name="gen_ai.evaluation.result", timestamp=None):
    context = set_span_in_context(NonRecordingSpan(SpanContext(
        int(trace_id, 16), int(span_id, 16) if span_id else 0, is_remote=True)))
    return ReadableLogRecord(log_record=LogRecord(timestamp=timestamp, context=context, attributes=attributes,
                                                  event_name=event_name), resource=Resource.create({}))


def _score_record(name="quality", value=1.0, **kwargs):
    score = new_score(name, value, trace_id=TRACE, span_id=SPAN, **kwargs)
    return score, _record(event_attributes(score), timestamp=score.created_ns)


def _stored(path) -> list[tuple]:
    with closing(sqlite3.connect(str(path))) as conn:
        return conn.execute("SELECT id, name, value, label FROM scores ORDER BY id").fetchall()


def _hold_lock(path) -> sqlite3.Connection:
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # what another process's write transaction does
    return holder


# -- the store failing ---------------------------------------------------------------------------

def test_an_unwritable_store_location_never_reaches_the_app_and_is_logged_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run(
        f"""
        import json
        import traceglass
        traceglass.configure(exporters=["sqlite"], db_path={str(blocker / "sub" / "traces.db")!r}, instrument=[],
                             metrics_enabled=False, flush_interval=60)
        made = []
        for n in range(3):
            with traceglass.span("answer"):
                made.append(traceglass.score("thumbs", n % 2 == 0, source="human").value)
            traceglass.flush()
        traceglass.shutdown()
        print(json.dumps(made))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[1.0, 0.0, 1.0]"
    warnings = [line for line in result.stderr.splitlines() if "could not store" in line]
    assert len(warnings) == 1, result.stderr  # one per failure streak, not one per export
    assert "score(s)" in warnings[0] and "Traceback" not in result.stderr


def test_a_read_only_database_fails_the_export_without_raising_and_warns_once(tmp_path, caplog):
    path = tmp_path / "ro.db"
    exporter = SQLiteLogExporter(path, _on_connect=lambda conn: conn.execute("PRAGMA query_only = ON"))
    try:
        with caplog.at_level(logging.DEBUG, logger="traceglass"):
            assert exporter.export([_score_record()[1]]) is LogRecordExportResult.FAILURE
            assert exporter.export([_score_record()[1], _score_record()[1]]) is LogRecordExportResult.FAILURE
    finally:
        exporter.shutdown()
    failures = [(r.levelno, r.getMessage().split(": ")[-1]) for r in caplog.records if "could not store" in r.getMessage()]
    assert [level for level, _ in failures] == [logging.WARNING, logging.DEBUG]
    assert all("readonly" in message for _, message in failures)


def test_a_locked_store_drops_the_batch_after_the_retry_bound_and_recovers(tmp_path, caplog):
    path = tmp_path / "locked.db"
    exporter = SQLiteLogExporter(path, _busy_timeout_ms=20, _retry_for=0.3)
    first, record = _score_record("first")
    assert exporter.export([record]) is LogRecordExportResult.SUCCESS
    holder = _hold_lock(path)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert exporter.export([_score_record("dropped")[1], _score_record("dropped")[1]]) \
            is LogRecordExportResult.FAILURE
    holder.execute("ROLLBACK")
    holder.close()
    assert [r.getMessage() for r in caplog.records if r.name == "traceglass"] == [
        f"traceglass: could not store 2 score(s) in {path} (dropped): database is locked"]
    caplog.clear()
    again, record = _score_record("again")
    with caplog.at_level(logging.INFO, logger="traceglass"):
        assert exporter.export([record]) is LogRecordExportResult.SUCCESS
    exporter.shutdown()
    assert [r.getMessage() for r in caplog.records if r.name == "traceglass"] == [
        f"traceglass: storing scores in {path} works again (2 score(s) were lost meanwhile)"]
    assert _stored(path) == sorted([(first.id, "first", 1.0, None), (again.id, "again", 1.0, None)])
    assert exporter.export([record]) is LogRecordExportResult.FAILURE  # after shutdown: refused, not raised


def test_score_returns_while_the_store_is_locked_and_the_score_lands_once_it_is_free(tmp_path):
    path = tmp_path / "busy.db"
    exporter = SQLiteLogExporter(path, _busy_timeout_ms=20, _retry_for=60)
    assert exporter.export([_score_record("warm-up")[1]]) is LogRecordExportResult.SUCCESS
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=1))
    holder = _hold_lock(path)
    made = []
    with capture() as captured:  # for spans; scores go to the provider under test
        runtime = _runtime.Runtime.build(captured_settings(), captured.tracer_provider, logger_provider=provider)
        with _runtime.installed(runtime):

            def app():
                for n in range(20):
                    with traceglass.span("request"):
                        made.append(traceglass.score("latency-ok", n % 2 == 0, source="code"))

            worker = threading.Thread(target=app)
            worker.start()
            worker.join(30)  # far beyond what 20 queued records take; the lock is held for the whole time
            finished_while_locked = not worker.is_alive()
    holder.execute("ROLLBACK")
    holder.close()
    assert provider.force_flush(60_000) is True
    provider.shutdown()
    assert finished_while_locked and len(made) == 20
    assert sorted(row[0] for row in _stored(path) if row[1] == "latency-ok") == sorted(s.id for s in made)


def captured_settings():
    from traceglass._config import Settings

    return Settings.from_env()


# -- faults of ours while emitting -------------------------------------------------------------------

class _BrokenProvider:
    def get_logger(self, *args, **kwargs):
        raise RuntimeError("logger provider broke")


def test_a_fault_while_emitting_is_logged_once_in_production_and_the_score_is_returned(monkeypatch, caplog):
    monkeypatch.setenv(_guard.RAISE_ENV, "0")
    monkeypatch.setattr(_guard, "_reported", set())
    name = f"n-{uuid.uuid4().hex[:8]}"
    with capture() as captured:
        with traceglass.span("answer"):
            with _runtime.installed(_runtime.Runtime.build(logger_provider=_BrokenProvider())):
                with caplog.at_level(logging.DEBUG, logger="traceglass"):
                    results = [traceglass.score(name, float(n)) for n in range(3)]
    assert [r.value for r in results] == [0.0, 1.0, 2.0]
    reports = [(r.levelno, r.getMessage()) for r in caplog.records if "internal error" in r.getMessage()]
    assert reports == [
        (logging.WARNING, "traceglass internal error in traceglass.score (further ones here are logged at debug)"),
        (logging.DEBUG, "traceglass internal error in traceglass.score"),
        (logging.DEBUG, "traceglass internal error in traceglass.score")]
    assert captured.spans()[0]["name"] == "answer"


def test_under_the_tests_a_fault_while_emitting_is_loud():
    with capture():
        with traceglass.span("answer"):
            with _runtime.installed(_runtime.Runtime.build(logger_provider=_BrokenProvider())):
                with pytest.raises(RuntimeError, match="logger provider broke"):
                    traceglass.score(f"n-{uuid.uuid4().hex[:8]}", 1.0)


# -- hostile records reaching the SQLite log exporter ------------------------------------------------

def test_hostile_records_cost_only_themselves_never_the_batch(tmp_path, caplog):
    path = tmp_path / "hostile.db"
    good, good_record = _score_record("good", 0.5)
    foreign_value = {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.25}  # another SDK's
    batch = [
        _record({"message": "an application log line"}, event_name=None),  # not an evaluation: ignored
        _record({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": 1.0}, trace_id="0" * 32,
                span_id=None),  # no trace to attach to
        _record({"gen_ai.evaluation.score.value": 1.0}),  # no name
        _record({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": math.nan}),
        _record({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": True}),  # a bool: a boolean score
        _record({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.label": "ok",
                 "gen_ai.evaluation.explanation": "y" * 10_001}),
        _record({"gen_ai.evaluation.name": "x\x00", "gen_ai.evaluation.score.label": "\ud800"}),
        _record({"gen_ai.evaluation.name": "x", "gen_ai.evaluation.score.value": 1.0,
                 "traceglass.score.metadata": "{not json", "traceglass.score.source": "alien"}),
        good_record,
        _record(foreign_value, timestamp=1_700_000_000_000_000_000),
        _record(foreign_value, timestamp=1_700_000_000_000_000_000),  # the same record delivered twice
    ]
    exporter = SQLiteLogExporter(path)
    try:
        with caplog.at_level(logging.DEBUG, logger="traceglass"):
            assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()
    rows = _stored(path)
    assert sorted((name, value, label) for _, name, value, label in rows if name != "good") == [
        ("relevance", 0.25, None), ("x", 1.0, "true")]
    assert (good.id, "good", 0.5, None) in rows and len(rows) == 3
    skipped = [r.levelno for r in caplog.records if "skipped a gen_ai.evaluation.result" in r.getMessage()]
    assert skipped == [logging.WARNING] + [logging.DEBUG] * 5


# -- fuzzed arguments ----------------------------------------------------------------------------------

_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**400, max_value=10**400),
                    st.booleans(), st.text(max_size=210), st.none(), st.lists(st.integers(), max_size=2),
                    st.binary(max_size=4))
_texts = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.text(min_size=199, max_size=202))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_texts, value=_values, comment=_texts, source=st.sampled_from(["api", "human", "llm", "bogus", 3, None]),
       metadata=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.floats(), max_size=3),
                          st.dictionaries(st.integers(), st.integers(), max_size=2)),
       explicit=st.booleans())
def test_score_either_returns_a_score_emitted_once_or_raises_value_error_emitting_nothing(
        name, value, comment, source, metadata, explicit):
    ids = {"trace_id": TRACE, "span_id": SPAN} if explicit else {}
    if isinstance(name, str):
        name = f"{name}-{type(value).__name__}"  # a name keeps one data type per process
    with capture() as captured:
        with traceglass.span("answer"):
            try:
                result = traceglass.score(name, value, comment=comment, source=source, metadata=metadata, **ids)
            except ValueError as exc:
                assert isinstance(exc, ScoreError) and exc.problems
                assert captured.scores == []
                return
    assert captured.scores == [result]
