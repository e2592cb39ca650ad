"""The demo's last step: evaluate the LLM calls the examples traced, with two code scorers and
one LLM judge answered by the bundled server, so the dashboard's Evaluations page has a run.

Everything is local: the judge is an ``openai.OpenAI`` client pointed at a bundled server of
its own, whose judge verdicts are deterministic (:mod:`traceglass.demo._judge`)."""

from __future__ import annotations

from typing import Any

from traceglass.demo.endpoint import DEMO_API_KEY
from traceglass.demo.fake_openai import FakeOpenAIServer

SCORERS = ("length_between:1:2000", "max_latency:5000", "relevance")
JUDGE_MODEL = "gpt-4o-mini"


def evaluate_demo(db: str) -> Any:
    """Evaluate every LLM span in ``db`` with :data:`SCORERS`; returns the stored ``EvalRun``."""
    import openai  # noqa: PLC0415 - the demo's own dependency, not traceglass's

    from traceglass.evals import evaluate_traces  # noqa: PLC0415

    with FakeOpenAIServer() as server:
        judge = openai.OpenAI(base_url=server.base_url, api_key=DEMO_API_KEY, max_retries=0)
        try:
            return evaluate_traces(list(SCORERS), store=db, judge=judge, model=JUDGE_MODEL, progress=False)
        finally:
            judge.close()


def summary_line(run: Any) -> str:
    """One line: the run's id, its items and each scorer's mean (``-`` when it gave no score)."""
    means = ", ".join(f"{name} {'-' if s['mean'] is None else format(s['mean'], '.2f')}"
                      for name, s in run.summary().items())
    return f"Evaluation run {run.id}: {len(run.items)} LLM calls scored; means: {means}"
