"""The Dockerfile's sanity (issue 20), without Docker: its probe command, entry point and extras work here.

The image itself is not built by the tests; these checks catch a Dockerfile drifting from the code
(a renamed option or extra, a probe that cannot pass, running as root)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from traceglass.cli import build_parser
from tests.server.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_two_stages_and_the_runtime_installs_the_wheel_with_existing_extras():
    froms = [rest for keyword, rest in _instructions() if keyword == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    runs = " ".join(rest for keyword, rest in _final_stage() if keyword == "RUN")
    [extras] = re.findall(r"traceglass-\*\.whl\)\[([a-z,-]+)\]", runs)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as file:
        declared = tomllib.load(file)["project"]["optional-dependencies"]
    assert extras.split(",") == ["server", "postgres"]
    assert set(extras.split(",")) <= set(declared)


def test_runs_as_a_non_root_user_with_the_server_on_every_interface():
    stage = dict(_final_stage())
    user = stage["USER"].split(":")
    assert all(part.isdigit() and int(part) != 0 for part in user)
    command = json.loads(stage["ENTRYPOINT"]) + json.loads(stage["CMD"])
    assert command[:2] == ["traceglass", "ui"]
    args = build_parser().parse_args(command[1:])  # every option exists and takes its value
    assert (args.host, args.port, args.shutdown_timeout, args.db) == ("0.0.0.0", 8080, 20.0, None)
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert "TRACEGLASS_DB" not in stage.get("ENV", "") and "TRACEGLASS_TOKEN" not in stage.get("ENV", "")


def _probe(port: int) -> subprocess.CompletedProcess:
    options, _, command = dict(_final_stage())["HEALTHCHECK"].partition("CMD ")
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and "http://127.0.0.1:8080/healthz" in argv[-1]
    argv = [sys.executable, *argv[1:-1], argv[-1].replace(":8080/", f":{port}/")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_healthcheck_passes_against_a_running_server_and_fails_without_one(db_path, serve_app):
    server = serve_app(db_path, token="image-token")  # as in the image: a token, and no token on the probe
    assert _probe(server.port).returncode == 0
    assert _probe(free_port()).returncode != 0
