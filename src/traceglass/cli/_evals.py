"""``traceglass evals run`` / ``evals runs`` (evaluate stored traces, list the runs) and
``traceglass datasets create`` / ``add`` / ``export`` / ``list`` (datasets made from traces, saved as versions)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any

from traceglass.cli._errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CommandError
from traceglass.cli._store import _open, _positive_int, _print_json, _wants_json

_TIME = "ISO 8601 time, epoch seconds or an age such as 1h or 7d"


def add_subcommands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``evals`` (``run``, ``runs``) and ``datasets`` (``create``, ``add``, ``export``, ``list``)."""
    evals = subparsers.add_parser("evals", help="evaluate stored traces with scorers and LLM judges",
                                  description="Evaluations on the stored traces (docs/evals.md).")
    commands = evals.add_subparsers(dest="evals_command", metavar="COMMAND")
    run = commands.add_parser(
        "run", parents=[common], help="score the traces the filters select (or a saved dataset)",
        description="Run scorers over the traces the filters select (one item per trace: its last LLM call by "
                    "default) or over a saved dataset, write each result as an eval score, store the run and "
                    "print each scorer's mean, pass rate, count and errors.")
    run.add_argument("--scorer", dest="scorers", action="append", required=True, metavar="SPEC",
                     help="a scorer: relevance, faithfulness, max_latency:2000, contains:refund, ... (repeatable)")
    run.add_argument("--dataset", metavar="NAME[@VERSION]", help="evaluate this saved dataset instead of traces")
    run.add_argument("--judge-model", metavar="MODEL", help="the model LLM judges ask (default: configure_judge's)")
    run.add_argument("--concurrency", type=_positive_int, default=4, help="scorer calls at once (default 4)")
    run.add_argument("--no-scores", action="store_true", help="do not write the results as scores")
    _filters(run)
    run.set_defaults(func=_run)
    runs = commands.add_parser("runs", parents=[common], help="the stored evaluation runs, newest first")
    runs.add_argument("--limit", type=_positive_int, default=20)
    runs.set_defaults(func=_runs)
    evals.set_defaults(func=lambda args: _usage(evals))

    datasets = subparsers.add_parser("datasets", help="evaluation datasets made from traces",
                                     description="Datasets of evaluation items, saved as immutable versions.")
    commands = datasets.add_subparsers(dest="datasets_command", metavar="COMMAND")
    create = commands.add_parser("create", parents=[common], help="save the traces the filters select as a dataset",
                                 description="Make an item of each trace the filters select and save them as the "
                                             "next version of dataset NAME.")
    create.add_argument("name", metavar="NAME")
    _filters(create)
    create.set_defaults(func=_create)
    add = commands.add_parser("add", parents=[common], help="add one stored trace (or span) to a dataset",
                              description="Add the item of trace TRACE_ID (its last LLM call, or its root when it "
                                          "made none; --span for one span) to dataset NAME as its next version. An "
                                          "item the dataset already holds is not added again.")
    add.add_argument("name", metavar="NAME")
    add.add_argument("trace_id", metavar="TRACE_ID")
    add.add_argument("--span", dest="span_id", metavar="SPAN_ID", help="add this span's item")
    add.add_argument("--answer", choices=("last", "root", "all"),
                     help="which span answers for the trace (as datasets create takes it)")
    add.set_defaults(func=_add)
    export = commands.add_parser("export", parents=[common], help="write a saved dataset as JSON Lines")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--version", type=_positive_int, help="this version (default: the latest)")
    export.add_argument("--out", required=True, metavar="FILE", help="the JSON Lines file to write")
    export.set_defaults(func=_export)
    listing = commands.add_parser("list", parents=[common], help="the saved datasets (latest versions)")
    listing.set_defaults(func=_list)
    datasets.set_defaults(func=lambda args: _usage(datasets))


def _filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which traces (as TraceBridge.to_dataset)")
    group.add_argument("--type", dest="span_type", default="llm",
                       help="the span type whose last span answers for a trace (default llm; 'any' for the root)")
    group.add_argument("--answer", choices=("last", "root", "all"), default="last",
                       help="the answer span: the last of --type (default), the root, or every one")
    group.add_argument("--span-name", dest="span_name", metavar="NAME", help="only answer spans with this name")
    group.add_argument("--project")
    group.add_argument("--model", help="only traces with a span that called this model")
    group.add_argument("--session", dest="session_id", metavar="ID")
    group.add_argument("--user", dest="user_id", metavar="ID")
    group.add_argument("--status", choices=("ok", "error"), type=str.lower)
    group.add_argument("--since", metavar="TIME", help=_TIME)
    group.add_argument("--until", metavar="TIME", help=_TIME)
    group.add_argument("--score-name", metavar="NAME", help="only traces with a score of this name")
    group.add_argument("--min-score", type=float, metavar="VALUE")
    group.add_argument("--max-score", type=float, metavar="VALUE")
    group.add_argument("--limit", type=_positive_int, help="at most this many items (newest traces first)")


