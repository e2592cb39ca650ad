"""Tables and span trees for people (rich), used by the CLI."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from traceglass.store._models import SpanNode, StatsRow, Trace, TracePage

_BAR_WIDTH = 30


def _console() -> Console:
    # Wide enough that ids and names are not cut when output goes to a pipe or a file.
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    return console


def _cost(value: float | None) -> str:
    return "" if value is None else f"${value:.6f}".rstrip("0").rstrip(".") if value else "$0"


def _ms(value: float | None) -> str:
    if value is None:
        return "…"
    return f"{value:.1f} ms" if value < 10_000 else f"{value / 1000:.2f} s"


def _tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    if input_tokens is None and output_tokens is None:
        return ""
    return f"{input_tokens or 0}→{output_tokens or 0}"


def traces_table(page: TracePage) -> None:
    table = Table(title="traces (newest first)", title_justify="left")
    for column in ("trace id", "start (UTC)", "name", "project", "spans", "latency", "tokens", "cost", "status"):
        table.add_column(column, no_wrap=column in ("trace id", "start (UTC)"),
                         justify="right" if column in ("spans", "latency", "tokens", "cost") else "left")
    for t in page.traces:
        status = Text(t.status, style="bold red" if t.status == "ERROR" else "green")
        table.add_row(t.trace_id, t.start.strftime("%Y-%m-%d %H:%M:%S"), t.name or "", t.project or "",
                      str(t.span_count), _ms(t.latency_ms), str(t.total_tokens) if t.total_tokens else "",
                      _cost(t.cost_usd), status)
    console = _console()
    console.print(table)
    if not page.traces:
        console.print("no traces match")
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


def _bar(span: SpanNode, start: int, total: int) -> Text:
    if span.end_ns is None or total <= 0:
        return Text("")
    offset = int((span.start_ns - start) / total * _BAR_WIDTH)
    width = max(1, round((span.end_ns - span.start_ns) / total * _BAR_WIDTH))
    offset = min(offset, _BAR_WIDTH - width)
    style = "red" if span.status == "ERROR" else "cyan"
    return Text(" " * offset) + Text("█" * width, style=style) + Text(" " * (_BAR_WIDTH - offset - width))


def _walk(nodes: list[SpanNode], depth: int = 0):
    for node in nodes:
        yield node, depth
        yield from _walk(node.children, depth + 1)


def trace_tree(trace: Trace) -> None:
    console = _console()
    header = Text(f"trace {trace.trace_id}", style="bold")
    header.append(f"  {trace.name or ''}  project={trace.project or '-'}")
    if trace.session:
        header.append(f"  session={trace.session}")
    if trace.user:
        header.append(f"  user={trace.user}")
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
    total = (trace.end_ns or trace.start_ns) - trace.start_ns
    for span, depth in _walk(trace.roots):
        # A span whose usage a span below it also reports is shown dim: it is not counted twice.
        usage_style = "dim" if span.usage_superseded else ""
        status = Text(span.status, style="bold red" if span.status == "ERROR" else "")
        if span.status == "ERROR":
            detail = span.error_type or ""
            if span.status_message:
                detail = f"{detail}: {span.status_message}" if detail else span.status_message
            if detail:
                status.append(f" {detail}", style="red")
        table.add_row("  " * depth + span.name, span.type or "", _bar(span, trace.start_ns, total),
                      _ms(span.duration_ms), span.model or "",
                      Text(_tokens(span.input_tokens, span.output_tokens), style=usage_style),
                      Text(_cost(span.cost_usd), style=usage_style), status)
    console.print(table)
    console.print(f"{trace.span_count} span(s), {_ms(trace.latency_ms)}, tokens "
                  f"{trace.input_tokens}→{trace.output_tokens} ({trace.total_tokens}), cost {_cost(trace.cost_usd) or '-'}"
                  + (f", {trace.error_count} error(s)" if trace.error_count else ""))


def stats_table(group_by: str, rows: list[StatsRow]) -> None:
    table = Table(title=f"stats by {group_by}", title_justify="left")
    table.add_column(group_by)
    for column in ("calls", "errors", "input tokens", "output tokens", "cost", "p50", "p95"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row.key) if row.key is not None else "(none)", str(row.calls), f"{row.error_rate:.1%}",
                      str(row.input_tokens), str(row.output_tokens), _cost(row.cost_usd), _ms(row.p50_ms),
                      _ms(row.p95_ms))
    console = _console()
    console.print(table)
    if not rows:
        console.print("no data in this range")
