"""Reading traces back with TraceStore: latency, tokens and cost per trace, and totals per model.

What it shows:
- `TraceStore()` opens the same SQLite file the exporter writes (TRACEGLASS_DB or the default);
- `list_traces(...)` newest first, with each trace's latency, tokens and cost — cost counted once
  per model call even when two layers reported it;
- `get_trace(trace_id)` for the span tree, and `stats(group_by="model")` for totals.

Run after any other example: python examples/read_traces.py
"""

from __future__ import annotations

import math

from traceglass.store import TraceStore


def _money(value: float | None) -> str:
    if value is None:
        return "unpriced"
    # Enough decimals for two significant digits: an embedding call costs ~$0.00000006, not $0.
    decimals = max(6, 1 - math.floor(math.log10(value))) if value > 0 else 0
    return f"${value:.{decimals}f}"


def main() -> None:
    store = TraceStore()
    page = store.list_traces(limit=20)
    if not page.traces:
        print("No traces yet: run another example first.")
        return
    print(f"{'trace':34} {'root':28} {'project':22} {'latency':>9} {'tokens':>7} {'cost':>12}")
    for summary in page.traces:
        print(f"{summary.trace_id:34} {str(summary.name)[:28]:28} {str(summary.project)[:22]:22} "
              f"{summary.latency_ms:8.1f}ms {summary.total_tokens:7d} {_money(summary.cost_usd):>12}")

    newest = store.get_trace(page.traces[0].trace_id)
    print(f"\nNewest trace {newest.trace_id}: {len(newest.spans)} spans")
    for span in newest.spans:
        print(f"  {span.name} [{span.type}] {span.duration_ms:.1f} ms")

    print("\nBy model:")
    for row in store.stats(group_by="model"):
        print(f"  {str(row.key):28} calls {row.calls:4d}  tokens {row.total_tokens:7d}  cost {_money(row.cost_usd)}")
    store.close()


if __name__ == "__main__":
    main()
