"""configure() patches a provider SDK when the application imports it, and never imports one itself.

Each case runs in a fresh interpreter: whether a library is imported is process-wide state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

LIBRARIES = ("openai", "anthropic")


def _run(code: str, **env: str) -> dict:
    environment = {**os.environ, "TRACEGLASS_DB": os.devnull, "OTEL_SDK_DISABLED": "", **env}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=environment)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_configure_imports_no_provider_sdk_and_patches_each_when_the_app_imports_it():
    result = _run("""
        import json, sys
        import traceglass
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        telemetry = traceglass.configure(exporters=[InMemorySpanExporter()], instrument=["openai", "anthropic"])
        before = {name: name in sys.modules for name in ("openai", "anthropic", "litellm")}
        import openai.resources.chat.completions as chat
        import anthropic.resources.messages as messages
        print(json.dumps({
            "before": before,
            "instrumented": telemetry.instrumented,
            "openai_patched": getattr(chat.Completions.__dict__["create"], "_self_traceglass", False),
            "anthropic_patched": getattr(messages.Messages.__dict__["create"], "_self_traceglass", False),
        }))
    """)
    assert result == {
        "before": {"openai": False, "anthropic": False, "litellm": False},
        "instrumented": ["openai", "anthropic"],
        "openai_patched": True,
        "anthropic_patched": True,
    }


def test_a_library_imported_before_configure_is_patched_at_once():
    result = _run("""
        import json
        import openai.resources.chat.completions as chat
        import traceglass
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        traceglass.configure(exporters=[InMemorySpanExporter()], instrument=["openai"])
        print(json.dumps({"patched": getattr(chat.Completions.__dict__["create"], "_self_traceglass", False)}))
    """)
    assert result == {"patched": True}


def test_uninstrument_before_the_import_cancels_the_patch():
    result = _run("""
        import json, sys
        from traceglass.instrumentors.anthropic import AnthropicInstrumentor
        instrumentor = AnthropicInstrumentor()
        instrumentor.instrument()
        instrumentor.uninstrument()
        imported_by_uninstrument = "anthropic" in sys.modules
        import anthropic.resources.messages as messages
        print(json.dumps({"imported_by_uninstrument": imported_by_uninstrument,
                          "patched": getattr(messages.Messages.__dict__["create"], "_self_traceglass", False)}))
    """)
    assert result == {"imported_by_uninstrument": False, "patched": False}


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_fault_while_patching_on_import_never_breaks_the_apps_import(library):
    result = _run(f"""
        import json, logging
        records = []
        logging.getLogger("traceglass").addHandler(type("H", (logging.Handler,), {{"emit": lambda s, r: records.append(r.getMessage())}})())
        from traceglass.instrumentors.{library} import _targets
        def broken():
            raise RuntimeError("patching failed")
        _targets.install = broken
        from traceglass.instrumentors.{library} import {"OpenAIInstrumentor" if library == "openai" else "AnthropicInstrumentor"} as Instrumentor
        Instrumentor().instrument()
        import {library}
        print(json.dumps({{"imported": {library}.__name__, "logged": records}}))
    """, TRACEGLASS_RAISE_INTERNAL_ERRORS="0")
    assert result == {"imported": library,
                      "logged": [f"traceglass internal error in instrumenting {library} on import "
                                 "(further ones here are logged at debug)"]}


def test_configure_never_imports_langchain_and_traces_its_runs_once_the_app_does():
    result = _run("""
        import json, sys
        import traceglass
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        telemetry = traceglass.configure(exporters=[exporter], instrument=["langchain"])
        before = "langchain_core" in sys.modules
        # a parser first: it loads LangChain's callback managers halfway through loading its runnables
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.language_models.fake_chat_models import FakeListChatModel
        chain = FakeListChatModel(responses=["Paris"]) | StrOutputParser()
        answer = chain.invoke("capital of France?")
        traceglass.flush()
        spans = sorted((s.name, s.attributes.get("traceglass.span.type")) for s in exporter.get_finished_spans())
        print(json.dumps({"before": before, "instrumented": telemetry.instrumented, "answer": answer,
                          "spans": spans}))
    """)
    assert result == {"before": False, "instrumented": ["langchain"], "answer": "Paris", "spans": [
        ["FakeListChatModel", "chat_model"], ["RunnableSequence", "chain"], ["StrOutputParser", "chain"]]}
