"""One place spells attribute names: no module outside semconv writes a gen_ai./traceglass. key."""

from __future__ import annotations

import ast
import pathlib

import traceglass.semconv as semconv

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "traceglass"


def _attribute_names() -> set[str]:
    names = set()
    for name in dir(semconv):
        value = getattr(semconv, name)
        if name.isupper() and isinstance(value, str) and "." in value:
            names.add(value)
    return names


def test_no_attribute_strings_outside_semconv():
    """String literals outside semconv never spell a semconv name nor any ``gen_ai.*`` key."""
    known = _attribute_names()
    offenders = []
    for path in SRC.rglob("*.py"):
        if "semconv" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in known or node.value.startswith("gen_ai."):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value}")
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
