"""Hostile inputs to the decorators and ``span()``: the user's exception always wins, the span tells the truth."""

from __future__ import annotations

import pytest

import traceglass
from traceglass import observe, trace_llm
from traceglass._guard import RAISE_ENV


class Unprintable(Exception):
    """An exception whose ``__str__`` (and ``__repr__``) raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")


def _plain(error):
    @observe(name="work")
    def work():
        raise error

    work()


async def _coroutine(error):
    @observe(name="work")
    async def work():
        raise error

    await work()


def _generator(error):
    @trace_llm(name="work")
    def work():
        yield "a"
        raise error

    list(work())


async def _async_generator(error):
    @trace_llm(name="work")
    async def work():
        yield "a"
        raise error

    [item async for item in work()]


def _span_block(error):
    with traceglass.span("work"):
        raise error


async def _async_span_block(error):
    async with traceglass.span("work"):
        raise error


SHAPES = [_plain, _coroutine, _generator, _async_generator, _span_block, _async_span_block]
CUSTOM = {"traceglass.span.type": "custom", "error.type": "Unprintable"}
LLM = {"traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "error.type": "Unprintable"}
ATTRIBUTES = {
    _plain: {**CUSTOM, "traceglass.input": "{}"},
    _coroutine: {**CUSTOM, "traceglass.input": "{}"},
    _generator: {**LLM, "traceglass.input": "{}"},
    _async_generator: {**LLM, "traceglass.input": "{}"},
    _span_block: CUSTOM,
    _async_span_block: CUSTOM,
}


def _exception_event(span: dict) -> dict:
    assert [e["name"] for e in span["events"]] == ["exception"]
    attributes = dict(span["events"][0]["attributes"])
    stacktrace = attributes.pop("exception.stacktrace")
    assert "Unprintable: <exception str() failed>" in stacktrace
    return attributes


@pytest.mark.parametrize("production", [False, True], ids=["tests-loud", "production"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda f: f.__name__.strip("_"))
async def test_unprintable_exception_fails_the_span_and_passes_through(captured, monkeypatch, shape, production):
    if production:  # our own faults swallowed, as in an app: the span must still say ERROR
        monkeypatch.setenv(RAISE_ENV, "0")
    error = Unprintable()
    with pytest.raises(Unprintable) as raised:
        result = shape(error)
        if hasattr(result, "__await__"):
            await result
    assert raised.value is error
    spans = captured.spans()
    assert [s["name"] for s in spans] == ["work"]
    span = spans[0]
    assert span["status"] == "ERROR"
    assert span["status_description"] == "Unprintable"
    assert span["attributes"] == ATTRIBUTES[shape]
    assert _exception_event(span) == {
        "exception.type": f"{__name__}.Unprintable",
        "exception.message": "Unprintable",
        "exception.escaped": "False",
    }


def test_printable_exception_keeps_its_message(captured):
    with pytest.raises(ValueError, match="bad input"):
        _plain(ValueError("bad input"))
    span = captured.span("work")
    assert (span["status"], span["status_description"]) == ("ERROR", "ValueError: bad input")
    assert [e["name"] for e in span["events"]] == ["exception"]
    event = dict(span["events"][0]["attributes"])
    assert event.pop("exception.stacktrace").endswith("ValueError: bad input\n")
    assert event == {"exception.type": "ValueError", "exception.message": "bad input", "exception.escaped": "False"}
