"""Zero-code: ``opentelemetry-instrument`` over a LlamaIndex app (its MockLLM; no network), spans
read back from SQLite: the ``traceglass_llamaindex`` entry point traced it unchanged."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llamaindex_app.py"


def _instrument_command() -> str:
    found = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(found) if found.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def test_zero_code_llamaindex_app(tmp_path):
    db = tmp_path / "traces.db"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "TRACEGLASS_", "OPENAI_"))}
    env.update({"OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none", "TRACEGLASS_DB": str(db)})
    done = subprocess.run([_instrument_command(), sys.executable, str(EXAMPLE)], env=env, cwd=ROOT,
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["query: text text text text", "stream: text text text",
                                        "tool: sunny in Paris"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, p.name FROM spans s LEFT JOIN spans p ON p.span_id = s.parent_id"
                            " AND p.trace_id = s.trace_id ORDER BY s.start_ns").fetchall()
    assert rows == [
        ("embeddings MockEmbedding", None),  # indexing: both documents' nodes in one batch
        ("RetrieverQueryEngine.query", None),
        ("retrieval VectorIndexRetriever", "RetrieverQueryEngine.query"),
        ("embeddings MockEmbedding", "retrieval VectorIndexRetriever"),
        ("CompactAndRefine.synthesize", "RetrieverQueryEngine.query"),
        ("text_completion MockLLM", "CompactAndRefine.synthesize"),
        ("RetrieverQueryEngine.query", None),
        ("retrieval VectorIndexRetriever", "RetrieverQueryEngine.query"),
        ("embeddings MockEmbedding", "retrieval VectorIndexRetriever"),
        ("CompactAndRefine.synthesize", "RetrieverQueryEngine.query"),
        # LlamaIndex runs a streamed answer's LLM call when the app reads it, after query() returned:
        # it still nests under the synthesizer, held open until the stream ends.
        ("text_completion MockLLM", "CompactAndRefine.synthesize"),
        ("execute_tool get_weather", None),
    ]
