"""``POST /v1/traces``: the OTLP/HTTP trace receiver (protobuf and JSON, optionally gzip).

Status codes as the OTLP/HTTP specification defines them: 200 with an ``ExportTraceServiceResponse``
(with ``partial_success`` when some spans were rejected or values dropped: permanent, so never a
status the exporter retries), 400 for a body that cannot be decoded (not retryable), 413 for one
too large, 415 for another content type, 503 only when the database could not be written (the
one retryable, transient case). Error bodies are a ``google.rpc.Status`` in the request's encoding.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.server import _otlp
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


class OTLPReceiver:
    """Decodes export requests and hands their spans to a :class:`SpanIngest`."""

    def __init__(self, ingest: SpanIngest, max_body_bytes: int) -> None:
        self.ingest = ingest
        self.max_body_bytes = max_body_bytes

    async def handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (_otlp.PROTOBUF, _otlp.JSON):
            return Response(
                _otlp.error_body(_otlp.JSON, _CODE_INVALID_ARGUMENT,
                                 f"unsupported Content-Type {content_type or 'none'!r}; "
                                 f"use {_otlp.PROTOBUF} or {_otlp.JSON}"),
                status_code=415, media_type=_otlp.JSON)
        body = await request.body()
        try:
            raw = _otlp.decompress(body, request.headers.get("content-encoding"), self.max_body_bytes)
            decoded = await run_in_threadpool(_decode, raw, content_type)
        except BodyTooLargeError as exc:
            return self._error(content_type, 413, _CODE_RESOURCE_EXHAUSTED, str(exc))
        except _otlp.OTLPDecodeError as exc:
            return self._error(content_type, 400, _CODE_INVALID_ARGUMENT, str(exc))
        if decoded.spans and not await run_in_threadpool(self.ingest.write, decoded.spans):
            response = self._error(content_type, 503, _CODE_UNAVAILABLE, "the trace database could not be written; "
                                                                         "retry later")
            response.headers["retry-after"] = "1"
            return response
        # Rejected spans and dropped values are permanent: a 200 with partial_success (rejected_spans
        # and error_message, or a warning with 0 rejected), never a status the exporter would retry.
        notes = decoded.problems + decoded.warnings
        message = "; ".join(notes[:5])
        if len(notes) > 5:
            message += f"; and {len(notes) - 5} more"
        return Response(_otlp.response_body(content_type, decoded.rejected, message), status_code=200,
                        media_type=content_type)

    @staticmethod
    def _error(content_type: str, status: int, code: int, message: str) -> Response:
        return Response(_otlp.error_body(content_type, code, message), status_code=status, media_type=content_type)
