"""The scores' subcommands: ``score`` (add one to a trace or span, or ``--delete`` one; a writer)
and ``scores`` (list them, newest first; a reader that opens the file read-only)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from traceglass._scores import SOURCES
from traceglass.cli._errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CommandError
from traceglass.cli._store import _open, _positive_int, _print_json, _time_range, _wants_json

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_HEX = re.compile(r"[0-9a-f]+")

_SCORE_USAGE = ("traceglass score TRACE_ID NAME VALUE [--span ID] [--comment TEXT] [--source SOURCE] "
                "[--user ID] [--id ID] [--metadata JSON] [--db PATH] [--json]\n"
                "       traceglass score --delete ID [--db PATH] [--json]")


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``score`` and ``scores``."""
    score = subparsers.add_parser(
        "score", parents=[common], usage=_SCORE_USAGE, help="score a trace or one of its spans (or --delete one)",
        description="Store a score on a trace (or, with --span, on one of its spans). VALUE is a number "
                    "(0.8, 4), true or false, or else a label (good, off-topic). A trace id not stored yet is "
                    "accepted whole: the score joins the trace when its spans arrive.")
    score.add_argument("trace_id", nargs="?", metavar="TRACE_ID", help="a trace id or a unique prefix of a stored one")
    score.add_argument("name", nargs="?", metavar="NAME", help="what is scored, e.g. helpfulness, user_feedback")
    score.add_argument("value", nargs="?", metavar="VALUE", help="a number, true/false, or a label")
    score.add_argument("--span", metavar="ID", help="score this span of the trace (an id or a unique prefix)")
    score.add_argument("--comment", metavar="TEXT", help="why: an explanation or the person's comment")
    # A person at a terminal is the usual author here; scripts say what they are (--source code).
    score.add_argument("--source", choices=SOURCES, default="human", help="who gave it (default: human)")
    score.add_argument("--user", dest="user_id", metavar="ID", help="the user who gave it")
    score.add_argument("--id", dest="score_id", metavar="ID",
                       help="the score's id: the same id again updates that score instead of adding one")
    score.add_argument("--metadata", metavar="JSON", help='a JSON object to keep with it, e.g. \'{"run": 7}\'')
    score.add_argument("--delete", metavar="ID", help="delete the score with this id instead")
    score.set_defaults(func=_score)

    scores = subparsers.add_parser("scores", parents=[common], help="list scores, newest first")
    scores.add_argument("--trace-id", metavar="ID", help="only this trace's scores (an id or a unique prefix)")
    scores.add_argument("--name", help="only scores with this name")
    scores.add_argument("--source", choices=SOURCES, help="only scores from this source")
    _time_range(scores)
    scores.add_argument("--limit", type=_positive_int, default=20)
    scores.add_argument("--cursor", help="the next_cursor of a previous page")
    scores.set_defaults(func=_scores)


def parse_value(text: str) -> bool | float | str:
    """A VALUE argument: ``true``/``false`` (any case), else a number when it reads as one, else a label.

    ``nan`` and ``inf`` read as numbers, so the score's check rejects them rather than storing a
    label that looks like a number."""
    word = text.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    try:
        return float(word)
    except ValueError:
        return text


def _score(args: argparse.Namespace) -> int:
    if args.delete is not None:
        return _delete(args)
    missing = [label for label, value in (("TRACE_ID", args.trace_id), ("NAME", args.name), ("VALUE", args.value))
               if value is None]
    if missing:
        raise CommandError(f"score needs TRACE_ID NAME VALUE (missing {' '.join(missing)}), or --delete ID",
                           EXIT_USAGE)
    metadata = _metadata(args.metadata)
    with _open(args, write=True) as store:
        trace_id, trace = _trace(store, args.trace_id)
        span_id = _span(trace, trace_id, args.span)
        stored = store.add_score(args.name, parse_value(args.value), trace_id=trace_id, span_id=span_id,
                                 comment=args.comment, source=args.source, user_id=args.user_id,
                                 metadata=metadata, id=args.score_id)
    if trace is None and _TRACE_ID.fullmatch(stored.trace_id):
        print(f"note: no span of trace {stored.trace_id} is stored yet; the score joins the trace when its spans "
              "arrive", file=sys.stderr)
    if _wants_json(args):
        _print_json(stored.to_dict())
    else:
        from traceglass.cli._render import value_text

        target = f"trace {stored.trace_id}" + (f" span {stored.span_id}" if stored.span_id else "")
        print(f"stored score {stored.id} on {target}: {stored.name} = {value_text(stored)} ({stored.source})")
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    given = [option for option, value in (("TRACE_ID NAME VALUE", args.trace_id), ("--span", args.span),
                                          ("--comment", args.comment), ("--user", args.user_id),
                                          ("--id", args.score_id), ("--metadata", args.metadata)) if value is not None]
    if given:
        raise CommandError(f"--delete takes only the score's id, not {', '.join(given)}", EXIT_USAGE)
    with _open(args, write=True) as store:
        deleted = store.delete_score(args.delete)
        path = store.path
    if not deleted:
        raise CommandError(f"no score {args.delete!r} in {path}", EXIT_NOT_FOUND)
    if _wants_json(args):
        _print_json({"deleted": args.delete})
    else:
        print(f"deleted score {args.delete}")
    return EXIT_OK


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"--metadata: not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CommandError(f"--metadata: must be a JSON object, got {type(value).__name__}", EXIT_USAGE)
    return value


def _trace(store: Any, text: str) -> tuple[str, Any]:
    """The trace id ``text`` names and the stored trace (None: none stored yet).

    A whole id need not be stored (its spans may be in flight); a shorter one must be the unique
    prefix of a stored trace's id, as ``show`` takes it. Anything else is left for the score's own
    check to report, beside every other problem."""
    wanted = text.strip().lower()
    if _TRACE_ID.fullmatch(wanted):
        return wanted, store.get_trace(wanted)
    if not _HEX.fullmatch(wanted) or len(wanted) > 32:
        return text, None
    trace = store.get_trace(wanted, prefix=True)  # ValueError (usage) when several traces match
    if trace is None:
        raise CommandError(f"no trace {text!r} in {store.path} (a trace not stored yet needs its whole 32-digit id)",
                           EXIT_NOT_FOUND)
    return trace.trace_id, trace


def _span(trace: Any, trace_id: str, text: str | None) -> str | None:
    """The span id ``--span`` names: whole, or the unique prefix of one of the stored trace's spans."""
    if text is None:
        return None
    wanted = text.strip().lower()
    if trace is None or not _HEX.fullmatch(wanted):
        return text  # checked with the score
    found = [span.span_id for span in trace.spans if span.span_id.startswith(wanted)]
    if wanted in found:
        return wanted
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise CommandError(f"span id prefix {text!r} matches {len(found)} spans of trace {trace_id}; give more of it",
                           EXIT_USAGE)
    if _SPAN_ID.fullmatch(wanted):
        return wanted  # a span still in flight
    raise CommandError(f"no span {text!r} in trace {trace_id}", EXIT_NOT_FOUND)


def _scores(args: argparse.Namespace) -> int:
    from traceglass.cli import _render  # rich: loaded only for a table

    with _open(args) as store:
        trace_id = args.trace_id
        if trace_id is not None:
            trace_id, _ = _trace(store, trace_id)
        page = store.scores(trace_id=trace_id, name=args.name, source=args.source, since=args.since,
                            until=args.until, limit=args.limit, cursor=args.cursor)
    if _wants_json(args):
        _print_json(page.to_dict())
    else:
        _render.scores_table(page)
    return EXIT_OK
