"""_stepped: a context current only while the producer runs each step, reset in the same frame."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from traceglass._stepped import AsyncStepped, Stepped

current: ContextVar[str | None] = ContextVar("current", default=None)


def _enter() -> object:
    return current.set("inside")


def _leave(token: object) -> None:
    current.reset(token)  # raises if reset from another context than the set's


def test_each_step_runs_inside_and_the_consumer_outside():
    seen = []

    def producer():
        received = yield current.get()
        seen.append(("sent", received, current.get()))
        try:
            yield current.get()
        except KeyError:
            seen.append(("thrown", current.get()))
            yield "caught"
        finally:
            seen.append(("closed", current.get()))

    steps = Stepped(producer(), _enter, _leave)
    assert next(steps) == "inside"
    assert current.get() is None
    assert steps.send("x") == "inside"
    assert steps.throw(KeyError("k")) == "caught"
    assert current.get() is None
    steps.close()
    assert current.get() is None
    assert seen == [("sent", "x", "inside"), ("thrown", "inside"), ("closed", "inside")]


def test_the_end_of_the_iteration_leaves_before_the_caller_sees_it():
    steps = Stepped(iter([1]), _enter, _leave)
    assert list(steps) == [1]
    assert current.get() is None
    with pytest.raises(StopIteration):
        next(steps)
    assert current.get() is None


def test_async_steps_run_inside_and_the_consumer_outside():
    seen = []

    async def producer():
        received = yield current.get()
        seen.append(("sent", received, current.get()))
        try:
            yield current.get()
        except KeyError:
            yield "caught"
        finally:
            seen.append(("closed", current.get()))

    async def consume():
        steps = AsyncStepped(producer(), _enter, _leave)
        assert await steps.__anext__() == "inside"
        assert current.get() is None
        assert await steps.asend(5) == "inside"
        assert await steps.athrow(KeyError("k")) == "caught"
        assert current.get() is None
        await steps.aclose()
        assert current.get() is None

    asyncio.run(consume())
    assert seen == [("sent", 5, "inside"), ("closed", "inside")]
