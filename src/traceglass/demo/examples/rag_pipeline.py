"""A RAG pipeline and a small agent, traced with @trace_llm and @observe.

What it shows:
- the RAG shape: a `chain` span with a `tool` retrieval child and an `llm` generation child; the
  generation calls the real `openai` client, so the OpenAI instrumentor adds a `chat gpt-4o-mini`
  client span under it — and the call's tokens and cost are still counted once;
- the agent shape: an `agent` span calling a `retriever`, a `tool` and two `llm` calls;
- per-span prices (`cost_per_1k_input`/`cost_per_1k_output`) on a self-hosted model.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/rag_pipeline.py   (then: traceglass traces)
"""

from __future__ import annotations

import traceglass
from traceglass import LlmAttributes, RetrieverAttributes, observe, trace_llm, update_current_span_attributes
from traceglass.demo import openai_endpoint

DOCUMENTS = {
    "paris": "Paris is the capital of France and sits on the Seine.",
    "tokens": "LLM providers bill per token; cached input tokens are cheaper than fresh ones.",
    "otel": "OpenTelemetry spans carry attributes, events and links, and nest into traces.",
}
client = None  # set in main(): an openai.OpenAI pointed at the bundled server or the real API


# --- the RAG shape -----------------------------------------------------------------------
@trace_llm(event_type="tool", name="retrieve_documents")
def retrieve(question: str) -> list[str]:
    return [text for key, text in DOCUMENTS.items() if key in question.lower()] or [DOCUMENTS["otel"]]


@trace_llm(name="generate_answer", model="gpt-4o-mini")
def generate(question: str, context: list[str]):
    return client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Answer from the context only.\n\n" + "\n".join(context)},
            {"role": "user", "content": question},
        ],
        temperature=0.2,
    )


@trace_llm(event_type="chain", name="rag_pipeline")
def answer(question: str) -> str:
    return generate(question, retrieve(question)).choices[0].message.content


# --- the agent shape ---------------------------------------------------------------------
@observe(type="retriever", embedder="text-embedding-3-small")
def search_knowledge(query: str) -> list[str]:
    found = [text for key, text in DOCUMENTS.items() if key in query.lower()]
    update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=found))
    return found


@observe(type="tool", description="Counts the words of a text")
def word_count(text: str) -> int:
    return len(text.split())


@observe(type="llm", name="plan_step", model="llama-3-8b-local", cost_per_input_token=0.0000002,
         cost_per_output_token=0.0000002)
def plan(task: str) -> str:
    # A self-hosted model with no list price: the per-span price prices it.
    plan_text = f"1. search '{task}' 2. count words 3. summarise"
    update_current_span_attributes(
        LlmAttributes(input=task, output=plan_text, input_token_count=42, output_token_count=17)
    )
    return plan_text


@observe(type="llm", name="summarise_step", model="gpt-4o")
def summarise(context: list[str], words: int):
    return client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"Summarise ({words} words): " + " ".join(context)}],
    )


@observe(type="agent", name="research_agent", available_tools=["search_knowledge", "word_count"])
def research(task: str) -> str:
    plan(task)
    context = search_knowledge(task)
    words = word_count(" ".join(context))
    return summarise(context, words).choices[0].message.content


def main() -> None:
    global client
    traceglass.configure(service_name="rag-pipeline")
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        print("RAG:", answer("What is the capital of France? Ask about paris."))
        print("Agent:", research("How do tokens and otel relate?"))
    traceglass.flush()


if __name__ == "__main__":
    main()
