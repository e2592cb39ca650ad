"""Zero-code and configure(): real subprocesses (they set the process-wide providers), a real HTTP server on
127.0.0.1 speaking Anthropic's API, spans read back from the SQLite store and the console exporter.

Both set a global tracer provider, which is what makes the anthropic SDK emit its own span per call: each
call must still make exactly one span, ours.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._fake_api import LocalAnthropicServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-zero-code-SECRET-key"
APP = """
import anthropic
client = anthropic.Anthropic(max_retries=0)
reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, system="You are terse.",
                               messages=[{"role": "user", "content": "Say hello."}])
print("create:", reply.content[0].text)
with client.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                            messages=[{"role": "user", "content": "Say hello."}]) as stream:
    print("stream:", "".join(stream.text_stream))
"""


def _instrument_command() -> str:
    found = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(found) if found.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def _console_spans(stdout: str) -> list[dict]:
    decoder = json.JSONDecoder()
    spans, index = [], stdout.find("\n{")
    while index != -1:
        span, end = decoder.raw_decode(stdout, index + 1)
        spans.append(span)
        index = stdout.find("\n{", end)
    return spans


def _env(server: LocalAnthropicServer, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_", "ANTHROPIC_"))}
    env.update({"ANTHROPIC_BASE_URL": server.base_url, "ANTHROPIC_API_KEY": SECRET, "TRACEGLASS_DB": str(db),
                "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"})
    return env


@pytest.fixture(scope="module")
def zero_code(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("anthropic-zero")
    (tmp / "app.py").write_text(APP)
    with LocalAnthropicServer() as server:
        env = _env(server, tmp / "traces.db")
        env.update({"OTEL_TRACES_EXPORTER": "traceglass_sqlite,console", "OTEL_SERVICE_NAME": "claude-app"})
        done = subprocess.run([_instrument_command(), sys.executable, str(tmp / "app.py")], env=env, cwd=ROOT,
                              check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done, tmp / "traces.db"


def test_zero_code_app_runs_unchanged_and_makes_one_span_per_call(zero_code):
    done, _ = zero_code
    # The console exporter prints from its own thread, so its spans may come between the app's lines.
    app_lines = [line for line in done.stdout.splitlines() if line.startswith(("create:", "stream:"))]
    assert app_lines == ["create: Hello there!", "stream: Hello there!"]
    assert [s["name"] for s in _console_spans(done.stdout)] == ["chat claude-sonnet-4-5", "chat claude-haiku-4-5"]
    assert SECRET not in done.stdout and SECRET not in done.stderr


def test_zero_code_rows_tokens_and_cost(zero_code):
    _, db = zero_code
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, kind, status, model, provider, operation, input_tokens, output_tokens,"
                            " round(cost_usd, 10) FROM spans ORDER BY start_ns").fetchall()
    # Sonnet 4.5: 25 fresh at $3/M, 300 cache reads at $0.30/M, 40 cache writes at $3.75/M, 12 out at $15/M.
    # Haiku 4.5: $1/M, $0.10/M, $1.25/M, $5/M -> 25 + 30 + 50 + 60 = 165 micro-dollars.
    assert rows == [
        ("chat claude-sonnet-4-5", "CLIENT", "UNSET", "claude-sonnet-4-5-20250929", "anthropic", "chat", 365, 12,
         0.000495),
        ("chat claude-haiku-4-5", "CLIENT", "UNSET", "claude-haiku-4-5-20251001", "anthropic", "chat", 365, 12,
         0.000165),
    ]
    assert SECRET.encode() not in Path(db).read_bytes()


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_configure_turns_it_on_by_name(tmp_path, how):
    script = textwrap.dedent("""
        import sys, traceglass
        traceglass.configure(exporters=["console"], metrics_enabled=False,
                             **({"instrument": ["anthropic"]} if sys.argv[1] == "argument" else {}))
    """) + APP
    with LocalAnthropicServer() as server:
        env = _env(server, tmp_path / "t.db")
        if how == "environment":
            env["TRACEGLASS_INSTRUMENT"] = "anthropic"
        done = subprocess.run([sys.executable, "-c", script, how], env=env, cwd=ROOT, check=False,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    spans = _console_spans(done.stdout)
    assert [s["name"] for s in spans] == ["chat claude-sonnet-4-5", "chat claude-haiku-4-5"]
    assert spans[0]["attributes"]["traceglass.cost.total_usd"] == pytest.approx(495e-6)
