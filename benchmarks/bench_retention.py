"""Retention on a large store: how many traces a size limit deletes against how many it had to, and
what ages-out leave behind.

A store of ``--spans`` realistic spans (bench_store's, with their texts of repeated words, then with
English prose) is written through the SQLite exporter; copies of it are pruned to a fraction of their
size with ``max_size``. For each: traces deleted, whether one trace fewer would have fitted (a copy
with one trace fewer deleted and its word index merged, measured), the prune's wall and CPU time, and
the longest single step (a write transaction: what an export waits at most).

Then the steady state of age-based retention: a store of ``--steady-spans`` spans gets a tenth of that
again each cycle, and ``prune(older_than=...)`` ages out as many of the oldest; bytes a span (the store's
and its word index's) after each prune (printed every fifth cycle, then their mean and maximum), with the
CPU of the exports and of the prunes (which merge the index when its deletions reach
``_search.MERGE_SHARE`` of its spans), for each share given (one run for a traceglass without it).

Run: python benchmarks/bench_retention.py [--spans 200000] [--fractions 0.9,0.5] [--steady-spans 100000]
     [--cycles 20] [--shares 0.5,0.25,inf]
Prints its lines; the results go in benchmarks/results/retention.txt by hand, with the code's commit.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_store import SPANS_PER_TRACE, SpanFactory, _exported, _fresh, _wall_and_cpu  # noqa: E402 - beside this file

from traceglass.exporters import SQLiteSpanExporter  # noqa: E402
from traceglass.store import _packed, _retention, _search  # noqa: E402


class _Steps:
    """The ``step`` context a prune enters around each of its steps: counts them, keeps the longest."""

    def __init__(self) -> None:
        self.longest, self.count, self._started = 0.0, 0, 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.longest = max(self.longest, time.perf_counter() - self._started)
        self.count += 1


def _copy(source: pathlib.Path, target: pathlib.Path) -> None:
    _fresh(target)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    _packed.register(conn)
    return conn


def _oldest(conn: sqlite3.Connection, count: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT trace_id FROM traces ORDER BY start_ns LIMIT ?", (count,))]


def _size_without_oldest(source: pathlib.Path, work: pathlib.Path, count: int) -> int:
    """The used bytes of a copy of ``source`` without its ``count`` oldest traces, its word index merged."""
    _copy(source, work)
    conn = _connect(work)
    ids = _oldest(conn, count)
    for start in range(0, len(ids), _retention.DELETE_CHUNK):
        _retention.delete_traces(conn, ids[start:start + _retention.DELETE_CHUNK])
    conn.execute("INSERT INTO span_words (span_words) VALUES ('optimize')")
    used = _retention.used_bytes(conn)
    conn.close()
    return used


def bench(workdir: pathlib.Path, spans: int, fractions: list[float], prose: bool) -> None:
    store = workdir / ("prose.db" if prose else "words.db")
    factory = SpanFactory(seed=3, traces=spans // SPANS_PER_TRACE, prose=prose)
    _exported(store, list(factory.batches(spans)))
    conn = sqlite3.connect(store, isolation_level=None)
    size = _retention.used_bytes(conn)
    traces = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
    conn.close()
    print(f"{'prose' if prose else 'WORDS texts'}: {spans:,} spans, {traces:,} traces, {size / 1e6:.1f} MB used",
          flush=True)
    for fraction in fractions:
        limit = int(size * fraction)
        copy = workdir / "pruned.db"
        _copy(store, copy)
        conn = _connect(copy)
        steps = _Steps()
        deleted: list[int] = []
        wall, cpu = _wall_and_cpu(lambda: deleted.append(
            _retention.prune_size(conn, limit, pause=0.0, step=steps)))
        after = _retention.used_bytes(conn)
        conn.close()
        one_fewer = _size_without_oldest(store, workdir / "check.db", deleted[0] - 1)
        verdict = "no: it would not fit" if one_fewer > limit else "YES: one fewer fits"
        print(f"  to {fraction:.0%} of the size ({limit / 1e6:.1f} MB): {deleted[0]:,} traces deleted "
              f"({deleted[0] / traces:.1%}), {after / 1e6:.1f} MB after; one trace fewer enough? {verdict} "
              f"({one_fewer / 1e6:.2f} MB); {wall:.2f} s wall, {cpu:.2f} s CPU, {steps.count} steps, the longest "
              f"{steps.longest * 1e3:.0f} ms", flush=True)


def steady(workdir: pathlib.Path, spans: int, cycles: int, share: float) -> None:
    path = workdir / "steady.db"
    _fresh(path)
    turn = spans // 10 // SPANS_PER_TRACE * SPANS_PER_TRACE  # spans aged out and added each cycle
    factory = SpanFactory(seed=5, traces=(spans + cycles * turn) // SPANS_PER_TRACE)
    made = factory.batches(10**12)
    exporter = SQLiteSpanExporter(path)
    conn = _connect(path)
    saved = getattr(_search, "MERGE_SHARE", None)
    if saved is not None:
        _search.MERGE_SHARE = share
    export_cpu = prune_cpu = 0.0

    def add(count: int) -> float:
        batches = [next(made) for _ in range(count // 512)]
        return _wall_and_cpu(lambda: [exporter.export(batch) for batch in batches])[1]

    sizes: list[tuple[float, float]] = []  # per cycle: the store's and the index's bytes a span

    def state(label: str) -> None:
        stored = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        index = conn.execute("SELECT sum(length(block)) FROM span_words_data").fetchone()[0]
        sizes.append((_retention.used_bytes(conn) / stored, index / stored))
        if label:
            print(f"  {label:>9}: {stored:,} spans, {sizes[-1][0]:,.0f} B/span, the word index {sizes[-1][1]:,.0f} "
                  f"B/span; CPU so far: exports {export_cpu:.1f} s, prunes {prune_cpu:.1f} s", flush=True)

    try:
        label = "old code" if saved is None else f"MERGE_SHARE {share:g}"
        print(f"age-based retention, steady state ({label}): {spans:,} spans, {turn:,} added and aged out a cycle")
        export_cpu += add(spans)
        state("start")
        for cycle in range(1, cycles + 1):
            export_cpu += add(turn)
            oldest_kept = factory.start_ns + (cycle * turn // SPANS_PER_TRACE) * factory.step_ns
            age = time.time() - oldest_kept / 1e9
            prune_cpu += _wall_and_cpu(lambda: _retention.prune(conn, older_than=age))[1]
            state(f"cycle {cycle}" if cycle % 5 == 0 else "")
        after = sizes[1:]
        print(f"  over the {cycles} cycles: the store {sum(a for a, _ in after) / cycles:,.0f} B/span on average "
              f"(at most {max(a for a, _ in after):,.0f}), the word index {sum(b for _, b in after) / cycles:,.0f} "
              f"(at most {max(b for _, b in after):,.0f}); prunes {prune_cpu / (cycles * turn) * 1e6:.1f} us of CPU "
              f"a span aged out, exports {export_cpu / (spans + cycles * turn) * 1e6:.1f} us a span written",
              flush=True)
    finally:
        if saved is not None:
            _search.MERGE_SHARE = saved
        conn.close()
        exporter.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--fractions", default="0.9,0.5")
    parser.add_argument("--steady-spans", type=int, default=100_000, help="0: skip the steady state")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--shares", default="0.5,0.25,inf", help="MERGE_SHARE values (inf: never merge)")
    parser.add_argument("--workdir", type=pathlib.Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="traceglass-retention-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# bench_retention.py --spans {args.spans} --fractions {args.fractions} --steady-spans "
          f"{args.steady_spans} --cycles {args.cycles} --shares {args.shares}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    fractions = [float(f) for f in args.fractions.split(",")]
    if args.spans:
        for prose in (False, True):
            bench(workdir, args.spans, fractions, prose)
    if args.steady_spans:
        shares = [float(share) for share in args.shares.split(",")]
        for share in shares if hasattr(_search, "MERGE_SHARE") else shares[:1]:
            steady(workdir, args.steady_spans, args.cycles, share)


if __name__ == "__main__":
    main()
