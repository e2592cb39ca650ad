"""A trace list's WHERE clauses (over ``traces t``) for either backend, but for the content search.

Each backend adds its own search (SQLite: the word index, ``_search``; PostgreSQL: the newest-first
window over pg_trgm, ``_postgres_read``) and runs the query; the rest is one builder, spelled by a
``_dialect.Dialect``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from traceglass.store import _scores
from traceglass.store._dialect import Dialect
from traceglass.store._filter import TraceFilter
from traceglass.store._models import TraceSummary
from traceglass.store._time import NS_MAX, NS_MIN

_HEX = re.compile(r"[0-9a-f]+")


def hex_prefix(text: str) -> str | None:
    """``text`` as a lower-case trace id (prefix), or None when it cannot start any trace id
    (which also keeps GLOB's and LIKE's wildcards out of the prefix match)."""
    text = text.strip().lower()
    return text if _HEX.fullmatch(text) else None


def encode_cursor(summary: TraceSummary) -> str:
    """The ``next_cursor`` of a page that ends with ``summary``."""
    return f"{summary.start_ns}.{summary.trace_id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """``(start_ns, trace_id)`` of a ``next_cursor``; ValueError for anything else."""
    try:
        start, trace_id = cursor.split(".", 1)
        start_ns = int(start)
    except ValueError:
        start_ns = None
    if start_ns is None or not NS_MIN <= start_ns <= NS_MAX:
        raise ValueError(f"invalid cursor {cursor!r}; pass back a next_cursor from list_traces")
    return start_ns, trace_id


def trace_clauses(where: TraceFilter, cursor: str | None, models: Sequence[str] | None,
                  sql: Dialect) -> tuple[list[str], list[Any]]:
    """The clauses and their values; ``models``: the stored names ``where.model`` matches
    (``_queries.models_matching``), None when the filter names no model."""
    clauses: list[str] = []
    params: list[Any] = []
    mark, plus = sql.mark, sql.plus

    def add(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if where.project is not None:
        add(f"t.project = {mark}", where.project)
    if where.trace_id:
        # A full id or a prefix; text that is not hex matches no trace id (and brings no wildcard).
        add(sql.starts_with.format("t.trace_id"), sql.prefix(hex_prefix(where.trace_id) or "-"))
    if where.session is not None:
        add(f"t.session_id = {mark}", where.session)
    if where.user is not None:
        add(f"t.user_id = {mark}", where.user)
    if where.status is not None:
        add(f"t.status = {mark}", where.status.upper())
    if where.since_ns is not None:
        add(f"t.start_ns >= {mark}", where.since_ns)
    if where.until_ns is not None:
        add(f"t.start_ns < {mark}", where.until_ns)
    if where.min_cost_usd is not None:
        add(f"t.cost_usd >= {mark}", where.min_cost_usd)
    if where.min_latency_ns is not None:
        add(f"t.duration_ns >= {mark}", where.min_latency_ns)
    # SQLite's unary + keeps it on the (trace_no, span_id) index inside these per-trace checks;
    # without table statistics it would otherwise walk every span of the model for each trace.
    if where.span_type is not None:
        add(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND {plus}s.span_type = {mark})", where.span_type)
    if models is not None:
        if not models:  # no stored span has this model: no trace needs to be looked at
            add("1 = 0")
        else:
            clause, values = sql.one_of(f"{plus}s.model", models)
            add(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND {clause})", *values)
    if where.score_name is not None or where.min_score_value is not None or where.max_score_value is not None:
        clause, values = _scores.filter_clause(where.score_name, where.min_score_value, where.max_score_value,
                                               mark=mark)
        add(clause, *values)
    if cursor:
        start, last_id = decode_cursor(cursor)
        add(f"(t.start_ns < {mark} OR (t.start_ns = {mark} AND t.trace_id < {mark}))", start, start, last_id)
    return clauses, params
