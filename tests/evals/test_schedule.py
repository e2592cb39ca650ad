"""EvalSchedule: only new traces each run, no duplicate scores, a failed run does not stop it; the cron parser."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from traceglass.evals import EvalSchedule, ScoreResult
from traceglass.evals._cron import parse_cron
from traceglass.store import TraceStore

from ._traces import Spans


def _add(path, n0, n1):
    spans = Spans(path)
    made = [spans.chat(n * 1000, f"q{n}", f"answer {n}") for n in range(n0, n1)]
    spans.close()
    return made


def test_each_run_evaluates_only_what_these_scorers_have_not(tmp_path):
    path = tmp_path / "t.db"
    _add(path, 0, 3)
    schedule = EvalSchedule(["contains:answer", "length_between:1:100"], every="24h", store=path)
    first = schedule.run_once()
    assert len(first.items) == 3 and first.summary()["contains"]["count"] == 3
    again = schedule.run_once()
    assert again.items == [] and again.results == []
    made = _add(path, 3, 5)
    third = schedule.run_once()
    assert sorted(i.trace_id for i in third.items) == sorted(t for t, _ in made)
    # A scorer added later evaluates the old traces too; the others' scores are not repeated.
    wider = EvalSchedule(["contains:answer", "exact_match"], every="1h", store=path).run_once()
    assert len(wider.items) == 5 and {r.scorer for r in wider.results} == {"exact_match"}
    with TraceStore(path) as store:
        pairs = [(s.trace_id, s.name) for s in store.scores(source="eval", limit=1000)]
        assert len(pairs) == len(set(pairs)) == 5 * 2  # contains and length_between; exact_match gives none
        assert len(store.eval_runs()) == 4


def test_a_no_score_or_error_result(tmp_path):
    path = tmp_path / "t.db"
    _add(path, 0, 2)
    calls = []

    class Flaky:
        name = "flaky"

        def score(self, item):
            calls.append(item.output)
            if item.output == "answer 0":
                raise TimeoutError("judge timed out")
            return None

    schedule = EvalSchedule(Flaky(), every=3600, store=path)
    schedule.run_once()
    schedule.run_once()
    # "no score" counts as evaluated; an error is tried again next run.
    assert sorted(calls) == ["answer 0", "answer 0", "answer 1"]


def test_the_background_thread_runs_and_survives_a_failed_run(tmp_path, caplog):
    path = tmp_path / "t.db"
    _add(path, 0, 1)
    outcomes = iter([RuntimeError("disk on fire")])

    class Scorer:
        name = "s"

        def score(self, item):
            return ScoreResult(1.0)

    schedule = EvalSchedule(Scorer(), every=0.01, store=path)
    real = schedule.run_once

    def run_once():
        failure = next(outcomes, None)
        if failure is not None:
            raise failure
        return real()

    schedule.run_once = run_once  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="traceglass"), schedule:
        assert schedule.wait_for_runs(3, timeout=30)
    assert schedule._thread is None
    assert "a scheduled evaluation run failed: RuntimeError: disk on fire" in caplog.text
    assert schedule.last_error is None and schedule.last_run is not None
    with TraceStore(path) as store:
        assert len(store.scores(name="s")) == 1


def test_arguments_are_checked_up_front(tmp_path):
    with pytest.raises(ValueError, match="exactly one of every="):
        EvalSchedule("exact_match", store=tmp_path / "t.db")
    with pytest.raises(ValueError, match="exactly one of every="):
        EvalSchedule("exact_match", every="1h", cron="* * * * *")
    with pytest.raises(ValueError, match="not a duration"):
        EvalSchedule("exact_match", every="soon")
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        EvalSchedule("nope", every="1h")
    with pytest.raises(ValueError, match="cron hour: '25' is outside 0-23"):
        EvalSchedule("exact_match", cron="0 25 * * *")
    assert EvalSchedule("exact_match", cron="0 2 * * *").next_run(datetime(2026, 3, 1, 2, 0)) == datetime(
        2026, 3, 2, 2, 0)
    assert EvalSchedule("exact_match", every="90m").next_run(datetime(2026, 3, 1, 2, 0)) == datetime(
        2026, 3, 1, 3, 30)


@pytest.mark.parametrize("expression, after, expected", [
    ("0 2 * * *", datetime(2026, 1, 1, 1, 59), datetime(2026, 1, 1, 2, 0)),
    ("0 2 * * *", datetime(2026, 1, 1, 2, 0), datetime(2026, 1, 2, 2, 0)),
    ("*/15 * * * *", datetime(2026, 1, 1, 10, 7, 30), datetime(2026, 1, 1, 10, 15)),
    ("30 9 * * mon-fri", datetime(2026, 1, 2, 10, 0), datetime(2026, 1, 5, 9, 30)),  # Fri after 9:30 -> Mon
    ("0 0 1 */3 *", datetime(2026, 2, 10), datetime(2026, 4, 1)),
    ("0 0 29 feb *", datetime(2026, 3, 1), datetime(2028, 2, 29)),
    ("0 12 13 * 5", datetime(2026, 1, 1), datetime(2026, 1, 2, 12, 0)),  # day 13 OR Friday
    ("0 0 * * 7", datetime(2026, 1, 1), datetime(2026, 1, 4)),  # 7 is Sunday
    ("5,10-12 3 * jan,dec *", datetime(2026, 1, 1, 3, 10), datetime(2026, 1, 1, 3, 11)),
    ("59 23 31 12 *", datetime(2026, 12, 31, 23, 59), datetime(2027, 12, 31, 23, 59)),
])
def test_cron_next_after(expression, after, expected):
    assert parse_cron(expression).next_after(after) == expected


@pytest.mark.parametrize("expression, message", [
    ("* * * *", "a cron expression has 5 fields"),
    ("60 * * * *", "cron minute: '60' is outside 0-59"),
    ("* * 0 * *", "cron day of month: '0' is outside 1-31"),
    ("* * * 13 *", "cron month: '13' is outside 1-12"),
    ("* * * * 8", "cron day of week: '8' is outside 0-7"),
    ("5-1 * * * *", "cron minute: '5-1' is outside 0-59 \\(or a range runs backwards\\)"),
    ("*/0 * * * *", "cron minute: a step must be at least 1"),
    ("x * * * *", "cron minute: not a number: 'x'"),
    ("* * * foo *", "cron month: not a number: 'foo'"),
])
def test_cron_errors_name_the_field(expression, message):
    with pytest.raises(ValueError, match=message):
        parse_cron(expression)


def test_an_impossible_cron_says_so():
    with pytest.raises(ValueError, match="matches no time in the next 5 years"):
        parse_cron("0 0 31 2 *").next_after(datetime(2026, 1, 1))
