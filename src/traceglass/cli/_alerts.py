"""``traceglass alerts check`` (evaluate the rules once, notify, exit 1 when something fires: for cron)
and ``traceglass alerts history`` (the stored alert events, newest first)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import datetime, timezone
from typing import Any

from traceglass.cli._errors import EXIT_OK, EXIT_USAGE, CommandError
from traceglass.cli._store import _open, _positive_int, _print_json, _wants_json

EXIT_FIRING = 1


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a stored value cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``alerts`` with ``check`` and ``history``."""
    alerts = subparsers.add_parser("alerts", help="alert rules: check them (cron, CI) or list what fired",
                                   description="Alert rules on cost, latency, errors, tokens and scores "
                                               "(docs/alerts.md).")
    commands = alerts.add_subparsers(dest="alerts_command", metavar="COMMAND")
    check = commands.add_parser(
        "check", parents=[common], help="evaluate every rule once and notify what changed",
        description="Evaluate every rule of the rules file once over the database, send the notifications of "
                    "what started or stopped firing, and print what fires. Exit status: 0 nothing fires, 1 "
                    "something fires, 2 the rules file (or the database) cannot be used.")
    check.add_argument("--rules", required=True, metavar="FILE", help="the rules file (YAML, or TOML by its suffix)")
    check.set_defaults(func=_check)
    history = commands.add_parser("history", parents=[common], help="the alert events stored, newest first")
    history.add_argument("--rule", metavar="NAME", help="only this rule's events")
    history.add_argument("--since", metavar="TIME", help="ISO 8601 time, epoch seconds or an age such as 1d")
    history.add_argument("--limit", type=_positive_int, default=50)
    history.set_defaults(func=_history)
    alerts.set_defaults(func=lambda args: _usage(alerts))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    from traceglass.alerts import RuleError, check, load_rules

    try:
        rules = load_rules(args.rules)
    except RuleError as exc:
        raise CommandError(_printable(str(exc)), EXIT_USAGE) from None
    try:
        store = _open(args, write=True)
    except CommandError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    with store:
        try:
            events = check(rules, store)
        except (sqlite3.Error, OSError) as exc:
            raise CommandError(f"cannot evaluate the rules over {store.path}: {exc}", EXIT_USAGE) from None
    firing = [e for e in events if e.state == "firing"]
    resolved = [e for e in events if e.state == "resolved"]
    if _wants_json(args):
        _print_json({"rules": len(rules), "firing": [_json(e) for e in firing],
                     "resolved": [_json(e) for e in resolved]})
    else:
        for event in firing:
            note = f"  (notified: {event.delivery})" if event.notified else ""
            print(f"FIRING    {_printable(event.message)}{note}")
        for event in resolved:
            print(f"RESOLVED  {_printable(event.message)}  (notified: {event.delivery})")
        if not firing:
            print(f"nothing fires ({len(rules)} rule{'s' if len(rules) != 1 else ''} checked)")
    return EXIT_FIRING if firing else EXIT_OK


def _json(event: Any) -> dict[str, Any]:
    return {**event.to_dict(), "notified": event.notified, "id": event.id, "delivery": event.delivery}


def _history(args: argparse.Namespace) -> int:
    with _open(args) as store:
        records = store.alert_history(rule=args.rule, since=args.since, limit=args.limit)
    if _wants_json(args):
        _print_json([record.to_dict() for record in records])
        return EXIT_OK
    if not records:
        print("no alert events stored")
        return EXIT_OK
    for record in records:
        at = datetime.fromtimestamp(record.created_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        message = _printable(str(record.event.get("message", record.rule)))
        print(f"{at}  {record.state.upper():<8}  {message}  [{record.delivery}]")
    return EXIT_OK
