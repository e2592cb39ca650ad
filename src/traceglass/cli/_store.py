"""The store's subcommands: ``traces``, ``show``, ``stats``, ``export`` (readers: they open the file
read-only and never change it), ``prune`` and ``migrate`` (writers). Tables and trees: :mod:`._render`."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from typing import Any

from traceglass.cli._errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CommandError
from traceglass.store import TraceFilter, TraceStore, _paths
from traceglass.store._open import schema_version
from traceglass.store._postgres_url import DatabaseURL
from traceglass.store._schema import SCHEMA_VERSION, NotATraceDatabaseError, SchemaTooNewError, SchemaTooOldError

_PROGRESS_MIN_SPANS = 5000  # show a progress bar for exports at least this long


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    traces = subparsers.add_parser("traces", parents=[common], help="list recent traces, newest first")
    for spec in TraceFilter.specs():  # the store's one definition of the filters
        traces.add_argument(spec.cli, dest=spec.name, help=spec.doc, metavar=spec.metavar, choices=spec.choices,
                            type=float if spec.kind == "number" else str.lower if spec.choices else None)
    traces.add_argument("--limit", type=_positive_int, default=20)
    traces.add_argument("--cursor", help="the next_cursor of a previous page")
    traces.set_defaults(func=_traces)

    show = subparsers.add_parser("show", parents=[common], help="show one trace as a span tree")
    show.add_argument("trace_id", metavar="TRACE_ID", help="a trace id or a unique prefix of one")
    show.add_argument("--content", action="store_true",
                      help="also print each span's captured prompts, completions and tool calls")
    show.set_defaults(func=_show)

    stats = subparsers.add_parser("stats", parents=[common], help="calls, tokens, cost and latency per group")
    stats.add_argument("--by", choices=TraceStore.STATS_GROUPS, default="model")
    stats.add_argument("--project")
    _time_range(stats)
    stats.set_defaults(func=_stats)

    export = subparsers.add_parser("export", parents=[common], help="write spans as JSON Lines")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument("--trace-id")
    export.add_argument("--project")
    _time_range(export)
    export.set_defaults(func=_export)

    prune = subparsers.add_parser("prune", parents=[common], help="delete old traces / shrink the database")
    prune.add_argument("--older-than", metavar="AGE", help="e.g. 30d, 12h")
    prune.add_argument("--max-size", metavar="SIZE", help="e.g. 500MB, 2GB")
    prune.set_defaults(func=_prune)

    migrate = subparsers.add_parser("migrate", parents=[common],
                                    help="upgrade a database written by an older traceglass (the readers never do)")
    migrate.add_argument("--search-index", action="store_true",
                         help="also add the spans stored before the content search had its word index (schema 10) "
                              "to it, newest first; until then the search scans them (SQLite; safe to stop and "
                              "run again)")
    migrate.set_defaults(func=_migrate)


def _time_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="TIME", help="epoch seconds, an ISO date/time or an age (1h, 7d)")
    parser.add_argument("--until", metavar="TIME", help="epoch seconds, an ISO date/time or an age (1h, 7d)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _open(args: argparse.Namespace, *, write: bool = False) -> TraceStore:
    """The store at --db; read-only (the file is never changed) unless the command writes."""
    path = _paths.resolve(getattr(args, "db", None))
    if not path.exists():
        raise CommandError(f"no trace database at {path} (pass --db PATH or set TRACEGLASS_DB)", EXIT_NOT_FOUND)
    try:
        return TraceStore(path, create=False, read_only=not write)
    except (SchemaTooNewError, SchemaTooOldError, NotATraceDatabaseError) as exc:
        raise CommandError(str(exc)) from None
    except (sqlite3.Error, OSError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _traces(args: argparse.Namespace) -> int:
    from traceglass.cli import _render  # rich: loaded only for a table

    with _open(args) as store:
        where = TraceFilter(**{spec.name: getattr(args, spec.name) for spec in TraceFilter.specs()})
        page = store.list_traces(filter=where, limit=args.limit, cursor=args.cursor)
    if _wants_json(args):
        _print_json(page.to_dict())
    else:
        _render.traces_table(page)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from traceglass.cli import _render  # rich: loaded only for a table

    with _open(args) as store:
        trace = store.get_trace(args.trace_id, prefix=True)
        if trace is None:
            raise CommandError(f"no trace {args.trace_id!r} in {store.path}", EXIT_NOT_FOUND)
    if _wants_json(args):
        _print_json(trace.to_dict())
    else:
        _render.trace_tree(trace, content=args.content)
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from traceglass.cli import _render  # rich: loaded only for a table

    with _open(args) as store:
        rows = store.stats(args.by, since=args.since, until=args.until, project=args.project)
    if _wants_json(args):
        _print_json({"group_by": args.by, "rows": [row.to_dict() for row in rows]})
    else:
        _render.stats_table(args.by, rows)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    bar: Progress | None = None
    task: Any = None

    def progress(done: int, total: int) -> None:
        # Started on the first report of a long export only, so that a short export or an error
        # leaves stderr with nothing but its one line.
        nonlocal bar, task
        if total < _PROGRESS_MIN_SPANS:
            return
        if bar is None:
            bar = Progress(console=Console(stderr=True), transient=True)
            bar.start()
            task = bar.add_task("exporting spans", total=total)
        bar.update(task, completed=done)

    with _open(args) as store:
        filters = dict(trace_id=args.trace_id, project=args.project, since=args.since, until=args.until)
        try:
            if args.output:
                try:
                    count = store.export(args.output, progress=progress, **filters)
                except OSError as exc:  # a directory, a missing folder, no permission, a full disk
                    raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}", EXIT_USAGE) from None
            else:
                count = store.export(sys.stdout, progress=progress, **filters)
                sys.stdout.flush()
        finally:
            if bar is not None:
                bar.stop()
    print(f"exported {count} span(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    if not args.older_than and not args.max_size:
        raise CommandError("prune needs --older-than and/or --max-size", 2)
    with _open(args, write=True) as store:
        before = store.size_bytes()
        deleted = store.prune(older_than=args.older_than, max_size=args.max_size)
        after = store.size_bytes()
    result = {"deleted_traces": deleted, "bytes_before": before, "bytes_after": after}
    if _wants_json(args):
        _print_json(result)
    else:
        print(f"deleted {deleted} trace(s); {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> int:
    path = _paths.resolve(getattr(args, "db", None))
    if not path.exists():
        raise CommandError(f"no trace database at {path} (pass --db PATH or set TRACEGLASS_DB)", EXIT_NOT_FOUND)
    before = _version(path)
    with _open(args, write=True) as store:  # opening for writing migrates
        indexed = store.backfill_search_index() if args.search_index else None
    result: dict[str, Any] = {"path": str(path), "schema_before": before, "schema": SCHEMA_VERSION}
    if indexed is not None:
        result["search_indexed"] = indexed
    if _wants_json(args):
        _print_json(result)
    else:
        print(f"{path}: schema {before} -> {SCHEMA_VERSION}" if before != SCHEMA_VERSION
              else f"{path}: already at schema {SCHEMA_VERSION}")
        if indexed is not None:
            print(f"indexed {indexed} older span(s) for the content search")
    return EXIT_OK


def _version(path: Any) -> int | None:
    if isinstance(path, DatabaseURL):
        return schema_version(path)
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None
