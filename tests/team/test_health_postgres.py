"""``/readyz`` on PostgreSQL (issue 20): ready while the database answers; 503 once it is gone, with neither
the password nor the driver's message in the anonymous answer, and the password masked in the log; ready
again once the database is back, and a stopped server leaves no connection pool open."""

from __future__ import annotations

import gc
import logging
import time

import httpx
from psycopg_pool import ConnectionPool

from tests._postgres import PASSWORD
from traceglass.server._health import NO_ANSWER, UNREACHABLE


def test_readyz_follows_the_postgresql_database(postgres_cluster, postgres_url, serve_app, caplog):
    pools = _open_pools()
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

    # The database comes back: the replica is ready again. (The check /readyz gave up waiting for
    # above is still trying to connect: left so, the stopped server's reader kept its pool open
    # and retrying for 30 s, which logged "error connecting" after the test cluster had stopped.)
    postgres_cluster.restore_database(postgres_url)
    deadline = time.monotonic() + 60
    while httpx.get(server.url + "/readyz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "/readyz did not become ready again"
        time.sleep(0.2)
    server.stop()
    assert _open_pools() <= pools


def _open_pools() -> set[int]:
    """The psycopg pools of this process not closed."""
    gc.collect()
    return {id(o) for o in gc.get_objects() if isinstance(o, ConnectionPool) and not o.closed}
