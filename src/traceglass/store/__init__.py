"""The local trace store: write, read, search and maintain traces in a SQLite file.

    from traceglass.store import TraceFilter, TraceStore
    store = TraceStore()                       # $TRACEGLASS_DB or the per-user data directory
    page = store.list_traces(model="gpt-4o-mini", since="1d")
    page = store.list_traces(filter=TraceFilter(model="gpt-4o-mini", since="1d"))  # the same
    trace = store.get_trace(page.traces[0].trace_id)

    store.add_score("helpfulness", 0.9, trace_id=trace.trace_id)    # trace.scores, store.scores(...)

``TraceWriter`` is the write side (what the SQLite exporter and the OTLP receiver write through).
"""

from traceglass._scores import Score, ScoreError
from traceglass.store._alert_models import AlertRecord, AlertState, TraceBreach, TraceQuery, WindowMetrics, WindowQuery
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._filter import TraceFilter
from traceglass.store._models import ScorePage, SpanNode, StatsRow, Trace, TracePage, TraceSummary
from traceglass.store._paths import default_db_path
from traceglass.store._schema import SCHEMA_VERSION, NotATraceDatabaseError, SchemaTooNewError, SchemaTooOldError
from traceglass.store._session_models import Session, SessionPage, SessionSummary, SessionTurn, UserPage, UserSummary
from traceglass.store._store import TraceStore
from traceglass.store._timeseries_models import ScorePoint, Series, TimePoint, TimeSeries
from traceglass.store._trace_writer import TraceWriter

__all__ = [
    "SCHEMA_VERSION",
    "AlertRecord",
    "AlertState",
    "DatasetInfo",
    "EvalResultRecord",
    "EvalRunRecord",
    "NotATraceDatabaseError",
    "SchemaTooNewError",
    "SchemaTooOldError",
    "Score",
    "ScoreError",
    "ScorePage",
    "ScorePoint",
    "Series",
    "Session",
    "SessionPage",
    "SessionSummary",
    "SessionTurn",
    "SpanNode",
    "StatsRow",
    "Trace",
    "TraceBreach",
    "TraceFilter",
    "TracePage",
    "TraceStore",
    "TraceSummary",
    "TraceQuery",
    "TimePoint",
    "TimeSeries",
    "TraceWriter",
    "UserPage",
    "UserSummary",
    "WindowMetrics",
    "WindowQuery",
    "default_db_path",
]
