"""traceglass's own attribute names, for what the GenAI conventions have no name for.

All live under ``traceglass.`` so they never collide with a future upstream name.
"""

SPAN_TYPE = "traceglass.span.type"

# Captured function input/output (decorators) as JSON text.
INPUT_VALUE = "traceglass.input"
OUTPUT_VALUE = "traceglass.output"
# Name of the attribute holding a list of the captured attribute keys that were truncated.
TRUNCATED = "traceglass.truncated"
# Set by the SQLite store: a list of the keys whose values it could not store as given (a lone
# surrogate in a string, replaced by U+FFFD; an integer beyond 64 bits or a non-finite float,
# dropped from its column or stored as null). Span fields use ``span.name``, ``span.events``, ...
SANITIZED = "traceglass.sanitized"

# Sessions, users, tags and metadata. session.id and user.id are upstream names (gen_ai.py);
# tags and metadata have no upstream home.
TAGS = "traceglass.tags"
METADATA_PREFIX = "traceglass.metadata."

# Retrievers and embedders (query text and documents use the gen_ai.retrieval.* names).
RETRIEVAL_DOCUMENT_COUNT = "traceglass.retrieval.document_count"
EMBEDDER = "traceglass.embedder"
EMBEDDINGS_INPUT_COUNT = "traceglass.embeddings.input_count"

# Agents: the tools an agent may call and the agents it may hand off to (JSON lists).
AGENT_TOOLS = "traceglass.agent.tools"
AGENT_HANDOFFS = "traceglass.agent.handoffs"
# Agent frameworks' steps the GenAI conventions do not name (OpenAI Agents SDK, CrewAI, LlamaIndex).
# Their span types are kept as given, like any custom type.
SPAN_TYPE_HANDOFF = "handoff"
SPAN_TYPE_GUARDRAIL = "guardrail"
SPAN_TYPE_TURN = "turn"
SPAN_TYPE_TASK = "task"
HANDOFF_FROM_AGENT = "traceglass.handoff.from_agent"
HANDOFF_TO_AGENT = "traceglass.handoff.to_agent"
GUARDRAIL_TRIGGERED = "traceglass.guardrail.triggered"
AGENT_TURN = "traceglass.agent.turn"

# Replay (the dashboard's playground): a replayed call's root span (type "replay") names the span it
# replays, beside an OTel link to it.
SPAN_TYPE_REPLAY = "replay"
REPLAY_SOURCE_TRACE_ID = "traceglass.replay.source.trace_id"
REPLAY_SOURCE_SPAN_ID = "traceglass.replay.source.span_id"

# User-supplied evaluation metrics of @observe(metrics=...), as a JSON list of names.
METRICS = "traceglass.metrics"
# Evaluations: a judge's own spans (an LLM judge or embedding call made by a scorer) carry
# traceglass.eval.judge = true, so they are never evaluated themselves; traceglass.eval.scorer names the scorer.
EVAL_JUDGE = "traceglass.eval.judge"
EVAL_SCORER = "traceglass.eval.scorer"
EVAL_RUN_ID = "traceglass.eval.run_id"  # on a judge span made inside evaluate_traces: the run it belongs to

# Token counts estimated offline (the user opted in) rather than reported by the provider.
USAGE_ESTIMATED = "traceglass.usage.estimated"

# Graph steps (LangGraph).
GRAPH_NODE = "traceglass.graph.node"
GRAPH_STEP = "traceglass.graph.step"

# Cost. The spec has no cost attribute yet; the total's key is chosen in latest.py.
COST_INPUT = "traceglass.cost.input_usd"
COST_OUTPUT = "traceglass.cost.output_usd"
COST_CACHED_INPUT = "traceglass.cost.cached_input_usd"
COST_TOTAL = "traceglass.cost.total_usd"
COST_SOURCE = "traceglass.cost.source"
# The cost the instrumented library itself reported (LiteLLM's response_cost), kept beside ours for
# comparison: never priced, summed or rolled up.
COST_PROVIDER_REPORTED = "traceglass.cost.provider_reported_usd"
# Per-span price overrides set by the decorators, read by the cost processor.
PRICE_INPUT_PER_TOKEN = "traceglass.price.input_per_token"
PRICE_OUTPUT_PER_TOKEN = "traceglass.price.output_per_token"
# Values of traceglass.cost.source: which price priced the span.
COST_SOURCE_SPAN = "span"  # the span's own override (decorator arguments)
COST_SOURCE_USER = "user"  # configure(prices=...) / TRACEGLASS_PRICES
COST_SOURCE_GENAI_PRICES = "genai-prices"  # the maintained genai-prices library
# Values written with the latest-experimental cost names (semantic-conventions-genai#443).
COST_CURRENCY_USD = "USD"
COST_SOURCE_LOCAL = "local"  # computed by us from token counts, not reported by the provider

