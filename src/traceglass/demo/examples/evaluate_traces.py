"""Evaluate an app's traced answers: online metrics on the decorator, then a dataset and a stored run.

What it shows:
- `@observe(..., metrics=[...])`: each call is scored after it returns, on a background worker, and the
  results become scores on the call's span (`flush_online_metrics()` waits for them);
- `TraceBridge().to_dataset(...)`: the stored traces of this app as evaluation items (prompt, answer,
  latency, cost), saved as an immutable, numbered dataset version;
- `evaluate_traces(...)`: code scorers and an LLM judge over that dataset, every result a score
  (`source="eval"`) on the span it judged; the run is stored (`traceglass evals runs`, the dashboard's
  Evaluations page) and `summary()` gives each scorer's mean and pass rate.

The judge is any OpenAI-compatible client: here the bundled server, whose judge verdicts are deterministic
(no key). Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/evaluate_traces.py   (then: traceglass evals runs, traceglass ui)
"""

from __future__ import annotations

import traceglass
from traceglass import observe
from traceglass.demo import openai_endpoint
from traceglass.evals import TraceBridge, evaluate_traces, flush_online_metrics

SERVICE = "support-evals"
QUESTIONS = [
    "Can I still get a refund for my order?",
    "Where should we eat tonight?",
    "What is the capital of France?",
]


def make_answer(client):
    @observe(type="chain", name="answer", metrics=["length_between:1:400", "max_latency:5000"])
    def answer(question: str) -> str:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content

    return answer


def main() -> None:
    traceglass.configure(service_name=SERVICE)
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        answer = make_answer(client)
        for question in QUESTIONS:
            answer(question)
        flush_online_metrics()  # the decorator's metrics ran in the background: wait for them
        traceglass.flush()      # spans and scores written to the store

        dataset = TraceBridge().to_dataset(project=SERVICE, answer="root", limit=100)
        version = dataset.save("support-answers")
        print(f"dataset support-answers version {version}: {len(dataset)} items")
        run = evaluate_traces(["relevance", "contains:refund", "max_latency:5000"], dataset=dataset,
                              judge=client, model="gpt-4o-mini", progress=False)
    for name, summary in run.summary().items():
        print(f"{name}: mean {summary['mean']:.2f}, pass rate {summary['pass_rate']:.0%}, "
              f"{summary['count']} scored, {summary['errors']} errors")
    worst = run.failures[0] if run.failures else None
    if worst is not None:
        print(f"lowest: {worst.scorer} {worst.value:.2f} on {worst.item.input!r}")
    traceglass.flush()


if __name__ == "__main__":
    main()
