"""Tables and span trees for people (rich), used by the CLI.

Everything that comes from the data (span names, models, ids, keys, content) is passed to rich as
``Text``, never as a ``str``: rich parses strings as markup, so a span called ``docs[/tmp]`` would
crash the table and ``retrieve [v2]`` would lose its ``[v2]``. Control characters are shown as
escapes, so stored text cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from traceglass import semconv
from traceglass.store._models import SpanNode, StatsRow, Trace, TracePage

_BAR_WIDTH = 30
NONE = "–"  # a value that is not known (no usage reported), as opposed to a known zero
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Content attributes --content prints, in this order (as the instrumentations write them).
CONTENT_KEYS = (
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.INPUT_VALUE,
    semconv.OUTPUT_VALUE,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
    semconv.GEN_AI_RETRIEVAL_QUERY_TEXT,
    semconv.GEN_AI_RETRIEVAL_DOCUMENTS,
)


def _console() -> Console:
    # Wide enough that ids and names are not cut when output goes to a pipe or a file.
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=max(console.width, 160), highlight=False)
    return console


def plain(value: Any, style: str = "") -> Text:
    """User data as literal text: no markup, control characters escaped."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text), style=style)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def cost(value: Any) -> str:
    """USD for people: never ``$0`` for a known cost that is merely tiny."""
    amount = _finite(value)
    if amount is None:
        return ""
    if amount == 0:
        return "$0"
    if abs(amount) >= 0.000001:
        return f"${amount:.6f}".rstrip("0").rstrip(".")
    # Two significant digits of a sub-micro-dollar cost, down to a trillionth of a dollar.
    digits = min(12, 1 - math.floor(math.log10(abs(amount))))
    text = f"${amount:.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("$0", "$-0") else f"<$0.{'0' * 11}1"


def _ms(value: Any) -> str:
    amount = _finite(value)
    if amount is None:
        return "…"
    return f"{amount:.1f} ms" if amount < 10_000 else f"{amount / 1000:.2f} s"


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) else NONE


def _tokens(input_tokens: Any, output_tokens: Any) -> str:
    if input_tokens is None and output_tokens is None:
        return ""
    return f"{_count(input_tokens or 0)}→{_count(output_tokens or 0)}"


def _status(status: str, error_type: str | None = None, message: str | None = None) -> Text:
    # OpenTelemetry's UNSET is what every successful span carries: for people, it is "ok".
    if status != "ERROR":
        return Text("ok", style="green")
    text = Text("error", style="bold red")
    detail = error_type or ""
    if message:
        detail = f"{detail}: {message}" if detail else message
    if detail:
        text.append(" ")
        text.append_text(plain(detail, style="red"))
    return text


def _has_usage(trace: Any) -> bool:
    return bool(trace.input_tokens or trace.output_tokens or trace.total_tokens)


def score_summary(summary: Any) -> Text:
    """A trace's scores in one cell, a line per name: ``name mean (count)``, or its labels' counts."""
    parts = []
    for name, figures in sorted((summary or {}).items()):
        if not isinstance(figures, dict):
            continue
        mean, count = figures.get("mean"), figures.get("count")
        if isinstance(mean, (int, float)) and math.isfinite(mean):
            parts.append(f"{name} {mean:.2f} ({count})")
        else:
            labels = figures.get("labels") or {}
            parts.append(f"{name} " + ", ".join(f"{label}×{n}" for label, n in sorted(labels.items())))
    return plain("\n".join(parts))


def traces_table(page: TracePage) -> None:
    # The scores column only when a trace on the page has scores: most stores have none.
    scored = any(getattr(t, "scores", None) for t in page.traces)
    table = Table(title="traces (newest first)", title_justify="left")
    columns = ("trace id", "start (UTC)", "name", "project", "spans", "latency", "tokens", "cost", "status")
    for column in columns + (("scores",) if scored else ()):
        table.add_column(column, no_wrap=column in ("trace id", "start (UTC)"),
                         justify="right" if column in ("spans", "latency", "tokens", "cost") else "left")
    for t in page.traces:
        start = t.start
        cells = [plain(t.trace_id), start.strftime("%Y-%m-%d %H:%M:%S") if start else "?", plain(t.name),
                 plain(t.project), _count(t.span_count), _ms(t.latency_ms),
                 _count(t.total_tokens) if _has_usage(t) else NONE, cost(t.cost_usd) or NONE, _status(t.status)]
        table.add_row(*cells, *((score_summary(t.scores),) if scored else ()))
    console = _console()
    console.print(table)
    if not page.traces:
        console.print("no traces match")
    if page.next_cursor:
        console.print(plain(f"more: --cursor {page.next_cursor}"))


