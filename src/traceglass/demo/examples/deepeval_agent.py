"""A deepeval-style agent: @observe on every component, update_current_span_attributes inside.

What it shows:
- `@observe(type=...)` for an agent, its retriever, its tools and its LLM calls, the way deepeval
  users write it, with `available_tools`, `handoff_agents` and evaluation `metrics` on the agent;
- `update_current_span_attributes(...)` with `LlmAttributes`, `RetrieverAttributes`,
  `ToolAttributes` and `AgentAttributes` to record exactly what each step saw and produced;
- a handoff to a second agent, and a tool that fails (recorded, re-raised, handled by the agent).

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/deepeval_agent.py
"""

from __future__ import annotations

import traceglass
from traceglass import (
    AgentAttributes,
    LlmAttributes,
    RetrieverAttributes,
    ToolAttributes,
    observe,
    update_current_span_attributes,
)
from traceglass.demo import openai_endpoint

client = None
POLICIES = [
    "Refunds are accepted within 30 days of delivery.",
    "Shipping to the EU takes 3-5 business days.",
    "Gift cards cannot be refunded.",
]


@observe(type="retriever", embedder="text-embedding-3-small")
def find_policies(question: str) -> list[str]:
    client.embeddings.create(model="text-embedding-3-small", input=[question])
    hits = [p for p in POLICIES if any(w in p.lower() for w in question.lower().split() if len(w) > 4)]
    update_current_span_attributes(RetrieverAttributes(embedding_input=question, retrieval_context=hits))
    return hits


@observe(type="tool", description="Looks up an order's delivery date")
def order_lookup(order_id: str) -> dict:
    if not order_id.startswith("A"):
        raise KeyError(f"unknown order {order_id}")
    update_current_span_attributes(ToolAttributes(input_parameters={"order_id": order_id},
                                                  output={"delivered": "2026-11-02"}))
    return {"delivered": "2026-11-02"}


@observe(type="llm", model="gpt-4o-mini")
def draft_reply(question: str, policies: list[str], order: dict | None) -> str:
    prompt = f"Policies: {policies}\nOrder: {order}\nCustomer: {question}"
    response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    text = response.choices[0].message.content
    update_current_span_attributes(LlmAttributes(
        input=prompt, output=text,
        input_token_count=response.usage.prompt_tokens, output_token_count=response.usage.completion_tokens,
    ))
    return text


@observe(type="agent", name="escalation_agent", description="Hands hard cases to a human")
def escalate(question: str) -> str:
    update_current_span_attributes(AgentAttributes(input=question, output="ticket T-1042 opened"))
    return "ticket T-1042 opened"


@observe(type="agent", name="support_agent", available_tools=["order_lookup"],
         handoff_agents=["escalation_agent"], metrics=["answer_relevancy", "faithfulness"])
def support(question: str, order_id: str) -> str:
    policies = find_policies(question)
    try:
        order = order_lookup(order_id)
    except KeyError:
        order = None
        return escalate(question)
    return draft_reply(question, policies, order)


def main() -> None:
    global client
    traceglass.configure(service_name="support-agent")
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        print("Reply:", support("Can I still get a refund? It was delivered recently.", "A-77"))
        print("Escalated:", support("Where is my parcel shipping?", "Z-1"))
    traceglass.flush()


if __name__ == "__main__":
    main()
