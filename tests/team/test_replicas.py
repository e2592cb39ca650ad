"""Two ``traceglass ui`` replicas on one PostgreSQL database (issue 20): 4 OTLP senders x 5,000 spans spread
over both (traces split between them, a retried export), scores posted to both, and a retention pass
deleting old traces, all at once: every span and score is stored exactly once, every trace summary is
right, the old traces are gone, and both replicas stop cleanly on SIGTERM.

Takes 1-2 minutes on a busy 2-core machine (two server processes and 20,000 spans; there is no slow
marker in this suite); it stays in the default suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.server.conftest import free_port
from tests.team import _otlp
from traceglass.store import TraceStore

TOKEN = "team-token"
SENDERS, SPANS_PER_SENDER, PER_TRACE, BATCH = 4, 5_000, 7, 250  # 7 does not divide 250: traces straddle batches
SCORED_TRACES, RESCORED = 120, 30
OLD_TRACES = 30
AUTH = {"authorization": f"Bearer {TOKEN}"}


class Replica:
    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("TRACEGLASS_TOKEN", "TRACEGLASS_DB")}
        env.update(PYTHONUNBUFFERED="1", TRACEGLASS_DB=url, TRACEGLASS_TOKEN=TOKEN)
        self.process = subprocess.Popen([sys.executable, "-m", "traceglass", "ui", "--port", str(self.port)],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self) -> None:
        line = self.process.stdout.readline()
        assert line.startswith(f"traceglass dashboard: {self.base}/"), (line, self.process.stderr.read())
        ready = httpx.get(self.base + "/readyz", timeout=30)
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})

    def stop(self) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate(timeout=15)
        return self.process.returncode, out, err


def _post_otlp(client: httpx.Client, replica: Replica, payload: bytes) -> int:
    """Export one batch as an OTLP exporter does: a 503 (database busy) is retried, a bounded number of times."""
    for attempt in range(20):
        response = client.post(replica.base + "/v1/traces", content=payload, timeout=120,
                               headers={**AUTH, "content-type": "application/x-protobuf"})
        if response.status_code != 503:
            assert response.status_code == 200, response.text
            assert response.content == b""  # no partial success: every span accepted
            return attempt
        time.sleep(0.2 * (attempt + 1))
    pytest.fail("a batch was refused 20 times")


def _trace_hex(label: str, number: int) -> str:
    return format(_otlp.trace_id(f"{label} {number}"), "032x")


def _expected_traces(label: str, count: int) -> dict[str, int]:
    sizes = Counter(i // PER_TRACE for i in range(count))
    return {_trace_hex(label, n): size for n, size in sizes.items()}


@pytest.fixture
def replicas(postgres_url):
    started = [Replica(postgres_url), Replica(postgres_url)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.mark.timeout(900)  # two server processes and 20,000 spans on a machine that may be very busy
def test_two_replicas_store_every_span_and_score_exactly_once(postgres_url, replicas):
    import psycopg

    now_ns = time.time_ns()
    # Old traces (400 days ago), with scores: the retention pass running alongside deletes exactly these.
    old = _otlp.spans("old", OLD_TRACES * PER_TRACE, per_trace=PER_TRACE, base_ns=now_ns - 400 * 86_400 * 10**9)
    with httpx.Client() as client:
        _post_otlp(client, replicas[0], _otlp.body(old))
        for n in range(OLD_TRACES):
            response = client.post(f"{replicas[1].base}/api/traces/{_trace_hex('old', n)}/scores", headers=AUTH,
                                   json={"name": "quality", "value": 0.5, "id": f"old-{n}"}, timeout=30)
            assert response.status_code == 201, response.text

    start = threading.Barrier(SENDERS + 2)
    errors: list[BaseException] = []
    retries: list[int] = []
    pruned: list[int] = []

    def guarded(work):
        def run() -> None:
            try:
                start.wait(timeout=60)
                work()
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
        return run

    def sender(k: int) -> None:
        batch = _otlp.spans(f"s{k}", SPANS_PER_SENDER, per_trace=PER_TRACE, base_ns=now_ns - 3_600 * 10**9)
        payloads = [_otlp.body(batch[i:i + BATCH]) for i in range(0, len(batch), BATCH)]
        with httpx.Client() as client:
            for j, payload in enumerate(payloads):  # consecutive batches (and so split traces) alternate
                retries.append(_post_otlp(client, replicas[(j + k) % 2], payload))
            # An exporter's retry of a batch that was stored but whose answer was lost, to the other replica.
            retries.append(_post_otlp(client, replicas[(k + 1) % 2], payloads[0]))

    def scorer() -> None:
        with httpx.Client() as client:
            for n in range(SCORED_TRACES):  # posted while (or before) the trace's spans arrive
                trace = _trace_hex(f"s{n % SENDERS}", n)
                response = client.post(f"{replicas[n % 2].base}/api/traces/{trace}/scores", headers=AUTH,
                                       json={"name": "quality", "value": n, "id": f"score-{n}"}, timeout=60)
                assert response.status_code == 201, response.text
            for n in range(RESCORED):  # the same ids again, through the other replica: updated, not added
                trace = _trace_hex(f"s{n % SENDERS}", n)
                response = client.post(f"{replicas[(n + 1) % 2].base}/api/traces/{trace}/scores", headers=AUTH,
                                       json={"name": "quality", "value": 1000 + n, "id": f"score-{n}"}, timeout=60)
                assert response.status_code == 200, response.text

    def retention() -> None:
        with TraceStore(postgres_url) as store:
            for _ in range(3):
                pruned.append(store.prune(older_than="200d"))
                time.sleep(0.3)

    threads = [threading.Thread(target=guarded(lambda k=k: sender(k)), name=f"sender-{k}") for k in range(SENDERS)]
    threads += [threading.Thread(target=guarded(scorer), name="scorer"),
                threading.Thread(target=guarded(retention), name="retention")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not [t.name for t in threads if t.is_alive()], "a sender is still running after 10 minutes"
    assert not errors, errors

    stopped = [replica.stop() for replica in replicas]
    assert [(code, err) for code, _, err in stopped] == [(0, ""), (0, "")]

    expected_traces: dict[str, int] = {}
    expected_names: list[str] = []
    for k in range(SENDERS):
        expected_traces.update(_expected_traces(f"s{k}", SPANS_PER_SENDER))
        expected_names += [f"s{k} {i}" for i in range(SPANS_PER_SENDER)]
    expected_scores = {f"score-{n}": float(1000 + n if n < RESCORED else n) for n in range(SCORED_TRACES)}

    with psycopg.connect(postgres_url) as conn:
        total, distinct = conn.execute("SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM spans").fetchone()
        names = sorted(row[0] for row in conn.execute("SELECT name FROM spans"))
        traces = dict(conn.execute("SELECT trace_id, span_count FROM traces").fetchall())
        bounds = conn.execute("SELECT count(*) FROM traces t WHERE t.start_ns <> (SELECT min(s.start_ns) FROM "
                              "spans s WHERE s.trace_no = t.id) OR t.end_ns <> (SELECT max(s.end_ns) FROM spans s "
                              "WHERE s.trace_no = t.id)").fetchone()[0]
        scores = dict(conn.execute("SELECT id, value FROM scores").fetchall())
        orphans = conn.execute("SELECT count(*) FROM span_data d WHERE NOT EXISTS "
                               "(SELECT 1 FROM spans s WHERE s.id = d.id)").fetchone()[0]
    assert (total, distinct) == (SENDERS * SPANS_PER_SENDER, SENDERS * SPANS_PER_SENDER)
    assert names == sorted(expected_names)
    assert traces == expected_traces  # each summary counts every span, whichever replica wrote it
    assert bounds == 0
    assert scores == expected_scores  # the old traces' scores went with them
    assert orphans == 0
    assert sum(pruned) == OLD_TRACES
    with TraceStore(postgres_url) as store:
        assert store.count() == {"traces": len(expected_traces), "spans": SENDERS * SPANS_PER_SENDER}
