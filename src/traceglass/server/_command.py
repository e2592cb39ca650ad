"""The ``traceglass ui`` subcommand: serve the dashboard, REST API and OTLP receiver."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from typing import Any

from traceglass.cli import EXIT_OK, EXIT_USAGE, CommandError


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def bind_error(host: str, port: int, exc: OSError) -> str:
    """One line saying why ``host:port`` cannot be served."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use; pick another with --port"
    if exc.errno == errno.EACCES:
        return f"no permission to use port {port} on {host}; pick another with --port"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve on host {host!r} (port {port}): {exc.strerror or exc}"
    return f"cannot serve on {host} port {port}: {exc.strerror or exc}"


def ensure_port_free(host: str, port: int) -> None:
    """Raise a usage :class:`CommandError` unless ``host:port`` can be bound now.

    Binds the way uvicorn will (SO_REUSEADDR, IPv6 for a host with ':') and lets go at once, so a
    busy port is reported before any work, in one line, instead of as the server's traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:  # socket.gaierror (an unknown host) included
        raise CommandError(bind_error(host, port, exc), EXIT_USAGE) from None


def check_can_serve(host: str, port: int, token: str | None) -> None:
    """Everything that would stop the dashboard from starting, as a usage :class:`CommandError`:
    a non-loopback host without a token, then a port that cannot be bound."""
    from traceglass.server import UnsafeBindError, resolve_token

    try:
        resolve_token(host, token)
    except UnsafeBindError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    ensure_port_free(host, port)


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``ui`` (the cli.py subcommand hook)."""
    ui = subparsers.add_parser(
        "ui", parents=[common], help="serve the dashboard, REST API and OTLP receiver",
        description="Serve the traces dashboard at http://HOST:PORT/, the REST API under /api/ and an "
                    "OTLP/HTTP trace receiver at /v1/traces. Any host other than loopback needs a token.")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    ui.add_argument("--port", type=port_number, default=8080, help="port (default: 8080)")
    ui.add_argument("--token", default=None,
                    help="access token every request must present (default: $TRACEGLASS_TOKEN); "
                         "required for a non-loopback --host")
    ui.add_argument("--cors-origin", action="append", dest="cors_origins", metavar="ORIGIN",
                    help="allow browser calls from this origin (repeatable; none by default)")
    ui.set_defaults(func=_ui)


def add_ui_command(subparsers: Any, common: argparse.ArgumentParser | None = None) -> None:
    """Same as :func:`add_subcommands`, for callers without the shared options parser."""
    add_subcommands(subparsers, common or argparse.ArgumentParser(add_help=False))


def _ui(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise CommandError("the dashboard needs the server extra: pip install 'traceglass[server]'") from None
    from traceglass.server import UnsafeBindError, serve

    db = getattr(args, "db", None)
    check_can_serve(args.host, args.port, args.token)
    try:
        serve(args.host, args.port, db=os.fspath(db) if db else None, token=args.token,
              cors_origins=args.cors_origins, announce=lambda line: print(line, flush=True))
    except UnsafeBindError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    return EXIT_OK