def _filter_values(args: argparse.Namespace) -> dict[str, Any]:
    names = ("span_type", "answer", "span_name", "project", "model", "session_id", "user_id", "status", "since", "until",
             "score_name", "min_score", "max_score", "limit")
    values = {name: getattr(args, name) for name in names}
    if values["span_type"] in ("any", ""):
        values["span_type"] = None
    values["name"] = values.pop("span_name")
    return {key: value for key, value in values.items() if value is not None or key == "span_type"}


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _printable(text: Any) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _when(created_at: str | None) -> str:
    if not created_at:
        return "-"
    return datetime.fromisoformat(created_at).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _run(args: argparse.Namespace) -> int:
    from traceglass.evals import EvalDataset, evaluate_traces, get_scorer

    try:
        scorers = [get_scorer(spec, model=args.judge_model) for spec in args.scorers]
    except ValueError as exc:
        raise CommandError(_printable(exc), EXIT_USAGE) from None
    with _open(args, write=True) as store:
        try:
            if args.dataset is not None:
                name, _, version = args.dataset.partition("@")
                dataset = EvalDataset.load(name, int(version) if version.isdigit() else None, store=store)
                run = evaluate_traces(scorers, dataset=dataset, store=store, concurrency=args.concurrency,
                                      write_scores=not args.no_scores)
            else:
                run = evaluate_traces(scorers, store=store, concurrency=args.concurrency,
                                      write_scores=not args.no_scores, **_filter_values(args))
        except KeyError as exc:
            raise CommandError(_printable(exc.args[0]), EXIT_NOT_FOUND) from None
        except ValueError as exc:
            raise CommandError(_printable(exc), EXIT_USAGE) from None
    record = run.to_dict()
    record.pop("results")
    if _wants_json(args):
        record["errors"] = [{"position": r.position, "scorer": r.scorer, "trace_id": r.item.trace_id,
                             "error": r.error} for r in run.errors]
        _print_json(record)
        return EXIT_OK
    cost = "" if run.judge_cost_usd is None else f", judge cost ${run.judge_cost_usd:.6f}"
    print(f"run {run.id}: {len(run.items)} items{cost}")
    print(f"{'scorer':<24} {'mean':>7} {'pass':>7} {'count':>6} {'errors':>6}")
    for scorer, row in run.summary().items():
        print(f"{_printable(scorer):<24} {_number(row['mean']):>7} {_number(row['pass_rate']):>7} "
              f"{row['count']:>6} {row['errors']:>6}")
    for result in run.errors[:5]:
        print(f"error: {_printable(result.scorer)} on item {result.position}: {_printable(result.error)}",
              file=sys.stderr)
    return EXIT_OK


def _runs(args: argparse.Namespace) -> int:
    with _open(args) as store:
        runs = store.eval_runs(limit=args.limit)
    if _wants_json(args):
        _print_json({"runs": [run.to_dict() for run in runs]})
        return EXIT_OK
    if not runs:
        print("no evaluation runs stored")
        return EXIT_OK
    print(f"{'id':<32}  {'created (UTC)':<19}  {'items':>6}  scorers (mean)")
    for run in runs:
        data = run.to_dict()
        means = ", ".join(f"{_printable(name)} {_number(row.get('mean'))}" for name, row in data["summary"].items())
        print(f"{run.id:<32}  {_when(data['created_at']):<19}  {run.item_count:>6}  {means}")
    return EXIT_OK


def _create(args: argparse.Namespace) -> int:
    from traceglass.evals import TraceBridge

    with _open(args, write=True) as store:
        try:
            dataset = TraceBridge(store).to_dataset(**_filter_values(args))
            version = dataset.save(args.name, store=store)
        except ValueError as exc:
            raise CommandError(_printable(exc), EXIT_USAGE) from None
    if _wants_json(args):
        _print_json({"name": dataset.name, "version": version, "item_count": len(dataset)})
    else:
        print(f"saved dataset {_printable(dataset.name)} version {version} ({len(dataset)} items)")
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    from traceglass.evals._additions import add_to_dataset, items_to_add

    with _open(args, write=True) as store:
        try:
            items = items_to_add(store, args.trace_id, span_id=args.span_id, answer=args.answer)
            if not items:
                raise CommandError(f"trace {_printable(args.trace_id)} has no span to make an item of", EXIT_USAGE)
            info, added = add_to_dataset(store, args.name, items)
        except KeyError as exc:
            raise CommandError(_printable(exc.args[0]), EXIT_NOT_FOUND) from None
        except ValueError as exc:
            raise CommandError(_printable(exc), EXIT_USAGE) from None
    assert info is not None  # items were given: the dataset has a version now
    if _wants_json(args):
        _print_json({**info.to_dict(), "added": added})
    elif added:
        print(f"added {added} item{'s' if added != 1 else ''} to dataset {_printable(info.name)}: "
              f"version {info.version} ({info.item_count} items)")
    else:
        print(f"dataset {_printable(info.name)} version {info.version} already holds it: nothing added")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from traceglass.evals import EvalDataset

    with _open(args) as store:
        try:
            dataset = EvalDataset.load(args.name, args.version, store=store)
        except KeyError as exc:
            raise CommandError(_printable(exc.args[0]), EXIT_NOT_FOUND) from None
    try:
        count = dataset.to_jsonl(args.out)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    if _wants_json(args):
        _print_json({"name": dataset.name, "version": dataset.version, "item_count": count, "out": args.out})
    else:
        print(f"wrote {count} items of dataset {_printable(dataset.name)} version {dataset.version} to {args.out}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        datasets = store.datasets()
    if _wants_json(args):
        _print_json({"datasets": [d.to_dict() for d in datasets]})
        return EXIT_OK
    if not datasets:
        print("no datasets saved")
    for info in datasets:
        print(f"{_printable(info.name)}  version {info.version}  {info.item_count} items  "
              f"{_when(info.to_dict()['created_at'])}")
    return EXIT_OK
