"""The ``traceglass`` command (also ``python -m traceglass``).

This package owns the commands and everything they print; the store, the server and the demo
only offer functions the commands call. Subcommands live in the modules listed in
:data:`SUBCOMMAND_MODULES`; each defines ``add_subcommands(subparsers, common)`` that adds its
parsers (with ``parents=[common]`` for the shared ``--db``/``--json`` options) and sets
``func=handler`` where ``handler(args) -> int`` returns an exit code or raises :class:`CommandError`.
To add a command, add its module here.

Exit codes: 0 success, 1 not found (missing database, unknown trace id) or failure, 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from traceglass._version import __version__

from traceglass.cli._errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CommandError

SUBCOMMAND_MODULES: list[str] = ["traceglass.cli._store", "traceglass.cli._scores", "traceglass.cli._ui",
                                  "traceglass.cli._demo", "traceglass.cli._alerts", "traceglass.cli._evals",
                                  "traceglass.cli._sessions"]


def common_options() -> argparse.ArgumentParser:
    """The options every subcommand takes: ``--db`` and ``--json``."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not overwritten by the subparser's default.
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the trace database (default: $TRACEGLASS_DB or the per-user data directory)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable JSON output")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="traceglass", description="Look at the traces of your LLM app.")
    parser.add_argument("--version", action="version", version=f"traceglass {__version__}")
    parser.add_argument("--db", metavar="PATH", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", default=False, help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommands(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except CommandError as exc:
        print(f"traceglass: {exc}", file=sys.stderr)
        return exc.code
    except ValueError as exc:
        print(f"traceglass: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OverflowError as exc:  # a number too large for SQLite that no check caught: still a bad input
        print(f"traceglass: a number is out of range: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `traceglass export | head`
        return EXIT_OK


__all__ = ["EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "SUBCOMMAND_MODULES", "CommandError", "build_parser",
           "common_options", "main"]
