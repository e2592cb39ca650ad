"""The local trace store: read, search and maintain the spans the SQLite exporter wrote.

    from traceglass.store import TraceStore
    store = TraceStore()                       # $TRACEGLASS_DB or the per-user data directory
    page = store.list_traces(model="gpt-4o-mini", since="1d")
    trace = store.get_trace(page.traces[0].trace_id)
"""

from traceglass.store._models import SpanNode, StatsRow, Trace, TracePage, TraceSummary
from traceglass.store._paths import default_db_path
from traceglass.store._schema import SCHEMA_VERSION, NotATraceDatabaseError, SchemaTooNewError, SchemaTooOldError
from traceglass.store._store import TraceStore

__all__ = [
    "SCHEMA_VERSION",
    "NotATraceDatabaseError",
    "SchemaTooNewError",
    "SchemaTooOldError",
    "SpanNode",
    "StatsRow",
    "Trace",
    "TracePage",
    "TraceStore",
    "TraceSummary",
    "default_db_path",
]
