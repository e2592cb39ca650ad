"""One place spells attribute names: no module outside semconv writes a gen_ai./traceglass. key."""

from __future__ import annotations

import pathlib
import re

import traceglass.semconv as semconv

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "traceglass"
KEY = re.compile(r"""["'](gen_ai|traceglass|openai|server|error|session|user)\.[a-z_]+(\.[a-z_]+)*["']""")


def _module_names() -> set[str]:
    return {p.stem for p in SRC.iterdir()} | {p.name for p in SRC.iterdir() if p.is_dir()}


def test_no_attribute_strings_outside_semconv():
    modules = _module_names()
    offenders = []
    for path in SRC.rglob("*.py"):
        if "semconv" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in KEY.finditer(line):
                text = match.group(0)[1:-1]
                if text.startswith("traceglass.") and text.split(".")[1] in modules:
                    continue  # a module path, not an attribute
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def test_baseline_names_and_the_switch():
    assert semconv.GEN_AI_OPERATION_NAME == "gen_ai.operation.name"
    assert semconv.GEN_AI_PROVIDER_NAME == "gen_ai.provider.name"
    assert semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS == "gen_ai.usage.cache_read.input_tokens"
    assert semconv.names({}).cache_creation_input_tokens == "gen_ai.usage.cache_creation.input_tokens"
    assert semconv.names({}).cost_total == "gen_ai.usage.cost"
    latest = semconv.names({"OTEL_SEMCONV_STABILITY_OPT_IN": "http,gen_ai_latest_experimental"})
    assert latest.cache_creation_input_tokens == "gen_ai.usage.cache_write.input_tokens"
    assert latest.cost_total == "gen_ai.usage.cost.amount"


def test_span_types_and_operations():
    assert [t.value for t in semconv.SpanType] == [
        "llm", "chat_model", "chain", "tool", "agent", "agent_action", "embedding", "retriever",
        "graph_node", "session", "custom",
    ]
    assert semconv.operation_for("llm") == "chat"
    assert semconv.operation_for("embedding") == "embeddings"
    assert semconv.operation_for("retriever") == "retrieval"
    assert semconv.operation_for("tool") == "execute_tool"
    assert semconv.operation_for("agent") == "invoke_agent"
    assert semconv.operation_for("chain") is None
