"""The team server: OTLP ingest through 1 and 2 ``traceglass ui`` replicas into PostgreSQL vs SQLite, and
TraceStore query latency on a large PostgreSQL database.

Same spans and harness shape as bench_store.py (its SpanFactory: five-span GenAI traces, ~14 attributes
and ~2 KB of content a span; batches of 512, the BatchSpanProcessor's default). Two parts:

1. Ingest: ``--replicas`` real ``traceglass ui`` processes on 127.0.0.1 over one fresh database (a
   PostgreSQL database, or one SQLite file shared by the replicas); ``--senders`` threads post the
   pre-encoded OTLP/HTTP protobuf batches round-robin over the replicas, as Collectors would. Reported:
   spans/s (wall, first request to last answer), and the CPU seconds the server processes spent (from
   /proc), the steadier figure on a shared machine. Every run checks the database holds every span.
2. Queries: a PostgreSQL database of ``--spans`` spans (default 1,000,000) written through the
   TraceWriter (what the server and the exporter write with), then ``get_trace``, ``list_traces``
   pages, content searches and ``stats`` over everything, against bench_store.py's SQLite targets
   (5 ms / 50 ms / 1 s). ``--sqlite FILE`` writes the same spans into a SQLite file (unless it
   exists) and runs the same queries on it. ``--build-only`` then ``--existing`` (with
   ``--postgres-data``, the cluster's CPU per call) measure a database built once, as often as needed.

PostgreSQL: ``--postgres URL`` (a database the benchmark may fill and empty: every table of traceglass
in it is dropped first), else a throwaway cluster started as the tests start theirs (tests/_postgres.py:
Debian's postgresql, fsync off, so the figures are an upper bound for a durable server).

Run: python benchmarks/bench_team_server.py [--ingest-spans 40000] [--spans 1000000] [--postgres URL]
Appends its section to benchmarks/results/team_server.txt.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from _harness import free_port  # noqa: E402
from bench_store import BATCH, SPANS_PER_TRACE, SpanFactory, _timed
from bench_store import _summary as _store_summary  # noqa: E402

from traceglass.store import TraceStore, TraceWriter  # noqa: E402

TOKEN = "bench-token"
_TABLES = ("traceglass_schema", "traces", "spans", "span_data", "scores", "alert_state", "alert_events",
           "eval_datasets", "eval_dataset_items", "eval_runs", "eval_run_items")


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a process (and its threads) so far, from /proc; with ``children``
    also those of its children that ended (and were waited for)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


class PostgresCPU:
    """CPU seconds of a local cluster's processes: the postmaster, its live children (one backend per
    connection) and the children that ended; None for a server we did not start."""

    def __init__(self, data_dir: pathlib.Path | None) -> None:
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0]) if data_dir else None

    def __call__(self) -> float | None:
        if self.postmaster is None:
            return None
        total = _cpu_seconds(self.postmaster, children=True)
        for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            if int(fields[1]) == self.postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


class Replica:
    """One ``traceglass ui`` process over ``db``."""

    def __init__(self, db: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("TRACEGLASS_DB",)}
        env.update(PYTHONUNBUFFERED="1", TRACEGLASS_TOKEN=TOKEN)
        self.process = subprocess.Popen([sys.executable, "-m", "traceglass", "ui", "--port", str(self.port),
                                         "--db", db], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("traceglass dashboard:"):
            raise RuntimeError(f"the replica did not start: {line}{self.process.stderr.read()}")
        if httpx.get(self.url + "/readyz", timeout=60).status_code != 200:
            raise RuntimeError("the replica is not ready")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def _postgres(url: str | None) -> tuple[Callable[[], str], Callable[[], None], PostgresCPU]:
    """(a function returning the URL of an empty database, a stop function, the cluster's CPU meter)."""
    if url is not None:
        def fresh() -> str:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                for table in _TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
            return url

        return fresh, lambda: None, PostgresCPU(None)
    from tests._postgres import start

    cluster, stop = start()
    made: list[str] = []

    def new() -> str:
        for old in made:
            cluster.drop_database(old)
        made[:] = [cluster.new_database(empty=True)]
        return made[0]

    return new, stop, PostgresCPU(cluster.directory / "data")


def _payloads(total: int, seed: int) -> tuple[list[bytes], int]:
    """OTLP protobuf bodies of about ``total`` spans in whole traces, in batches of BATCH; and the span count."""
    factory = SpanFactory(seed=seed, traces=total // SPANS_PER_TRACE)
    batches = list(factory.batches(total))
    return [encode_spans(batch).SerializeToString() for batch in batches], sum(map(len, batches))


def _ingest(db: str, replicas: int, senders: int, payloads: list[bytes],
            pg_cpu: Callable[[], float | None]) -> tuple[float, float, float | None]:
    """(wall seconds, server CPU seconds, PostgreSQL CPU seconds) to post every payload through ``replicas``."""
    started = [Replica(db) for _ in range(replicas)]
    try:
        cpu_before = sum(_cpu_seconds(r.process.pid) for r in started)
        pg_before = pg_cpu()
        queue = list(enumerate(payloads))
        lock = threading.Lock()
        errors: list[str] = []

        def send() -> None:
            with httpx.Client(headers={"authorization": f"Bearer {TOKEN}",
                                       "content-type": "application/x-protobuf"}) as client:
                while True:
                    with lock:
                        if not queue:
                            return
                        index, payload = queue.pop()
                    for attempt in range(30):
                        response = client.post(started[index % replicas].url + "/v1/traces", content=payload,
                                               timeout=300)
                        if response.status_code != 503:
                            break
                        time.sleep(0.1 * (attempt + 1))
                    if response.status_code != 200 or response.content:
                        errors.append(f"{response.status_code} {response.content[:200]!r}")

        threads = [threading.Thread(target=send) for _ in range(senders)]
        wall = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall
        server_cpu = sum(_cpu_seconds(r.process.pid) for r in started) - cpu_before
        pg_after = pg_cpu()
        if errors:
            raise RuntimeError(f"{len(errors)} batches failed: {errors[:3]}")
        return wall, server_cpu, (pg_after - pg_before) if pg_before is not None and pg_after is not None else None
    finally:
        for replica in started:
            replica.stop()


def bench_ingest(fresh_pg: Callable[[], str], pg_cpu: PostgresCPU, workdir: pathlib.Path, total: int,
                 senders: int, runs: int, report: Callable[[str], None]) -> None:
    payloads, spans = _payloads(total, seed=11)
    report(f"OTLP/HTTP ingest: {spans:,} spans in {len(payloads)} protobuf requests of {BATCH} "
           f"({sum(map(len, payloads)) / len(payloads) / 1e6:.2f} MB each), {senders} sender threads, "
           f"round-robin over the replicas; {runs} runs each, alternating. Wall spans/s; the CPU seconds of "
           "the traceglass ui processes and of PostgreSQL's, and server CPU microseconds per span (both "
           "together for PostgreSQL: the steadier figure on a shared machine):")
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    order = [(backend, replicas) for backend in ("postgresql", "sqlite") for replicas in (1, 2)]
    for run in range(runs):
        for backend, replicas in order:
            if backend == "postgresql":
                db = fresh_pg()
            else:
                db = str(workdir / f"ingest-{run}-{replicas}.db")
            load = os.getloadavg()[0]
            wall, server_cpu, database_cpu = _ingest(db, replicas, senders, payloads,
                                                     pg_cpu if backend == "postgresql" else lambda: None)
            with TraceStore(db) as store:
                count = store.count()
            if count != {"traces": spans // SPANS_PER_TRACE, "spans": spans}:
                raise RuntimeError(f"{backend} x{replicas}: stored {count}, sent {spans} spans")
            both = server_cpu + (database_cpu or 0.0)
            results.setdefault((backend, replicas), []).append((wall, both))
            pg = f" + PostgreSQL {database_cpu:5.1f} s" if database_cpu is not None else ""
            report(f"  run {run + 1}  {backend:<10} {replicas} replica{'s' if replicas > 1 else ' '}  "
                   f"{spans / wall:8,.0f} spans/s  ({wall:6.1f} s; CPU: traceglass ui {server_cpu:5.1f} s{pg} = "
                   f"{both / spans * 1e6:4.0f} us/span)  load {load:.1f}")
    report("  medians:")
    for (backend, replicas), samples in results.items():
        wall, cpu = statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)
        report(f"    {backend:<10} {replicas} replica{'s' if replicas > 1 else ' '}  {spans / wall:8,.0f} spans/s  "
               f"[{cpu / spans * 1e6:5.0f} us server CPU per span]")
    report("  (wall figures on a loaded machine swing between runs; the CPU per span is the figure to compare)")


def build(target: str, total: int, report: Callable[[str], None]) -> list[str]:
    """Write ``total`` bench_store spans (seed 2, as bench_store.py's query database) into ``target`` (a
    PostgreSQL URL or a SQLite path) through TraceWriter.write, in BATCH-span batches; the sampled trace ids."""
    rng = random.Random(3)
    factory = SpanFactory(seed=2, traces=total // SPANS_PER_TRACE)
    sample_ids: list[str] = []
    written, write_s, cpu, started = 0, 0.0, time.process_time(), time.perf_counter()
    with TraceWriter(target) as writer:
        for batch in factory.batches(total):
            if rng.random() < 0.2:
                sample_ids.append(format(batch[-1].context.trace_id, "032x"))
            start = time.perf_counter()
            writer.write(batch)
            write_s += time.perf_counter() - start
            written += len(batch)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    kind = "PostgreSQL" if target.startswith("postgres") else "SQLite"
    report(f"  {kind}: {written:,} spans built through TraceWriter.write ({BATCH}-span batches) in {wall:.1f} s wall, "
           f"{cpu:.1f} s CPU of this process ({written / write_s:,.0f} spans/s inside write); load now "
           "%.2f %.2f %.2f" % os.getloadavg())
    return sample_ids


def _sample(target: str) -> list[str]:
    """2,000 random stored trace ids (for get_trace) of a database built earlier."""
    sql = "SELECT trace_id FROM traces ORDER BY random() LIMIT 2000"
    if target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target) as conn:
            return [r[0] for r in conn.execute(sql)]
    import sqlite3

    with sqlite3.connect(target) as conn:
        return [r[0] for r in conn.execute(sql)]


def bench_queries(target: str, report: Callable[[str], None], sample_ids: list[str] | None = None,
                  pg_cpu: Callable[[], float | None] = lambda: None) -> None:
    """bench_store.py's queries on the database at ``target`` (PostgreSQL URL or SQLite path). The CPU
    figure is this process's; for PostgreSQL the server's CPU per call is added when ``pg_cpu`` can read it."""
    rng = random.Random(3)

    def _summary(label: str, samples: Callable[[], list[float]], target_ms: float | None = None) -> str:
        before = pg_cpu()
        timed = samples()
        after = pg_cpu()
        line = _store_summary(label, timed, target_ms)
        if before is not None and after is not None:
            line += f"  [PostgreSQL CPU {(after - before) / len(timed) * 1000:.2f} ms/call]"
        return line

    if target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:  # fresh statistics, as autovacuum would make them
            conn.execute("ANALYZE")
    sample_ids = sample_ids or _sample(target)
    store = TraceStore(target, create=False)
    count = store.count()
    kind = "PostgreSQL" if target.startswith("postgres") else "SQLite"
    report(f"{kind} database of {count['spans']:,} spans ({count['traces']:,} traces), "
           f"{store.size_bytes() / 1e9:.2f} GB; load %.2f %.2f %.2f" % os.getloadavg())
    ids = rng.sample(sample_ids, min(300, len(sample_ids)))
    it = iter(ids * 2)
    report(_summary("get_trace (random trace, 5 spans)", lambda: _timed(lambda: store.get_trace(next(it)), len(ids)), 5))
    report(_summary("list_traces first page (50)", lambda: _timed(lambda: store.list_traces(limit=50), 50), 50))
    page = store.list_traces(limit=50)
    for _ in range(20):
        page = store.list_traces(limit=50, cursor=page.next_cursor)
    cursor = page.next_cursor
    report(_summary("list_traces page 22 via cursor", lambda: _timed(lambda: store.list_traces(limit=50, cursor=cursor), 50),
                    50))
    report(_summary("list_traces project=search", lambda: _timed(lambda: store.list_traces(project="search"), 50), 50))
    report(_summary("list_traces user=user-42", lambda: _timed(lambda: store.list_traces(user="user-42"), 50), 50))
    report(_summary("list_traces model=o3-mini-2025-01-01 (any span)",
                    lambda: _timed(lambda: store.list_traces(model="o3-mini-2025-01-01"), 50), 50))
    report(_summary("list_traces status=error", lambda: _timed(lambda: store.list_traces(status="error"), 50), 50))
    report(_summary("list_traces since=7d min_cost=0.0003",
                    lambda: _timed(lambda: store.list_traces(since="7d", min_cost=0.0003), 20), 50))
    report(_summary("list_traces search='priority support' (content)",
                    lambda: _timed(lambda: store.list_traces(search="priority support"), 10), 50))
    second = store.list_traces(search="priority support").next_cursor
    report(_summary("list_traces search='priority support' page 2",
                    lambda: _timed(lambda: store.list_traces(search="priority support", cursor=second), 10), 50))
    report(_summary("list_traces search=<absent text> (full scan)",
                    lambda: _timed(lambda: store.list_traces(search="zebra-unicorn"), 1)))
    report(_summary('stats(group_by="model") over everything', lambda: _timed(lambda: store.stats("model"), 5), 1000))
    for group in ("type", "project", "user", "day"):
        report(_summary(f'stats(group_by="{group}") over everything', lambda g=group: _timed(lambda: store.stats(g), 3),
                        1000))
    report(_summary('stats(group_by="model", since="7d")', lambda: _timed(lambda: store.stats("model", since="7d"), 5)))
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-spans", type=int, default=40_960, help="spans per ingest run (0: skip)")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="runs of each ingest setup")
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans in the query database (0: skip)")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to use (default: a throwaway cluster)")
    parser.add_argument("--existing", action="store_true",
                        help="with --postgres: query the database as it is (no ingest, no build)")
    parser.add_argument("--postgres-data", type=pathlib.Path, default=None,
                        help="with --postgres: the cluster's data directory on this machine (its CPU is then read)")
    parser.add_argument("--build-only", action="store_true", help="build the query database(s), query nothing")
    parser.add_argument("--sqlite", type=pathlib.Path, default=None,
                        help="also a SQLite file of the same spans (built unless it exists), queried the same way")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path(__file__).parent / "results" / "team_server.txt",
                        help="the results file; this run's section is appended")
    args = parser.parse_args()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="traceglass-bench-team-"))
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    import psycopg

    if args.existing and not args.postgres:
        parser.error("--existing needs --postgres URL")
    fresh_pg, stop, pg_cpu = _postgres(args.postgres)
    if args.postgres_data is not None:
        pg_cpu = PostgresCPU(args.postgres_data)
    if args.existing:
        fresh_pg = lambda: args.postgres  # noqa: E731 - the database as it is, never emptied
    cpu = time.process_time()
    try:
        url = fresh_pg()
        with psycopg.connect(url) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()[0]
        report("# bench_team_server.py " + " ".join(
            a if not a.startswith("postgres") else "URL" for a in sys.argv[1:]))
        report(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
               f"PostgreSQL {server_version}" + ("" if args.postgres else " (throwaway cluster, fsync off)") +
               f", psycopg {psycopg.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
        report("# load average at start: %.2f %.2f %.2f" % os.getloadavg())
        if args.ingest_spans > 0 and not args.existing:
            bench_ingest(fresh_pg, pg_cpu, workdir, args.ingest_spans, args.senders, args.runs, report)
        samples = None
        if not args.existing and args.spans > 0:
            url = fresh_pg()
            samples = build(url, args.spans, report)
        if args.sqlite is not None and not args.sqlite.exists() and args.spans > 0:
            build(str(args.sqlite), args.spans, report)
        if not args.build_only and (args.existing or args.spans > 0):
            bench_queries(url, report, samples, pg_cpu)
            if args.sqlite is not None:
                bench_queries(str(args.sqlite), report)
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        report(f"# CPU of this process: {time.process_time() - cpu:.1f} s; load average at end: {load}")
    finally:
        stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as out:
        out.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
