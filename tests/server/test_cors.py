"""CORS for a feedback widget on another site: preflight and actual requests, allowed and refused, against a
real server (and, in headless Chromium, a real browser's own CORS enforcement)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from traceglass.cli import build_parser
from traceglass.server import create_app
from traceglass.server._cors import check_origin
from traceglass.store import TraceStore

from .test_browser import browser  # noqa: F401 - the fixture (a missing browser: skip, or fail under CI)

TOKEN = "widget-token"
APP = "https://app.example"
TRACE = "0af7651916cd43dd8448eb211c80319c"
SCORES = f"/api/traces/{TRACE}/scores"
PREFLIGHT = {"origin": APP, "access-control-request-method": "POST",
             "access-control-request-headers": "Authorization, Content-Type"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def stored(db_path: Any) -> list[str]:
    with TraceStore(db_path) as store:
        return [score.name for score in store.scores()]


@pytest.fixture
def widget_server(db_path, serve_app):
    return serve_app(db_path, token=TOKEN, cors_origins=[APP, "http://localhost:3000"])


def test_preflight_from_an_allowed_origin_allows_the_scores_post(widget_server):
    response = httpx.options(widget_server.url + SCORES, headers=PREFLIGHT, timeout=10)  # no token: none needed
    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers": "authorization, content-type, content-encoding",
        "access-control-max-age": "600",
    }
    assert response.headers["vary"] == "Origin"
    assert response.content == b""


@pytest.mark.parametrize("change", [
    {"origin": "https://evil.example"},
    {"origin": "https://app.example.evil.example"},
    {"origin": "http://app.example"},  # another scheme is another origin
    {"access-control-request-method": "PUT"},
    {"access-control-request-headers": "authorization, x-api-key"},
])
def test_preflight_refused_carries_no_cors_header(widget_server, change):
    response = httpx.options(widget_server.url + SCORES, headers={**PREFLIGHT, **change}, timeout=10)
    assert response.status_code == 403
    assert cors_headers(response) == {}
    assert response.json() == {"error": "CORS preflight refused: this origin, method or header is not allowed"}


def test_actual_requests_still_need_the_token(widget_server, db_path):
    body = {"name": "thumbs", "value": True, "source": "human"}
    refused = httpx.post(widget_server.url + SCORES, json=body, headers={"origin": APP}, timeout=10)
    assert refused.status_code == 401
    assert cors_headers(refused) == {"access-control-allow-origin": APP}  # the widget can read why
    assert stored(db_path) == []

    allowed = httpx.post(widget_server.url + SCORES, json=body, timeout=10,
                         headers={"origin": APP, "authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 201
    assert cors_headers(allowed) == {"access-control-allow-origin": APP}
    assert allowed.headers["vary"] == "Origin"
    assert stored(db_path) == ["thumbs"]

    # Another origin's page cannot read the answer (the browser enforces it): no CORS header.
    other = httpx.post(widget_server.url + SCORES, json={**body, "name": "other"}, timeout=10,
                       headers={"origin": "https://evil.example", "authorization": f"Bearer {TOKEN}"})
    assert other.status_code == 201
    assert cors_headers(other) == {}
    listed = httpx.get(widget_server.url + SCORES, timeout=10,
                       headers={"origin": "http://localhost:3000", "authorization": f"Bearer {TOKEN}"})
    assert listed.status_code == 200
    assert cors_headers(listed) == {"access-control-allow-origin": "http://localhost:3000"}


def test_cors_is_off_by_default(db_path, serve_app):
    server = serve_app(db_path, token=TOKEN)
    response = httpx.options(server.url + SCORES, headers=PREFLIGHT, timeout=10)
    assert response.status_code == 405
    assert cors_headers(response) == {}
    posted = httpx.post(server.url + SCORES, json={"name": "q", "value": 1}, timeout=10,
                        headers={"origin": APP, "authorization": f"Bearer {TOKEN}"})
    assert posted.status_code == 201
    assert cors_headers(posted) == {}
    assert "vary" not in posted.headers


def test_without_a_token_the_host_check_comes_before_the_preflight(db_path, serve_app):
    server = serve_app(db_path, cors_origins=[APP])
    assert httpx.options(server.url + SCORES, headers=PREFLIGHT, timeout=10).status_code == 204
    rebound = httpx.options(server.url + SCORES, headers={**PREFLIGHT, "host": "attacker.example"}, timeout=10)
    assert rebound.status_code == 403
    assert "only answers requests to localhost" in rebound.json()["error"]


@pytest.mark.parametrize(("given", "origin"), [
    ("https://App.Example", "https://app.example"), ("https://app.example/", "https://app.example"),
    ("http://localhost:3000", "http://localhost:3000"), ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_origins_are_normalized(given, origin):
    assert check_origin(given) == origin
    assert build_parser().parse_args(["ui", "--cors-origin", given, "--cors-origin", APP]).cors_origins == [
        origin, APP]


@pytest.mark.parametrize("bad", ["*", "null", "app.example", "https://app.example/feedback", "ftp://app.example",
                                 "https://app.example:port", ""])
def test_bad_origins_are_refused(bad, db_path, capsys):
    with pytest.raises(ValueError, match="CORS origin"):
        create_app(db_path, cors_origins=[bad])
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["ui", "--cors-origin", bad])
    assert exit_info.value.code == 2
    assert "argument --cors-origin: CORS origin" in capsys.readouterr().err


# The widget's page: it posts to the scores URL given in its own query string (?api=...).
WIDGET = """<!doctype html><meta charset="utf-8"><title>widget</title><script>
window.post = async (token) => {
  try {
    const response = await fetch(new URLSearchParams(location.search).get("api"), {method: "POST", headers: {
      "Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({name: "user_feedback", value: false, comment: "wrong city", source: "human"})});
    return response.status + " " + (await response.json()).name;
  } catch (error) { return "blocked: " + error.name; }
};
</script>"""


class WidgetSite:
    """Another site on 127.0.0.1 (its own port: another origin) serving the widget's page."""

    def __init__(self) -> None:
        body = WIDGET.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def widget_site():
    site = WidgetSite()
    yield site
    site.close()


@pytest.mark.parametrize("listed", [True, False])
def test_a_widget_on_another_site_in_a_real_browser(browser, db_path, serve_app, widget_site, listed):  # noqa: F811
    """Chromium sends the preflight itself and enforces the answer. (Both sites are on loopback: a
    public site calling a loopback server would also meet the browser's Local Network Access prompt.)"""
    server = serve_app(db_path, token=TOKEN, cors_origins=[widget_site.origin if listed else "http://127.0.0.1:1"])
    page = browser.new_page()
    try:
        page.goto(f"{widget_site.origin}/widget?{urlencode({'api': server.url + SCORES})}")
        outcome = page.evaluate(f"post({TOKEN!r})")
    finally:
        page.close()
    assert outcome == ("201 user_feedback" if listed else "blocked: TypeError")
    assert stored(db_path) == (["user_feedback"] if listed else [])
