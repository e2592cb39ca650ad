"""``traceglass demo``: run the example apps against the bundled server, then open the dashboard.

Each example runs as its own process — exactly as ``python examples/NAME.py`` — with its calls
sent to the bundled OpenAI-compatible server and its traces written to one SQLite file; the
zero-code example runs under ``opentelemetry-instrument``. No API key and no network are used.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from traceglass.cli import EXIT_OK, EXIT_USAGE, CommandError
from traceglass.demo import _serve
from traceglass.demo.endpoint import DEMO_API_KEY, DEMO_CHUNK_DELAY
from traceglass.demo.examples import DEMO_ORDER
from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.server._command import _ui, check_can_serve, port_number

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
_NEEDS = {"langchain_agent": ("langchain_core", "langgraph", "langchain_openai")}
_TIMEOUT_S = 300


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo`` and ``demo-server`` (the cli.py subcommand hook)."""
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
    _serve.add_subcommand(subparsers, common)


def _missing(name: str) -> list[str]:
    return [module for module in _NEEDS.get(name, ()) if importlib.util.find_spec(module) is None]


def _instrument_command() -> str | None:
    beside = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")


def _command_for(name: str) -> list[str] | None:
    script = str(EXAMPLES_DIR / f"{name}.py")
    if name == "openai_zero_code":
        instrument = _instrument_command()
        return [instrument, sys.executable, script] if instrument else None
    return [sys.executable, script]


def _environment(db: str, base_url: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_", "TRACEGLASS_"))}
    env.update({"TRACEGLASS_DB": db, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": DEMO_API_KEY,
                "PYTHONUNBUFFERED": "1"})
    for key in ("TRACEGLASS_CAPTURE_CONTENT", "TRACEGLASS_PRICES", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        if key in os.environ:  # the user's own content and price choices still apply
            env[key] = os.environ[key]
    if name == "openai_zero_code":
        env.update({
            "OTEL_SERVICE_NAME": "openai-zero-code",
            "OTEL_TRACES_EXPORTER": "traceglass_sqlite",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            # the official `openai` instrumentor may be installed too: one span per call
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        })
    return env


def run_examples(db: str, *, verbose: bool = False, out: Any = None) -> list[str]:
    """Run every example against a bundled server, traces into ``db``; returns the failed names."""
    out = out or sys.stdout
    failed: list[str] = []
    with FakeOpenAIServer(chunk_delay=DEMO_CHUNK_DELAY) as server:
        for name in DEMO_ORDER:
            if name == "read_traces":
                continue
            missing = _missing(name)
            command = _command_for(name)
            if missing or command is None:
                why = f"needs {', '.join(missing)}: pip install 'traceglass[demo]'" if missing \
                    else "opentelemetry-instrument not found"
                print(f"  skipped {name}: {why}", file=out)
                continue
            started = time.perf_counter()
            done = subprocess.run(command, env=_environment(db, server.base_url, name), capture_output=True,
                                  text=True, timeout=_TIMEOUT_S, check=False)
            seconds = time.perf_counter() - started
            if done.returncode == 0:
                print(f"  ran {name} ({seconds:.1f} s)", file=out)
            else:
                failed.append(name)
                print(f"  FAILED {name} (exit {done.returncode}):\n{done.stderr[-2000:]}", file=out)
            if verbose and done.stdout:
                print("    " + done.stdout.strip().replace("\n", "\n    "), file=out)
    return failed


_SQLITE_HEADER = b"SQLite format 3\x00"
_MAX_SUMMARY_PAGES = 100  # 50,000 traces: far more than one run of the examples makes


def _remove_store(db: str) -> None:
    """Delete ``db`` and its -wal/-shm files, refusing a file that is not an SQLite database."""
    removed = []
    try:
        if os.path.exists(db):
            if not os.path.isfile(db):
                raise CommandError(f"--fresh: {db} is not a file; left it alone", EXIT_USAGE)
            with open(db, "rb") as head:
                start = head.read(len(_SQLITE_HEADER))
            if start and start != _SQLITE_HEADER:
                raise CommandError(f"--fresh: {db} is not an SQLite database; left it alone", EXIT_USAGE)
        for target in (db, f"{db}-wal", f"{db}-shm"):
            if os.path.isfile(target):
                os.unlink(target)
                removed.append(target)
    except OSError as exc:
        raise CommandError(f"--fresh: cannot delete {exc.filename or db}: {exc.strerror or exc}") from None
    print(f"--fresh: deleted {', '.join(removed)}" if removed else f"--fresh: no store at {db} yet")


def _summary(db: str, since_ns: int) -> str:
    """What this run added: the traces that started at or after ``since_ns``, per project."""
    from datetime import datetime, timezone

    from traceglass.store import TraceStore
    from traceglass.store._render import cost

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
    finally:
        store.close()
    projects: dict[str, list[Any]] = {}
    for trace in added:
        projects.setdefault(str(trace.project), []).append(trace)

    def priced(traces: list[Any]) -> float | None:
        costs = [t.cost_usd for t in traces if t.cost_usd is not None]
        return sum(costs) if costs else None

    total = priced(added)
    lines = [f"This run added {len(added)} traces, {sum(t.span_count for t in added)} spans, "
             f"{cost(total) if total is not None else 'no cost'} to {db} (now {held} traces in all)"]
    for project, traces in sorted(projects.items(), key=lambda item: (-(priced(item[1]) or 0.0), item[0])):
        amount = priced(traces)
        lines.append(f"  {project:24} {len(traces):3d} traces {sum(t.total_tokens for t in traces):6d} tokens "
                     f"{'unpriced' if amount is None else cost(amount)}")
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    from traceglass.store import default_db_path

    db = os.fspath(args.db) if getattr(args, "db", None) else str(default_db_path())
    if not args.no_ui:  # before anything runs: the dashboard must be able to start at the end
        check_can_serve(args.host, args.port, None)
    if args.fresh:
        _remove_store(db)
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    print("Running the example apps against the bundled OpenAI-compatible server (no API key needed):")
    started_ns = time.time_ns()
    failed = run_examples(db, verbose=args.verbose)
    print(_summary(db, started_ns))
    if failed:
        raise CommandError(f"{len(failed)} example(s) failed: {', '.join(failed)}")
    if args.no_ui:
        print("Browse them with: traceglass traces" + (f" --db {db}" if getattr(args, "db", None) else ""))
        return EXIT_OK
    args.token = None
    args.cors_origins = None
    args.db = db
    return _ui(args)
