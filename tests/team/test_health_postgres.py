"""``/readyz`` on PostgreSQL (issue 20): ready while the database answers; 503 once it is gone, with neither
the password nor the driver's message in the anonymous answer, and the password masked in the log."""

from __future__ import annotations

import logging

import httpx

from tests._postgres import PASSWORD
from traceglass.server._health import NO_ANSWER, UNREACHABLE


def test_readyz_follows_the_postgresql_database(postgres_cluster, postgres_url, serve_app, caplog):
    server = serve_app(postgres_url, token="t")
    ready = httpx.get(server.url + "/readyz", timeout=30)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    postgres_cluster.drop_database(postgres_url)  # ends the replica's connections; reconnecting fails
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        gone = httpx.get(server.url + "/readyz", timeout=30)
    assert gone.status_code == 503
    assert gone.json() in ({"status": "unavailable", "reason": UNREACHABLE},
                           {"status": "unavailable", "reason": NO_ANSWER})  # the pool may still be retrying
    assert PASSWORD not in gone.text and "127.0.0.1" not in gone.text
    logged = [r.getMessage() for r in caplog.records if r.name == "traceglass"]
    assert logged and logged[0].startswith("traceglass: not ready (/readyz is 503): ")
    assert not [line for line in logged if PASSWORD in line]
    alive = httpx.get(server.url + "/healthz", timeout=30)
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
