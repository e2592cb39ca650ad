"""examples/rag_pipeline.py runs with no API key and prints the expected span tree."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "rag_pipeline.py"


def test_rag_example_prints_the_span_tree():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))}
    env["TRACEGLASS_EXPORTERS"] = "none"
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    tree = [re.sub(r" \d+\.\d+ ms", "", line) for line in result.stdout.split("\n\n", 1)[1].splitlines()]
    assert tree == [
        "rag_pipeline [chain]",
        "  retrieve_documents [tool]",
        "  generate_answer [llm]  tokens 38→28",
        "research_agent [agent]",
        "  plan_step [llm]  tokens 42→17",
        "  search_knowledge [retriever]",
        "  word_count [tool]",
        "  summarise_step [llm]  tokens 38→28",
    ]
