"""Time series of the model calls and of the scores, database-neutral: the query, the points, and the
assembly of a backend's grouped rows into dense series (one point per bucket, empty buckets included).

A backend reads the calls' sums and durations per bucket and group, and the scores' sums per bucket
and name; everything else (bucket range, model families, percentiles, empty buckets) happens here,
once for every backend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from traceglass._pricing import model_candidates
from traceglass.store._time import TimeLike, from_ns, to_ns

#: Bucket widths in ns. Buckets are aligned to UTC (a day starts at 00:00 UTC).
BUCKETS: dict[str, int] = {"hour": 3600 * 10**9, "day": 86400 * 10**9}
#: What the metric series can be grouped by (None: one series over every model call).
SERIES_GROUPS: tuple[str | None, ...] = (None, "model", "project")
#: The most buckets one query may cover (about 208 days of hours).
MAX_BUCKETS = 5000


def _iso(ns: int) -> str | None:
    moment = from_ns(ns)
    return moment.isoformat() if moment is not None else None


def _time(name: str, value: TimeLike | None, now: float) -> int | None:
    try:
        return to_ns(value, now=now)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class SeriesQuery:
    """What a time series covers: bucket width, grouping, time range (``start_ns`` in
    [since_ns, until_ns)), project; for score series also the score name and source.
    Build it with :meth:`make`, which checks every value and resolves relative times once."""

    bucket: str = "day"
    group_by: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    project: str | None = None
    name: str | None = None
    source: str | None = None
    now_ns: int = 0

    @classmethod
    def make(cls, bucket: str = "day", *, group_by: str | None = None, since: TimeLike | None = None,
             until: TimeLike | None = None, project: str | None = None, name: str | None = None,
             source: str | None = None, now: float | None = None) -> SeriesQuery:
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {list(BUCKETS)}, got {bucket!r}")
        if group_by not in SERIES_GROUPS:
            raise ValueError(f"group_by must be one of {list(SERIES_GROUPS)}, got {group_by!r}")
        current = time.time() if now is None else now
        since_ns, until_ns = _time("since", since, current), _time("until", until, current)
        if since_ns is not None and until_ns is not None and until_ns <= since_ns:
            raise ValueError("until must be later than since")
        query = cls(bucket, group_by, since_ns, until_ns, project, name, source, int(current * 1e9))
        if since_ns is not None:
            last = until_ns if until_ns is not None else query.now_ns
            count = (last - 1) // query.width_ns - since_ns // query.width_ns + 1
            if count > MAX_BUCKETS:
                raise ValueError(f"{count} {bucket}s is more than {MAX_BUCKETS} buckets; "
                                 "choose a shorter range or a wider bucket")
        return query

    @property
    def width_ns(self) -> int:
        return BUCKETS[self.bucket]

    def span(self, first_ns: int | None, last_ns: int | None) -> range:
        """The bucket indexes worth reading for stored times from ``first_ns`` to ``last_ns`` (a
        backend reading bucket by bucket): those of the range, at most ``MAX_BUCKETS`` ending at the
        last one."""
        width = self.width_ns
        if self.since_ns is not None:
            first_ns = self.since_ns if first_ns is None else max(first_ns, self.since_ns)
        if self.until_ns is not None:
            last_ns = self.until_ns - 1 if last_ns is None else min(last_ns, self.until_ns - 1)
        if first_ns is None or last_ns is None or last_ns < first_ns:
            return range(0)
        last = last_ns // width
        return range(max(first_ns // width, last - MAX_BUCKETS + 1), last + 1)

    def buckets(self, seen: Iterable[int]) -> list[int]:
        """The bucket indexes the series show: from the bucket of ``since`` (else the first one with
        data) to the bucket before ``until`` (else now when ``since`` is given, else the last one
        with data)."""
        seen = list(seen)
        width = self.width_ns
        first = self.since_ns // width if self.since_ns is not None else min(seen, default=None)
        if self.until_ns is not None:
            last = (self.until_ns - 1) // width
        elif self.since_ns is not None:
            last = max([self.now_ns // width, *seen])
        else:
            last = max(seen, default=None)
        if first is None or last is None or last < first:
            return []
        if last - first + 1 > MAX_BUCKETS:  # stored times far apart (no since): keep the latest ones
            first = last - MAX_BUCKETS + 1
        return list(range(first, last + 1))


@dataclass
class TimePoint:
    """The model calls that started in one bucket: counts, tokens and cost (each call once, the
    roll-up rule), and nearest-rank latency percentiles. ``cost_usd`` is None when no call had a
    cost; the percentiles are None without calls."""

    start_ns: int
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    def to_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start_ns), "start_ns": self.start_ns, "calls": self.calls,
                "errors": self.errors, "error_rate": self.error_rate, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "total_tokens": self.total_tokens,
                "cost_usd": self.cost_usd, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms}


@dataclass
class ScorePoint:
    """The numeric (and boolean: 1/0) scores of one name created in one bucket: mean and count."""

    start_ns: int
    mean: float | None = None
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start_ns), "start_ns": self.start_ns, "mean": self.mean, "count": self.count}


@dataclass
class Series:
    """One line of a chart: its key (a model family, a project, a score name; None for the
    ungrouped series or calls without a project) and one point per bucket of the time series."""

    key: str | None
    points: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "points": [point.to_dict() for point in self.points]}


@dataclass
class TimeSeries:
    """Series over the same buckets (their start times in ``buckets``), largest first: by calls for
    model calls, by count for scores. ``kind``: ``"calls"`` or ``"scores"``."""

    kind: str
    bucket: str
    group_by: str | None
    buckets: list[int] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "bucket": self.bucket, "group_by": self.group_by,
                "buckets": [_iso(ns) for ns in self.buckets], "buckets_ns": list(self.buckets),
                "series": [series.to_dict() for series in self.series]}


def _family(model: Any) -> Any:
    # The pricing code's rule, as stats applies it: a dated snapshot counts under its base model.
    return model_candidates(model)[-1] if isinstance(model, str) and model.strip() else model


def _key(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def _rank(percent: int, n: int) -> int:
    """Nearest-rank position (0-based) of a percentile among ``n`` sorted values."""
    return max(1, (percent * n + 99) // 100) - 1


def call_series(query: SeriesQuery, rows: Iterable[tuple]) -> TimeSeries:
    """Dense series from grouped ``rows``: (bucket index, group key, calls, errors, input tokens, output
    tokens, cost, the calls' durations in ns). Without ``group_by`` every row counts in the one series
    (whatever its key); with ``"model"`` a model's dated snapshots add up under its family."""
    folded: dict[Any, str | None] = {}  # stored key -> series key, worked out once per distinct key

    def fold(key: Any) -> str | None:
        if key not in folded:
            folded[key] = (None if query.group_by is None
                           else _key(_family(key) if query.group_by == "model" else key))
        return folded[key]

    width = query.width_ns
    totals: dict[tuple[int, str | None], list[Any]] = {}
    for bucket, key, calls, errors, tokens_in, tokens_out, cost, durations in rows:
        if type(bucket) is not int:
            continue
        row = totals.setdefault((bucket, fold(key)), [0, 0, 0, 0, None, []])
        row[0] += _count(calls)
        row[1] += _count(errors)
        row[2] += _count(tokens_in)
        row[3] += _count(tokens_out)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost):
            row[4] = cost if row[4] is None else row[4] + cost
        row[5].extend(durations)
    buckets = query.buckets(bucket for bucket, _ in totals)
    index = {bucket: position for position, bucket in enumerate(buckets)}
    lines: dict[str | None, Series] = {}
    for (bucket, key), (calls, errors, tokens_in, tokens_out, cost, durations) in totals.items():
        position = index.get(bucket)
        if position is None or not calls:
            continue
        line = lines.get(key)
        if line is None:
            line = lines[key] = Series(key, [TimePoint(b * width) for b in buckets])
        values = sorted(durations)
        p50, p95 = ((values[_rank(50, len(values))] / 1e6, values[_rank(95, len(values))] / 1e6)
                    if values else (None, None))
        line.points[position] = TimePoint(bucket * width, calls, errors, tokens_in, tokens_out, cost, p50, p95)
    ordered = sorted(lines.values(), key=lambda s: (-sum(p.calls for p in s.points), str(s.key)))
    return TimeSeries("calls", query.bucket, query.group_by, [b * width for b in buckets], ordered)


def score_series(query: SeriesQuery, rows: Iterable[tuple]) -> TimeSeries:
    """Dense series per score name from ``rows`` (bucket index, name, sum of values, count)."""
    width = query.width_ns
    sums: dict[tuple[int, str | None], list[Any]] = {}
    for bucket, name, total, count in rows:
        if type(bucket) is not int or not isinstance(total, (int, float)) or not math.isfinite(total):
            continue
        row = sums.setdefault((bucket, _key(name)), [0.0, 0])
        row[0] += total
        row[1] += _count(count)
    buckets = query.buckets(bucket for bucket, _ in sums)
    index = {bucket: position for position, bucket in enumerate(buckets)}
    lines: dict[str | None, Series] = {}
    for (bucket, name), (total, count) in sums.items():
        position = index.get(bucket)
        if position is None or not count:
            continue
        line = lines.get(name)
        if line is None:
            line = lines[name] = Series(name, [ScorePoint(b * width) for b in buckets])
        line.points[position] = ScorePoint(bucket * width, total / count, count)
    ordered = sorted(lines.values(), key=lambda s: (-sum(p.count for p in s.points), str(s.key)))
    return TimeSeries("scores", query.bucket, None, [b * width for b in buckets], ordered)
