"""Graceful shutdown of ``traceglass ui`` (issue 20): SIGTERM in the middle of an OTLP export lets it finish
(its spans are stored), refuses new connections, and exits 0; ``--shutdown-timeout`` bounds the wait."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from traceglass.store import TraceStore
from tests.team import _otlp

from .conftest import free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is a POSIX signal")


def _start(port: int, db, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEGLASS_TOKEN", "TRACEGLASS_DB")}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen([sys.executable, "-m", "traceglass", "ui", "--port", str(port), "--db", str(db), *extra],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == f"traceglass dashboard: http://127.0.0.1:{port}/"
    return process


def _begin_export(port: int, length: int) -> socket.socket:
    """A connection that sent the headers of a POST /v1/traces (with Expect: 100-continue) and got the
    server's 100 Continue: the request is in flight, the app waits for its body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-protobuf\r\n"
                  f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n").encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(1024)
        assert chunk, f"the server closed the connection before 100 Continue: {received!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n"), received
    return sock


def _response(sock: socket.socket) -> bytes:
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def _refused(port: int) -> bool:
    """Whether a new connection is refused, within a bounded wait (the listener closes as the drain starts)."""
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=15)
        pytest.fail(f"traceglass ui did not exit after SIGTERM: {out}{err}")
    return process.returncode, out, err


def test_sigterm_mid_export_finishes_it_stores_its_spans_and_exits_0(tmp_path):
    db, port = tmp_path / "drain.db", free_port()
    batch = _otlp.spans("drain", 3000)
    payload = _otlp.body(batch)
    process = _start(port, db, "--shutdown-timeout", "60")
    try:
        sock = _begin_export(port, len(payload))
        sock.sendall(payload[: len(payload) // 2])
        process.send_signal(signal.SIGTERM)
        assert process.stdout.readline().strip() == ("traceglass: shutting down: no new connections; finishing the "
                                                     "requests in flight (at most 60 s)")
        assert _refused(port)
        sock.sendall(payload[len(payload) // 2:])
        answer = _response(sock)
        sock.close()
    finally:
        code, out, err = _finish(process)
    head, _, response_body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK", answer[:500]
    assert response_body == b""  # an empty ExportTraceServiceResponse: every span accepted
    assert (code, out, err) == (0, "traceglass: stopped\n", "")
    with TraceStore(db, create=False) as store:
        assert store.count() == {"traces": 300, "spans": 3000}
        stored = store.trace_spans([format(_otlp.trace_id(f"drain {t}"), "032x") for t in range(300)])
    names = sorted(span.name for spans in stored.values() for span in spans)
    assert names == sorted(f"drain {i}" for i in range(3000))


def test_the_drain_is_bounded_by_the_shutdown_timeout(tmp_path):
    db, port = tmp_path / "bounded.db", free_port()
    process = _start(port, db, "--shutdown-timeout", "0.5")
    try:
        sock = _begin_export(port, 1000)  # and the body never comes
        sock.sendall(b"\x0a")
        process.send_signal(signal.SIGTERM)
        code, out, err = _finish(process)
        answer = _response(sock)  # when the time is up: 503, so an OTLP exporter sends it again elsewhere
        sock.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(15)
    head, _, response_body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 503 Service Unavailable", answer
    assert b"\r\nretry-after: 1\r\n" in head + b"\r\n"
    assert json.loads(response_body) == {"error": "the server is shutting down; retry"}
    assert (code, err) == (0, "ERROR:    Cancel 1 running task(s), timeout graceful shutdown exceeded\n")
    assert out == ("traceglass: shutting down: no new connections; finishing the requests in flight (at most 0.5 s)\n"
                   "traceglass: stopped\n")
    with TraceStore(db, create=False) as store:  # closed cleanly: opens, nothing half-written
        assert store.count() == {"traces": 0, "spans": 0}


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_shutdown_timeout_is_a_usage_error(value):
    done = subprocess.run([sys.executable, "-m", "traceglass", "ui", "--port", str(free_port()),
                           "--shutdown-timeout", value], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "--shutdown-timeout" in done.stderr and value in done.stderr
