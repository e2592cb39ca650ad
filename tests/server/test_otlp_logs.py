"""The OTLP/HTTP receiver's /v1/logs (scores) and /v1/metrics: the real OTel SDK exporters against a real
server on 127.0.0.1, and OTLP-JSON requests by hand."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from traceglass._scores import event_attributes, new_score
from traceglass.store import TraceStore

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
STAMP = 1_700_000_000_123_456_000  # ns; microsecond-exact so created_at round-trips


@pytest.fixture
def server(db_path, serve_app):
    return serve_app(db_path)


def stored(db_path: Any) -> list[dict[str, Any]]:
    with TraceStore(db_path) as store:
        return [score.to_dict() for score in store.scores(limit=500)]


def _context(trace_id: str, span_id: str) -> Any:
    span = NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED)))
    return trace.set_span_in_context(span)


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_real_sdk_log_exporter_stores_evaluation_records_as_scores(server, db_path, compression, caplog):
    ours = new_score("helpfulness", 0.8, trace_id=TRACE, span_id=SPAN, comment="cites its source", source="llm",
                     user_id="judge-7", metadata={"model": "judge-large"}, id="ours-1",
                     created_at=datetime.fromtimestamp(STAMP / 1e9, timezone.utc))
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{server.url}/v1/logs", compression=compression, timeout=10)))
    logger = provider.get_logger("evaluator", "1.0")
    context = _context(TRACE, SPAN)
    with caplog.at_level(logging.WARNING):
        # Ours: every field of the score, through its event attributes.
        logger.emit(LogRecord(timestamp=ours.created_ns, context=context, event_name="gen_ai.evaluation.result",
                              attributes=event_attributes(ours)))
        # Another SDK's: only the semconv attributes, the event's name as the older event.name attribute.
        logger.emit(LogRecord(timestamp=STAMP, context=_context(TRACE, "00f067aa0ba902b7"),
                              attributes={"event.name": "gen_ai.evaluation.result",
                                          "gen_ai.evaluation.name": "relevance",
                                          "gen_ai.evaluation.score.label": "relevant",
                                          "gen_ai.evaluation.explanation": "on topic"}))
        # Not scores: a plain log line and another event, accepted and ignored.
        logger.emit(LogRecord(timestamp=STAMP, context=context, body="user asked about Paris"))
        logger.emit(LogRecord(timestamp=STAMP, context=context, event_name="gen_ai.client.inference.operation.details",
                              attributes={"gen_ai.evaluation.name": "not a score"}))
        provider.shutdown()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")] == []

    scores = {score["name"]: score for score in stored(db_path)}
    assert sorted(scores) == ["helpfulness", "relevance"]
    assert scores["helpfulness"] == ours.to_dict()
    relevance = scores["relevance"]
    assert relevance.pop("id").startswith("otel-")
    assert relevance == {"name": "relevance", "value": None, "label": "relevant", "data_type": "categorical",
                         "trace_id": TRACE, "span_id": "00f067aa0ba902b7", "comment": "on topic", "source": "eval",
                         "user_id": None, "created_at": "2023-11-14T22:13:20.123456+00:00", "metadata": {}}


def _record(attributes: dict[str, Any], *, trace_id: str | None = TRACE, span_id: str | None = SPAN,
            event_name: str | None = "gen_ai.evaluation.result", time: int = STAMP) -> dict[str, Any]:
    values = []
    for key, value in attributes.items():
        if isinstance(value, bool):
            wrapped: dict[str, Any] = {"boolValue": value}
        elif isinstance(value, (int, float)) or value in ("NaN", "Infinity"):
            wrapped = {"doubleValue": value}
        else:
            wrapped = {"stringValue": value}
        values.append({"key": key, "value": wrapped})
    record: dict[str, Any] = {"timeUnixNano": str(time), "attributes": values}
    if trace_id is not None:
        record["traceId"] = trace_id
    if span_id is not None:
        record["spanId"] = span_id
    if event_name is not None:
        record["eventName"] = event_name
    return record


def _export(server: Any, records: list[dict[str, Any]], **headers: str) -> httpx.Response:
    body = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"scope": {"name": "s"},
                                                                              "logRecords": records}]}]}
    return httpx.post(f"{server.url}/v1/logs", content=json.dumps(body), timeout=10,
                      headers={"content-type": "application/json", **headers})


def test_bad_score_records_are_rejected_alone_and_counted(server, db_path):
    response = _export(server, [
        _record({"gen_ai.evaluation.name": "faithful", "gen_ai.evaluation.score.value": 1.0}),
        _record({"gen_ai.evaluation.name": "no trace", "gen_ai.evaluation.score.value": 1.0}, trace_id=None),
        _record({"gen_ai.evaluation.name": "nan", "gen_ai.evaluation.score.value": "NaN"}),
        _record({"gen_ai.evaluation.name": "", "gen_ai.evaluation.score.value": 2.0}, span_id=None),
        _record({"gen_ai.evaluation.name": "plain"}, event_name=None),  # not an event: ignored
        _record({"gen_ai.evaluation.name": "faithful", "gen_ai.evaluation.score.label": "yes"}),  # other type
    ])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"partialSuccess": {"rejectedLogRecords": "4", "errorMessage": (
        "evaluation 'no trace': the record has no trace id (a score must be about a trace); "
        "evaluation 'nan': invalid score: value: must be a finite number, got nan; "
        "evaluation '': invalid score: name: must not be empty; "
        "evaluation 'faithful': scores of this name hold another data type than categorical")}}
    [kept] = stored(db_path)
    assert (kept["name"], kept["value"], kept["trace_id"], kept["span_id"]) == ("faithful", 1.0, TRACE, SPAN)


def test_a_retried_export_updates_instead_of_duplicating(server, db_path):
    record = _record({"gen_ai.evaluation.name": "toxicity", "gen_ai.evaluation.score.value": 0.1})
    for _ in range(2):
        response = _export(server, [record])
        assert (response.status_code, response.content) == (200, b"{}")
    assert [(s["name"], s["value"]) for s in stored(db_path)] == [("toxicity", 0.1)]


def test_protobuf_response_carries_the_rejected_count(server, db_path):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    good = records.add(event_name="gen_ai.evaluation.result", trace_id=bytes.fromhex(TRACE), time_unix_nano=STAMP)
    good.attributes.extend([KeyValue(key="gen_ai.evaluation.name", value=AnyValue(string_value="ok")),
                            KeyValue(key="gen_ai.evaluation.score.value", value=AnyValue(double_value=3.0))])
    orphan = records.add(event_name="gen_ai.evaluation.result", time_unix_nano=STAMP)
    orphan.attributes.add(key="gen_ai.evaluation.name", value=AnyValue(string_value="orphan"))
    response = httpx.post(f"{server.url}/v1/logs", content=request.SerializeToString(), timeout=10,
                          headers={"content-type": "application/x-protobuf"})
    assert response.status_code == 200
    parsed = ExportLogsServiceResponse.FromString(response.content)
    assert (parsed.partial_success.rejected_log_records, parsed.partial_success.error_message) == (
        1, "evaluation 'orphan': the record has no trace id (a score must be about a trace)")
    assert [(s["name"], s["value"], s["span_id"]) for s in stored(db_path)] == [("ok", 3.0, None)]


@pytest.mark.parametrize(("content", "headers", "status"), [
    (b"{", {"content-type": "application/json"}, 400),
    (b"\x0a\xff", {"content-type": "application/x-protobuf"}, 400),
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
     {"content-type": "application/json"}, 400),
    (b"{}", {"content-type": "text/plain"}, 415),
    (b"not gzip", {"content-type": "application/json", "content-encoding": "gzip"}, 400),
])
def test_undecodable_log_requests_are_4xx(server, db_path, content, headers, status):
    for path in ("/v1/logs", "/v1/metrics"):
        response = httpx.post(server.url + path, content=content, headers=headers, timeout=10)
        assert response.status_code == status, (path, response.text)
    assert stored(db_path) == []


def test_the_real_sdk_metric_exporter_succeeds_and_logs_nothing(server, caplog):
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("app")
    meter.create_counter("gen_ai.client.token.usage").add(120, {"gen_ai.request.model": "gpt-4o-mini"})
    meter.create_histogram("gen_ai.client.operation.duration").record(0.42)
    data = reader.get_metrics_data()
    provider.shutdown()
    exporter = OTLPMetricExporter(endpoint=f"{server.url}/v1/metrics", timeout=10)
    with caplog.at_level(logging.WARNING):
        assert exporter.export(data) is MetricExportResult.SUCCESS
    exporter.shutdown()
    assert [r.getMessage() for r in caplog.records] == []
    # And in OTLP JSON: an empty ExportMetricsServiceResponse.
    response = httpx.post(f"{server.url}/v1/metrics", content=b'{"resourceMetrics": []}', timeout=10,
                          headers={"content-type": "application/json"})
    assert (response.status_code, response.content) == (200, b"{}")


def test_a_time_the_store_cannot_hold_falls_back_to_the_observed_time(server, db_path):
    record = _record({"gen_ai.evaluation.name": "late", "gen_ai.evaluation.score.value": 1.0}, time=2**64 - 1)
    record["observedTimeUnixNano"] = str(STAMP)
    response = _export(server, [record])
    assert (response.status_code, response.content) == (200, b"{}")
    assert [(s["name"], s["created_at"]) for s in stored(db_path)] == [("late", "2023-11-14T22:13:20.123456+00:00")]
