"""The bundled SQLite exporters: every trace, and every score, on the developer's own disk.

    from traceglass.exporters import SQLiteSpanExporter
    provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter()))

Also registered as the ``traceglass_sqlite`` entry point of ``opentelemetry_traces_exporter``
(``OTEL_TRACES_EXPORTER=traceglass_sqlite``), where it is created with no arguments and reads
``TRACEGLASS_DB``, ``TRACEGLASS_DB_MAX_AGE`` and ``TRACEGLASS_DB_MAX_SIZE``.
:class:`SQLiteLogExporter` stores the scores carried by ``gen_ai.evaluation.result`` log records
(``traceglass.score()``'s, or any SDK's); it is the ``traceglass_sqlite`` entry point of
``opentelemetry_logs_exporter`` (``OTEL_LOGS_EXPORTER=traceglass_sqlite``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from traceglass import _config, semconv
from traceglass._guard import report
from traceglass._scores import Score, ScoreError, from_event
from traceglass.store import TraceWriter

if TYPE_CHECKING:
    from traceglass.store._writer_process import WriterProcess

logger = logging.getLogger("traceglass")

MAX_AGE_ENV = "TRACEGLASS_DB_MAX_AGE"
MAX_SIZE_ENV = "TRACEGLASS_DB_MAX_SIZE"
# A batch another process keeps locked out is retried with growing pauses for this long (on top
# of each attempt's busy timeout), then dropped: the SDK's own export timeout is 30 s.
_RETRY_FOR_S = 30.0


class SQLiteSpanExporter(SpanExporter):
    """Write finished spans to a SQLite file (WAL mode; one transaction per batch), or to PostgreSQL
    when ``path`` (or ``$TRACEGLASS_DB``) is a ``postgresql://`` URL (``traceglass[postgres]``).

    ``path`` defaults to ``$TRACEGLASS_DB`` or the per-user data directory. ``max_age`` (seconds
    or a timedelta) and ``max_size`` (bytes or ``"500MB"``) turn on retention, applied in a
    background thread in small deletes so export never waits for it. ``separate_process=True``
    (or ``TRACEGLASS_DB_SEPARATE_PROCESS=1``) writes from a child process started at the first
    export, so the conversion and SQLite stay off the application's GIL (docs/store.md); where
    none can start, the exporter writes in-process and says so. ``export`` never raises: a
    batch another process keeps locked out is retried for up to 30 s (until ``shutdown``); a
    read-only, missing or full database returns FAILURE and logs on ``traceglass``. A database
    file deleted while in use is noticed at the next export and created anew.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age: float | timedelta | None = None,
        max_size: int | str | None = None,
        separate_process: bool | None = None,
        _retry_for: float = _RETRY_FOR_S,
        _on_connect: Callable[[sqlite3.Connection], Any] | None = None,
        **_seams: Any,  # TraceWriter's own test seams (_busy_timeout_ms, _retention_interval)
    ) -> None:
        # Arguments over TRACEGLASS_DB_*, parsed by Settings (a bad variable warns there).
        settings = _config.Settings.from_env(only=("db_max_age", "db_max_size", "db_separate_process"),
                                             db_max_age=max_age, db_max_size=max_size,
                                             db_separate_process=separate_process)
        self._writer: TraceWriter | WriterProcess
        if settings.db_separate_process and _on_connect is None and not _seams:
            # Imported only here: a few ms of start-up that an exporter writing in-process need not pay.
            from traceglass.store._writer_process import WriterProcess

            self._writer = WriterProcess(path, max_age=settings.db_max_age, max_size=settings.db_max_size,
                                         retry_for=_retry_for)
        else:
            self._writer = TraceWriter(
                path, max_age=settings.db_max_age, max_size=settings.db_max_size, retry_for=_retry_for,
                _on_connect=_on_connect, **_seams)
        self.path = self._writer.path
        self.max_age = self._writer.max_age
        self.max_size = self._writer.max_size
        self._shutdown = False
        self._failing = False
        self._lost = 0  # spans given up on during the current failure streak

    # -- SpanExporter ------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            self._writer.write(spans)
        except TraceWriter.STORAGE_ERRORS as exc:  # locked past the retries, read-only, full, missing
            self._log_failure(exc, len(spans))
            return SpanExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SQLiteSpanExporter.export", exc)
            return SpanExportResult.FAILURE
        if self._failing:
            self._failing = False
            lost, self._lost = self._lost, 0
            logger.info("traceglass: exporting to %s works again (%d span(s) were lost meanwhile)", self.path, lost)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the database; idempotent. Ends an export's retries; waits briefly for a running retention pass."""
        self._shutdown = True
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous and committed before ``export`` returns: nothing is pending."""
        return True

    @property
    def writer_pid(self) -> int | None:
        """The pid of the writer process while one runs (``separate_process``); None otherwise."""
        return getattr(self._writer, "pid", None)

    # -- internals ---------------------------------------------------------------------------
    def _log_failure(self, exc: BaseException, count: int) -> None:
        # One warning per failure streak: a locked database must not flood the application's log
        # (the recovery message counts what the streak lost).
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        self._lost += count
        logger.log(level, "traceglass: could not export %d span(s) to %s (dropped): %s", count, self.path, exc)

    def _wait_for_retention(self, timeout: float = 30.0) -> None:
        """Test seam: wait for a running retention pass to finish."""
        self._writer._wait_for_retention(timeout)


class SQLiteLogExporter(LogRecordExporter):
    """Store the scores that ``gen_ai.evaluation.result`` log records carry; other records are ignored.

    ``path`` defaults to ``$TRACEGLASS_DB`` or the per-user data directory (or is a ``postgresql://`` URL). Each score is written
    by its id, so a retried export updates what it wrote before instead of adding a copy (a
    record from another SDK gets an id derived from its content). ``export`` never raises: a
    database another process keeps locked out is retried for up to 30 s, then the batch is
    dropped; a read-only, missing or full database returns FAILURE; each failure streak is logged
    once on ``traceglass``. A record that holds no valid score is skipped (logged once).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        _retry_for: float = _RETRY_FOR_S,
        _on_connect: Callable[[sqlite3.Connection], Any] | None = None,
        **_seams: Any,  # TraceWriter's own test seams (_busy_timeout_ms)
    ) -> None:
        # No retention here: the span exporter (or the server) applies it, to the scores too.
        self._writer = TraceWriter(path, retry_for=_retry_for, _on_connect=_on_connect, **_seams)
        self.path = self._writer.path
        self._shutdown = False
        self._failing = False
        self._lost = 0  # scores given up on during the current failure streak
        self._skipped_logged = False

    # -- LogRecordExporter -------------------------------------------------------------------
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        scores: list[Score] = []
        try:
            scores = self._scores(batch)
            if scores:
                self._writer.write_scores(scores)
        except TraceWriter.STORAGE_ERRORS as exc:  # locked past the retries, read-only, full, missing
            self._log_failure(exc, len(scores))
            return LogRecordExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SQLiteLogExporter.export", exc)
            return LogRecordExportResult.FAILURE
        if self._failing and scores:
            self._failing = False
            lost, self._lost = self._lost, 0
            logger.info("traceglass: storing scores in %s works again (%d score(s) were lost meanwhile)",
                        self.path, lost)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the database; idempotent. Ends an export's retries."""
        self._shutdown = True
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous and committed before ``export`` returns: nothing is pending."""
        return True

    # -- internals ---------------------------------------------------------------------------
    def _scores(self, batch: Sequence[Any]) -> list[Score]:
        scores = []
        for item in batch:
            record = getattr(item, "log_record", item)  # a ReadableLogRecord (LogData before SDK 1.39)
            attributes = record.attributes or {}
            if (getattr(record, "event_name", None) or attributes.get("event.name")) \
                    != semconv.EVENT_GEN_AI_EVALUATION_RESULT:
                continue
            try:
                scores.append(from_event(
                    attributes, trace_id=format(record.trace_id or 0, "032x"),
                    span_id=format(record.span_id, "016x") if record.span_id else None,
                    timestamp_ns=record.timestamp or record.observed_timestamp))
            except ScoreError as exc:
                if not self._skipped_logged:
                    self._skipped_logged = True
                    logger.warning("traceglass: skipped a gen_ai.evaluation.result record that holds no valid score "
                                   "(%s); further ones are logged at debug", exc)
                else:
                    logger.debug("traceglass: skipped a gen_ai.evaluation.result record: %s", exc)
        return scores

    def _log_failure(self, exc: BaseException, count: int) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        self._lost += count
        logger.log(level, "traceglass: could not store %d score(s) in %s (dropped): %s", count, self.path, exc)
