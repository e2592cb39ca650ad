"""Zero-code: ``opentelemetry-instrument`` over an Agents SDK app, spans read back from SQLite.

A real subprocess with no tracing code, a scripted Responses API on 127.0.0.1, the SQLite
exporter from ``OTEL_TRACES_EXPORTER``. The entry points ``traceglass_openai_agents`` and
``traceglass_openai`` are both on: each model call is one span (the OpenAI instrumentor's).
No ``OPENAI_API_KEY`` is set, so the SDK's own exporter to OpenAI's backend skips its export.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from ._fake_responses import INPUT_TOKENS, OUTPUT_TOKENS, ResponsesServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "openai_agents_app.py"


def _instrument_command() -> str:
    found = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(found) if found.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def test_zero_code_agents_app(tmp_path):
    db = tmp_path / "traces.db"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OTEL_", "TRACEGLASS_", "OPENAI_"))}
    with ResponsesServer() as server:
        env.update({
            "OPENAI_BASE_URL": server.base_url,
            "OTEL_TRACES_EXPORTER": "traceglass_sqlite",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",  # the official peer is installed too
            "TRACEGLASS_DB": str(db),
        })
        done = subprocess.run([_instrument_command(), sys.executable, str(EXAMPLE)], env=env, cwd=ROOT,
                              check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["agents: answer 3"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, p.name, s.input_tokens, s.output_tokens FROM spans s"
                            " LEFT JOIN spans p ON p.span_id = s.parent_id ORDER BY s.start_ns").fetchall()
    assert rows == [
        ("invoke_workflow Agent workflow", None, None, None),
        ("invoke_agent triage", "invoke_workflow Agent workflow", None, None),
        ("chat gpt-4o", "invoke_agent triage", INPUT_TOKENS, OUTPUT_TOKENS),
        ("handoff weather", "invoke_agent triage", None, None),
        ("invoke_agent weather", "invoke_workflow Agent workflow", None, None),
        ("chat gpt-4o", "invoke_agent weather", INPUT_TOKENS, OUTPUT_TOKENS),
        ("execute_tool get_weather", "invoke_agent weather", None, None),
        ("chat gpt-4o", "invoke_agent weather", INPUT_TOKENS, OUTPUT_TOKENS),
    ]
