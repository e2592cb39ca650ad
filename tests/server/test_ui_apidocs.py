"""/docs, the API reference (issue 19), in real headless Chromium under the server's own strict CSP, offline:
every documented path and method is listed with its parameters, bodies, responses, schemas and examples."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .conftest import record_sample
from .test_browser import CHROMIUM, _screenshot, browser  # noqa: F401 - the browser fixture


@pytest.fixture
def server(recorder, db_path, serve_app):
    record_sample(recorder)
    return serve_app(db_path)


@pytest.fixture
def strict_page(browser):  # noqa: F811 - the imported fixture
    """A page under the server's real Content-Security-Policy (no bypass), recording every request."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def _operations(document):
    return [[method, path] for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")]


def test_docs_lists_every_documented_operation_under_the_strict_csp(strict_page, server):
    response = httpx.get(server.url + "/docs", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/static/dom.js" defer>',
                                                            '<script src="/static/apidocs.js" defer>']  # no inline
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()

    page = strict_page
    page.goto(server.url + "/")
    page.click("#nav-docs")  # the dashboard links to it
    page.wait_for_selector("body[data-rendered]")
    listed = page.eval_on_selector_all(".api-op", "ns => ns.map(n => [n.dataset.method, n.dataset.path])")
    assert listed == _operations(document)
    assert page.eval_on_selector_all(".api-toc-list li", "ns => ns.map(n => [n.dataset.method, n.dataset.path])") == listed
    assert page.get_attribute("body", "data-rendered") == str(len(listed))
    assert page.locator("h1").inner_text() == f"traceglass {document['info']['version']}"
    # Every schema has its section; every request went to this server (offline) and nothing failed.
    assert page.eval_on_selector_all(".api-schema-def", "ns => ns.map(n => n.dataset.schema)") == list(
        document["components"]["schemas"])
    assert all(url.startswith(server.url) for url in page.requests), page.requests
    assert page.errors == []
    _screenshot(page, "api-docs.png")


def test_an_operation_shows_its_parameters_responses_and_examples(strict_page, server):
    page = strict_page
    page.goto(server.url + "/docs#op-timeseries")
    page.wait_for_selector("body[data-rendered]")
    op = page.locator("section#op-timeseries")
    assert op.locator(".api-op-title").inner_text().split() == ["GET", "/api/timeseries"]
    rows = op.locator("table.api-params tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.param)") == ["bucket", "group_by", "since", "until", "project"]
    assert rows.nth(0).locator("td").all_inner_texts()[:3] == ["bucket", "query", 'one of "hour", "day"']
    assert op.locator("dt.api-status").all_inner_texts() == ["200", "400"]
    # The 200's schema is a link to the TimeSeries schema, and its example is that schema's shape.
    link = op.locator("dd .api-ref").first
    assert (link.inner_text(), link.get_attribute("href")) == ("TimeSeries", "#schema-TimeSeries")
    op.locator("details.api-example summary").first.click()
    example = json.loads(op.locator("details.api-example pre").first.inner_text())
    assert sorted(example) == ["bucket", "buckets", "buckets_ns", "group_by", "kind", "series"]
    assert example["kind"] == "calls" and sorted(example["series"][0]["points"][0]) == [
        "calls", "cost_usd", "error_rate", "errors", "input_tokens", "output_tokens", "p50_ms", "p95_ms",
        "start", "start_ns", "total_tokens"]
    assert op.locator(".api-curl").inner_text() == f"curl '{server.url}/api/timeseries'"
    link.click()
    assert page.evaluate("location.hash") == "#schema-TimeSeries"
    assert page.locator("#schema-TimeSeries li[data-property='series']").count() == 1

    post = page.locator("section#op-addScore")
    assert post.locator("h4").all_inner_texts()[:2] == ["PARAMETERS", "REQUEST BODY (REQUIRED)"]
    curl = post.locator(".api-curl").inner_text()
    assert curl.startswith(f"curl -X POST '{server.url}/api/traces/{{trace_id}}/scores' \\\n"
                           "  -H 'content-type: application/json' -d '{")
    assert json.loads(curl.split(" -d '", 1)[1][:-1])["name"] == "string"


def test_the_filter_narrows_the_operations(strict_page, server):
    page = strict_page
    page.goto(server.url + "/docs")
    page.wait_for_selector("body[data-rendered]")
    page.fill("#api-filter", "timeseries")
    visible = page.eval_on_selector_all(".api-op:not([hidden])", "ns => ns.map(n => n.dataset.path)")
    assert visible == ["/api/timeseries", "/api/timeseries/scores"]
    assert page.eval_on_selector_all(".api-toc-list li:not([hidden])", "ns => ns.map(n => n.dataset.path)") == visible
    page.fill("#api-filter", "")
    assert page.locator(".api-op[hidden]").count() == 0
