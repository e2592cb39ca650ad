"""The hand-off: ended spans reach the processors behind on a thread of their own, in order, none lost.

Processors here record what they are given and on which thread; a "stuck" one blocks on an event
the test sets, so every wait is bounded and nothing depends on timing.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass import semconv
from traceglass._guard import RAISE_ENV
from traceglass.processors._hand_off import HandOffSpanProcessor
from traceglass.processors.cost import CostSpanProcessor

from .test_configure import run

PRICES = {"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}}


class Recording(SpanProcessor):
    """Records span names, the thread each hook ran on, and blocks in ``on_end`` while ``gate`` is clear."""

    def __init__(self, block_only: str | None = None) -> None:
        self.block_only = block_only  # when given, only that span waits for the gate
        self.ended: list[str] = []
        self.threads: list[str] = []
        self.started: list[tuple[str, str]] = []
        self.endings: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.shutdowns = 0
        self.flushes = 0

    def on_start(self, span, parent_context=None):
        self.started.append((span.name, threading.current_thread().name))

    def _on_ending(self, span):
        self.endings.append((span.name, threading.current_thread().name))

    def on_end(self, span):
        self.entered.set()
        if self.block_only is None or span.name == self.block_only:
            assert self.gate.wait(30)
        self.ended.append(span.name)
        self.threads.append(threading.current_thread().name)

    def shutdown(self):
        self.shutdowns += 1

    def force_flush(self, timeout_millis=30000):
        self.flushes += 1
        return True


class Raising(SpanProcessor):
    def on_end(self, span):
        raise RuntimeError(f"boom on {span.name}")


@pytest.fixture
def provider():
    made = []

    def make(*processors):
        tracer_provider = TracerProvider()
        for processor in processors:
            tracer_provider.add_span_processor(processor)
        made.append(tracer_provider)
        return tracer_provider.get_tracer("test")

    yield make
    for tracer_provider in made:
        tracer_provider.shutdown()


def _end(tracer, *names):
    for name in names:
        tracer.start_span(name).end()


def _until(predicate, seconds=5.0):
    """Poll ``predicate`` (bounded); True once it holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return predicate()


