"""Alerts: one evaluation pass of 20 rules over a 1,000,000-span store (issue 16: under 1 s per pass).

Run: python benchmarks/bench_alerts.py   (writes benchmarks/results/alerts.txt)

The synthetic store is built once (direct inserts into the real schema, then ANALYZE-free, as the
exporter leaves a file) at /tmp/traceglass-bench-alerts.db and reused by later runs (--rebuild to
make it again). 250,000 traces of 4 spans over 7 days ending at a fixed "now": an agent root, two
model calls (6 models, dated snapshots among them), one tool; 1,000 users, 3 projects, ~2% errors,
50,000 scores. The rules (20, listed in RULES) mix windows of 15m, 1h and 1d, groupings, min_calls,
score rules and two per-trace rules; each pass is AlertEngine.evaluate() at that "now" with its state
stored (no notifier), the same work `traceglass alerts check` does.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import random
import sqlite3
import statistics
import sys
import time

from traceglass.alerts import AlertEngine, AlertRule
from traceglass.store import TraceStore, _schema

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "alerts.txt"
DB = pathlib.Path("/tmp/traceglass-bench-alerts.db")
NOW_S = 1_800_000_000
DAYS = 7
TRACES = 250_000
MODELS = ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o", "claude-3-5-sonnet", "gpt-4.1", "o3-mini"]
PROJECTS = ["support-bot", "search", "batch"]

RULES = [
    AlertRule("spend-1h", "cost_usd", window="1h", above=50.0),
    AlertRule("spend-per-user-1d", "cost_usd", window="1d", above=5.0, group_by="user", min_calls=10),
    AlertRule("spend-per-model-1d", "cost_usd", window="1d", above=500.0, group_by="model"),
    AlertRule("spend-support-1h", "cost_usd", window="1h", above=20.0, where={"project": "support-bot"}),
    AlertRule("tokens-1h", "tokens", window="1h", above=2_000_000),
    AlertRule("tokens-per-project-1d", "tokens", window="1d", above=10_000_000, group_by="project"),
    AlertRule("calls-15m", "calls", window="15m", above=5_000),
    AlertRule("calls-low-15m", "calls", window="15m", below=10, where={"project": "search"}),
    AlertRule("errors-15m", "error_rate", window="15m", above=0.05, min_calls=20),
    AlertRule("errors-per-model-1h", "error_rate", window="1h", above=0.05, group_by="model", min_calls=50),
    AlertRule("tool-errors-1h", "error_rate", window="1h", above=0.1, where={"span_type": "tool"}),
    AlertRule("p95-15m", "latency_p95_ms", window="15m", above=4000),
    AlertRule("p95-per-model-1h", "latency_p95_ms", window="1h", above=5000, group_by="model"),
    AlertRule("p50-1d", "latency_p50_ms", window="1d", above=3000),
    AlertRule("max-gpt4o-1h", "latency_max_ms", window="1h", above=20_000, where={"model": "gpt-4o"}),
    AlertRule("helpfulness-1d", "score_mean:helpfulness", window="1d", below=0.5, min_calls=20),
    AlertRule("thumbs-down-1h", "score_count:user_feedback=thumbs_down", window="1h", above=10),
    AlertRule("helpfulness-per-project-1d", "score_mean:helpfulness", window="1d", below=0.6, group_by="project"),
    AlertRule("expensive-trace", "cost_usd", per_trace=True, above=0.5, window="15m"),
    AlertRule("slow-trace", "latency_ms", per_trace=True, above=30_000, window="15m"),
]

_SPAN_COLUMNS = ("id", "trace_no", "trace_id", "span_id", "parent_id", "name", "kind", "span_type", "project",
                 "start_ns", "end_ns", "duration_ns", "status", "error_type", "model", "provider", "input_tokens",
                 "output_tokens", "total_tokens", "cost_usd", "session_id", "user_id", "superseded")
_TRACE_COLUMNS = ("id", "trace_id", "root_span_id", "name", "project", "start_ns", "end_ns", "duration_ns", "status",
                  "span_count", "error_count", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
                  "session_id", "user_id")
_SCORE_COLUMNS = ("id", "trace_id", "name", "value", "label", "data_type", "source", "created_ns")


def build(path: pathlib.Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        pathlib.Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = _schema.connect(path)  # the real schema (and its indexes), created by traceglass itself
    rng = random.Random(16)
    start_of = (NOW_S - DAYS * 86400) * 10**9
    span_sql = f"INSERT INTO spans ({', '.join(_SPAN_COLUMNS)}) VALUES ({', '.join('?' * len(_SPAN_COLUMNS))})"
    trace_sql = f"INSERT INTO traces ({', '.join(_TRACE_COLUMNS)}) VALUES ({', '.join('?' * len(_TRACE_COLUMNS))})"
    score_sql = f"INSERT INTO scores ({', '.join(_SCORE_COLUMNS)}) VALUES ({', '.join('?' * len(_SCORE_COLUMNS))})"
    span_id = 0
    conn.execute("BEGIN")
    for no in range(1, TRACES + 1):
        start = start_of + int((no / TRACES) * DAYS * 86400 * 1e9) + rng.randrange(10**9)
        trace_id = f"{rng.getrandbits(128):032x}"
        project, user = rng.choice(PROJECTS), f"user-{rng.randrange(1000)}"
        session = f"s-{rng.randrange(20000)}"
        spans, t, errors, tokens_in, tokens_out, cost = [], start, 0, 0, 0, 0.0
        for call in range(2):
            model = rng.choice(MODELS)
            duration = int(rng.lognormvariate(6.8, 0.6) * 1e6)
            failed = rng.random() < 0.02
            inp, out = rng.randrange(200, 3000), rng.randrange(20, 600)
            price = 0.0 if failed else round(inp * 1.5e-7 + out * 6e-7, 8)
            errors += failed
            tokens_in, tokens_out, cost = tokens_in + inp, tokens_out + out, cost + price
            spans.append(("chat " + model, "CLIENT", "llm", t, duration, "ERROR" if failed else "OK", model,
                          "openai", inp, out, inp + out, price))
            t += duration
        duration = int(rng.lognormvariate(5.5, 0.5) * 1e6)
        spans.append(("search_docs", "INTERNAL", "tool", t, duration, "OK", None, None, None, None, None, None))
        t += duration
        root = span_id = span_id + 1
        rows = [(root, no, trace_id, f"{root:016x}", None, "agent", "INTERNAL", "agent", project, start, t,
                 t - start, "ERROR" if errors else "OK", None, None, None, None, None, None, None, session, user, 0)]
        for name, kind, span_type, s, d, status, model, provider, inp, out, total, price in spans:
            span_id += 1
            rows.append((span_id, no, trace_id, f"{span_id:016x}", f"{root:016x}", name, kind, span_type,
                         project, s, s + d, d, status, "APIError" if status == "ERROR" else None, model, provider,
                         inp, out, total, price, session, user, 0))
        conn.executemany(span_sql, rows)
        conn.execute(trace_sql, (no, trace_id, f"{root:016x}", "agent", project, start, t, t - start,
                                 "ERROR" if errors else "OK", 4, errors, tokens_in, tokens_out, tokens_in + tokens_out,
                                 round(cost, 8), session, user))
        if no % 5 == 0:
            created = t + 10**9
            if rng.random() < 0.5:
                conn.execute(score_sql, (f"h{no}", trace_id, "helpfulness", rng.random(), None, "numeric", "llm",
                                         created))
            else:
                label = "thumbs_down" if rng.random() < 0.2 else "thumbs_up"
                conn.execute(score_sql, (f"f{no}", trace_id, "user_feedback", None, label, "categorical", "human",
                                         created))
        if no % 20_000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic store again")
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results/alerts.txt")
    args = parser.parse_args()
    if args.rebuild or not DB.exists():
        began = time.perf_counter()
        build(DB)
        print(f"built {DB} in {time.perf_counter() - began:.1f} s")
    lines = []
    with TraceStore(DB) as store:
        counts = store.count()
        conn = sqlite3.connect(str(DB))
        conn.execute("DELETE FROM alert_state")
        conn.execute("DELETE FROM alert_events")
        conn.commit()
        conn.close()
        engine = AlertEngine(RULES, store)
        walls, cpus, fired = [], [], []
        for number in range(args.passes):
            wall, cpu = time.perf_counter(), time.process_time()
            events = engine.evaluate(NOW_S + number)  # the first pass stores every firing; later ones compare
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            fired.append(sum(e.state == "firing" for e in events))
        per_rule = []
        for rule in RULES:
            single = AlertEngine([rule], store)
            began = time.perf_counter()
            single.evaluate(NOW_S + args.passes)
            per_rule.append((rule.name, time.perf_counter() - began))
    load = " ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    lines.append(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
                 f"SQLite {sqlite3.sqlite_version}, {__import__('os').cpu_count()} CPUs, {platform.machine()}; "
                 f"load at end {load}")
    lines.append(f"# store: {counts['spans']:,} spans, {counts['traces']:,} traces over {DAYS} days (50,000 scores); "
                 f"{len(RULES)} rules (see RULES in bench_alerts.py)")
    lines.append(f"pass of {len(RULES)} rules, {args.passes} passes: wall " + ", ".join(f"{w * 1000:.0f}" for w in walls)
                 + f" ms (median {statistics.median(walls) * 1000:.0f} ms); CPU median "
                 f"{statistics.median(cpus) * 1000:.0f} ms; firing per pass {fired[-1]}")
    lines.append("one rule alone (its own pass, state included), ms: "
                 + ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in per_rule))
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        RESULTS.write_text(text + "\n\n" + previous)


if __name__ == "__main__":
    sys.exit(main())