# Roll-ups: summed over a span's in-process subtree, each model call counted once.
ROLLUP_INPUT_TOKENS = "traceglass.rollup.input_tokens"
ROLLUP_OUTPUT_TOKENS = "traceglass.rollup.output_tokens"
ROLLUP_TOTAL_TOKENS = "traceglass.rollup.total_tokens"
ROLLUP_COST = "traceglass.rollup.cost_usd"

# Scores (gen_ai.evaluation.result events): what the evaluation attributes do not say.
SCORE_ID = "traceglass.score.id"  # makes a write idempotent: the same id updates, never duplicates
SCORE_SOURCE = "traceglass.score.source"  # human, api, llm, code or eval
SCORE_DATA_TYPE = "traceglass.score.data_type"  # numeric, boolean or categorical
SCORE_METADATA = "traceglass.score.metadata"  # JSON object text
# Who gave the score: the upstream user.id attribute (gen_ai.py USER_ID) on the event.

# Metric names of our own.
METRIC_COST = "traceglass.gen_ai.client.cost"
METRIC_SPANS_DROPPED = "traceglass.spans.dropped"  # spans a batch processor could not export
# Its error.type values: why the spans were lost.
SPAN_DROP_QUEUE_FULL = "queue_full"
SPAN_DROP_EXPORT_FAILED = "export_failed"
SPAN_DROP_SHUTDOWN = "shutdown"

# Content sampling (docs/sampling.md): False on a span whose content was removed for its destination.
CONTENT_SAMPLED = "traceglass.content.sampled"
# Traces whose content was decided, with what happened, when and why.
METRIC_SAMPLING_TRACES = "traceglass.sampling.traces"
SAMPLING_OUTCOME = "traceglass.sampling.outcome"
SAMPLING_OUTCOME_KEPT = "content_kept"
SAMPLING_OUTCOME_DROPPED = "content_dropped"
SAMPLING_TRIGGER = "traceglass.sampling.trigger"
SAMPLING_TRIGGER_ROOT = "root_ended"  # the trace's local root ended: the normal case
SAMPLING_TRIGGER_TIMEOUT = "timeout"  # no local root ended within the decision timeout
SAMPLING_TRIGGER_PRESSURE = "pressure"  # evicted, oldest first, to keep the buffer in bounds
SAMPLING_TRIGGER_FLUSH = "flush"  # flush() or shutdown() decided it
SAMPLING_REASON = "traceglass.sampling.reason"  # a keep_content_when condition, "rate" or "sampled_out"
# Spans exported with content removed, and spans head sampling left out of our exporters.
METRIC_SAMPLING_SPANS_STRIPPED = "traceglass.sampling.spans_stripped"

# What content capture controls, whoever captured it: removed from a span whose content is not kept.
# Ours and the GenAI conventions' (the official openai-v2 writes the same keys), older and peer dialects
# (OpenLLMetry's gen_ai.prompt.N.*, OpenInference's input.value and llm.input_messages.N.*).
CONTENT_ATTRIBUTES = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents", INPUT_VALUE, OUTPUT_VALUE, TRUNCATED,
    "gen_ai.prompt", "gen_ai.completion", "input.value", "output.value", "llm.prompts",
})
# Prefixes followed by an index (gen_ai.prompt.0.content); gen_ai.prompt.name, a template's name, stays.
CONTENT_INDEXED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.",
                            "llm.output_messages.", "retrieval.documents.", "embedding.embeddings.")
# Span events carrying content: the inference-details event, and the per-message events of older releases.
CONTENT_EVENTS = frozenset({
    "gen_ai.client.inference.operation.details", "gen_ai.system.message", "gen_ai.user.message",
    "gen_ai.assistant.message", "gen_ai.tool.message", "gen_ai.choice", "gen_ai.content.prompt",
    "gen_ai.content.completion",
})

__all__ = [name for name in list(globals()) if name.isupper()]
