"""A span that ends on another thread while its own trace is being decided joins that decision.

The decision (a ``keep_content_when`` callable, the summary) runs outside the processor's lock, so
an application thread can end a span of the same trace meanwhile (a late child: a stream consumed on
a worker, a task still running when its parent returned). That span must neither wait in the buffer
for a second decision nor leave on its own: it leaves with its trace, once, under the same decision.
The callable below holds the decision open until the late span has ended; every wait is bounded.
"""

from __future__ import annotations

import threading

from opentelemetry import trace

from traceglass import Sampling

from ._pipeline import Pipeline

WAIT = 10.0  # seconds; only reached when the code under test is broken


def test_a_span_ending_while_its_trace_is_decided_leaves_with_that_decision():
    deciding, release = threading.Event(), threading.Event()
    seen: list[tuple[str | None, int]] = []

    def hold_the_decision(summary):
        seen.append((summary.root_name, summary.span_count))
        deciding.set()
        release.wait(WAIT)
        return True  # keep the content, which content_rate=0 would otherwise drop

    pipeline = Pipeline(Sampling(content_rate=0.0, keep_content_when=(hold_the_decision,)))
    root = pipeline.tracer.start_span("root", attributes={"traceglass.input": "root prompt"})
    late = pipeline.tracer.start_span("late", context=trace.set_span_in_context(root),
                                      attributes={"traceglass.input": "late prompt"})
    ender = threading.Thread(target=root.end, name="ends-the-root")
    ender.start()
    try:
        assert deciding.wait(WAIT), "the root's trace was never decided"
        late.end()  # here, while the other thread is inside the decision of this very trace
        # it joined the trace being decided: not exported yet, and not waiting in the buffer either
        assert pipeline.spans() == []
        assert pipeline.processor.pending == (0, 0, 0)
    finally:
        release.set()
        ender.join(WAIT)
    assert not ender.is_alive()
    assert seen == [("root", 1)]  # decided once, on the root's thread, before the late span ended
    assert [(s["name"], s["attributes"]) for s in pipeline.spans()] == [
        ("root", {"traceglass.input": "root prompt"}),
        ("late", {"traceglass.input": "late prompt"}),  # the trace's decision: content kept
    ]
    assert pipeline.counters() == {("content_kept", "root_ended", "hold_the_decision"): 1}
    assert pipeline.processor.pending == (0, 0, 0)
