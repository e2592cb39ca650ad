"""The OTLP/HTTP receiver (protobuf and JSON, optionally gzip): ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics``.

Spans are stored as traces; log records of the ``gen_ai.evaluation.result`` event as scores (other
log records are accepted and ignored); metrics are accepted and dropped, so an OTel SDK exporting
all three signals to this server logs no errors.

Status codes as the OTLP/HTTP specification defines them: 200 with the signal's ``Export*ServiceResponse``
(with ``partial_success`` when some spans or score records were rejected or values dropped: permanent,
so never a status the exporter retries), 400 for a body that cannot be decoded (not retryable), 413 for one
too large, 415 for another content type, 503 only when the database could not be written (the
one retryable, transient case). Error bodies are a ``google.rpc.Status`` in the request's encoding.
"""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.server import _otlp, _otlp_logs
from traceglass.server._ingest import SpanIngest
from traceglass.server._security import BodyTooLargeError

_CODE_INVALID_ARGUMENT, _CODE_RESOURCE_EXHAUSTED, _CODE_UNAVAILABLE = 3, 8, 14


def _decode(raw: bytes, content_type: str) -> _otlp.DecodedRequest:
    warnings: list[str] = []
    refused: list[str] = []  # spans the JSON mapping refused one by one
    decoded = _otlp.to_spans(_otlp.parse_request(raw, content_type, warnings, refused), warnings)
    decoded.rejected += len(refused)
    decoded.problems[:0] = refused
    return decoded


def _summary(notes: list[str]) -> str:
    message = "; ".join(notes[:5])
    if len(notes) > 5:
        message += f"; and {len(notes) - 5} more"
    return message


class OTLPReceiver:
    """Decodes export requests: spans to a :class:`SpanIngest`, scores (log records) to its writer."""

    def __init__(self, ingest: SpanIngest, max_body_bytes: int) -> None:
        self.ingest = ingest
        self.max_body_bytes = max_body_bytes

    async def _body(self, request: Request) -> tuple[str, bytes] | Response:
        """The request's content type and decompressed body, or the error response to send."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (_otlp.PROTOBUF, _otlp.JSON):
            return Response(
                _otlp.error_body(_otlp.JSON, _CODE_INVALID_ARGUMENT,
                                 f"unsupported Content-Type {content_type or 'none'!r}; "
                                 f"use {_otlp.PROTOBUF} or {_otlp.JSON}"),
                status_code=415, media_type=_otlp.JSON)
        body = await request.body()
        try:
            return content_type, _otlp.decompress(body, request.headers.get("content-encoding"), self.max_body_bytes)
        except BodyTooLargeError as exc:
            return self._error(content_type, 413, _CODE_RESOURCE_EXHAUSTED, str(exc))
        except _otlp.OTLPDecodeError as exc:
            return self._error(content_type, 400, _CODE_INVALID_ARGUMENT, str(exc))

    async def handle(self, request: Request) -> Response:
        """``POST /v1/traces``."""
        read = await self._body(request)
        if isinstance(read, Response):
            return read
        content_type, raw = read
        try:
            decoded = await run_in_threadpool(_decode, raw, content_type)
        except _otlp.OTLPDecodeError as exc:
            return self._error(content_type, 400, _CODE_INVALID_ARGUMENT, str(exc))
        if decoded.spans and not await run_in_threadpool(self.ingest.write, decoded.spans):
            return self._unavailable(content_type)
        # Rejected spans and dropped values are permanent: a 200 with partial_success (rejected_spans
        # and error_message, or a warning with 0 rejected), never a status the exporter would retry.
        return Response(_otlp.response_body(content_type, decoded.rejected,
                                            _summary(decoded.problems + decoded.warnings)),
                        status_code=200, media_type=content_type)

    async def handle_logs(self, request: Request) -> Response:
        """``POST /v1/logs``: the ``gen_ai.evaluation.result`` records become scores; other records are ignored."""
        read = await self._body(request)
        if isinstance(read, Response):
            return read
        content_type, raw = read
        try:
            decoded = await run_in_threadpool(lambda: _otlp_logs.to_scores(_otlp_logs.parse_logs(raw, content_type)))
        except _otlp.OTLPDecodeError as exc:
            return self._error(content_type, 400, _CODE_INVALID_ARGUMENT, str(exc))
        if decoded.scores:
            stored = await run_in_threadpool(self.ingest.write_scores, decoded.scores)
            if stored is None:
                return self._unavailable(content_type)
            kept = {score.id for score in stored}
            for score in decoded.scores:  # refused by the store: its name holds another data type
                if score.id not in kept:
                    kept.add(score.id)  # a score sent twice in one request is one refusal
                    decoded.rejected += 1
                    decoded.problems.append(f"evaluation {score.name!r}: scores of this name hold another "
                                            f"data type than {score.data_type}")
        return Response(_otlp.export_response(content_type, ExportLogsServiceResponse(), "rejected_log_records",
                                              decoded.rejected, _summary(decoded.problems)),
                        status_code=200, media_type=content_type)

    async def handle_metrics(self, request: Request) -> Response:
        """``POST /v1/metrics``: decoded (a bad body is a 400 as for traces) and dropped. The dashboard
        computes its figures from the spans; this only lets a metrics exporter pointed here succeed."""
        read = await self._body(request)
        if isinstance(read, Response):
            return read
        content_type, raw = read
        try:
            await run_in_threadpool(_otlp.parse_message, raw, content_type, ExportMetricsServiceRequest())
        except _otlp.OTLPDecodeError as exc:
            return self._error(content_type, 400, _CODE_INVALID_ARGUMENT, str(exc))
        return Response(_otlp.export_response(content_type, ExportMetricsServiceResponse(), "rejected_data_points"),
                        status_code=200, media_type=content_type)

    def _unavailable(self, content_type: str) -> Response:
        response = self._error(content_type, 503, _CODE_UNAVAILABLE, "the trace database could not be written; "
                                                                     "retry later")
        response.headers["retry-after"] = "1"
        return response

    @staticmethod
    def _error(content_type: str, status: int, code: int, message: str) -> Response:
        return Response(_otlp.error_body(content_type, code, message), status_code=status, media_type=content_type)
