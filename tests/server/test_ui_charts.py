"""Charts over time on the Aggregates page (issue 19), in real headless Chromium against the real server and a
real SQLite file: the SVG's bars and points, tick labels, legend, hover values, empty state, text-only labels."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.store._helpers import BASE_S, make_sdk
from traceglass._scores import new_score
from traceglass.store import TraceWriter

from .test_browser import _screenshot, browser, page  # noqa: F401 - the browser fixtures

DAY = 86400
HOSTILE_MODEL = '<img src=x onerror="window.__xss = 5">'


def _chat(sdk, start_s, ms, model, tokens, cost, error=None):
    sdk.span(f"chat {model}", start_s, start_s + ms / 1000, error=error, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": tokens[0],
        "gen_ai.usage.output_tokens": tokens[1], "traceglass.cost.total_usd": cost})


@pytest.fixture
def dashboard(db_path, serve_app):
    """Three days from 2027-01-15: gpt-4o-mini on the 15th and (failing) the 17th, gpt-4o on the 16th and 17th."""
    sdk = make_sdk(db_path)
    _chat(sdk, BASE_S, 100, "gpt-4o-mini", (10, 2), 0.25)
    _chat(sdk, BASE_S + DAY, 400, "gpt-4o", (20, 4), 0.5)
    _chat(sdk, BASE_S + 2 * DAY, 300, "gpt-4o-mini", (30, 6), 0.125, error="RateLimitError")
    _chat(sdk, BASE_S + 2 * DAY + 60, 200, "gpt-4o", (5, 5), 0.25)
    sdk.provider.shutdown()
    writer = TraceWriter(db_path)
    for day, value in ((0, 0.5), (0, 1.0), (2, 0.25)):
        created = datetime.fromtimestamp(BASE_S + day * DAY, tz=timezone.utc)
        writer.write_scores([new_score("relevance", value, trace_id="a" * 32, source="eval", created_at=created)])
    writer.close()
    return serve_app(db_path)


def _open_charts(page, url, group="none", since=""):
    page.goto(url + "/#/stats")
    page.wait_for_selector("#stats-charts-body[data-rendered]")
    before = page.get_attribute("#stats-charts-body", "data-rendered")
    page.select_option("#s-since", since)
    page.select_option("#c-group", group)  # a change reloads the charts
    page.wait_for_function("b => document.querySelector('#stats-charts-body').dataset.rendered !== b", arg=before)


def _marks(page, chart, what):
    return page.eval_on_selector_all(
        f"svg[data-chart='{chart}'] .{what}",
        "nodes => nodes.map(n => [n.dataset.key, Number(n.dataset.bucket) / 1e9, Number(n.dataset.value),"
        " n.querySelector('title').textContent])")


def _texts(page, selector):
    return page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent)")


def test_cost_per_model_and_day_as_stacked_bars_with_axes_legend_and_hover(page, dashboard):
    _open_charts(page, dashboard.url, group="model")
    assert _texts(page, "[data-chart] > .tg-chart-title") == [
        "Cost", "Tokens", "Model calls", "Error rate", "Latency p50", "Latency p95", "Score means (per score name)"]
    assert _marks(page, "cost", "bar") == [
        ["gpt-4o-mini", BASE_S - 8 * 3600, 0.25, "gpt-4o-mini · Jan 15: $0.25"],
        ["gpt-4o", BASE_S - 8 * 3600 + DAY, 0.5, "gpt-4o · Jan 16: $0.5"],
        ["gpt-4o", BASE_S - 8 * 3600 + 2 * DAY, 0.25, "gpt-4o · Jan 17: $0.25"],
        ["gpt-4o-mini", BASE_S - 8 * 3600 + 2 * DAY, 0.125, "gpt-4o-mini · Jan 17: $0.125"],
    ]
    # Jan 17's bars stack: gpt-4o-mini's sits on gpt-4o's.
    boxes = page.eval_on_selector_all("svg[data-chart='cost'] .bar",
                                      "n => n.map(b => { const r = b.getBBox(); return [r.x, r.y, r.height]; })")
    assert boxes[3][0] == boxes[2][0] and boxes[3][1] + boxes[3][2] == pytest.approx(boxes[2][1], abs=0.01)
    assert _texts(page, "svg[data-chart='cost'] .x-tick") == ["Jan 15", "Jan 16", "Jan 17"]
    assert _texts(page, "svg[data-chart='cost'] .y-tick") == ["$0", "$0.2", "$0.4", "$0.6"]
    assert _texts(page, "svg[data-chart='cost'] .axis-label") == ["USD", "day (UTC)"]
    assert _texts(page, "[data-chart='cost'] .tg-legend-item") == ["gpt-4o", "gpt-4o-mini"]  # as many calls: by name
    assert _texts(page, "svg[data-chart='tokens'] .y-tick") == ["0", "20", "40", "60"]
    assert _texts(page, "svg[data-chart='calls'] .y-tick") == ["0", "1", "2"]  # counts: whole ticks only
    # A bar is as tall as its value on the axis: $0.5 of $0.6 is 5/6 of the plot's height.
    heights = page.eval_on_selector_all("svg[data-chart='cost'] .bar", "n => n.map(b => b.getBBox().height)")
    assert heights[1] == pytest.approx(heights[0] * 2, abs=0.01) and heights[1] == pytest.approx(158 * 5 / 6, abs=0.01)

    page.hover("svg[data-chart='cost'] .hover-zone[data-index='1']")
    tip = page.locator("[data-chart='cost'] .tg-tooltip")
    tip.wait_for(state="visible")
    assert tip.locator("div").all_inner_texts() == ["Jan 16 UTC", "gpt-4o: $0.5", "gpt-4o-mini: –", "total: $0.5"]
    _screenshot(page, "dashboard-charts.png")
    page.mouse.move(5, 5)
    tip.wait_for(state="hidden")
    assert page.console_errors == []


def test_error_rate_and_latency_as_lines_and_points_with_gaps(page, dashboard):
    _open_charts(page, dashboard.url, group="model")
    assert _marks(page, "error-rate", "point") == [
        ["gpt-4o", BASE_S - 8 * 3600 + DAY, 0, "gpt-4o · Jan 16: 0%"],
        ["gpt-4o", BASE_S - 8 * 3600 + 2 * DAY, 0, "gpt-4o · Jan 17: 0%"],
        ["gpt-4o-mini", BASE_S - 8 * 3600, 0, "gpt-4o-mini · Jan 15: 0%"],
        ["gpt-4o-mini", BASE_S - 8 * 3600 + 2 * DAY, 1, "gpt-4o-mini · Jan 17: 100%"],
    ]
    # gpt-4o: a line from the 16th to the 17th; gpt-4o-mini had no call on the 16th: a gap, no line.
    assert page.eval_on_selector_all("svg[data-chart='error-rate'] .line", "n => n.map(l => l.getAttribute('class'))") == [
        "line s-0"]
    assert _texts(page, "svg[data-chart='error-rate'] .y-tick") == ["0%", "25%", "50%", "75%", "100%"]
    assert [m[3] for m in _marks(page, "p95", "point")] == [
        "gpt-4o · Jan 16: 400 ms", "gpt-4o · Jan 17: 200 ms", "gpt-4o-mini · Jan 15: 100 ms",
        "gpt-4o-mini · Jan 17: 300 ms"]
    # One series over every call: a line through three points.
    _open_charts(page, dashboard.url, group="none")
    assert [m[2] for m in _marks(page, "p50", "point")] == [100, 400, 200]  # Jan 17: 200 and 300 ms, nearest rank
    assert page.locator("svg[data-chart='p50'] .line").count() == 1
    assert _texts(page, "[data-chart='p50'] .tg-legend-item") == ["all model calls"]
    assert _marks(page, "scores", "point") == [
        ["relevance", BASE_S - 8 * 3600, 0.75, "relevance · Jan 15: 0.75"],
        ["relevance", BASE_S - 8 * 3600 + 2 * DAY, 0.25, "relevance · Jan 17: 0.25"],
    ]
    # Keyboard: the chart takes focus and the arrows walk its buckets.
    page.focus("svg[data-chart='calls']")
    page.keyboard.press("ArrowLeft")
    assert page.locator("[data-chart='calls'] .tg-tooltip").inner_text().split("\n") == [
        "Jan 17 UTC", "all model calls: 2"]
    page.keyboard.press("ArrowLeft")
    assert page.locator("[data-chart='calls'] .tg-tooltip").inner_text().split("\n") == [
        "Jan 16 UTC", "all model calls: 1"]


def test_an_empty_store_shows_the_empty_state(page, tmp_path, serve_app):
    server = serve_app(tmp_path / "empty.db")
    _open_charts(page, server.url, since="30d")
    assert _texts(page, "[data-chart] .tg-chart-empty") == ["No model calls in this range."] * 6
    assert page.locator("#stats-charts-body svg").count() == 0
    assert page.locator("[data-chart='scores']").count() == 0  # no score yet: no score chart
    assert page.console_errors == []


def test_hourly_buckets_label_about_eight_ticks(page, dashboard):
    _open_charts(page, dashboard.url)
    page.select_option("#c-bucket", "hour")
    page.wait_for_selector("svg[data-chart='cost'] .hover-zone:nth-of-type(49)")
    assert page.locator("svg[data-chart='cost'] .hover-zone").count() == 49  # Jan 15 08:00 to Jan 17 08:00
    assert _texts(page, "svg[data-chart='cost'] .x-tick") == [
        "Jan 15 08:00", "Jan 15 15:00", "Jan 15 22:00", "Jan 16 05:00", "Jan 16 12:00", "Jan 16 19:00",
        "Jan 17 02:00"]
    assert _texts(page, "svg[data-chart='cost'] .axis-label") == ["USD", "hour (UTC)"]
    assert len(_marks(page, "cost", "bar")) == 3


def test_a_model_name_with_markup_stays_text(page, db_path, serve_app):
    sdk = make_sdk(db_path)
    _chat(sdk, BASE_S, 100, HOSTILE_MODEL, (1, 1), 0.001)
    sdk.provider.shutdown()
    server = serve_app(db_path)
    page.goto(server.url + "/#/stats")
    page.select_option("#c-group", "model")
    page.select_option("#s-since", "")
    page.click("#stats-filters button[type=submit]")
    page.wait_for_selector("svg[data-chart='cost'] .bar")
    assert _texts(page, "[data-chart='cost'] .tg-legend-item") == [HOSTILE_MODEL]
    page.hover("svg[data-chart='cost'] .hover-zone[data-index='0']")
    assert page.locator("[data-chart='cost'] .tg-tooltip").inner_text().split("\n")[1] == f"{HOSTILE_MODEL}: $0.001"
    assert page.locator("#stats-charts img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_the_evaluations_page_charts_each_scorers_daily_mean(page, tmp_path, serve_app):
    from traceglass.evals import EvalItem, ScoreResult, evaluate_traces
    from traceglass.store import TraceStore

    class Fixed:
        def __init__(self, name, values):
            self.name, self.values = name, values

        def score(self, item):
            return ScoreResult(self.values[item.input])

    path = tmp_path / "evals.db"
    items = [EvalItem(f"q{n}", "a", trace_id=f"{n + 1:032x}") for n in range(3)]
    evaluate_traces([Fixed("quality", {"q0": 1.0, "q1": 1.0, "q2": 0.25})], dataset=items, store=str(path),
                    progress=False)
    evaluate_traces([Fixed("quality", {"q0": 0.5, "q1": 0.0, "q2": 0.75}),
                     Fixed("brevity", {"q0": 1.0, "q1": 0.2, "q2": 0.6})], dataset=items, store=str(path),
                    progress=False)
    with TraceStore(path) as store:
        store.add_score("user_feedback", 0.0, trace_id="f" * 32)  # not an evaluation's: not charted here
    server = serve_app(path)
    page.goto(server.url + "/#/evals")
    page.wait_for_selector("#evals-chart[data-rendered] svg")
    today = datetime.now(timezone.utc)
    day = f"{today:%b} {today.day}"
    assert _texts(page, "#evals-chart .tg-chart-title") == ["Scores over time (daily mean per scorer, UTC)"]
    assert _texts(page, "#evals-chart .tg-legend-item") == ["quality", "brevity"]  # the most scored first
    assert [m[3] for m in _marks(page, "scores", "point")] == [f"quality · {day}: 0.58", f"brevity · {day}: 0.60"]
    assert _texts(page, "#evals-chart .x-tick") == [day]
    _screenshot(page, "dashboard-evals-chart.png")
    assert page.console_errors == []


def test_the_charts_work_under_the_servers_strict_csp(browser, dashboard):  # noqa: F811 - the imported fixture
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # no bypass_csp: the real policy
    strict = context.new_page()
    errors = []
    strict.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    strict.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        strict.goto(dashboard.url + "/#/stats")
        strict.select_option("#s-since", "")
        strict.click("#stats-filters button[type=submit]")
        strict.wait_for_selector("svg[data-chart='cost'] .bar")
        strict.hover("svg[data-chart='cost'] .hover-zone[data-index='0']")
        tip = strict.locator("[data-chart='cost'] .tg-tooltip")
        tip.wait_for(state="visible")
        assert tip.inner_text().split("\n")[0] == "Jan 15 UTC"
        assert tip.evaluate("t => t.style.left.endsWith('px')")  # positioned through the CSSOM, not a style attribute
        assert errors == []  # a CSP violation is reported as a console error
    finally:
        context.close()


def test_the_charts_are_asked_for_before_the_aggregates_tables(dashboard, page):  # noqa: F811
    """Both are CPU-bound reads of one server; over a big store the four tables take seconds and the
    charts waited behind them (benchmarks/results/dashboard.txt): the page asks for the charts first
    and for its tables once they are answered."""
    events: list[str] = []
    page.on("request", lambda r: events.append("ask " + r.url.split("/api/")[1].split("?")[0])
            if "/api/stats" in r.url or "/api/timeseries?" in r.url else None)
    page.on("response", lambda r: events.append("got " + r.url.split("/api/")[1].split("?")[0])
            if "/api/timeseries?" in r.url else None)
    page.goto(dashboard.url + "/#/stats")
    page.wait_for_selector("#stats-charts-body[data-rendered]")
    page.wait_for_selector("#stats-body table.stats")
    stats = [i for i, event in enumerate(events) if event == "ask stats"]
    assert events.index("got timeseries") < min(stats) and len(stats) == 4, events
    # the header's counts come from /api/counts, not from a fifth aggregation
    page.wait_for_function("() => document.querySelector('#counts').textContent !== ''")
    assert page.text_content("#counts") == "4 traces · 4 spans"
