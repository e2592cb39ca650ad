"""Cold start: ``import traceglass`` + ``configure()``, and each instrumentor's import, in fresh processes.

Every figure is the median over ``--runs`` fresh interpreters (``python -c``), each timing its own
steps with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU of the process, which a busy
machine inflates less). Steps:

- ``python``: an interpreter that imports nothing (``-c pass``), timed from outside: the baseline;
- ``import traceglass``; then ``configure()`` with its defaults (SQLite exporter into a temporary
  file, every installed instrumentor) in the same process;
- per instrumentor, ``import traceglass.instrumentors.<name>`` alone (the library itself is imported
  only when instrumenting, so this is our own code's share) and the library's own import
  (``openai``, ``langchain_core``, ...) beside it, for scale;
- peers, each in its own virtualenv (``--peer NAME=PYTHON``): the import and ``instrument()`` of
  their OpenAI instrumentor with an SDK tracer provider (``openai-v2``: the official
  opentelemetry-instrumentation-openai-v2; ``openllmetry``: opentelemetry-instrumentation-openai;
  ``traceloop``: ``Traceloop.init()`` where traceloop-sdk is installed; ``openlit``: ``openlit.init()``).

``python -X importtime`` gives the breakdown (``--importtime``: the 15 slowest modules under
``import traceglass`` and under ``configure()``).

    python benchmarks/bench_coldstart.py --runs 21 --peer openai-v2=/tmp/tg-v2/bin/python \\
        --peer openllmetry=/tmp/tg-ollm/bin/python --out benchmarks/results/coldstart.txt

traceloop-sdk 0.62.4 does not resolve beside openai 3.x (pip backtracks through every release of its
unpinned instrumentation list), but installs with ``--no-deps`` over its own requirements minus the
instrumentations of libraries we do not have; OpenLIT resolves to 1.26 beside openai 3.x (1.45 wants
openai<3):

    python -m venv /tmp/tl-try && /tmp/tl-try/bin/pip install openai==3.57.0 httpx opentelemetry-sdk \\
        opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc \\
        opentelemetry-instrumentation-openai==0.62.4 opentelemetry-instrumentation-langchain==0.62.4 \\
        "opentelemetry-semantic-conventions-ai>=0.5.1,<0.6" aiohttp colorama "cuid<0.5" deprecated jinja2 \\
        tenacity pydantic opentelemetry-instrumentation-threading opentelemetry-instrumentation-requests \\
        opentelemetry-instrumentation-urllib3 opentelemetry-instrumentation-logging \\
        && /tmp/tl-try/bin/pip install --no-deps traceloop-sdk==0.62.4
    python -m venv /tmp/lit-try && /tmp/lit-try/bin/pip install openlit httpx
    python benchmarks/bench_coldstart.py --runs 7 --peer traceloop=/tmp/tl-try/bin/python \\
        --peer openlit=/tmp/lit-try/bin/python --out benchmarks/results/coldstart.txt --append
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness

_TIMER = """
import time, json, os
_w, _c = time.perf_counter(), time.process_time()
out = {}
def step(name):
    global _w, _c
    w, c = time.perf_counter(), time.process_time()
    out[name] = [(w - _w) * 1e3, (c - _c) * 1e3]
    _w, _c = time.perf_counter(), time.process_time()
"""

OURS = {
    "import traceglass + configure()": _TIMER + """
import traceglass
step("import traceglass")
traceglass.configure(db_path=os.environ["BENCH_DB"])
step("configure()")
print(json.dumps(out))
""",
}

INSTRUMENTORS = {  # our module -> the library it instruments
    "openai": "openai",
    "anthropic": "anthropic",
    "langchain": "langchain_core",
    "litellm": "litellm",
    "llamaindex": "llama_index.core",
    "openai_agents": "agents",
}

PEERS = {
    "openai-v2": """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
step("import")
OpenAIInstrumentor().instrument(tracer_provider=TracerProvider())
step("instrument()")
""",
    "openllmetry": """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
step("import")
OpenAIInstrumentor().instrument(tracer_provider=TracerProvider())
step("instrument()")
""",
    # Both inits as their docs show them, pointed at 127.0.0.1 (nothing listens on port 9) and with nothing
    # fetched from outside: Traceloop's telemetry off (TRACELOOP_TELEMETRY, set for every peer), OpenLIT's
    # price list read from an empty local file instead of downloaded.
    "traceloop": """
