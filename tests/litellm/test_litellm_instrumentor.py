"""Turning it on and off: the wrap table, uninstrument restoring the originals, the registry name
``litellm`` (``configure(instrument=...)`` / ``TRACEGLASS_INSTRUMENT``) and the entry point."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import litellm

from traceglass import instrumentors
from traceglass.instrumentors.litellm import LiteLLMInstrumentor
from traceglass.instrumentors.litellm._targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["completion", "acompletion", "text_completion", "atext_completion", "embedding", "aembedding",
         "responses", "aresponses"]


def test_wrap_table_names_every_entry_point():
    assert [t.name for t in TARGETS] == NAMES


def test_uninstrument_restores_the_originals_and_instrument_is_idempotent():
    originals = {name: getattr(litellm, name) for name in NAMES}
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()  # a second call changes nothing
    try:
        for name in NAMES:
            wrapped = getattr(litellm, name)
            assert wrapped is not originals[name]
            assert wrapped.__wrapped__ is originals[name]  # one layer, not two
    finally:
        instrumentor.uninstrument()
    assert all(getattr(litellm, name) is originals[name] for name in NAMES)  # `is`: a proxy compares equal


def test_uninstrumented_calls_make_no_span(instrument, route, captured):
    instrument().uninstrument()
    litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], **route)
    assert captured.spans() == []


def test_registry_and_entry_point():
    assert "litellm" in instrumentors.available()
    assert instrumentors.INSTRUMENTORS["litellm"].load() is LiteLLMInstrumentor
    (entry,) = [ep for ep in entry_points(group="opentelemetry_instrumentor") if ep.name == "traceglass_litellm"]
    assert entry.load() is LiteLLMInstrumentor


APP = """
import litellm
litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                   api_base=sys.argv[2], api_key="sk-test-SECRET-key-123")
"""


def test_traceglass_instrument_names_it(server, tmp_path):
    # One subprocess (litellm takes seconds to import): configure(instrument=[...]) reads the same
    # registry the environment variable names.
    db = tmp_path / "t.db"
    script = textwrap.dedent("""
        import sys, traceglass
        traceglass.configure(metrics_enabled=False)
        # litellm takes seconds to import: configure() leaves it to the app, and patches it on import
        assert "litellm" not in sys.modules
    """) + APP
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_", "LITELLM_"))}
    env.update({"TRACEGLASS_DB": str(db), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "TRACEGLASS_RAISE_INTERNAL_ERRORS": "1"})
    env["TRACEGLASS_INSTRUMENT"] = "litellm"
    done = subprocess.run([sys.executable, "-c", script, "-", server.base_url], env=env, cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, kind, model, provider, operation, input_tokens, output_tokens,"
                            " cost_usd > 0 FROM spans").fetchall()
    assert rows == [("chat gpt-4o-mini", "CLIENT", "gpt-4o-mini-2024-07-18", "openai", "chat", 20, 5, 1)]
    assert b"SECRET" not in db.read_bytes()
