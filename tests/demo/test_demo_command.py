"""`traceglass demo`: runs every example offline into the store, says what this run added, checks its
port before running anything, and starts from an empty store with --fresh."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

from traceglass._scores import from_ns, new_score
from traceglass.cli._demo import _summary
from traceglass.evals import EvalRun
from traceglass.store import TraceStore, TraceWriter

_EARLIER_NS = 1_700_000_000_000_000_000  # 2023-11-14: long before any run


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_", "TRACEGLASS_"))}
    env["OPENAI_API_KEY"] = "sk-must-not-be-used"  # the demo never talks to the real API
    return env


def _demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traceglass", "demo", *args], env=_env(), capture_output=True,
                          text=True, timeout=600, check=False)


def _add_trace(store: TraceStore, name: str, project: str, start_ns: int, **attributes) -> None:
    store.upsert_span({"name": name, "start_ns": start_ns, "end_ns": start_ns + 1_000_000,
                       "resource": {"service.name": project}, "attributes": attributes})


def test_demo_fills_a_fresh_store_and_reports_what_it_added(tmp_path):
    db = tmp_path / "demo.db"
    store = TraceStore(str(db))
    _add_trace(store, "earlier", "earlier-app", _EARLIER_NS)
    store.close()
    for suffix in ("-wal", "-shm"):  # left behind by an app that died
        (tmp_path / f"demo.db{suffix}").write_bytes(b"")

    done = _demo("--no-ui", "--fresh", "--db", str(db))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"--fresh: deleted {db}, {db}-wal, {db}-shm"
    assert lines[1] == ("Running the example apps against the bundled OpenAI- and Anthropic-compatible server "
                        "(no API key needed):")
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in lines[2:13]] == [
        f"  ran {name}" for name in ("rag_pipeline", "deepeval_agent", "openai_tools_streaming",
                                     "anthropic_tools_streaming", "litellm_two_providers", "langchain_agent",
                                     "openai_agents_tools", "llamaindex_rag", "sessions_users", "chat_feedback",
                                     "openai_zero_code")]
    assert lines[-1] == f"Browse them with: traceglass traces --db {db}"
    assert lines[-3] == ("Evaluating the traced LLM calls (length_between, max_latency, and the relevance "
                         "judge):")
    assert re.fullmatch(r"Evaluation run [0-9a-f]{32}: \d+ LLM calls scored; means: length_between \d\.\d\d, "
                        r"max_latency \d\.\d\d, relevance \d\.\d\d", lines[-2]), lines[-2]

    store = TraceStore(str(db))
    try:
        traces = store.list_traces(limit=200).traces
        by_project: dict[str, set[str]] = {}
        for t in traces:
            by_project.setdefault(t.project, set()).add(t.name)
        spans = [s for t in traces for s in store.get_trace(t.trace_id).spans]
        every_score = store.scores(limit=500).scores
        runs = EvalRun.list(store=store)
        run = EvalRun.load(runs[0].id, store=store) if runs else None
    finally:
        store.close()
    scores = [s for s in every_score if s.source != "eval"]
    assert "sk-must-not-be-used" not in str(spans)
    assert "earlier-app" not in by_project  # --fresh: only this run's traces
    assert by_project == {
        "rag-pipeline": {"rag_pipeline", "research_agent"},
        "support-agent": {"support_agent"},
        "langchain-agent": {"weather-agent", "RunnableSequence"},
        "openai-zero-code": {"chat gpt-4o-mini", "chat gpt-4o", "embeddings text-embedding-3-small"},
        "travel-assistant": {"conversation_turn"},
        "chat-feedback": {"chat_turn"},
        "openai-tools-streaming": {"weather_turn", "chat gpt-4o", "chat gpt-4o-mini",
                                   "embeddings text-embedding-3-small", "chat error-429"},
        "anthropic-tools-streaming": {"claude_weather_turn", "chat claude-sonnet-4-5"},
        "litellm-two-providers": {"compare_providers", "chat claude-haiku-4-5"},
        "openai-agents-tools": {"invoke_workflow Agent workflow"},
        "llamaindex-rag": {"embeddings text-embedding-3-small", "RetrieverQueryEngine.query",
                           "execute_tool get_weather"},
    }
    counts = {p: sum(t.project == p for t in traces) for p in by_project}
    assert counts == {"rag-pipeline": 2, "support-agent": 2, "langchain-agent": 2, "openai-zero-code": 4,
                      "travel-assistant": 10, "openai-tools-streaming": 6, "chat-feedback": 3,
                      "anthropic-tools-streaming": 2, "litellm-two-providers": 2, "openai-agents-tools": 2,
                      "llamaindex-rag": 4}
    assert {s.type for s in spans} == {"chain", "tool", "llm", "agent", "retriever", "embedding", "chat_model",
                                       "graph_node", "handoff"}
    unpriced = sorted(t.name for t in traces if not t.cost_usd)
    # every other trace reports usage and has a price (a LlamaIndex tool called alone makes no model call)
    assert unpriced == ["chat error-429", "execute_tool get_weather"]
    assert all(t.total_tokens > 0 for t in traces if t.cost_usd)
    # the summary is this run's, in the store's own figures
    # chat_feedback's end-user thumbs and code checks, each on a trace of this run
    assert sorted((s.name, s.label, s.source, s.user_id, s.comment) for s in scores) == [
        ("complete_answer", "false", "code", None, "finish_reason=length"),
        ("complete_answer", "true", "code", None, None),
        ("complete_answer", "true", "code", None, None),
        ("user_feedback", "false", "human", "maya", "The answer stopped mid-sentence."),
        ("user_feedback", "true", "human", "maya", None),
    ]
    assert {s.trace_id for s in scores} == {t.trace_id for t in traces if t.project == "chat-feedback"}
    # the demo ends with one stored evaluation run over every LLM call, its results written as scores
    assert [r.id for r in runs] == [run.id] and lines[-2].startswith(f"Evaluation run {run.id}: ")
    assert run.scorers == ["length_between", "max_latency", "relevance"]
    llm_spans = {(s.trace_id, s.span_id) for s in spans if s.type == "llm"}
    with_llm = sorted({trace_id for trace_id, _ in llm_spans})  # one item per such trace: its last LLM call
    assert sorted(i.trace_id for i in run.items) == with_llm
    assert {(i.trace_id, i.span_id) for i in run.items} <= llm_spans
    assert lines[-2].split(": ")[1] == f"{len(with_llm)} LLM calls scored; means"
    means = {name: s["mean"] for name, s in run.summary().items()}
    assert lines[-2].endswith("means: " + ", ".join(f"{n} {m:.2f}" for n, m in means.items()))
    assert run.errors == [] and {r.value for r in run.results if r.scorer == "relevance"} - {None} == {0.0, 0.5, 1.0}
    assert sorted((s.name, s.trace_id, s.span_id, s.value) for s in every_score if s.source == "eval") == sorted(
        (r.scorer, r.item.trace_id, r.item.span_id, r.value) for r in run.results if r.value is not None)
    summary = lines[13]
    assert summary.startswith(f"This run added 39 traces, {len(spans)} spans, 5 scores, $")
    assert summary.endswith(f" to {db} (now 39 traces in all)")
    rows = {line.split()[0]: line.split()[1:] for line in lines[14:-3]}
    assert {p: (int(r[0]), r[1], int(r[2]), r[3]) for p, r in rows.items()} == {
        p: (counts[p], "traces", sum(t.total_tokens for t in traces if t.project == p), "tokens") for p in counts}


def test_summary_counts_only_this_runs_traces(tmp_path):
    db = str(tmp_path / "t.db")
    store = TraceStore(db)
    _add_trace(store, "earlier", "app-a", _EARLIER_NS, **{"gen_ai.usage.cost": 5.0})
    since = _EARLIER_NS + 60 * 10**9
    _add_trace(store, "one", "app-a", since, **{"gen_ai.usage.cost": 0.25, "gen_ai.usage.input_tokens": 7,
                                                 "gen_ai.usage.output_tokens": 3})
    _add_trace(store, "two", "app-a", since + 1, **{"gen_ai.usage.cost": 0.5, "gen_ai.usage.input_tokens": 2,
                                                     "gen_ai.usage.output_tokens": 1})
    _add_trace(store, "three", "app-b", since + 2)
    store.close()
    writer = TraceWriter(db)
    writer.write_scores([new_score("helpful", 1, trace_id="a" * 32, created_at=from_ns(_EARLIER_NS)),
                         new_score("helpful", 0, trace_id="b" * 32, created_at=from_ns(since + 3))])
    writer.close()
    assert _summary(db, since).splitlines() == [
        f"This run added 3 traces, 3 spans, 1 scores, $0.75 to {db} (now 4 traces in all)",
        "  app-a                      2 traces     13 tokens $0.75",
        "  app-b                      1 traces      0 tokens unpriced",
    ]


def test_demo_on_a_busy_port_fails_before_running_anything(tmp_path):
    db = tmp_path / "demo.db"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _demo("--port", str(port), "--db", str(db))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"traceglass: port {port} on 127.0.0.1 is already in use; pick another with --port\n"
    assert not db.exists()


def test_fresh_leaves_a_file_that_is_not_a_database_alone(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    done = _demo("--no-ui", "--fresh", "--db", str(notes))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"traceglass: --fresh: {notes} is not an SQLite database; left it alone\n"
    assert notes.read_text() == "my notes\n"