from traceloop.sdk import Traceloop
step("import")
Traceloop.init(app_name="bench", api_endpoint="http://127.0.0.1:9", telemetry_enabled=False)
step("init()")
""",
    "openlit": """
import openlit
step("import")
openlit.init(otlp_endpoint="http://127.0.0.1:9", pricing_json=os.environ["BENCH_PRICING"])
step("init()")
""",
}


def _run(python: str, code: str, env: dict[str, str]) -> dict[str, list[float]]:
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _medians(python: str, code: str, runs: int, extra_env: dict[str, str] | None = None) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            (Path(tmp) / "pricing.json").write_text("{}")
            env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))},
                   "BENCH_DB": str(Path(tmp) / f"t{i}.db"), "BENCH_PRICING": str(Path(tmp) / "pricing.json"),
                   "TRACELOOP_TELEMETRY": "false", "OTEL_SDK_DISABLED": "false", **(extra_env or {})}
            for step, figures in _run(python, code, env).items():
                samples.setdefault(step, []).append(figures)
    return {step: (statistics.median(f[0] for f in rows), statistics.median(f[1] for f in rows))
            for step, rows in samples.items()}


def _bare_python(python: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def importtime(python: str, code: str, top: int = 15) -> list[tuple[int, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BENCH_DB": str(Path(tmp) / "t.db")}
        done = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env,
                              timeout=300, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PYTHON")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--append", action="store_true", help="add this run's section after what --out holds")
    args = parser.parse_args()
    python = sys.executable
    started = _harness.load()
    lines = [f"Cold start: medians of {args.runs} fresh processes each (ms; wall / CPU of the process)",
             f"python -c pass (from outside, wall): {_bare_python(python, args.runs):.1f} ms", ""]
    lines.append(f"{'setup':<34}{'step':<28}{'wall ms':>10}{'CPU ms':>10}")
    for name, code in OURS.items():
        for step, (wall, cpu) in _medians(python, code, args.runs).items():
            lines.append(f"{'traceglass':<34}{step:<28}{wall:>10.1f}{cpu:>10.1f}")
    for module, library in INSTRUMENTORS.items():
        code = _TIMER + f"""
import importlib.util
import traceglass
step("import traceglass")
import traceglass.instrumentors.{module}
step("instrumentor module")
if importlib.util.find_spec("{library.split('.')[0]}") is not None:
    import {library}
    step("the library ({library})")
print(json.dumps(out))
"""
        try:
            figures = _medians(python, code, args.runs)
        except RuntimeError as exc:
            lines.append(f"{'instrumentor ' + module:<34}failed: {str(exc).strip().splitlines()[-1]}")
            continue
        for step, (wall, cpu) in figures.items():
            if step != "import traceglass":
                lines.append(f"{'instrumentor ' + module:<34}{step:<28}{wall:>10.1f}{cpu:>10.1f}")
    for spec in args.peer:
        name, _, peer_python = spec.partition("=")
        code = _TIMER + PEERS[name] + "\nprint(json.dumps(out))\n"
        try:
            figures = _medians(peer_python, code, args.runs)
        except RuntimeError as exc:
            lines.append(f"{name:<34}failed: {str(exc).strip().splitlines()[-1]}")
            continue
        for step, (wall, cpu) in figures.items():
            lines.append(f"{name:<34}{step:<28}{wall:>10.1f}{cpu:>10.1f}")
    if args.importtime:
        for title, code in (("import traceglass", "import traceglass"),
                            ("import traceglass; configure()",
                             "import os, traceglass; traceglass.configure(db_path=os.environ['BENCH_DB'])")):
            lines += ["", f"python -X importtime, {title}: the slowest modules (cumulative us)"]
            lines += [f"  {us:>9,}  {name}" for us, name in importtime(python, code)]
    lines.insert(1, _harness.header(started))
    text = "\n".join(lines)
    if args.out:
        _harness.write_result(args.out, text, append=args.append)
    else:
        print(text)


if __name__ == "__main__":
    main()
