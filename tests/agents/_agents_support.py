"""Helpers for the OpenAI Agents SDK tests: models bound to a local server, the span tree's shape."""

from __future__ import annotations

from typing import Any

import agents
import openai
from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel

# The SDK's default processor exports to OpenAI's tracing backend: tests never leave 127.0.0.1.
agents.set_trace_processors([])
agents.set_tracing_export_api_key("sk-test-never-sent")

API_KEY = "sk-test-agents"


def responses_model(base_url: str, model: str = "gpt-4o") -> OpenAIResponsesModel:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    return OpenAIResponsesModel(model=model, openai_client=client)


def chat_model(base_url: str, model: str = "gpt-4o-mini") -> OpenAIChatCompletionsModel:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    return OpenAIChatCompletionsModel(model=model, openai_client=client)


def tree(spans: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Spans as ``(depth, name, span type)`` rows in depth-first start order: the shape of a trace."""
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_id"] if s["parent_id"] in by_id else None
        children.setdefault(parent, []).append(s)
    rows: list[tuple[int, str, str]] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            rows.append((depth, s["name"], s["attributes"].get("traceglass.span.type")))
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return rows


def parent_name(spans: list[dict[str, Any]], span: dict[str, Any]) -> str | None:
    parent = next((s for s in spans if s["span_id"] == span["parent_id"]), None)
    return parent["name"] if parent is not None else None
