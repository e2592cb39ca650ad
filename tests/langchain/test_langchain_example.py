"""examples/langchain_agent.py runs with no API key and prints the expected span tree."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "langchain_agent.py"


def test_langchain_example_prints_the_span_tree(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))}
    env["TRACEGLASS_EXPORTERS"] = "none"
    env["TRACEGLASS_DB"] = str(tmp_path / "traces.db")
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    head, tree_text = result.stdout.split("\n\n", 1)
    assert head.splitlines() == ["Chain: Paris", "Agent: Paris is sunny (21°C); Oslo has snow (-3°C)."]
    tree = [re.sub(r" \d+\.\d+ ms", "", line) for line in tree_text.splitlines()]
    assert tree == [
        "RunnableSequence [chain]",
        "  ChatPromptTemplate [chain]",
        "  FakeListChatModel [chat_model]",
        "  StrOutputParser [chain]",
        "weather-agent [chain]",
        "  agent [graph_node step 1]",
        "    GenericFakeChatModel [chat_model]",
        "    route [chain]",
        "  tools [graph_node step 2]",
        "    execute_tool get_weather [tool]",
        "  agent [graph_node step 3]",
        "    GenericFakeChatModel [chat_model]",
        "    route [chain]",
        "  tools [graph_node step 4]",
        "    execute_tool get_weather [tool]",
        "  agent [graph_node step 5]",
        "    GenericFakeChatModel [chat_model]",
        "    route [chain]",
    ]