def _bar(span: SpanNode, start: int, total: int) -> Text:
    if not isinstance(span.end_ns, int) or not isinstance(span.start_ns, int) or total <= 0:
        return Text("")
    offset = max(0, int((span.start_ns - start) / total * _BAR_WIDTH))
    width = min(_BAR_WIDTH, max(1, round((span.end_ns - span.start_ns) / total * _BAR_WIDTH)))
    offset = min(offset, _BAR_WIDTH - width)
    style = "red" if span.status == "ERROR" else "cyan"
    return Text(" " * offset) + Text("█" * width, style=style) + Text(" " * (_BAR_WIDTH - offset - width))


def _walk(nodes: list[SpanNode], depth: int = 0) -> Iterator[tuple[SpanNode, int]]:
    for node in nodes:
        yield node, depth
        yield from _walk(node.children, depth + 1)


def trace_tree(trace: Trace, *, content: bool = False) -> None:
    console = _console()
    header = Text(f"trace {trace.trace_id}", style="bold")
    header.append("  ")
    header.append_text(plain(trace.name or ""))
    header.append("  project=")
    header.append_text(plain(trace.project or "-"))
    if trace.session:
        header.append("  session=")
        header.append_text(plain(trace.session))
    if trace.user:
        header.append("  user=")
        header.append_text(plain(trace.user))
    console.print(header)
    table = Table(show_edge=False)
    table.add_column("span")
    table.add_column("type")
    table.add_column("timeline", no_wrap=True)
    table.add_column("duration", justify="right")
    table.add_column("model")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("status")
    start = trace.start_ns if isinstance(trace.start_ns, int) else 0
    total = (trace.end_ns if isinstance(trace.end_ns, int) else start) - start
    for span, depth in _walk(trace.roots):
        # A span whose usage a span below it also reports is shown dim: it is not counted twice.
        usage_style = "dim" if span.usage_superseded else ""
        table.add_row(Text("  " * depth) + plain(span.name), plain(span.type), _bar(span, start, total),
                      _ms(span.duration_ms), plain(span.model),
                      Text(_tokens(span.input_tokens, span.output_tokens), style=usage_style),
                      Text(cost(span.cost_usd), style=usage_style),
                      _status(span.status, span.error_type, span.status_message))
    console.print(table)
    tokens = (f"{_count(trace.input_tokens)}→{_count(trace.output_tokens)} ({_count(trace.total_tokens)})"
              if _has_usage(trace) else NONE)
    console.print(plain(f"{trace.span_count} span(s), {_ms(trace.latency_ms)}, tokens {tokens}, "
                        f"cost {cost(trace.cost_usd) or NONE}"
                        + (f", {trace.error_count} error(s)" if trace.error_count else "")))
    scores = getattr(trace, "scores", None) or []
    if scores:
        console.print()
        trace_scores(trace, scores, console)
    if content:
        trace_content(trace, console)


def value_text(score: Any) -> str:
    """A score's value for people: its label (booleans too: true/false), else the number."""
    if score.label is not None:
        return score.label
    return "" if score.value is None else f"{score.value:g}"


def _when(score: Any) -> str:
    return score.created_at.strftime("%Y-%m-%d %H:%M:%S")


def _short(text: Any, limit: int = 80) -> Text:
    """A comment in a table cell: its first line, cut at ``limit`` characters (--json has it whole)."""
    value = "" if text is None else str(text)
    first = value.strip().splitlines()[0] if value.strip() else ""
    cut = first if len(first) <= limit and first == value.strip() else first[:limit].rstrip() + "…"
    return plain(cut)


