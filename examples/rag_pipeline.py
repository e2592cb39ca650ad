"""A RAG pipeline and a small agent, traced with @trace_llm and @observe. No API key needed.

What it shows:
- the RAG shape: a `chain` span with a `tool` retrieval child and an `llm` generation child;
- the agent shape: an `agent` span calling a `retriever`, a `tool` and two `llm` calls;
- token usage picked up from an OpenAI-style response, sessions and users on every span;
- where the spans go: the console tree printed below, plus any exporter you name in
  TRACEGLASS_EXPORTERS (the default store is SQLite; `otlp` sends them to a collector).

Run: python examples/rag_pipeline.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import traceglass
from traceglass import LlmAttributes, RetrieverAttributes, observe, trace_llm, update_current_span_attributes

DOCUMENTS = {
    "paris": "Paris is the capital of France and sits on the Seine.",
    "tokens": "LLM providers bill per token; cached input tokens are cheaper.",
    "otel": "OpenTelemetry spans carry attributes, events and links.",
}


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass
class Completion:
    """Shaped like an OpenAI chat completion: the span reads `.model` and `.usage` off it."""

    id: str
    model: str
    text: str
    usage: Usage


def fake_model(prompt: str, model: str) -> Completion:
    words = prompt.split()
    answer = f"Based on {len(words)} words of context: " + " ".join(words[-8:])
    return Completion("chatcmpl-demo", model, answer, Usage(len(words) * 2, len(answer.split()) * 2))


# --- the RAG shape -----------------------------------------------------------------------
@trace_llm(event_type="tool", name="retrieve_documents")
def retrieve(question: str) -> list[str]:
    return [text for key, text in DOCUMENTS.items() if key in question.lower()] or list(DOCUMENTS.values())[:1]


@trace_llm(name="generate_answer", model="gpt-4o-mini")
def generate(question: str, context: list[str]) -> Completion:
    return fake_model(" ".join(context) + " " + question, "gpt-4o-mini-2024-07-18")


@trace_llm(event_type="chain", name="rag_pipeline")
def answer(question: str) -> str:
    return generate(question, retrieve(question)).text


# --- the agent shape ---------------------------------------------------------------------
@observe(type="retriever", embedder="text-embedding-3-small")
def search_knowledge(query: str) -> list[str]:
    found = [text for key, text in DOCUMENTS.items() if key in query.lower()]
    update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=found))
    return found


@observe(type="tool", description="Counts the words of a text")
def word_count(text: str) -> int:
    return len(text.split())


@observe(type="llm", name="plan_step", model="gpt-4o")
def plan(task: str) -> str:
    plan_text = f"1. search '{task}' 2. count words 3. summarise"
    update_current_span_attributes(
        LlmAttributes(input=task, output=plan_text, input_token_count=42, output_token_count=17)
    )
    return plan_text


@observe(type="llm", name="summarise_step", model="gpt-4o")
def summarise(context: list[str], words: int) -> Completion:
    return fake_model(" ".join(context) + f" ({words} words)", "gpt-4o-2024-08-06")


@observe(type="agent", name="research_agent", available_tools=["search_knowledge", "word_count"])
def research(task: str) -> str:
    plan(task)
    context = search_knowledge(task)
    words = word_count(" ".join(context))
    return summarise(context, words).text


def print_tree(spans) -> None:
    by_parent: dict = {}
    for span in spans:
        parent = span.parent.span_id if span.parent else None
        by_parent.setdefault(parent, []).append(span)

    def show(parent, depth):
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time):
            attributes = span.attributes or {}
            kind = attributes.get("traceglass.span.type", "?")
            tokens = ""
            if "gen_ai.usage.input_tokens" in attributes:
                tokens = f"  tokens {attributes['gen_ai.usage.input_tokens']}→{attributes['gen_ai.usage.output_tokens']}"
            millis = (span.end_time - span.start_time) / 1e6
            print(f"{'  ' * depth}{span.name} [{kind}] {millis:.2f} ms{tokens}")
            show(span.context.span_id, depth + 1)

    show(None, 0)


def main() -> None:
    collected = InMemorySpanExporter()
    names = [n for n in os.environ.get("TRACEGLASS_EXPORTERS", "").split(",") if n.strip()]
    traceglass.configure(service_name="rag-example", exporters=[*names, collected], instrument=[])
    with traceglass.session("demo-session", user_id="demo-user"):
        print("RAG:", answer("What is the capital of France? Ask paris."))
        print("Agent:", research("How do tokens and otel relate?"))
    traceglass.flush()
    print()
    print_tree(collected.get_finished_spans())


if __name__ == "__main__":
    main()
