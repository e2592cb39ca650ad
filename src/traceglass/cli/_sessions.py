"""``traceglass sessions`` (the sessions, the latest active first; with a SESSION_ID, that session as a
transcript) and ``traceglass users`` (per user: calls, sessions, errors, tokens, cost, scores). Readers:
the file is opened read-only."""

from __future__ import annotations

import argparse
from typing import Any

from traceglass.cli._errors import EXIT_NOT_FOUND, EXIT_OK, CommandError
from traceglass.cli._store import _open, _positive_int, _print_json, _time_range, _wants_json


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``sessions`` and ``users``."""
    sessions = subparsers.add_parser(
        "sessions", parents=[common], help="list sessions (or show one as a transcript)",
        description="The sessions (traces sharing a session.id), the latest active first, with their users, turns, "
                    "tokens, cost, errors and scores; with SESSION_ID, that session's turns in order: what the "
                    "user sent and what the app answered.")
    sessions.add_argument("session_id", nargs="?", metavar="SESSION_ID", help="show this session's turns")
    sessions.add_argument("--project", help="only traces of this project")
    sessions.add_argument("--user", help="only traces of this user.id")
    _time_range(sessions)
    sessions.add_argument("--limit", type=_positive_int, default=None,
                          help="rows per page (default 20), or turns of one session (default 1000)")
    sessions.add_argument("--cursor", help="the next_cursor of a previous page")
    sessions.set_defaults(func=_sessions)

    users = subparsers.add_parser("users", parents=[common], help="list users with their calls, cost and scores",
                                  description="Per user.id: calls (traces), sessions, errors, tokens, cost and "
                                              "scores, the latest active first.")
    users.add_argument("--project", help="only traces of this project")
    _time_range(users)
    users.add_argument("--limit", type=_positive_int, default=20)
    users.add_argument("--cursor", help="the next_cursor of a previous page")
    users.set_defaults(func=_users)


def _sessions(args: argparse.Namespace) -> int:
    if args.session_id is not None:
        with _open(args) as store:
            session = store.session(args.session_id, limit=args.limit or 1000)
            path = store.path
        if session is None:
            raise CommandError(f"no session {args.session_id!r} in {path}", EXIT_NOT_FOUND)
        if _wants_json(args):
            _print_json(session.to_dict())
        else:
            _transcript(session)
        return EXIT_OK
    with _open(args) as store:
        page = store.sessions(since=args.since, until=args.until, project=args.project, user=args.user,
                              limit=args.limit or 20, cursor=args.cursor)
    if _wants_json(args):
        _print_json(page.to_dict())
    else:
        _sessions_table(page)
    return EXIT_OK


def _users(args: argparse.Namespace) -> int:
    with _open(args) as store:
        page = store.users(since=args.since, until=args.until, project=args.project, limit=args.limit,
                           cursor=args.cursor)
    if _wants_json(args):
        _print_json(page.to_dict())
    else:
        _users_table(page)
    return EXIT_OK


# -- tables and the transcript for people (rich, loaded only here; store text passed as Text) ---------

def _when(ns: Any) -> str:
    from traceglass.store._time import from_ns

    moment = from_ns(ns) if isinstance(ns, int) else None
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def _usage(row: Any) -> tuple[str, str]:
    from traceglass.cli._render import NONE, _count, cost

    used = row.input_tokens or row.output_tokens or row.total_tokens
    return (_count(row.total_tokens) if used else NONE), (cost(row.cost_usd) or NONE)


def _print(table: Any, rows: int, next_cursor: str | None, empty: str) -> None:
    from traceglass.cli._render import _console, plain

    console = _console()
    console.print(table)
    if not rows:
        console.print(empty)
    if next_cursor:
        console.print(plain(f"more: --cursor {next_cursor}"))


def _sessions_table(page: Any) -> None:
    from rich.table import Table

    from traceglass.cli._render import _count, plain, score_summary

    table = Table(title="sessions (latest active first)", title_justify="left")
    for column in ("session", "users", "turns", "first seen (UTC)", "last seen (UTC)", "tokens", "cost", "errors",
                   "scores"):
        table.add_column(column, justify="right" if column in ("turns", "tokens", "cost", "errors") else "left",
                         no_wrap=column.endswith("(UTC)"))
    for s in page.sessions:
        tokens, spent = _usage(s)
        table.add_row(plain(s.session_id), plain(", ".join(s.users)), _count(s.turn_count), _when(s.first_seen_ns),
                      _when(s.last_seen_ns), tokens, spent, _count(s.errors), score_summary(s.scores))
    _print(table, len(page.sessions), page.next_cursor, "no sessions match")


def _users_table(page: Any) -> None:
    from rich.table import Table

    from traceglass.cli._render import _count, plain, score_summary

    table = Table(title="users (latest active first)", title_justify="left")
    for column in ("user", "calls", "sessions", "errors", "tokens", "cost", "first seen (UTC)", "last seen (UTC)",
                   "scores"):
        table.add_column(column, justify="right" if column in ("calls", "sessions", "errors", "tokens", "cost")
                         else "left", no_wrap=column.endswith("(UTC)"))
    for u in page.users:
        tokens, spent = _usage(u)
        table.add_row(plain(u.user_id), _count(u.calls), _count(u.sessions), _count(u.errors), tokens, spent,
                      _when(u.first_seen_ns), _when(u.last_seen_ns), score_summary(u.scores))
    _print(table, len(page.users), page.next_cursor, "no users match")


def _transcript(session: Any) -> None:
    from rich.text import Text

    from traceglass.cli._render import _console, _ms, plain, score_summary

    console = _console()
    tokens, spent = _usage(session)
    head = Text("session ")
    head.append_text(plain(session.session_id, style="bold"))
    head.append(f" · {session.turn_count} turns · users ")
    head.append_text(plain(", ".join(session.users) or "–"))
    head.append(f" · {tokens} tokens · {spent} · {session.errors} errors")
    console.print(head)
    for number, turn in enumerate(session.turns, 1):
        tokens, spent = _usage(turn)
        failed = str(turn.status).upper() == "ERROR"
        line = Text(f"\n#{number} {_when(turn.start_ns)} · ", style="dim")
        line.append_text(plain(turn.user or "no user", style="dim"))
        line.append(f" · {_ms(turn.latency_ms)} · {tokens} tokens · {spent} · ", style="dim")
        line.append("error" if failed else "ok", style="red" if failed else "green")
        line.append(f" · trace {turn.trace_id}", style="dim")
        console.print(line)
        if turn.scores:
            scores = score_summary(turn.scores).plain.replace("\n", " · ")
            console.print(Text("  scores: ", style="dim") + plain(scores))
        for role, text in (("user", turn.input), ("assistant", turn.output)):
            said = Text(f"  {role}: ", style="bold cyan" if role == "user" else "bold magenta")
            said.append_text(plain(text if text is not None else "(nothing captured)"))
            console.print(said)
    if session.turn_count > len(session.turns):
        console.print(f"\nshowing the first {len(session.turns)} of {session.turn_count} turns (--limit)")