def trace_scores(trace: Trace, scores: list[Any], console: Console) -> None:
    """A trace's scores, the trace's own first and then each span's, newest first within each."""
    names = {span.span_id: span.name for span in trace.spans}
    table = Table(title=f"scores ({len(scores)})", title_justify="left", show_edge=False)
    for column in ("on", "name", "value", "source", "user", "comment", "created (UTC)", "id"):
        table.add_column(column, no_wrap=column in ("created (UTC)", "id"),
                         overflow="fold" if column == "name" else "ellipsis",
                         justify="right" if column == "value" else "left")
    ordered = sorted(scores, key=lambda s: (s.span_id is not None, -s.created_ns))
    for score in ordered:
        on = Text("trace") if score.span_id is None else plain(names.get(score.span_id, "?")) + Text(
            f" {score.span_id}", style="dim")
        table.add_row(on, plain(score.name), _value_cell(score), plain(score.source), plain(score.user_id),
                      _short(score.comment), _when(score), plain(score.id, style="dim"))
    console.print(table)


def _value_cell(score: Any) -> Text:
    text = plain(value_text(score))
    if score.data_type == "boolean":
        text.stylize("green" if score.value else "red")
    return text


def scores_table(page: Any) -> None:
    # The trace id's first 16 digits (a prefix `show` and `score` take) leave the name and the
    # comment room in 160 columns; --json has every field whole.
    table = Table(title="scores (newest first)", title_justify="left")
    for column in ("created (UTC)", "trace", "span", "name", "value", "source", "user", "comment", "id"):
        table.add_column(column, no_wrap=column in ("created (UTC)", "trace", "span", "id"),
                         overflow="fold" if column == "name" else "ellipsis", justify="right" if column == "value" else "left")
    for score in page.scores:
        table.add_row(_when(score), plain(score.trace_id[:16]), plain(score.span_id or "–"), plain(score.name),
                      _value_cell(score), plain(score.source), plain(score.user_id), _short(score.comment, 60),
                      plain(score.id))
    console = _console()
    console.print(table)
    if not page.scores:
        console.print("no scores match")
    if page.next_cursor:
        console.print(plain(f"more: --cursor {page.next_cursor}"))


def trace_content(trace: Trace, console: Console) -> None:
    """Each span's captured prompts, completions, tool arguments and results, as plain text."""
    shown = False
    for span, _ in _walk(trace.roots):
        found = [(key, span.attributes[key]) for key in CONTENT_KEYS if key in span.attributes]
        if not found:
            continue
        shown = True
        console.print()
        console.print(Text("── ", style="bold") + plain(span.name, style="bold"))
        for key, value in found:
            console.print(Text(f"{key}:", style="cyan"))
            for line in _content_lines(value):
                console.print(Text("  ") + plain(line))
    if not shown:
        console.print()
        console.print("no captured content in this trace (content capture may be off)")


def _content_lines(value: Any) -> list[str]:
    """Messages (``[{"role", "parts": [...]}]``) as ``role: text`` lines; anything else as text."""
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return value.splitlines() or [""]
    if isinstance(data, list) and data and all(isinstance(m, dict) and "parts" in m for m in data):
        lines = []
        for message in data:
            role = message.get("role") or message.get("finish_reason") or "message"
            parts = message.get("parts") if isinstance(message.get("parts"), list) else []
            texts = [_part_text(part) for part in parts]
            first, *rest = "\n".join(texts).splitlines() or [""]
            lines.append(f"{role}: {first}")
            lines.extend(f"  {line}" for line in rest)
        return lines
    if isinstance(data, list) and all(isinstance(p, dict) and "type" in p for p in data):  # instructions
        return "\n".join(_part_text(p) for p in data).splitlines() or [""]
    if isinstance(data, str):
        return data.splitlines() or [""]
    return json.dumps(data, ensure_ascii=False, default=str, indent=2).splitlines()


def _part_text(part: Any) -> str:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("content"), str):
        return part["content"]
    return json.dumps(part, ensure_ascii=False, default=str)


def stats_table(group_by: str, rows: list[StatsRow]) -> None:
    table = Table(title=f"stats by {group_by}", title_justify="left")
    table.add_column(group_by)
    for column in ("calls", "errors", "input tokens", "output tokens", "cost", "p50", "p95"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(plain(row.key) if row.key is not None else "(none)", _count(row.calls),
                      f"{row.error_rate:.1%}", _count(row.input_tokens), _count(row.output_tokens),
                      cost(row.cost_usd) or NONE, _ms(row.p50_ms), _ms(row.p95_ms))
    console = _console()
    console.print(table)
    if not rows:
        console.print("no data in this range")
