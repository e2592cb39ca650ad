"""The dashboard's alerts in real headless Chromium: the banner while something fires, the Alerts page, and an
alert's link filling the trace list's filters."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from traceglass.alerts import AlertRule, check
from traceglass.server import create_app
from traceglass.store import TraceStore

from ..server.conftest import RunningServer
from ..server.test_browser import browser  # noqa: F401 - the fixture (Debian's chromium, skipped without it)


def _store_with_a_firing_alert(path) -> None:
    with TraceStore(path) as store:
        start = time.time_ns() - 60 * 10**9
        for n, user in enumerate(["alice", "alice", "bob"], start=1):
            store.upsert_span({"trace_id": f"{n:032x}", "span_id": f"{n:016x}", "name": "chat", "start_ns": start,
                               "end_ns": start + 10**8, "model": "gpt-4o-mini", "cost_usd": 3.0, "user": user})
        check([AlertRule("user-spend", "cost_usd", window="1h", above=5.0, group_by="user", severity="critical"),
               AlertRule("calm", "calls", window="1h", above=100)], store)


def test_the_banner_shows_what_fires_and_the_alerts_page_lists_it(tmp_path, browser):  # noqa: F811
    _store_with_a_firing_alert(tmp_path / "t.db")
    server = RunningServer(create_app(tmp_path / "t.db")).start()
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        banner = page.locator("#alerts-banner")
        banner.wait_for(state="visible", timeout=15000)
        assert banner.get_attribute("class") == "alerts-banner critical"
        assert banner.inner_text().split("\n")[0].startswith("1 alert firing")
        assert "[critical] user-spend: user=alice cost_usd = 6 (above 5) over 1h" in banner.inner_text()
        page.click("#alerts-banner a")
        page.locator("#view-alerts").wait_for(state="visible", timeout=15000)
        page.locator("table.alerts").first.wait_for(timeout=15000)
        assert page.locator("#view-list").is_hidden()
        assert page.get_attribute("#nav-alerts", "aria-current") == "page"
        rows = page.locator("table.alerts").first.locator("tbody tr").all_inner_texts()
        assert len(rows) == 1 and rows[0].split("\t")[:3] == [
            "critical", "user-spend", "[critical] user-spend: user=alice cost_usd = 6 (above 5) over 1h"]
        # The alert's link: the trace list filtered to that user over the window.
        page.locator("table.alerts").first.locator("a").click()
        page.locator("#view-list").wait_for(state="visible", timeout=15000)
        # (expect, not wait_for_function: the dashboard's CSP forbids the eval that polling a string uses)
        expect(page.locator("#trace-rows tr")).to_have_count(2, timeout=15000)
        assert page.input_value("#f-user") == "alice" and page.input_value("#f-since") == "1h"
    finally:
        page.close()
        server.stop()


def test_no_banner_when_nothing_fires(tmp_path, browser):  # noqa: F811
    with TraceStore(tmp_path / "t.db") as store:
        check([AlertRule("calm", "calls", window="1h", above=100)], store)
    server = RunningServer(create_app(tmp_path / "t.db")).start()
    page = browser.new_page()
    try:
        page.goto(server.url + "/#/alerts")
        page.get_by_text("Nothing fires.").wait_for(timeout=15000)
        assert page.locator("#alerts-banner").is_hidden()
        assert page.locator("#alerts-body").inner_text().split("\n")[-1] == (
            "This server evaluates no rules (start it with traceglass ui --alerts FILE); the history above is the "
            "store's.")
    finally:
        page.close()
        server.stop()
