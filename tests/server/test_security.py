"""Token, Host check, body size limit, CORS and security headers, against a real server."""

from __future__ import annotations

import httpx
import pytest

from traceglass.server import UnsafeBindError, dashboard_url, resolve_token

from .conftest import get

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def guarded(db_path, serve_app):
    return serve_app(db_path, token=TOKEN)


@pytest.mark.parametrize("path", ["/", "/traces", "/api/traces/", "/api/stats", "/openapi.json", "/static/app.js"])
def test_every_request_needs_the_token(guarded, path):
    response = get(guarded.url + path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="traceglass"'
    assert response.json()["error"].startswith("missing or wrong access token")
    assert get(guarded.url + path, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert get(guarded.url + path, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_otlp_needs_the_token_too(guarded):
    response = httpx.post(f"{guarded.url}/v1/traces", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 401
    response = httpx.post(f"{guarded.url}/v1/traces", content=b"{}",
                          headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_browser_gets_a_cookie_from_the_token_link(guarded):
    first = get(f"{guarded.url}/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/"  # the token leaves the address bar
    assert first.headers["set-cookie"] == f"traceglass_token={TOKEN}; Path=/; HttpOnly; SameSite=Strict"
    with httpx.Client(base_url=guarded.url, timeout=10, follow_redirects=True) as browser:
        assert browser.get(f"/?token={TOKEN}").status_code == 200  # redirect followed with the cookie
        assert browser.get("/api/traces/").status_code == 200
    assert get(f"{guarded.url}/api/traces/", cookies={"traceglass_token": "wrong"}).status_code == 401
    assert get(f"{guarded.url}/?token=wrong", follow_redirects=False).status_code == 401


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("//evil.example/", "/evil.example/"),  # protocol-relative: would leave the site
        ("///evil.example/x", "/evil.example/x"),
        ("/%5C%5Cevil.example/", "/evil.example/"),  # browsers read /\\host as //host
        ("/%5Cevil.example/", "/evil.example/"),
        ("/traces", "/traces"),
    ],
)
def test_the_token_link_redirects_only_to_a_path_on_this_server(guarded, path, location):
    response = get(f"{guarded.url}{path}?token={TOKEN}&view=stats", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{location}?view=stats"
    assert response.headers["set-cookie"].startswith(f"traceglass_token={TOKEN};")


def test_the_token_link_on_a_non_latin1_path_redirects(guarded):
    response = get(f"{guarded.url}/trace/ünï/中?token={TOKEN}&q=café", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/trace/%C3%BCn%C3%AF/%E4%B8%AD?q=caf%C3%A9"
    with httpx.Client(base_url=guarded.url, timeout=10, follow_redirects=True) as browser:
        landed = browser.get(f"/ünï?token={TOKEN}")
        assert landed.status_code == 404  # followed with the cookie to the same (unknown) path
        assert landed.url.raw_path == b"/%C3%BCn%C3%AF"


def test_without_a_token_only_loopback_host_names_are_answered(db_path, serve_app):
    server = serve_app(db_path)
    assert get(f"{server.url}/api/stats").status_code == 200
    assert get(f"{server.url}/api/stats", headers={"host": f"localhost:{server.port}"}).status_code == 200
    rebound = get(f"{server.url}/api/stats", headers={"host": "attacker.example:8080"})
    assert rebound.status_code == 403
    assert "only answers requests to localhost" in rebound.json()["error"]
    for host in ("127.0.0.2", f"LOCALHOST:{server.port}", f"[::1]:{server.port}"):
        assert get(f"{server.url}/api/stats", headers={"host": host}).status_code == 200, host
    # Names an attacker can point at 127.0.0.1 (DNS rebinding) that merely start like a loopback name.
    for host in ("localhost.attacker.example", f"localhost.attacker.example:{server.port}", "127.0.0.1.nip.io",
                 "[::1].attacker.example", "[::1]evil:80", "0x7f000001.attacker.example"):
        assert get(f"{server.url}/api/stats", headers={"host": host}).status_code == 403, host


def test_request_body_limit(db_path, serve_app):
    server = serve_app(db_path, max_body_bytes=1000)
    response = httpx.post(f"{server.url}/api/traces/", content=b"{" + b" " * 2000 + b"}",
                          headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 1000 bytes"}

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(10):
            yield b" " * 200

    response = httpx.post(f"{server.url}/api/traces/", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 1000 bytes"}


def test_no_cors_unless_configured(db_path, serve_app):
    plain = serve_app(db_path)
    origin = {"origin": "http://other.example"}
    assert "access-control-allow-origin" not in get(f"{plain.url}/api/traces/", headers=origin).headers
    preflight = httpx.options(f"{plain.url}/api/traces/", headers={**origin, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers

    allowed = serve_app(db_path, cors_origins=["http://other.example"])
    response = get(f"{allowed.url}/api/traces/", headers=origin)
    assert response.headers["access-control-allow-origin"] == "http://other.example"
    response = get(f"{allowed.url}/api/traces/", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_security_headers_on_every_response(db_path, serve_app):
    server = serve_app(db_path)
    for path in ("/", "/static/app.js", "/api/traces/", "/api/traces/zz"):
        headers = get(server.url + path).headers
        assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self';")
        assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")


def test_non_loopback_hosts_require_a_token(monkeypatch):
    monkeypatch.delenv("TRACEGLASS_TOKEN", raising=False)
    assert resolve_token("127.0.0.1", None) is None
    assert resolve_token("localhost", None) is None
    assert resolve_token("::1", None) is None
    with pytest.raises(UnsafeBindError, match="refusing to serve 0.0.0.0 without an access token"):
        resolve_token("0.0.0.0", None)
    assert resolve_token("0.0.0.0", "tok") == "tok"
    monkeypatch.setenv("TRACEGLASS_TOKEN", "from-env")
    assert resolve_token("192.168.1.5", None) == "from-env"
    assert dashboard_url("0.0.0.0", 8080, "t") == "http://127.0.0.1:8080/?token=t"
    assert dashboard_url("::1", 9000) == "http://[::1]:9000/"
