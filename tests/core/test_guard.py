"""The guard around traceglass's own work: a fault is logged once per place (with its traceback) and
swallowed, or re-raised when the tests ask; what is not an Exception always passes."""

from __future__ import annotations

import logging

import pytest

from traceglass import _guard


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv(_guard.RAISE_ENV, "0")
    monkeypatch.setattr(_guard, "_reported", set())


def test_a_fault_is_swallowed_and_logged_once_with_its_traceback_then_at_debug(production, caplog):
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        for n in range(3):
            with _guard.guard("here"):
                raise ValueError(f"fault {n}")
        with _guard.guard("there"):
            raise KeyError("other")
    logged = [(r.levelno, r.getMessage(), str(r.exc_info[1])) for r in caplog.records]
    assert logged == [
        (logging.WARNING, "traceglass internal error in here (further ones here are logged at debug)", "fault 0"),
        (logging.DEBUG, "traceglass internal error in here", "fault 1"),
        (logging.DEBUG, "traceglass internal error in here", "fault 2"),
        (logging.WARNING, "traceglass internal error in there (further ones here are logged at debug)", "'other'"),
    ]
    assert all(r.exc_info[2] is not None for r in caplog.records)  # the traceback goes with it


def test_what_is_not_an_exception_passes_through(production):
    with pytest.raises(KeyboardInterrupt):
        with _guard.guard("here"):
            raise KeyboardInterrupt
    with pytest.raises(SystemExit):
        _guard.guarded("there")(lambda: (_ for _ in ()).throw(SystemExit(3)))()


def test_the_decorator_returns_its_default_after_a_fault(production):
    @_guard.guarded("parse", default=-1)
    def parse(text):
        return int(text)

    assert (parse("7"), parse("seven")) == (7, -1)


@pytest.mark.parametrize(("value", "raises"), [("1", True), ("true", True), ("0", False), ("false", False),
                                                ("", False), (None, False)])
def test_the_tests_ask_for_faults_to_be_raised_with_the_environment(monkeypatch, value, raises):
    monkeypatch.setattr(_guard, "_reported", set())
    if value is None:
        monkeypatch.delenv(_guard.RAISE_ENV, raising=False)
    else:
        monkeypatch.setenv(_guard.RAISE_ENV, value)
    if raises:
        with pytest.raises(ValueError, match="loud"):
            with _guard.guard("here"):
                raise ValueError("loud")
    else:
        with _guard.guard("here"):
            raise ValueError("quiet")
