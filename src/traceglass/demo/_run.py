"""The demo's work: run the example apps against the bundled server (the ``traceglass demo`` command).

Each example runs as its own process — exactly as ``python examples/NAME.py`` — with its calls
sent to the bundled OpenAI-compatible server and its traces written to one SQLite file; the
zero-code example runs under ``opentelemetry-instrument``. No API key and no network are used.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from traceglass.demo.endpoint import DEMO_API_KEY, DEMO_CHUNK_DELAY
from traceglass.demo.examples import DEMO_ORDER
from traceglass.demo.fake_openai import FakeOpenAIServer

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
_NEEDS = {"langchain_agent": ("langchain_core", "langgraph", "langchain_openai"),
          "anthropic_tools_streaming": ("anthropic",),
          "litellm_two_providers": ("litellm",),
          "openai_agents_tools": ("agents",),
          "llamaindex_rag": ("llama_index.core",)}
# The frameworks not in the demo extra: their examples run when their own extra is installed.
_EXTRAS = {"openai_agents_tools": "openai-agents", "llamaindex_rag": "llamaindex"}
_TIMEOUT_S = 300


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing (llama_index.core)
        return False


def _missing(name: str) -> list[str]:
    return [module for module in _NEEDS.get(name, ()) if not _installed(module)]


def _instrument_command() -> str | None:
    beside = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")


def _command_for(name: str) -> list[str] | None:
    script = str(EXAMPLES_DIR / f"{name}.py")
    if name == "openai_zero_code":
        instrument = _instrument_command()
        return [instrument, sys.executable, script] if instrument else None
    return [sys.executable, script]


def _environment(db: str, base_url: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "OTEL_", "TRACEGLASS_"))}
    env.update({"TRACEGLASS_DB": db, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": DEMO_API_KEY,
                # the same server speaks Anthropic's Messages API; that SDK adds the /v1 itself
                "ANTHROPIC_BASE_URL": base_url[: -len("/v1")], "ANTHROPIC_API_KEY": DEMO_API_KEY,
                "PYTHONUNBUFFERED": "1",
                # configure() instruments LiteLLM when it is installed; importing it fetches a price
                # map from GitHub (three tries, ~30 s offline) unless told to use its bundled copy.
                "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    for key in ("TRACEGLASS_CAPTURE_CONTENT", "TRACEGLASS_PRICES", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"):
        if key in os.environ:  # the user's own content and price choices still apply
            env[key] = os.environ[key]
    if name == "openai_zero_code":
        env.update({
            "OTEL_SERVICE_NAME": "openai-zero-code",
            "OTEL_TRACES_EXPORTER": "traceglass_sqlite",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            # the official `openai` instrumentor may be installed too: one span per call
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        })
    return env


def run_examples(db: str, *, verbose: bool = False, out: Any = None) -> list[str]:
    """Run every example against a bundled server, traces into ``db``; returns the failed names."""
    out = out or sys.stdout
    failed: list[str] = []
    with FakeOpenAIServer(chunk_delay=DEMO_CHUNK_DELAY) as server:
        for name in DEMO_ORDER:
            if name == "read_traces":
                continue
            missing = _missing(name)
            command = _command_for(name)
            if missing or command is None:
                extra = _EXTRAS.get(name, "demo")
                why = f"needs {', '.join(missing)}: pip install 'traceglass[{extra}]'" if missing \
                    else "opentelemetry-instrument not found"
                print(f"  skipped {name}: {why}", file=out)
                continue
            started = time.perf_counter()
            done = subprocess.run(command, env=_environment(db, server.base_url, name), capture_output=True,
                                  text=True, timeout=_TIMEOUT_S, check=False)
            seconds = time.perf_counter() - started
            if done.returncode == 0:
                print(f"  ran {name} ({seconds:.1f} s)", file=out)
            else:
                failed.append(name)
                print(f"  FAILED {name} (exit {done.returncode}):\n{done.stderr[-2000:]}", file=out)
            if verbose and done.stdout:
                print("    " + done.stdout.strip().replace("\n", "\n    "), file=out)
    return failed


_SQLITE_HEADER = b"SQLite format 3\x00"


def remove_store(db: str) -> list[str]:
    """Delete ``db`` and its -wal/-shm files; returns the paths deleted.

    Raises ValueError, deleting nothing, when ``db`` is not a file or not an SQLite database, and
    OSError when a file cannot be deleted."""
    if os.path.exists(db):
        if not os.path.isfile(db):
            raise ValueError(f"{db} is not a file; left it alone")
        with open(db, "rb") as head:
            start = head.read(len(_SQLITE_HEADER))
        if start and start != _SQLITE_HEADER:
            raise ValueError(f"{db} is not an SQLite database; left it alone")
    removed = []
    for target in (db, f"{db}-wal", f"{db}-shm"):
        if os.path.isfile(target):
            os.unlink(target)
            removed.append(target)
    return removed
