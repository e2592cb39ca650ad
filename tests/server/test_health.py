"""``/healthz`` and ``/readyz`` (issue 20): answered without the token, revealing nothing, checked against
the OpenAPI document; ``/readyz`` is 503 when the database is gone, fails, or does not answer in time."""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from traceglass.server import _health
from traceglass.store import TraceStore

from .conftest import get
from .test_openapi import check

TOKEN = "probe-token"
SECRET_URL = "postgresql://tracer:s3cr3t-pw@db.internal:5432/traces"


def _document(url: str) -> dict:
    return get(url + "/openapi.json", headers={"authorization": f"Bearer {TOKEN}"}).json()


def _check_documented(url: str, path: str, response: httpx.Response) -> None:
    document = _document(url)
    operation = document["paths"][path]["get"]
    assert operation["security"] == []
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    check(response.json(), schema, document, path)


def test_probes_answer_without_the_token_and_nothing_else_does(db_path, serve_app):
    server = serve_app(db_path, token=TOKEN)
    healthz = get(server.url + "/healthz")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert healthz.headers["cache-control"] == "no-store"
    assert "content-security-policy" in healthz.headers  # the security headers still apply
    readyz = get(server.url + "/readyz")
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})
    assert httpx.head(server.url + "/readyz", timeout=10).status_code == 200
    _check_documented(server.url, "/healthz", healthz)
    _check_documented(server.url, "/readyz", readyz)
    # Only GET/HEAD of exactly these paths skip the token.
    assert httpx.post(server.url + "/healthz", timeout=10).status_code == 401
    assert get(server.url + "/healthz/").status_code == 401
    assert get(server.url + "/api/stats").status_code == 401
    assert get(server.url + "/openapi.json").status_code == 401


def test_readyz_is_503_when_the_database_file_is_gone(db_path, serve_app, caplog):
    server = serve_app(db_path, token=TOKEN)
    assert get(server.url + "/readyz").status_code == 200
    db_path.unlink()
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        readyz = get(server.url + "/readyz")
        again = get(server.url + "/readyz")
    assert (readyz.status_code, readyz.json()) == (503, {"status": "unavailable",
                                                         "reason": "the database cannot be reached"})
    assert readyz.headers["retry-after"] == "1"
    assert again.status_code == 503
    _check_documented(server.url, "/readyz", readyz)
    # The path is in the log (once per streak of failures), never in the anonymous answer.
    assert str(db_path) not in readyz.text
    warnings = [r.getMessage() for r in caplog.records if r.name == "traceglass" and r.levelno == logging.WARNING]
    assert warnings == [f"traceglass: not ready (/readyz is 503): FileNotFoundError: [Errno 2] No such file or "
                        f"directory: '{db_path}'"]
    assert get(server.url + "/healthz").status_code == 200  # alive all the same: no restart for a database outage


def test_readyz_never_shows_the_database_error_and_logs_it_without_the_password(db_path, serve_app, monkeypatch,
                                                                              caplog):
    def down(self):
        raise sqlite3.OperationalError(f"connection to {SECRET_URL} failed: FATAL: password authentication failed "
                                       f"(host=db.internal user=tracer password=s3cr3t-pw)")

    server = serve_app(db_path)
    monkeypatch.setattr(TraceStore, "ping", down)
    with caplog.at_level(logging.DEBUG, logger="traceglass"):
        readyz = get(server.url + "/readyz")
    assert (readyz.status_code, readyz.json()) == (503, {"status": "unavailable",
                                                         "reason": "the database cannot be reached"})
    logged = [r.getMessage() for r in caplog.records if r.name == "traceglass"]
    assert logged == ["traceglass: not ready (/readyz is 503): OperationalError: connection to "
                      "postgresql://tracer:***@db.internal:5432/traces failed: FATAL: password authentication failed "
                      "(host=db.internal user=tracer password=***"]  # up to the next space: all of it, safely
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="traceglass"):
        assert get(server.url + "/readyz").status_code == 200
    assert caplog.records[-1].getMessage() == "traceglass: the database answers again (/readyz is 200)"


def test_a_hung_database_is_503_in_bounded_time_and_probes_share_one_check(db_path, serve_app, monkeypatch):
    monkeypatch.setattr(_health, "READY_TIMEOUT_S", 0.3)
    release = threading.Event()
    calls: list[int] = []

    def hung(self):
        calls.append(1)
        release.wait(20)

    server = serve_app(db_path)
    monkeypatch.setattr(TraceStore, "ping", hung)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: get(server.url + "/readyz"), range(4)))
        assert [(a.status_code, a.json()) for a in answers] == [
            (503, {"status": "unavailable", "reason": "the database did not answer in time"})] * 4
        assert calls == [1]  # one thread waits on the database, not one per probe
        assert get(server.url + "/healthz").status_code == 200
    finally:
        release.set()
    monkeypatch.undo()
    for _ in range(100):  # the hung check returns once released; the next probe checks again
        if get(server.url + "/readyz").status_code == 200:
            break
    else:
        pytest.fail("/readyz stayed 503 after the database answered again")


@pytest.mark.parametrize(("text", "masked"), [
    ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
    ("postgres://u:p%40ss@h:5432/db?sslmode=require", "postgres://u:***@h:5432/db?sslmode=require"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),  # no password: unchanged
    ("host=h password='a b' user=u", "host=h password=*** user=u"),
    ("PASSWORD = hunter2", "PASSWORD = ***"),
    ("/var/lib/traceglass/traces.db", "/var/lib/traceglass/traces.db"),
])
def test_mask_secrets(text, masked):
    assert _health.mask_secrets(text) == masked


def test_readyz_does_not_wait_behind_a_long_query_on_the_apps_store(db_path, serve_app, monkeypatch):
    """A content search over a big store can hold the app's store for seconds: /readyz asks on a reader
    of its own, so the replica stays ready (a 503 would take it out of the load balancer)."""
    monkeypatch.setattr(_health, "READY_TIMEOUT_S", 0.5)
    server = serve_app(db_path)
    store = server.server.config.app.app.state.store
    with store._lock:  # what the long query holds meanwhile
        readyz = get(server.url + "/readyz")
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})