def test_spans_reach_the_processors_behind_in_the_order_they_ended_off_the_calling_thread(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    names = [f"s{i}" for i in range(1000)]
    _end(tracer, *names)
    assert hand_off.force_flush(5000) is True
    assert behind.ended == names
    assert set(behind.threads) == {"traceglass-span-end"}
    assert behind.flushes == 1
    # on_start and _on_ending need the live span: they run on the calling thread, as the span starts and ends.
    assert behind.started[:2] == [("s0", "MainThread"), ("s1", "MainThread")]
    assert behind.endings[:2] == [("s0", "MainThread"), ("s1", "MainThread")]


def test_each_threads_spans_keep_their_order_and_none_is_lost_or_repeated(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    threads = [threading.Thread(target=_end, args=(tracer, *[f"t{t}-{i}" for i in range(300)])) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert hand_off.force_flush(5000) is True
    assert len(behind.ended) == 1200 and len(set(behind.ended)) == 1200
    for t in range(4):
        assert [n for n in behind.ended if n.startswith(f"t{t}-")] == [f"t{t}-{i}" for i in range(300)]


def test_a_span_ended_while_the_thread_waits_wakes_it_without_a_flush(provider):
    # The worker goes idle between spans; each span must wake it by itself (a lost wake-up would
    # leave a span waiting until the next one or a flush).
    behind = Recording()
    tracer = provider(HandOffSpanProcessor([behind]))
    for i in range(200):
        _end(tracer, f"s{i}")
        assert _until(lambda: len(behind.ended) == i + 1), f"span {i} was not handed on"
        if i % 20 == 0:
            time.sleep(0.002)  # let the worker settle into its wait
    assert behind.ended == [f"s{i}" for i in range(200)]


def test_roll_ups_still_see_the_children_first(provider):
    exporter = InMemorySpanExporter()
    hand_off = HandOffSpanProcessor([CostSpanProcessor(SimpleSpanProcessor(exporter), prices=PRICES,
                                                       use_genai_prices=False)])
    tracer = provider(hand_off)
    for _ in range(50):
        with tracer.start_as_current_span("chain"):
            for _ in range(2):
                with tracer.start_as_current_span("llm") as llm:
                    llm.set_attributes({"gen_ai.request.model": "my-model", "gen_ai.usage.input_tokens": 1000,
                                        "gen_ai.usage.output_tokens": 100})
    assert hand_off.force_flush(5000) is True
    chains = [s for s in exporter.get_finished_spans() if s.name == "chain"]
    assert len(chains) == 50
    for chain in chains:
        assert chain.attributes[semconv.ROLLUP_INPUT_TOKENS] == 2000
        assert chain.attributes[semconv.ROLLUP_COST] == pytest.approx(0.024)


def test_force_flush_waits_for_the_spans_handed_over_and_keeps_to_its_timeout(provider):
    behind = Recording()
    behind.gate.clear()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    _end(tracer, "a", "b")
    assert behind.entered.wait(5)
    started = time.monotonic()
    assert hand_off.force_flush(100) is False
    assert time.monotonic() - started < 5
    behind.gate.set()
    assert hand_off.force_flush(5000) is True
    assert behind.ended == ["a", "b"]


def test_past_max_pending_the_calling_thread_hands_on_the_oldest_waiting_span_then_queues_its_own(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind], max_pending=4)
    tracer = provider(hand_off)
    hand_off._stopping = True  # the worker stops, as one starved of the GIL would fall behind
    hand_off._wake()
    hand_off._worker.join(5)
    _end(tracer, "s0", "s1", "s2", "s3")  # four wait
    assert behind.ended == [] and len(hand_off._pending) == 4
    _end(tracer, "s4", "s5")
    assert behind.ended == ["s0", "s1"] and behind.threads == ["MainThread", "MainThread"]
    assert list(hand_off._pending) and len(hand_off._pending) == 4  # bounded
    assert hand_off.force_flush(5000) is True
    assert behind.ended == ["s0", "s1", "s2", "s3", "s4", "s5"]


def test_a_caller_over_the_bound_waits_for_the_workers_round_and_the_order_holds(provider):
    behind = Recording()
    behind.gate.clear()
    hand_off = HandOffSpanProcessor([behind], max_pending=4)
    tracer = provider(hand_off)
    _end(tracer, "s0")
    assert behind.entered.wait(5)  # the worker is inside on_end with s0
    _end(tracer, "s1", "s2", "s3", "s4")  # four wait
    app = threading.Thread(target=_end, args=(tracer, "s5", "s6"), name="app")
    app.start()
    behind.gate.set()
    app.join(10)
    assert not app.is_alive()
    assert hand_off.force_flush(5000) is True
    assert behind.ended == ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]


def test_shutdown_hands_on_what_waits_then_shuts_the_processors_behind_and_later_spans_still_go(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    behind.gate.clear()
    _end(tracer, *[f"s{i}" for i in range(50)])
    threading.Timer(0.05, behind.gate.set).start()
    hand_off.shutdown()
    assert behind.ended == [f"s{i}" for i in range(50)] and behind.shutdowns == 1
    assert not hand_off._worker.is_alive()
    _end(tracer, "late")  # the processors behind decide what a span after shutdown becomes
    assert behind.ended[-1] == "late" and behind.threads[-1] == "MainThread"
    hand_off.shutdown()
    assert behind.shutdowns == 1


def test_a_processor_that_raises_is_reported_once_and_the_others_and_later_spans_still_go(provider, monkeypatch,
                                                                                          caplog):
    monkeypatch.setenv(RAISE_ENV, "0")
    behind = Recording()
    hand_off = HandOffSpanProcessor([Raising(), behind])
    tracer = provider(hand_off)
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        _end(tracer, "a", "b", "c")
        assert hand_off.force_flush(5000) is True
    assert behind.ended == ["a", "b", "c"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "hand_off.on_end" in r.getMessage()]
    assert len(warnings) == 1


def test_under_the_test_suite_a_fault_behind_is_raised_by_the_next_flush(provider):
    assert os.environ.get(RAISE_ENV) not in (None, "", "0")  # the suite's conftest sets it
    hand_off = HandOffSpanProcessor([Raising()])
    tracer = provider(hand_off)
    _end(tracer, "a")
    with pytest.raises(RuntimeError, match="boom on a"):
        hand_off.force_flush(5000)
    assert hand_off.force_flush(5000) is True


def test_bad_max_pending_is_refused():
    with pytest.raises(ValueError, match="max_pending"):
        HandOffSpanProcessor([], max_pending=0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_hands_on_its_own_spans(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    _end(tracer, "parent")
    assert hand_off.force_flush(5000) is True
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own worker thread, its own spans
        try:
            _end(tracer, "child")
            ok = hand_off.force_flush(5000)
            os.write(write, json.dumps([ok, behind.ended, behind.threads[-1]]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        ok, ended, thread = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert ok is True and ended == ["parent", "child"] and thread == "traceglass-span-end"


def test_configure_hands_span_ends_to_its_own_thread_and_shutdown_exports_every_span_ended_before_it():
    # What configure() sets up: the fan-out holds the hand-off, which holds the cost processor; spans
    # ended just before shutdown() are handed on before the batch processors stop (none lost).
    result = run(
        """
        import json, threading
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        import traceglass
        from traceglass import _runtime
        from traceglass.processors.cost import CostSpanProcessor

        class Keep(SpanExporter):
            spans = []
            def export(self, spans):
                self.spans.extend(spans)
                return SpanExportResult.SUCCESS

        threads = set()
        original = CostSpanProcessor.on_end
        def on_end(self, span):
            threads.add(threading.current_thread().name)
            original(self, span)
        CostSpanProcessor.on_end = on_end

        keep = Keep()
        traceglass.configure(exporters=[keep], instrument=[],
                             prices={"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}})
        (hand_off,) = _runtime.current().pipeline.fanout.processors
        tracer = trace.get_tracer("app")
        for i in range(300):
            with tracer.start_as_current_span(f"s{i}") as span:
                span.set_attributes({"gen_ai.request.model": "my-model", "gen_ai.usage.input_tokens": 1000,
                                     "gen_ai.usage.output_tokens": 100})
        traceglass.shutdown()
        costs = {round(s.attributes.get("gen_ai.usage.cost", 0), 6) for s in keep.spans}
        print(json.dumps([type(hand_off).__name__, [type(p).__name__ for p in hand_off.downstream],
                          sorted(threads), len(keep.spans), sorted(costs)]))
        """
    )
    assert result.returncode == 0, result.stderr
    kind, behind, threads, exported, costs = json.loads(result.stdout.strip().splitlines()[-1])
    assert (kind, behind) == ("HandOffSpanProcessor", ["CostSpanProcessor"])
    assert threads == ["traceglass-span-end"]
    assert exported == 300 and costs == [0.012]


def test_a_span_queued_between_the_workers_last_look_and_its_wait_is_still_handed_on(provider):
    # A span queued just after the worker last saw the queue empty, by a caller that looked for the
    # worker's wake-up token before the worker put it out: the worker must look again before it waits.
    # (On CPython 3.11 no thread switch can land there; the token queue puts the span there on purpose.)
    class InTheWay(deque):
        hand_off = None

        def append(self, token):
            if behind.ended == ["first"] and not self.hand_off._pending:  # the worker goes to wait after "first"
                self.hand_off._pending.append(late)  # a caller's append, its look for the token done
            super().append(token)

    class Racing(HandOffSpanProcessor):
        _token_queue = InTheWay

    behind = Recording()
    tracer = provider()
    late = tracer.start_span("late")
    late.end()
    hand_off = Racing([behind])
    hand_off._idle.hand_off = hand_off
    tracer = provider(hand_off)
    _end(tracer, "first")
    assert _until(lambda: len(behind.ended) == 2), behind.ended
    assert behind.ended == ["first", "late"]


def test_spans_queued_when_the_thread_is_gone_are_handed_on_by_flush_and_shutdown(provider):
    # A span can be queued by a thread that saw the processor open just before shutdown stopped
    # the worker: the one who drains or shuts down hands it on.
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    hand_off._stopping = True
    hand_off._wake()
    hand_off._worker.join(5)
    assert not hand_off._worker.is_alive()
    _end(tracer, "queued late")
    assert behind.ended == []
    assert hand_off.force_flush(5000) is True
    assert behind.ended == ["queued late"] and behind.threads == ["MainThread"]
    _end(tracer, "queued later")
    hand_off.shutdown()
    assert behind.ended == ["queued late", "queued later"]
    waiting = provider().start_span("waiting")  # a tracer whose spans do not come here
    waiting.end()
    hand_off._pending.append(waiting)  # queued by a thread that saw the processor open as shutdown came
    _end(tracer, "after shutdown")
    assert behind.ended[-2:] == ["waiting", "after shutdown"]


def test_shutdown_waits_for_a_stuck_processor_at_most_its_timeout_and_still_shuts_the_rest(provider, caplog):
    behind = Recording(block_only="stuck")
    behind.gate.clear()  # stuck in on_end (until the test lets go)
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    _end(tracer, "stuck", "waiting")
    assert behind.entered.wait(5)
    assert hand_off.drain(50) is False  # its marker waits behind "waiting": not a span
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        hand_off.shutdown(timeout_millis=200)
    assert time.monotonic() - started < 5
    assert behind.shutdowns == 1
    assert "still busy after 0.2 s at shutdown; 1 spans waiting" in caplog.text
    late = threading.Thread(target=_end, args=(tracer, "late"))
    late.start()  # a span after shutdown does not wait for the stuck processor either
    late.join(5)
    assert not late.is_alive() and behind.ended == ["late"]
    behind.gate.set()


def test_traceglass_shutdown_keeps_to_its_timeout_while_a_span_processor_is_stuck():
    result = run(
        """
        import json, threading, time
        from opentelemetry import trace
        import traceglass
        from traceglass.processors.cost import CostSpanProcessor

        release = threading.Event()
        original = CostSpanProcessor.on_end
        def on_end(self, span):
            if span.name == "stuck":
                release.wait(60)
            original(self, span)
        CostSpanProcessor.on_end = on_end

        traceglass.configure(exporters=["none"], instrument=[])
        trace.get_tracer("app").start_span("stuck").end()
        time.sleep(0.1)
        started = time.monotonic()
        traceglass.shutdown(timeout_millis=1000)
        print(json.dumps(round(time.monotonic() - started, 1)))
        release.set()
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) <= 3.0


# --- deferred tasks (traceglass._deferred_end): a span's maker leaves work to the hand-off thread ---------------
def test_a_deferred_task_runs_on_the_hand_off_thread_in_order_and_the_span_it_ends_goes_on_in_its_place(provider):
    behind = Recording(block_only="first")
    behind.gate.clear()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    late = tracer.start_span("late")  # ended by the task, after "after" was queued
    ran = []

    def task():
        ran.append(threading.current_thread().name)
        late.end()

    _end(tracer, "first")
    assert behind.entered.wait(5)  # the worker is held inside on_end with "first"
    assert hand_off.defer(task) is True
    _end(tracer, "after")
    behind.gate.set()
    assert hand_off.force_flush(5000) is True
    assert ran == ["traceglass-span-end"]
    assert behind.ended == ["first", "late", "after"]
    assert behind.threads == ["traceglass-span-end"] * 3
    _end(tracer, "next")  # the task is over: spans queue again
    assert hand_off.force_flush(5000) is True and behind.ended[-1] == "next"


def test_a_span_ended_on_another_thread_while_a_task_runs_still_waits_its_turn(provider):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    inside, release = threading.Event(), threading.Event()

    def task():
        inside.set()
        assert release.wait(5)

    assert hand_off.defer(task) is True
    assert inside.wait(5)
    _end(tracer, "meanwhile")  # the calling thread is not the task's: queued, not handed on here
    assert behind.ended == [] and len(hand_off._pending) == 1
    release.set()
    assert hand_off.force_flush(5000) is True and behind.ended == ["meanwhile"]


def test_a_task_that_raises_is_reported_and_the_queue_goes_on(provider, monkeypatch, caplog):
    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)

    def task():
        raise RuntimeError("task broke")

    with pytest.raises(RuntimeError, match="task broke"):  # the suite's mode: raised by the next flush
        assert hand_off.defer(task)
        hand_off.force_flush(5000)
    monkeypatch.setenv(RAISE_ENV, "0")
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        hand_off.defer(task)
        _end(tracer, "a")
        assert hand_off.force_flush(5000) is True
    assert behind.ended == ["a"]
    assert [r for r in caplog.records if "hand_off.task" in r.getMessage()]


def test_after_shutdown_nothing_is_deferred_and_the_caller_runs_the_task(provider):
    hand_off = HandOffSpanProcessor([Recording()])
    provider(hand_off)
    hand_off.shutdown()
    assert hand_off.defer(lambda: None) is False
    assert not hand_off._pending


def test_the_deferrer_is_the_hand_offs_only_when_it_is_the_spans_one_processor(provider):
    from traceglass._deferred_end import deferrer_for

    hand_off = HandOffSpanProcessor([Recording()])
    alone = provider(hand_off).start_span("alone")
    assert deferrer_for(alone) == hand_off.defer
    beside = provider(HandOffSpanProcessor([Recording()]), SimpleSpanProcessor(InMemorySpanExporter()))
    assert deferrer_for(beside.start_span("beside")) is None  # the other processor would see it unfinished
    assert deferrer_for(provider(SimpleSpanProcessor(InMemorySpanExporter())).start_span("plain")) is None
    assert deferrer_for(object()) is None
    alone.end()


def test_a_span_a_task_ends_goes_through_the_pipeline_it_started_in_after_configure_swapped_it(provider):
    # shutdown() and a second configure() swap what the fan-out holds, then drain the old hand-off: a span its
    # queued task ends must reach the old processors behind (the new ones never saw it start; an empty fan-out
    # would drop it), its _on_ending hooks too.
    from traceglass.processors._fanout import FanOutSpanProcessor

    old_behind, new_behind = Recording(block_only="blocker"), Recording()
    old_behind.gate.clear()
    old = HandOffSpanProcessor([old_behind])
    fanout = FanOutSpanProcessor([old])
    tracer = provider(fanout)
    late = tracer.start_span("late")
    _end(tracer, "blocker")
    assert old_behind.entered.wait(5)
    assert fanout.defer(late.end) is True
    assert fanout.replace([HandOffSpanProcessor([new_behind])]) == (old,)
    old_behind.gate.set()
    assert old.drain(5000)
    assert old_behind.ended == ["blocker", "late"] and new_behind.ended == []
    assert ("late", "traceglass-span-end") in old_behind.endings and new_behind.endings == []
    fanout.replace([])
    assert fanout.defer(lambda: None) is False  # nothing inside takes tasks: the caller runs it
    old.shutdown()


def test_past_max_pending_a_deferring_thread_runs_the_oldest_waiting_task_itself(provider):
    hand_off = HandOffSpanProcessor([Recording()], max_pending=4)
    provider(hand_off)
    hand_off._stopping = True  # the worker stops, as one starved of the GIL would fall behind
    hand_off._wake()
    hand_off._worker.join(5)
    ran = []
    for n in range(6):
        assert hand_off.defer(lambda n=n: ran.append((n, threading.current_thread().name))) is True
    assert ran == [(0, "MainThread"), (1, "MainThread")] and len(hand_off._pending) == 4
    assert hand_off.force_flush(5000) is True
    assert [n for n, _ in ran] == [0, 1, 2, 3, 4, 5]


def test_a_child_forked_while_a_task_runs_does_not_take_its_threads_for_the_tasks(provider):
    # The parent's worker is inside a task when the process forks: in the child that thread does not exist, and a
    # thread of the child given the same id must not have its spans taken for the task's.
    from traceglass import _deferred_end

    hand_off = HandOffSpanProcessor([Recording()])
    provider(hand_off)
    inside, release = threading.Event(), threading.Event()
    hand_off.defer(lambda: (inside.set(), release.wait(5)))
    assert inside.wait(5) and len(_deferred_end.RUNNING) == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, json.dumps(len(_deferred_end.RUNNING)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        in_child = json.loads(pipe.read())
    os.waitpid(pid, 0)
    release.set()
    assert hand_off.force_flush(5000) is True
    assert in_child == 0 and _deferred_end.RUNNING == {}


def test_past_the_waiting_tasks_bound_a_deferring_thread_runs_the_oldest_items_itself(provider):
    # A task may hold a stream's 256 kept chunks: tasks have a bound of their own, well under max_pending's.
    from traceglass.processors._hand_off import MAX_WAITING_TASKS

    behind = Recording()
    hand_off = HandOffSpanProcessor([behind])
    tracer = provider(hand_off)
    hand_off._stopping = True  # the worker stops, as one starved of the GIL would fall behind
    hand_off._wake()
    hand_off._worker.join(5)
    ran = []
    _end(tracer, "s0")
    for n in range(MAX_WAITING_TASKS + 3):
        assert hand_off.defer(lambda n=n: ran.append(n)) is True
    # The span first, then the oldest tasks, in order: never more than the bound waiting.
    assert behind.ended == ["s0"] and ran == [0, 1, 2]
    assert len(hand_off._pending) == MAX_WAITING_TASKS
    assert hand_off.force_flush(5000) is True
    assert ran == list(range(MAX_WAITING_TASKS + 3))
