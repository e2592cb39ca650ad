"""``traceglass demo`` (run the example apps against the bundled server, then open the dashboard) and
``traceglass demo-server`` (the bundled OpenAI-compatible server alone, in the foreground).

The work itself is :mod:`traceglass.demo`'s: :func:`~traceglass.demo._run.run_examples` and
:class:`~traceglass.demo.fake_openai.FakeOpenAIServer`; this module parses, checks and prints.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from traceglass.cli._errors import EXIT_OK, EXIT_USAGE, CommandError
from traceglass.cli._ui import check_can_serve, port_number, run_ui

_MAX_SUMMARY_PAGES = 100  # 50,000 traces: far more than one run of the examples makes


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo`` and ``demo-server``."""
    demo = subparsers.add_parser(
        "demo", parents=[common], help="run traced example apps offline, then open the dashboard",
        description="Run the example LLM apps against a bundled OpenAI-compatible server (no API key, no "
                    "network), store their traces in the SQLite store, then serve the dashboard.")
    demo.add_argument("--no-ui", action="store_true", help="do not start the dashboard afterwards")
    demo.add_argument("--host", default="127.0.0.1", help="dashboard address (default: 127.0.0.1)")
    demo.add_argument("--port", type=port_number, default=8080, help="dashboard port (default: 8080)")
    demo.add_argument("--verbose", action="store_true", help="show each example's own output")
    demo.add_argument("--fresh", action="store_true",
                      help="delete the database (and its -wal/-shm files) first, so it holds only this run's "
                           "traces; the default database holds your own apps' traces too (see --db)")
    demo.set_defaults(func=_demo)

    # Point any OpenAI client (an app under opentelemetry-instrument, the examples, your own code) at
    # it with OPENAI_BASE_URL; it answers every route in traceglass.demo.fake_openai.ROUTES until Ctrl-C.
    server = subparsers.add_parser(
        "demo-server", help="run the bundled OpenAI-compatible server until Ctrl-C",
        description="Serve the demo's OpenAI-compatible API (chat, streams, tools, embeddings, Responses) and "
                    "Anthropic's Messages API on HOST:PORT with plausible replies and usage, no API key and no "
                    "network. Prints the base URLs to use as OPENAI_BASE_URL and ANTHROPIC_BASE_URL; any API "
                    "key is accepted.")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    server.add_argument("--port", type=port_number, default=8000, help="port (default: 8000; 0 picks a free one)")
    server.set_defaults(func=_demo_server)


def _remove_store(db: str) -> None:
    from traceglass.demo._run import remove_store

    try:
        removed = remove_store(db)
    except ValueError as exc:  # not a file, or not an SQLite database: left alone
        raise CommandError(f"--fresh: {exc}", EXIT_USAGE) from None
    except OSError as exc:
        raise CommandError(f"--fresh: cannot delete {exc.filename or db}: {exc.strerror or exc}") from None
    print(f"--fresh: deleted {', '.join(removed)}" if removed else f"--fresh: no store at {db} yet")


def _summary(db: str, since_ns: int) -> str:
    """What this run added: the traces that started at or after ``since_ns``, per project."""
    from datetime import datetime, timezone

    from traceglass.cli._render import cost
    from traceglass.store import TraceStore

    since = datetime.fromtimestamp(since_ns / 1e9, tz=timezone.utc)
    added = []
    store = TraceStore(db)
    try:
        cursor = None
        for _ in range(_MAX_SUMMARY_PAGES):
            page = store.list_traces(since=since, limit=500, cursor=cursor)
            added.extend(page.traces)
            cursor = page.next_cursor
            if cursor is None:
                break
        held = store.count()["traces"]
        scores = _count_scores(store, since)
    finally:
        store.close()
    projects: dict[str, list[Any]] = {}
    for trace in added:
        projects.setdefault(str(trace.project), []).append(trace)

    def priced(traces: list[Any]) -> float | None:
        costs = [t.cost_usd for t in traces if t.cost_usd is not None]
        return sum(costs) if costs else None

    total = priced(added)
    lines = [f"This run added {len(added)} traces, {sum(t.span_count for t in added)} spans, {scores} scores, "
             f"{cost(total) if total is not None else 'no cost'} to {db} (now {held} traces in all)"]
    for project, traces in sorted(projects.items(), key=lambda item: (-(priced(item[1]) or 0.0), item[0])):
        amount = priced(traces)
        lines.append(f"  {project:24} {len(traces):3d} traces {sum(t.total_tokens for t in traces):6d} tokens "
                     f"{'unpriced' if amount is None else cost(amount)}")
    return "\n".join(lines)


def _count_scores(store: Any, since: Any) -> int:
    """The scores created at or after ``since`` (the examples' feedback and checks)."""
    count, cursor = 0, None
    for _ in range(_MAX_SUMMARY_PAGES):
        page = store.scores(since=since, limit=500, cursor=cursor)
        count += len(page.scores)
        cursor = page.next_cursor
        if cursor is None:
            break
    return count


def _evaluate(db: str) -> None:
    """Score the LLM calls just traced (two code scorers, one judge on the bundled server)."""
    from traceglass.demo._evaluate import evaluate_demo, summary_line

    print("Evaluating the traced LLM calls (length_between, max_latency, and the relevance judge):")
    print(summary_line(evaluate_demo(db)))


def _demo(args: argparse.Namespace) -> int:
    from traceglass.demo._run import run_examples
    from traceglass.store import default_db_path

    db = os.fspath(args.db) if getattr(args, "db", None) else str(default_db_path())
    if not args.no_ui:  # before anything runs: the dashboard must be able to start at the end
        check_can_serve(args.host, args.port, None)
    if args.fresh:
        _remove_store(db)
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    print("Running the example apps against the bundled OpenAI- and Anthropic-compatible server "
          "(no API key needed):")
    started_ns = time.time_ns()
    failed = run_examples(db, verbose=args.verbose)
    print(_summary(db, started_ns))
    _evaluate(db)
    if failed:
        raise CommandError(f"{len(failed)} example(s) failed: {', '.join(failed)}")
    if args.no_ui:
        print("Browse them with: traceglass traces" + (f" --db {db}" if getattr(args, "db", None) else ""))
        return EXIT_OK
    args.token = None
    args.cors_origins = None
    args.db = db
    return run_ui(args)


def _demo_server(args: argparse.Namespace) -> int:
    from traceglass.demo.endpoint import DEMO_API_KEY, DEMO_CHUNK_DELAY
    from traceglass.demo.fake_openai import FakeOpenAIServer
    from traceglass.server._ports import bind_error

    try:
        server = FakeOpenAIServer(args.host, args.port, chunk_delay=DEMO_CHUNK_DELAY)
    except OSError as exc:
        raise CommandError(bind_error(args.host, args.port, exc), EXIT_USAGE) from None
    # The first line is the URL alone, for scripts; the socket is already listening.
    print(f"traceglass demo server: {server.base_url}", flush=True)
    print(f"  export OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY={DEMO_API_KEY}", flush=True)
    print(f"  export ANTHROPIC_BASE_URL={server.anthropic_base_url} ANTHROPIC_API_KEY={DEMO_API_KEY}", flush=True)
    print("  Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("demo server stopped", flush=True)
    return EXIT_OK
