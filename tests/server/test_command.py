"""``traceglass ui`` / ``python -m traceglass ui``: starts the server, prints the URL, refuses unsafe binds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest

from .conftest import free_port


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEGLASS_TOKEN", "TRACEGLASS_DB")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "traceglass", "ui", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.terminate()
    try:
        return process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate(timeout=15)


def test_ui_serves_the_database_and_prints_the_url(tmp_path):
    db = tmp_path / "cli.db"
    port = free_port()
    process = _start(["--port", str(port), "--db", str(db)], _env())
    try:
        line = process.stdout.readline()  # printed once the socket is bound
        assert line.strip() == f"traceglass dashboard: http://127.0.0.1:{port}/"
        response = httpx.get(f"http://127.0.0.1:{port}/api/traces/", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"traces": [], "next_cursor": None}
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "<title>traceglass</title>" in page.text
    finally:
        _stop(process)
    assert db.exists()


def test_ui_with_a_token_from_the_environment(tmp_path):
    port = free_port()
    env = {**_env(), "TRACEGLASS_TOKEN": "env-token"}
    process = _start(["--port", str(port), "--db", str(tmp_path / "t.db")], env)
    try:
        assert process.stdout.readline().strip() == f"traceglass dashboard: http://127.0.0.1:{port}/?token=env-token"
        assert httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=10).status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/api/stats", headers={"authorization": "Bearer env-token"}, timeout=10)
        assert ok.status_code == 200
    finally:
        _stop(process)


def test_ui_refuses_a_public_host_without_a_token(tmp_path):
    done = subprocess.run([sys.executable, "-m", "traceglass", "ui", "--host", "0.0.0.0", "--port", str(free_port()),
                           "--db", str(tmp_path / "t.db")], env=_env(), check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("traceglass: refusing to serve 0.0.0.0 without an access token")


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_ui_rejects_a_bad_port(port):
    done = subprocess.run([sys.executable, "-m", "traceglass", "ui", "--port", port], env=_env(),
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "argument --port" in done.stderr


def test_ui_on_a_busy_port_is_one_line_and_a_usage_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "traceglass", "ui", "--port", str(port),
                               "--db", str(tmp_path / "t.db")], env=_env(), check=False, capture_output=True,
                              text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"traceglass: port {port} on 127.0.0.1 is already in use; pick another with --port\n"


def test_ui_on_an_unknown_host_is_one_line_and_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "traceglass", "ui", "--host", "no-such-host.invalid", "--token", "t",
                           "--port", "0", "--db", str(tmp_path / "t.db")], env=_env(), check=False,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("traceglass: cannot serve on host 'no-such-host.invalid' (port 0): ")
    assert done.stderr.count("\n") == 1
