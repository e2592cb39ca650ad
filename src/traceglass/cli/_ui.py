"""The ``traceglass ui`` subcommand: serve the dashboard, REST API and OTLP receiver."""

from __future__ import annotations

import argparse
import os
from typing import Any

from traceglass.cli._errors import EXIT_OK, EXIT_USAGE, CommandError
from traceglass.server._ports import port_problem


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def cors_origin(text: str) -> str:
    from traceglass.server._cors import check_origin

    try:
        return check_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def replay_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    if parts.username or parts.password:
        raise argparse.ArgumentTypeError("the URL must not carry credentials: set $TRACEGLASS_REPLAY_API_KEY")
    return text


def check_can_serve(host: str, port: int, token: str | None) -> None:
    """Everything that would stop the dashboard from starting, as a usage :class:`CommandError`:
    a non-loopback host without a token, then a port that cannot be bound."""
    from traceglass.server import UnsafeBindError, resolve_token

    try:
        resolve_token(host, token)
    except UnsafeBindError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    problem = port_problem(host, port)
    if problem is not None:
        raise CommandError(problem, EXIT_USAGE)


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``ui``."""
    ui = subparsers.add_parser(
        "ui", parents=[common], help="serve the dashboard, REST API and OTLP receiver",
        description="Serve the traces dashboard at http://HOST:PORT/, the REST API under /api/ and an "
                    "OTLP/HTTP receiver: spans at /v1/traces, scores (gen_ai.evaluation.result log records) at "
                    "/v1/logs, metrics accepted and dropped at /v1/metrics. Any host other than loopback needs "
                    "a token.")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    ui.add_argument("--port", type=port_number, default=8080, help="port (default: 8080)")
    ui.add_argument("--token", default=None,
                    help="access token every request must present (default: $TRACEGLASS_TOKEN); "
                         "required for a non-loopback --host")
    ui.add_argument("--cors-origin", action="append", dest="cors_origins", metavar="ORIGIN", type=cors_origin,
                    help="let pages of this origin (scheme://host[:port], e.g. https://app.example) call the API "
                         "from a browser, e.g. a feedback widget posting scores with the token (repeatable; "
                         "none by default)")
    ui.add_argument("--alerts", metavar="FILE", default=None,
                    help="evaluate the alert rules of this file while serving (window rules on its interval, "
                         "per-trace rules as spans arrive); see `traceglass alerts check`")
    ui.add_argument("--evals", metavar="FILE", default=None,
                    help="run the evaluation schedules of this file (YAML or TOML: scorers, filters, every or "
                         "cron) while serving; see docs/evals.md")
    ui.add_argument("--replay-base-url", metavar="URL", default=None, type=replay_url,
                    help="turn on the dashboard's Replay: edited LLM requests are sent to this OpenAI-compatible "
                         "endpoint (e.g. https://api.openai.com/v1) with the key from $TRACEGLASS_REPLAY_API_KEY, "
                         "else $OPENAI_API_KEY, and traced as new traces (off by default)")
    ui.add_argument("--shutdown-timeout", type=seconds, default=None, metavar="SECONDS",
                    help="on SIGTERM or Ctrl-C, stop accepting and let the requests in flight finish for at most "
                         "this long before closing the database and exiting with status 0 (default: 20)")
    ui.set_defaults(func=run_ui)


def run_ui(args: argparse.Namespace) -> int:
    """Serve ``args.db`` on ``args.host:args.port`` until stopped (``ui``, and ``demo`` at its end)."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CommandError("the dashboard needs the server extra: pip install 'traceglass[server]'") from None
    from traceglass.server import UnsafeBindError, serve

    db = getattr(args, "db", None)
    rules = None
    if getattr(args, "alerts", None):
        from traceglass.alerts import RuleError, load_rules

        try:
            rules = load_rules(args.alerts)
        except RuleError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
    schedules = None
    if getattr(args, "evals", None):
        from traceglass.evals import load_schedules

        try:
            schedules = load_schedules(args.evals, store=db)
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
    check_can_serve(args.host, args.port, args.token)
    try:
        serve(args.host, args.port, db=os.fspath(db) if db else None, token=args.token,
              cors_origins=args.cors_origins, announce=lambda line: print(line, flush=True), alerts=rules,
              evals=schedules, replay=getattr(args, "replay_base_url", None),
              shutdown_timeout=getattr(args, "shutdown_timeout", None))
    except UnsafeBindError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    return EXIT_OK
