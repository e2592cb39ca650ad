"""Every example runs as `python examples/NAME.py` against the bundled server; its traces are stored.

Each runs in its own process with no API key, starting the bundled OpenAI-compatible server
itself, and writes to a temporary SQLite file that the test reads back with TraceStore.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from traceglass.store import TraceStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, db: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "ANTHROPIC_", "OTEL_", "TRACEGLASS_"))}
    env["TRACEGLASS_DB"] = str(db)
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return done


def trees(db: Path) -> dict[str, list[list[tuple[int, str, str]]]]:
    """Root name -> each such trace's spans as (depth, name, type), depth-first in start order;
    traces oldest first."""
    store = TraceStore(str(db))
    out: dict[str, list[list[tuple[int, str, str]]]] = {}
    try:
        for summary in reversed(store.list_traces(limit=100).traces):
            trace = store.get_trace(summary.trace_id)
            rows: list[tuple[int, str, str]] = []

            def walk(node, depth):
                rows.append((depth, node.name, node.type))
                for child in sorted(node.children, key=lambda c: c.start_ns):
                    walk(child, depth + 1)

            walk(trace.root, 0)
            assert len(rows) == len(trace.spans) == summary.span_count  # one tree holds every span
            out.setdefault(trace.root.name, []).append(rows)
    finally:
        store.close()
    return out


def totals(db: Path) -> list[tuple[str, int, int, float | None]]:
    """(root name, input tokens, output tokens, cost) per trace, oldest first."""
    store = TraceStore(str(db))
    try:
        return [(t.name, t.input_tokens, t.output_tokens, t.cost_usd)
                for t in reversed(store.list_traces(limit=100).traces)]
    finally:
        store.close()


def all_spans(db: Path) -> list:
    """Every span, traces oldest first, each trace's spans in start order."""
    store = TraceStore(str(db))
    try:
        return [s for t in reversed(store.list_traces(limit=100).traces)
                for s in sorted(store.get_trace(t.trace_id).spans, key=lambda s: s.start_ns)]
    finally:
        store.close()


def usd(input_tokens: int, output_tokens: int, per_million_in: float, per_million_out: float = 0.0):
    return pytest.approx(input_tokens * per_million_in / 1e6 + output_tokens * per_million_out / 1e6)


# List prices per million tokens (input, output) the cost processor uses for the demo's models
GPT_4O_MINI, GPT_4O, EMBEDDING_3_SMALL = (0.15, 0.6), (2.5, 10.0), (0.02, 0.0)
TRACING_ANSWER = ("OpenTelemetry records each step of a request as a span; spans nest into a trace, so you can see "
                  "where time and money go.")


