"""``evaluate_traces`` and ``EvalRun``: scorers over a dataset (or the traces a filter selects),
concurrently, every result a score.

The work is one task per item (its scorers one after another), run on at most ``concurrency``
threads; scorers with
``async def ascore`` run on one event loop thread shared by the run (so an async client is only
ever used from one loop). A scorer that raises fails that one result, recorded as its error; the
others go on. Results become scores (``source="eval"``, the run id in their metadata) written in
batches through a ``TraceWriter``, and the run itself (items, results, summary) is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from traceglass import semconv
from traceglass._scores import Score, ScoreError, new_score
from traceglass.evals import _context, _stores
from traceglass.evals._bridge import TraceBridge
from traceglass.evals._dataset import EvalDataset
from traceglass.evals._item import EvalItem
from traceglass.evals._registry import get_scorer
from traceglass.evals._scorer import ScoreResult, Scorer, has_ascore, score_arguments
from traceglass.store import EvalResultRecord, EvalRunRecord, TraceStore, TraceWriter

logger = logging.getLogger("traceglass")

#: A result passes when its value is at least this (booleans: True is 1.0).
PASS_THRESHOLD = 0.5
#: The attribute an LLM judge's span carries with the run id (judge cost is summed over it).
RUN_ID_ATTRIBUTE: str = semconv.EVAL_RUN_ID
_WRITE_BATCH = 500
_FLUSH_MS = 5000


@dataclass(frozen=True)
class ItemResult:
    """One scorer's result on one item: ``value`` (and ``label``, ``explanation``), or ``error``
    when the scorer raised; all None when it gave no score. ``score_id``: the score written."""

    position: int
    scorer: str
    item: EvalItem
    value: float | None = None
    label: str | None = None
    explanation: str | None = None
    error: str | None = None
    score_id: str | None = None

    @property
    def passed(self) -> bool | None:
        """Whether the value reached :data:`PASS_THRESHOLD` (None without a value)."""
        return None if self.value is None else self.value >= PASS_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "scorer": self.scorer, "trace_id": self.item.trace_id,
                "span_id": self.item.span_id, "value": self.value, "label": self.label,
                "explanation": self.explanation, "error": self.error, "score_id": self.score_id,
                "item": self.item.to_dict()}


class EvalRun:
    """An evaluation run: its items, every (item, scorer) result, a per-scorer ``summary()``, the
    cost of its judge calls; stored under ``id`` (``EvalRun.load(id)``, ``EvalRun.list()``)."""

    def __init__(self, id: str, *, created_ns: int, finished_ns: int | None, status: str,  # noqa: A002
                 scorers: Sequence[str], items: Sequence[EvalItem], results: Sequence[ItemResult],
                 filters: Mapping[str, Any] | None = None, dataset: Mapping[str, Any] | None = None,
                 judge_cost_usd: float | None = None) -> None:
        self.id = id
        self.created_ns = created_ns
        self.finished_ns = finished_ns
        self.status = status
        self.scorers = list(scorers)
        self.items = list(items)
        self.results = sorted(results, key=lambda r: (r.position, self.scorers.index(r.scorer)
                                                      if r.scorer in self.scorers else len(self.scorers)))
        self.filters = dict(filters or {})
        self.dataset = dict(dataset) if dataset else None
        self.judge_cost_usd = judge_cost_usd

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ns / 1e9, timezone.utc)

    def summary(self, threshold: float = PASS_THRESHOLD) -> dict[str, dict[str, Any]]:
        """Per scorer: ``mean`` value, ``pass_rate`` (values >= ``threshold``), ``count`` (values),
        ``errors`` (the scorer raised) and ``no_score`` (it gave none)."""
        out: dict[str, dict[str, Any]] = {}
        for name in self.scorers:
            mine = [r for r in self.results if r.scorer == name]
            values = [r.value for r in mine if r.value is not None]
            out[name] = {
                "mean": round(sum(values) / len(values), 12) if values else None,
                "pass_rate": round(sum(v >= threshold for v in values) / len(values), 12) if values else None,
                "count": len(values),
                "errors": sum(r.error is not None for r in mine),
                "no_score": sum(r.value is None and r.error is None for r in mine),
            }
        return out

    @property
    def errors(self) -> list[ItemResult]:
        """The results whose scorer raised."""
        return [r for r in self.results if r.error is not None]

    @property
    def failures(self) -> list[ItemResult]:
        """The results below :data:`PASS_THRESHOLD`, lowest value first."""
        return sorted((r for r in self.results if r.passed is False), key=lambda r: (r.value, r.position))

    def compare(self, other: EvalRun) -> dict[str, dict[str, Any]]:
        """Per scorer of either run: this run's and ``other``'s mean and pass rate, and the change
        from ``other`` to this one."""
        mine, theirs = self.summary(), other.summary()
        out = {}
        for name in dict.fromkeys([*other.scorers, *self.scorers]):
            a, b = theirs.get(name, {}), mine.get(name, {})
            delta = (round(b["mean"] - a["mean"], 12) if a.get("mean") is not None and b.get("mean") is not None
                     else None)
            out[name] = {"before": a.get("mean"), "after": b.get("mean"), "change": delta,
                         "pass_rate_before": a.get("pass_rate"), "pass_rate_after": b.get("pass_rate")}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The run's record (as ``GET /api/evals/runs/{id}`` shows it) with every result."""
        data = self._record().to_dict()
        data["results"] = [r.to_dict() for r in self.results]
        return data

    def to_jsonl(self, path: Any) -> int:
        """One JSON object per result (with its item); returns the number written."""
        with open(path, "w", encoding="utf-8") as file:
            for result in self.results:
                file.write(json.dumps(result.to_dict(), ensure_ascii=True, default=str))
                file.write("\n")
        return len(self.results)

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame``: one row per result (needs pandas)."""
        try:
            import pandas  # noqa: PLC0415 - optional
        except ImportError:
            raise ImportError("EvalRun.to_pandas() needs pandas, which is not installed: pip install pandas") from None
        rows = []
        for r in self.results:
            row = r.to_dict()
            item = row.pop("item")
            rows.append({**row, "input": item["input"], "output": item["output"],
                         "expected_output": item["expected_output"]})
        return pandas.DataFrame.from_records(rows)

    def __repr__(self) -> str:
        return f"<EvalRun {self.id} {self.status}: {len(self.items)} items, scorers {', '.join(self.scorers)}>"

    # -- the store ---------------------------------------------------------------------------
    def _record(self) -> EvalRunRecord:
        return EvalRunRecord(self.id, self.created_ns, self.finished_ns, self.status, len(self.items),
                             self.judge_cost_usd, {"scorers": self.scorers, "filters": self.filters,
                                                   "dataset": self.dataset, "summary": self.summary()})

    def save(self, store: _stores.StoreLike = None) -> None:
        """Store (or replace) this run with its items and results."""
        with _stores.opened(store) as opened:
            opened.save_eval_run(self._record(), [item.to_dict() for item in self.items], [
                EvalResultRecord(r.position, r.scorer, r.item.trace_id, r.item.span_id, r.value, r.label,
                                 r.explanation, r.error, r.score_id) for r in self.results])

    @classmethod
    def load(cls, run_id: str, *, store: _stores.StoreLike = None) -> EvalRun:
        """A stored run; KeyError when there is none with this id."""
        with _stores.opened(store) as opened:
            found = opened.eval_run(run_id)
        if found is None:
            raise KeyError(f"no evaluation run {run_id!r}")
        record, item_dicts, records = found
        items = [EvalItem.from_dict(d) if "input" in d else EvalItem(None) for d in item_dicts]
        results = [ItemResult(r.position, r.scorer, items[r.position] if r.position < len(items) else EvalItem(None),
                              r.value, r.label, r.explanation, r.error, r.score_id) for r in records]
        details = record.details
        return cls(record.id, created_ns=record.created_ns, finished_ns=record.finished_ns, status=record.status,
                   scorers=details.get("scorers") or [], items=items, results=results,
                   filters=details.get("filters"), dataset=details.get("dataset"),
                   judge_cost_usd=record.judge_cost_usd)

    @staticmethod
    def list(*, store: _stores.StoreLike = None, limit: int = 50) -> list[EvalRunRecord]:
        """Stored runs newest first (records: id, times, status, scorers, summary, judge cost)."""
        with _stores.opened(store) as opened:
            return opened.eval_runs(limit=limit)


# -- running -----------------------------------------------------------------------------------

def evaluate_traces(scorers: Any, *, dataset: EvalDataset | Iterable[EvalItem] | None = None,
                    store: _stores.StoreLike = None, concurrency: int = 4, write_scores: bool = True,
                    save: bool = True, progress: bool | None = None, judge: Any = None, model: str | None = None,
                    _only_new: bool = False, **filters: Any) -> EvalRun:
    """Score ``dataset`` (or the traces ``filters`` select, as ``TraceBridge.to_dataset`` takes
    them) with ``scorers``: scorer objects or specs (``"relevance"``, ``"max_latency:2000"``;
    ``judge``/``model`` give LLM judges their client). Runs ``concurrency`` scorer calls at a
    time; a scorer that raises is recorded as that result's error. Each result is written as a
    score on the item's span (``write_scores``), the run is stored (``save``), and a progress bar
    shows on a terminal (``progress``: None = when stderr is one)."""
    resolved = _scorers(scorers, judge, model)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    if dataset is not None and filters:
        raise TypeError(f"pass either a dataset or filters, not both (got {', '.join(sorted(filters))})")
    created_ns = time.time_ns()
    run_id = uuid.uuid4().hex
    with _stores.opened(store) as opened:
        if dataset is None:
            items = list(TraceBridge(opened).iter_items(**filters))
            described = {"filters": _jsonable(filters), "dataset": None}
        else:
            items = list(dataset)
            named = getattr(dataset, "name", None)
            described = {"filters": {}, "dataset": {"name": named, "version": getattr(dataset, "version", None)}
                         if named else None}
        if (write_scores or save) and opened.read_only:
            raise ValueError(f"{opened.path} was opened read_only: pass write_scores=False and save=False")
        skip = _evaluated(opened, items, resolved) if _only_new else set()
        if skip:  # an item every scorer already evaluated is not part of this run
            items = [item for item in items
                     if any((item.trace_id, item.span_id, scorer.name) not in skip for scorer in resolved)]
        work = [(position, item, [scorer for scorer in resolved
                                   if (item.trace_id, item.span_id, scorer.name) not in skip])
                for position, item in enumerate(items)]
        show = sys.stderr.isatty() if progress is None else progress
        results = _Runner(run_id, concurrency, opened if write_scores else None, show).run(work)
        judge_cost = _judge_cost(opened, run_id, created_ns)
        run = EvalRun(run_id, created_ns=created_ns, finished_ns=time.time_ns(), status="finished",
                      scorers=[s.name for s in resolved], items=items, results=results,
                      filters=described["filters"], dataset=described["dataset"], judge_cost_usd=judge_cost)
        if save:
            run.save(opened)
    return run


def _scorers(scorers: Any, judge: Any, model: str | None) -> list[Scorer]:
    given = [scorers] if isinstance(scorers, str) or hasattr(scorers, "score") else list(scorers)
    if not given:
        raise ValueError("evaluate_traces needs at least one scorer")
    resolved = [get_scorer(spec, judge=judge, model=model) for spec in given]
    names = [s.name for s in resolved]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"two scorers named {', '.join(map(repr, repeated))}: give one of them another name")
    return resolved


def _jsonable(filters: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
            for key, value in filters.items()}


def _evaluated(store: TraceStore, items: Sequence[EvalItem], scorers: Sequence[Scorer]) -> set[tuple[Any, Any, str]]:
    trace_ids = sorted({item.trace_id for item in items if item.trace_id})
    found: set[tuple[Any, Any, str]] = set()
    for start in range(0, len(trace_ids), 500):
        found |= store.evaluated(trace_ids[start:start + 500], [s.name for s in scorers])
    return found


def _judge_cost(store: TraceStore, run_id: str, since_ns: int) -> float | None:
    # The judges' spans go through the app's pipeline: flushed first, so they are stored by now
    # (when that pipeline writes to this database at all).
    import traceglass  # noqa: PLC0415 - the assembly layer's flush; imported when a run ends

    traceglass.flush(timeout_millis=_FLUSH_MS)
    return store.attributed_cost(RUN_ID_ATTRIBUTE, run_id, since_ns=since_ns)


def score_id(run_id: str, position: int, scorer: str) -> str:
    """The id of the score a run writes for an item and scorer: saving the run again updates it."""
    digest = hashlib.sha256(f"{run_id}\x1f{position}\x1f{scorer}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"eval-{digest[:32]}"


class _Runner:
    """Runs the (position, item, scorer) work with bounded concurrency; writes scores in batches."""

    def __init__(self, run_id: str, concurrency: int, store: TraceStore | None, progress: bool) -> None:
        self.run_id = run_id
        self.concurrency = concurrency
        self.store = store
        self.progress = _Progress() if progress else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    def run(self, work: list[tuple[int, EvalItem, list[Scorer]]]) -> list[ItemResult]:
        """Score each (position, item, scorers): one task per item (its scorers one after another,
        so fast code scorers do not pay a thread hand-over each), ``concurrency`` items at a time."""
        results: list[ItemResult] = []
        pending_scores: list[tuple[int, Score]] = []
        writer = TraceWriter(self.store.path) if self.store is not None else None
        if any(has_ascore(scorer) for _, _, scorers in work for scorer in scorers):
            self._start_loop()
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="traceglass-eval")
        try:
            queue = iter(work)
            running: dict[Future[list[tuple[ItemResult, Score | None]]], None] = {}
            # At most twice the workers in flight: 10,000 items never make 10,000 futures at once.
            for task in queue:
                running[executor.submit(self._item, *task)] = None
                if len(running) >= 2 * self.concurrency:
                    break
            done_items = 0
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    for result, score in future.result():
                        results.append(result)
                        if score is not None:
                            pending_scores.append((len(results) - 1, score))
                    done_items += 1
                    for task in queue:
                        running[executor.submit(self._item, *task)] = None
                        break
                if writer is not None and len(pending_scores) >= _WRITE_BATCH:
                    self._write(writer, results, pending_scores)
                if self.progress is not None:
                    self.progress.show(done_items, len(work))
            if writer is not None and pending_scores:
                self._write(writer, results, pending_scores)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            self._stop_loop()
            if writer is not None:
                writer.close()
            if self.progress is not None:
                self.progress.end()
        return results

    def _item(self, position: int, item: EvalItem, scorers: list[Scorer]) -> list[tuple[ItemResult, Score | None]]:
        return [self._one(position, item, scorer) for scorer in scorers]

    def _one(self, position: int, item: EvalItem, scorer: Scorer) -> tuple[ItemResult, Score | None]:
        token = _context._run_id.set(self.run_id)
        try:
            outcome = self._call(scorer, item)
        except Exception as exc:  # the scorer's fault: this result's error, the run goes on
            return ItemResult(position, scorer.name, item, error=_describe(exc)), None
        finally:
            _context._run_id.reset(token)
        if outcome is None:
            return ItemResult(position, scorer.name, item), None
        if not isinstance(outcome, ScoreResult):
            return ItemResult(position, scorer.name, item,
                              error=f"returned {type(outcome).__name__}, not a ScoreResult or None"), None
        fields = score_arguments(outcome)
        value = fields["value"]
        number = float(value) if isinstance(value, (int, float)) else None
        label = outcome.label if isinstance(outcome.label, str) else (value if isinstance(value, str) else None)
        if value is None:
            return ItemResult(position, scorer.name, item, label=label, explanation=fields["comment"]), None
        score = None
        if self.store is not None and item.trace_id:
            try:
                score = new_score(scorer.name, value, trace_id=item.trace_id, span_id=item.span_id,
                                  comment=fields["comment"], source="eval",
                                  metadata={**fields["metadata"], "run_id": self.run_id},
                                  id=score_id(self.run_id, position, scorer.name))
            except ScoreError as exc:
                return ItemResult(position, scorer.name, item, error=f"not a valid score: {exc}"), None
        elif not (number is None or _finite(number)):
            return ItemResult(position, scorer.name, item, error=f"not a valid score: value {value!r}"), None
        return ItemResult(position, scorer.name, item, value=number, label=label, explanation=fields["comment"],
                          score_id=score.id if score is not None else None), score

    def _call(self, scorer: Scorer, item: EvalItem) -> Any:
        if has_ascore(scorer):
            return self._await(lambda: scorer.ascore(item))  # type: ignore[attr-defined]
        outcome = scorer.score(item)
        if inspect.isawaitable(outcome):  # an async def score(): awaited on the run's loop
            return self._await(lambda: outcome)
        return outcome

    def _await(self, make: Callable[[], Any]) -> Any:
        if self._loop is None:
            self._start_loop()
        run_id = self.run_id

        async def call() -> Any:
            _context._run_id.set(run_id)  # a task runs in a copy of the loop thread's context
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()  # type: ignore[arg-type]

    def _start_loop(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="traceglass-eval-loop", daemon=True)
        thread.start()
        self._loop, self._loop_thread = loop, thread

    def _stop_loop(self) -> None:
        loop, thread, self._loop, self._loop_thread = self._loop, self._loop_thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()

    @staticmethod
    def _write(writer: TraceWriter, results: list[ItemResult], pending: list[tuple[int, Score]]) -> None:
        stored = {score.id for score in writer.write_scores([score for _, score in pending])}
        for index, score in pending:
            if score.id not in stored:  # refused: another data type already holds the name
                result = results[index]
                results[index] = ItemResult(result.position, result.scorer, result.item, result.value, result.label,
                                            result.explanation, error="score not stored: scores named "
                                            f"{score.name!r} hold another data type", score_id=None)
        pending.clear()


def _finite(number: float) -> bool:
    return number == number and number not in (float("inf"), float("-inf"))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 1000 else text[:999] + "…"


class _Progress:
    """A one-line progress bar on stderr, redrawn at most every 1% or 0.2 s."""

    def __init__(self) -> None:
        self._last = (-1, 0.0)
        self._drawn = False

    def show(self, done: int, total: int) -> None:
        percent = done * 100 // total if total else 100
        now = time.monotonic()
        if done != total and percent == self._last[0] and now - self._last[1] < 0.2:
            return
        self._last = (percent, now)
        filled = percent * 30 // 100
        sys.stderr.write(f"\revaluating [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        sys.stderr.flush()
        self._drawn = True

    def end(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


__all__ = ["PASS_THRESHOLD", "EvalRun", "ItemResult", "evaluate_traces", "score_id"]
