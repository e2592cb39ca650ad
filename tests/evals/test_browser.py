"""The dashboard's Evaluations page in real headless Chromium over a real SQLite file: the stored runs with
each scorer's mean, a run's results lowest score first (user text kept as text), and a result's link opening
the trace it scored."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from traceglass.evals import EvalItem, ScoreResult, evaluate_traces
from traceglass.server import create_app
from traceglass.store import TraceStore

from ..server.conftest import RunningServer
from ..server.test_browser import _screenshot
from ..server.test_browser import browser  # noqa: F401 - the fixture (Debian's chromium, skipped without it)

HOSTILE = '<img src=x onerror="document.title=\'pwned\'"> & "quotes"'
PROMPTS = ["What is the capital of France?", HOSTILE, "Summarise the report."]


class _Fixed:
    """A scorer giving each prompt a set value."""

    def __init__(self, name: str, values: dict[str, float]) -> None:
        self.name, self.values = name, values

    def score(self, item: EvalItem) -> ScoreResult:
        return ScoreResult(self.values[item.input], label=f"label-{self.values[item.input]}",
                           explanation=f"why {self.name}")


def _store_with_two_runs(path) -> list[EvalItem]:
    items = []
    with TraceStore(path) as store:
        start = time.time_ns() - 60 * 10**9
        for n, prompt in enumerate(PROMPTS, start=1):
            trace_id, span_id = f"{n:032x}", f"{n:016x}"
            store.upsert_span({"trace_id": trace_id, "span_id": span_id, "name": f"answer-{n}", "start_ns": start + n,
                               "end_ns": start + n + 10**8, "model": "gpt-4o-mini"})
            items.append(EvalItem(prompt, f"reply {n}", trace_id=trace_id, span_id=span_id))
    older = evaluate_traces([_Fixed("quality", dict(zip(PROMPTS, [1.0, 1.0, 0.25])))], dataset=items,
                            store=str(path), progress=False)
    newer = evaluate_traces([_Fixed("quality", dict(zip(PROMPTS, [0.5, 0.0, 0.75]))),
                             _Fixed("brevity", dict(zip(PROMPTS, [1.0, 0.2, 0.6])))], dataset=items,
                            store=str(path), progress=False)
    assert newer.created_ns > older.created_ns
    return [newer.id, older.id]


def test_the_evaluations_page_lists_runs_and_a_run_shows_its_lowest_scores_first(tmp_path, browser):  # noqa: F811
    newer, older = _store_with_two_runs(tmp_path / "t.db")
    server = RunningServer(create_app(tmp_path / "t.db")).start()
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.click("#nav-evals")
        runs = page.locator("table.evals.runs tbody tr")
        # (expect, not wait_for_function: the dashboard's CSP forbids the eval that polling a string uses)
        expect(runs).to_have_count(2, timeout=15000)
        assert page.locator("#view-list").is_hidden() and page.locator("#view-evals").is_visible()
        assert page.get_attribute("#nav-evals", "aria-current") == "page"
        assert [r.get_attribute("data-run") for r in runs.all()] == [newer, older]  # newest first
        assert [r.locator(".eval-mean").all_inner_texts() for r in runs.all()] == [
            ["quality 0.42", "brevity 0.60"], ["quality 0.75"]]
        assert [r.locator("td").nth(2).inner_text() for r in runs.all()] == ["3", "3"]

        runs.first.locator("a").click()
        results = page.locator("table.evals.results tbody tr")
        expect(results).to_have_count(6, timeout=15000)
        assert page.url.endswith(f"#/evals/{newer}")
        cells = [r.locator("td").all_inner_texts() for r in results.all()]
        assert [c[:4] for c in cells] == [  # lowest first, across scorers
            ["0.00", "quality", "label-0.0", HOSTILE],
            ["0.20", "brevity", "label-0.2", HOSTILE],
            ["0.50", "quality", "label-0.5", PROMPTS[0]],
            ["0.60", "brevity", "label-0.6", PROMPTS[2]],
            ["0.75", "quality", "label-0.75", PROMPTS[2]],
            ["1.00", "brevity", "label-1.0", PROMPTS[0]],
        ]
        assert [c[4:6] for c in cells[:2]] == [["reply 2", "why quality"], ["reply 2", "why brevity"]]
        assert page.locator("#view-evals img").count() == 0 and page.title() == "traceglass"  # text, not markup
        assert [r.locator("td").all_inner_texts() for r in page.locator("table.evals.summary tbody tr").all()] == [
            ["quality", "0.417", "67%", "3", "0", "0"], ["brevity", "0.600", "67%", "3", "0", "0"]]

        results.first.locator("a.eval-trace").click()  # the lowest result's trace, at the span it scored
        page.locator("#view-trace").wait_for(state="visible", timeout=15000)
        page.wait_for_selector(f"body[data-rendered='{2:032x}']", timeout=15000)
        assert page.url.endswith(f"#/trace/{2:032x}/{2:016x}")
        assert page.locator("#trace-title").inner_text() == "answer-2"
        assert page.locator("#view-evals").is_hidden()

        page.go_back()  # back to the run, then to the list through the nav
        expect(results).to_have_count(6, timeout=15000)
        page.click("#nav-evals")
        expect(runs).to_have_count(2, timeout=15000)
    finally:
        page.close()
        server.stop()


def test_no_runs_yet_and_an_unknown_run(tmp_path, browser):  # noqa: F811
    TraceStore(tmp_path / "t.db").close()
    server = RunningServer(create_app(tmp_path / "t.db")).start()
    page = browser.new_page()
    try:
        page.goto(server.url + "/#/evals")
        page.get_by_text("No evaluation run yet").wait_for(timeout=15000)
        page.goto(server.url + "/#/evals/" + "f" * 32)
        error = page.locator("#evals-body p.error")
        error.wait_for(timeout=15000)
        assert error.inner_text() == f"Could not load evaluations: HTTP 404: no evaluation run '{'f' * 32}'"
    finally:
        page.close()
        server.stop()


def test_add_to_dataset_on_a_trace_saves_new_versions(tmp_path, browser):  # noqa: F811
    from traceglass.evals import EvalDataset

    from ._traces import Spans

    path = tmp_path / "t.db"
    spans = Spans(path)
    chat = {"traceglass.span.type": "llm", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"On its way."}]}]'}
    root = spans.span("answer", 0, 100, {"traceglass.span.type": "chain", "traceglass.input": "refund?",
                                         "traceglass.output": "Your refund is on its way."},
                      children=lambda parent: spans.span("chat gpt-4o-mini", 10, 90, chat, parent=parent))
    trace_id, span_id = format(root.get_span_context().trace_id, "032x"), format(root.get_span_context().span_id, "016x")
    spans.close()
    EvalDataset([EvalItem(HOSTILE)]).save("golden", store=path)
    server = RunningServer(create_app(path)).start()
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/#/trace/{trace_id}")
        expect(page.locator("#trace-dataset")).to_be_visible(timeout=15000)
        expect(page.locator("#dataset-span-label")).to_be_hidden()  # no span in the URL: the whole trace
        expect(page.locator("#dataset-names option")).to_have_count(1, timeout=15000)
        assert page.locator("#dataset-names option").first.get_attribute("value") == "golden"
        page.fill("#dataset-name", "golden")
        page.click("#dataset-add")
        expect(page.locator("#dataset-status")).to_have_text("Added to golden: version 2, 2 items.", timeout=15000)
        page.click("#dataset-add")
        expect(page.locator("#dataset-status")).to_have_text("Already in golden (version 2): nothing added.",
                                                             timeout=15000)
        page.goto(f"{server.url}/#/trace/{trace_id}/{span_id}")  # a span selected: "this span only"
        expect(page.locator("#dataset-span-label")).to_be_visible(timeout=15000)
        page.fill("#dataset-name", HOSTILE)
        page.check("#dataset-span-only")
        page.click("#dataset-add")
        expect(page.locator("#dataset-status")).to_have_text(f"Added to {HOSTILE}: version 1, 1 items.",
                                                             timeout=15000)
        _screenshot(page, "add-to-dataset.png")
        assert page.title() != "pwned"
    finally:
        page.close()
        server.stop()
    with TraceStore(path) as store:
        assert sorted((d.name, d.version, d.item_count) for d in store.datasets()) == sorted(
            [(HOSTILE, 1, 1), ("golden", 2, 2)])
    added = EvalDataset.load(HOSTILE, store=path)  # the root span, not the model call the trace's item is
    assert [(i.trace_id, i.span_id, i.output) for i in added] == [(trace_id, span_id, "Your refund is on its way.")]
    assert EvalDataset.load("golden", store=path)[1].output == "On its way."