def test_rag_pipeline(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("rag_pipeline", db)
    assert done.stdout == f"RAG: The capital of France is Paris, which sits on the Seine.\nAgent: {TRACING_ANSWER}\n"
    found = trees(db)
    assert found["rag_pipeline"] == [[
        (0, "rag_pipeline", "chain"),
        (1, "retrieve_documents", "tool"),
        (1, "generate_answer", "llm"),
        (2, "chat gpt-4o-mini", "llm"),
    ]]
    assert found["research_agent"] == [[
        (0, "research_agent", "agent"),
        (1, "plan_step", "llm"),
        (1, "search_knowledge", "retriever"),
        (1, "word_count", "tool"),
        (1, "summarise_step", "llm"),
        (2, "chat gpt-4o", "llm"),
    ]]
    # generate_answer and its OpenAI span report the same call: the trace counts it once; the
    # self-hosted plan step (42 + 17 tokens) is priced by its per-span price of $0.0000002 a token
    assert totals(db) == [
        ("rag_pipeline", 43, 13, usd(43, 13, *GPT_4O_MINI)),
        ("research_agent", 42 + 42, 17 + 27, pytest.approx(59 * 0.0000002 + usd(42, 27, *GPT_4O).expected)),
    ]
    by_name = {s.name: s for s in all_spans(db)}
    assert (by_name["plan_step"].input_tokens, by_name["plan_step"].output_tokens) == (42, 17)
    assert by_name["plan_step"].cost_usd == pytest.approx(59 * 0.0000002)
    assert (by_name["chat gpt-4o-mini"].input_tokens, by_name["chat gpt-4o-mini"].output_tokens) == (43, 13)


def test_deepeval_agent(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("deepeval_agent", db)
    assert done.stdout == ("Reply: Yes: refunds are accepted within 30 days of delivery, so you can still return it.\n"
                           "Escalated: ticket T-1042 opened\n")
    assert trees(db)["support_agent"] == [
        [
            (0, "support_agent", "agent"),
            (1, "find_policies", "retriever"),
            (2, "embeddings text-embedding-3-small", "embedding"),
            (1, "order_lookup", "tool"),
            (1, "draft_reply", "llm"),
            (2, "chat gpt-4o-mini", "llm"),
        ],
        [
            (0, "support_agent", "agent"),
            (1, "find_policies", "retriever"),
            (2, "embeddings text-embedding-3-small", "embedding"),
            (1, "order_lookup", "tool"),
            (1, "escalation_agent", "agent"),
        ],
    ]
    assert totals(db) == [
        ("support_agent", 12 + 40, 18, pytest.approx(usd(12, 0, *EMBEDDING_3_SMALL).expected
                                                     + usd(40, 18, *GPT_4O_MINI).expected)),
        ("support_agent", 6, 0, usd(6, 0, *EMBEDDING_3_SMALL)),
    ]
    store = TraceStore(str(db))
    try:
        failed = [t for t in store.list_traces(limit=10).traces if t.error_count]
        assert len(failed) == 1
        escalated = store.get_trace(failed[0].trace_id)
        assert [(s.name, s.status, s.error_type) for s in escalated.spans if s.status == "ERROR"] == [
            ("order_lookup", "ERROR", "KeyError")]
    finally:
        store.close()


def test_openai_tools_streaming(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("openai_tools_streaming", db)
    assert done.stdout.splitlines() == [
        'Tool loop: According to the tool: {"city": "Lisbon", "forecast": "sunny", "celsius": 21}',
        "Streamed: Spans fall like leaves / each call carries its own cost / the trace tells the tale",
        f"Stream helper: {TRACING_ANSWER}",
        "Embeddings: 3 vectors",
        f"Responses API: {TRACING_ANSWER}",
        "Rate limited as expected: 429",
    ]
    found = trees(db)
    assert found["weather_turn"] == [[(0, "weather_turn", "chain"), (1, "chat gpt-4o-mini", "llm"),
                                      (1, "chat gpt-4o-mini", "llm")]]
    assert [name for name, *_ in totals(db)] == ["weather_turn", "chat gpt-4o", "chat gpt-4o-mini",
                                                  "embeddings text-embedding-3-small", "chat gpt-4o-mini",
                                                  "chat error-429"]
    by_trace = totals(db)
    # the tool loop's two calls; the stream that asked for usage; embeddings; the Responses API; the error
    assert by_trace[0] == ("weather_turn", 45 + 82, 53 + 28, pytest.approx(usd(45, 53, *GPT_4O_MINI).expected
                                                                           + usd(82, 28, *GPT_4O_MINI).expected))
    assert by_trace[1] == ("chat gpt-4o", 12, 17, usd(12, 17, *GPT_4O))
    assert by_trace[3] == ("embeddings text-embedding-3-small", 3, 0, usd(3, 0, *EMBEDDING_3_SMALL))
    assert by_trace[4] == ("chat gpt-4o-mini", 18, 27, usd(18, 27, *GPT_4O_MINI))
    assert by_trace[5] == ("chat error-429", 0, 0, None)
    streamed = [s for s in all_spans(db) if s.name == "chat gpt-4o"]
    assert len(streamed) == 1
    span = streamed[0]
    assert span.attributes["gen_ai.request.stream"] is True
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] <= span.duration_ms / 1000
    assert (span.input_tokens, span.output_tokens) == (12, 17)


def test_langchain_agent(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("langchain_agent", db)
    assert done.stdout == ("Chain: The capital of France is Paris, which sits on the Seine.\n"
                           "Agent: According to the tool: sunny, 21°C\n")
    found = trees(db)
    assert found["weather-agent"] == [[
        (0, "weather-agent", "chain"),
        (1, "agent", "graph_node"),
        (2, "chat gpt-4o-mini", "chat_model"),
        (3, "chat gpt-4o-mini", "llm"),
        (2, "route", "chain"),
        (1, "tools", "graph_node"),
        (2, "execute_tool get_weather", "tool"),
        (1, "agent", "graph_node"),
        (2, "chat gpt-4o-mini", "chat_model"),
        (3, "chat gpt-4o-mini", "llm"),
        (2, "route", "chain"),
    ]]
    assert found["RunnableSequence"] == [[
        (0, "RunnableSequence", "chain"),
        (1, "ChatPromptTemplate", "chain"),
        (1, "chat gpt-4o-mini", "chat_model"),
        (2, "chat gpt-4o-mini", "llm"),
        (1, "StrOutputParser", "chain"),
    ]]
    # the LangChain and OpenAI spans of one call count it once
    assert totals(db) == [
        ("RunnableSequence", 26, 13, usd(26, 13, *GPT_4O_MINI)),
        ("weather-agent", 44 + 63, 53 + 10, pytest.approx(usd(44, 53, *GPT_4O_MINI).expected
                                                          + usd(63, 10, *GPT_4O_MINI).expected)),
    ]


def test_sessions_users(tmp_path):
    db = tmp_path / "t.db"
    run_example("sessions_users", db)
    store = TraceStore(str(db))
    try:
        sessions = {row.key: row.calls for row in store.stats(group_by="session")}
        users = {row.key: row.calls for row in store.stats(group_by="user")}
    finally:
        store.close()
    assert sessions == {"alice-trip-1": 3, "alice-trip-2": 2, "bob-trip-1": 3, "bob-trip-2": 2}
    assert users == {"alice": 5, "bob": 5}
    client_spans = [s for s in all_spans(db) if s.name == "chat gpt-4o-mini"]
    assert len(client_spans) == 10
    assert [(s.user, s.session) for s in client_spans] == [
        ("alice", "alice-trip-1")] * 3 + [("alice", "alice-trip-2")] * 2 + [("bob", "bob-trip-1")] * 3 + [
        ("bob", "bob-trip-2")] * 2
    assert [s.input_tokens for s in client_spans] == [101, 145, 181, 98, 140, 97, 136, 168, 97, 132]
    assert [s.output_tokens for s in client_spans] == [24, 18, 15, 21, 24, 19, 14, 19, 17, 14]
    # a conversation that starts with the same 78-token system prompt as an earlier one reads it from the cache
    assert [s.attributes["gen_ai.usage.cache_read.input_tokens"] for s in client_spans] == [
        0, 0, 0, 78, 0, 78, 0, 0, 78, 0]


def test_read_traces_after_another_example(tmp_path):
    db = tmp_path / "t.db"
    run_example("deepeval_agent", db)
    done = run_example("read_traces", db)
    lines = done.stdout.splitlines()
    assert len(lines) == 14
    assert lines[0].split() == ["trace", "root", "project", "latency", "tokens", "cost"]
    assert [line.split()[1:3] + line.split()[-2:] for line in lines[1:3]] == [
        ["support_agent", "support-agent", "6", "$0.00000012"],
        ["support_agent", "support-agent", "70", "$0.000017"],
    ]
    assert re.fullmatch(r"Newest trace [0-9a-f]{32}: 5 spans", lines[4])
    assert [line.split(" [")[0] for line in lines[5:10]] == [
        "  support_agent", "  find_policies", "  embeddings text-embedding-3-small", "  order_lookup",
        "  escalation_agent"]
    assert lines[11:] == [
        "By model:",
        "  gpt-4o-mini                  calls    1  tokens      58  cost $0.000017",
        "  text-embedding-3-small       calls    2  tokens      18  cost $0.00000036",
    ]


def test_openai_zero_code_runs_plainly(tmp_path):
    done = run_example("openai_zero_code", tmp_path / "t.db")
    hello = "Hello! Happy to help with whatever you are working on."
    assert done.stdout.splitlines() == [f"chat: {hello}", f"stream: {hello}", "embeddings: 2 vectors of 1536",
                                        f"responses: {hello}"]


def test_chat_feedback(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("chat_feedback", db)
    assert done.stdout.splitlines() == [
        "maya #1: Hello! Happy to help with whatever you are working on.",
        "  maya gave it a thumbs-up",
        "maya #2: Based on the context provided, the key points",  # cut at max_tokens=8
        "  maya gave it a thumbs-down: The answer stopped mid-sentence.",
        "leo #3: Try the local seafood and a bakery breakfast; lunch menus run about 12 to 15 euros.",
    ]
    assert trees(db)["chat_turn"] == [[(0, "chat_turn", "chain"), (1, "chat gpt-4o-mini", "llm")]] * 3
    store = TraceStore(str(db))
    try:
        turns = [store.get_trace(t.trace_id) for t in reversed(store.list_traces(limit=10).traces)]
        found = [[(s.name, s.value, s.label, s.data_type, s.source, s.user_id, s.comment,
                   # the code check was made inside the turn: it is on the turn's span; feedback is on the trace
                   "turn span" if s.span_id == trace.root.span_id else s.span_id)
                  for s in sorted(trace.scores, key=lambda s: s.name)] for trace in turns]
        assert [t.session for t in turns] == ["maya-chat", "maya-chat", "leo-chat"]
        assert len(store.scores(limit=100).scores) == 5
    finally:
        store.close()
    assert found == [
        [("complete_answer", 1.0, "true", "boolean", "code", None, None, "turn span"),
         ("user_feedback", 1.0, "true", "boolean", "human", "maya", None, None)],
        [("complete_answer", 0.0, "false", "boolean", "code", None, "finish_reason=length", "turn span"),
         ("user_feedback", 0.0, "false", "boolean", "human", "maya", "The answer stopped mid-sentence.", None)],
        [("complete_answer", 1.0, "true", "boolean", "code", None, None, "turn span")],
    ]


# Claude Sonnet 4.5 per million tokens: fresh input, cache write, cache read, output
SONNET_4_5 = (3.0, 3.75, 0.30, 15.0)


def test_anthropic_tools_streaming(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("anthropic_tools_streaming", db)
    assert done.stdout.splitlines() == [
        'Tool use: get_weather {"city": "Lisbon"} -> tool_use',
        'Tool loop: According to the tool: {"city": "Lisbon", "forecast": "sunny", "celsius": 21}',
        "  input tokens: 12 fresh, 107 written to the cache, 0 read from it"
        " | 61 fresh, 0 written to the cache, 107 read from it",
        "Streamed: Spans fall like leaves / each call carries its own cost / the trace tells the tale",
        "  input tokens: 9 fresh, 0 written to the cache, 107 read from it",
    ]
    found = trees(db)
    assert found["claude_weather_turn"] == [[(0, "claude_weather_turn", "chain"),
                                             (1, "chat claude-sonnet-4-5", "llm"),
                                             (1, "chat claude-sonnet-4-5", "llm")]]
    assert found["chat claude-sonnet-4-5"] == [[(0, "chat claude-sonnet-4-5", "llm")]]
    calls = [s for s in all_spans(db) if s.name == "chat claude-sonnet-4-5"]
    # (span input tokens = fresh + cache write + cache read, output, write, read) as the example printed them
    assert [(s.input_tokens, s.output_tokens, s.attributes["gen_ai.usage.cache_creation.input_tokens"],
             s.attributes["gen_ai.usage.cache_read.input_tokens"]) for s in calls] == [
        (12 + 107, 18, 107, 0), (61 + 107, 28, 0, 107), (9 + 107, 17, 0, 107)]
    fresh_in, write, read, out = SONNET_4_5
    # priced at the cache rates: a write at 1.25x the input price, a read at a tenth of it
    assert [s.cost_usd for s in calls] == [pytest.approx((12 * fresh_in + 107 * write + 18 * out) / 1e6),
                                           pytest.approx((61 * fresh_in + 107 * read + 28 * out) / 1e6),
                                           pytest.approx((9 * fresh_in + 107 * read + 17 * out) / 1e6)]
    assert [s.model for s in calls] == ["claude-sonnet-4-5-20250929"] * 3
    assert [s.attributes.get("gen_ai.request.stream") for s in calls] == [None, None, True]
    assert 0 < calls[2].attributes["gen_ai.response.time_to_first_chunk"] <= calls[2].duration_ms / 1000
    assert totals(db) == [
        ("claude_weather_turn", 119 + 168, 18 + 28, pytest.approx(calls[0].cost_usd + calls[1].cost_usd)),
        ("chat claude-sonnet-4-5", 116, 17, pytest.approx(calls[2].cost_usd)),
    ]


# Claude Haiku 4.5 per million tokens (input, output)
HAIKU_4_5 = (1.0, 5.0)


def test_litellm_two_providers(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("litellm_two_providers", db)
    assert done.stdout.splitlines() == [
        "openai/gpt-4o-mini: The capital of France is Paris, which sits on the Seine.",
        "anthropic/claude-haiku-4-5: The capital of France is Paris, which sits on the Seine.",
        "Streamed: Spans fall like leaves / each call carries its own cost / the trace tells the tale",
    ]
    # one span per call: LiteLLM's, with no SDK span below it
    found = trees(db)
    assert found == {
        "compare_providers": [[(0, "compare_providers", "chain"), (1, "chat gpt-4o-mini", "llm"),
                               (1, "chat claude-haiku-4-5", "llm")]],
        "chat claude-haiku-4-5": [[(0, "chat claude-haiku-4-5", "llm")]],
    }
    calls = [s for s in all_spans(db) if s.type == "llm"]
    assert [(s.name, s.attributes["gen_ai.provider.name"], s.attributes["gen_ai.request.model"],
             s.attributes["gen_ai.response.model"], s.model, s.input_tokens, s.output_tokens,
             s.attributes.get("gen_ai.request.stream")) for s in calls] == [
        ("chat gpt-4o-mini", "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", 14, 13,
         None),
        ("chat claude-haiku-4-5", "anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001",
         "claude-haiku-4-5-20251001", 11, 13, None),
        # LiteLLM's stream names the model as asked; its usage chunk (asked for by traceglass) has the tokens
        ("chat claude-haiku-4-5", "anthropic", "claude-haiku-4-5", "claude-haiku-4-5", "claude-haiku-4-5", 9, 17,
         True),
    ]
    assert [s.cost_usd for s in calls] == [usd(14, 13, *GPT_4O_MINI), usd(11, 13, *HAIKU_4_5),
                                           usd(9, 17, *HAIKU_4_5)]
    # LiteLLM's own figure is kept beside traceglass's for comparison, never added to the totals
    assert [s.attributes["traceglass.cost.provider_reported_usd"] for s in calls] == [
        pytest.approx(s.cost_usd) for s in calls]
    assert totals(db) == [
        ("compare_providers", 14 + 11, 13 + 13, pytest.approx(calls[0].cost_usd + calls[1].cost_usd)),
        ("chat claude-haiku-4-5", 9, 17, pytest.approx(calls[2].cost_usd)),
    ]
    assert {s.project for s in all_spans(db)} == {"litellm-two-providers"}


def test_evaluate_traces(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("evaluate_traces", db)
    assert done.stdout.splitlines() == [
        "dataset support-answers version 1: 3 items",
        "relevance: mean 0.50, pass rate 67%, 3 scored, 0 errors",
        "contains: mean 0.33, pass rate 33%, 3 scored, 0 errors",
        "max_latency: mean 1.00, pass rate 100%, 3 scored, 0 errors",
        "lowest: contains 0.00 on {'question': 'What is the capital of France?'}",
    ]
    store = TraceStore(str(db))
    try:
        answers = {t.trace_id: store.get_trace(t.trace_id) for t in store.list_traces(project="support-evals").traces
                   if t.name == "answer"}
        scores = store.scores(limit=100).scores
        [run] = store.eval_runs()
        [dataset] = store.datasets()
    finally:
        store.close()
    assert trees(db)["answer"] == [[(0, "answer", "chain"), (1, "chat gpt-4o-mini", "llm")]] * 3
    roots = {trace.root.span_id for trace in answers.values()}
    # each answer's span: 2 online metrics (run after the call) and 3 from the stored run
    per_span = sorted(sorted(s.name for s in scores if s.span_id == span) for span in roots)
    assert per_span == [sorted(["length_between", "max_latency", "relevance", "contains", "max_latency"])] * 3
    assert {s.source for s in scores} == {"eval"} and len(scores) == 15
    assert (dataset.name, dataset.version, dataset.item_count) == ("support-answers", 1, 3)
    assert (run.item_count, run.details["scorers"], run.details["dataset"]) == (
        3, ["relevance", "contains", "max_latency"], {"name": "support-answers", "version": 1})
