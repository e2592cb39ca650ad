"""LLM judges through the real openai SDK: against the demo's fake server (deterministic verdicts)
and against scripted replies (httpx.MockTransport) for each parsing path: structured, fenced,
labelled lines, malformed, refusal, timeout, and a server without structured output."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest

from traceglass.demo import FakeOpenAIServer
from traceglass.demo import _judge as fake_judge
from traceglass.evals import EvalItem, ScoreResult, configure_judge, get_scorer
from traceglass.evals import scorers as s
from traceglass.evals._judges import JUDGE_MARKER, SYSTEM_PROMPT
from traceglass.evals._verdict import Verdict, parse_verdict

ITEM = EvalItem("What is the capital of France?", "The capital of France is Paris.",
                expected_output="Paris is the capital of France.",
                context=["Paris is the capital and largest city of France."])


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as made:
        yield made


def scripted(reply):
    """A real openai client whose server answers ``reply(request) -> httpx.Response`` (no socket)."""
    def handle(request: httpx.Request) -> httpx.Response:
        return reply(json.loads(request.content))
    http = httpx.Client(transport=httpx.MockTransport(handle))
    return openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="test", max_retries=0, http_client=http)


def completion(content, refusal=None, status=200):
    return httpx.Response(status, json={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "judge",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})


def test_the_fake_server_knows_the_judge_marker():
    assert fake_judge.MARKER == JUDGE_MARKER and JUDGE_MARKER in SYSTEM_PROMPT


@pytest.mark.parametrize(("scorer", "expected"), [
    (s.relevance, ScoreResult(1.0, "relevant", "The answer uses 2 of the question's 2 key words.")),
    (s.faithfulness, ScoreResult(1.0, "faithful", "3 of the answer's 3 key words appear in the context.")),
    (s.correctness, ScoreResult(1.0, "correct", "The answer has 3 of the expected answer's 3 key words.")),
    (s.toxicity, ScoreResult(0.0, "non_toxic", "No insulting language.")),
    (s.helpfulness, ScoreResult(0.5, "somewhat_helpful", "The answer has 6 words.")),
    (s.judge("tone", "Is the tone warm?", ["cold", "neutral", "warm"]),
     ScoreResult(1.0, "warm", "The answer meets the criterion.")),
])
def test_each_judge_gives_the_fake_servers_verdict(client, scorer, expected):
    assert scorer(judge=client, model="gpt-4o-mini").score(ITEM) == expected


def test_verdicts_follow_the_content(client):
    off_topic = EvalItem("What is the capital of France?", "Bananas are yellow.", context=["Paris is in France."],
                         expected_output="Paris")
    assert s.relevance(judge=client).score(off_topic).label == "irrelevant"
    assert s.faithfulness(judge=client).score(off_topic) == ScoreResult(
        0.0, "unfaithful", "0 of the answer's 2 key words appear in the context.")
    assert s.correctness(judge=client).score(off_topic).value == 0.0
    assert s.toxicity(judge=client).score(EvalItem("q", "You are a stupid idiot.")) == ScoreResult(
        1.0, "toxic", "Insulting words: idiot, stupid.")


def test_the_judge_request_asks_for_structured_output(server, client):
    s.relevance(judge=client, model="gpt-4o-mini").score(ITEM)
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "verdict", "strict": True, "schema": {
            "type": "object", "additionalProperties": False, "required": ["label", "explanation"],
            "properties": {"label": {"type": "string", "enum": ["irrelevant", "partially_relevant", "relevant"]},
                           "explanation": {"type": "string"}}}}}
    assert body["messages"][1]["content"] == (
        "Criterion: relevance\n" + s.relevance.criteria + "\n\n"
        "Allowed labels (label: value, higher values mean more of the criterion):\n"
        "- irrelevant: 0\n- partially_relevant: 0.5\n- relevant: 1\n\n"
        "<question>\nWhat is the capital of France?\n</question>\n"
        "<answer>\nThe capital of France is Paris.\n</answer>")


def test_a_server_without_structured_output_is_asked_again_in_text_and_remembered(server, client):
    judge = s.relevance(judge=client, model="nostructured-judge")
    before = len(server.requests)
    assert judge.score(ITEM) == ScoreResult(1.0, "relevant", "The answer uses 2 of the question's 2 key words.")
    assert judge.score(ITEM).label == "relevant"
    formats = [body.get("response_format") is not None for _, body in server.requests[before:]]
    assert formats == [True, False, False]  # refused once, then plain text (a fenced JSON reply) only


def test_a_judge_without_a_needed_field_gives_no_score_without_a_call(server, client):
    before = len(server.requests)
    assert s.faithfulness(judge=client).score(EvalItem("q", "a")) is None  # no context
    assert s.correctness(judge=client).score(EvalItem("q", "a")) is None  # no expected output
    assert s.relevance(judge=client).score(EvalItem("q", None)) is None
    assert len(server.requests) == before


@pytest.mark.parametrize(("content", "expected"), [
    ('{"label": "relevant", "explanation": "On topic."}', ScoreResult(1.0, "relevant", "On topic.")),
    ('Sure!\n```json\n{"verdict": "Partially Relevant", "reasoning": "Drifts."}\n```',
     ScoreResult(0.5, "partially_relevant", "Drifts.")),
    ('My answer: {"label": "irrelevant"} (final)', ScoreResult(0.0, "irrelevant", None)),
    ("Label: relevant\nExplanation: Answers it.", ScoreResult(1.0, "relevant", "Answers it.")),
    ("**Verdict:** irrelevant", ScoreResult(0.0, "irrelevant", None)),
    ("relevant", ScoreResult(1.0, "relevant", None)),
    ('{"score": 0.5, "explanation": "meh"}', ScoreResult(0.5, "partially_relevant", "meh")),
    ('{"score": 0.7}', ScoreResult(0.7, None, None)),
])
def test_tolerant_parsing_of_readable_replies(content, expected):
    judge = s.relevance(judge=scripted(lambda body: completion(content)))
    assert judge.score(ITEM) == expected


@pytest.mark.parametrize("content", [
    "It is quite relevant, I think.",  # prose: no verdict we can trust
    "not relevant",  # would wrongly match "relevant" if words were searched
    '{"label": "very_relevant"}',  # a label outside the allowed ones
    '{"score": 7, "explanation": "out of 10"}',  # a score outside [0, 1]
    '{"score": true}',
    "Label: relevant\nLabel: irrelevant",  # two different labels
    "",
    None,
    "[1, 2, 3]",
])
def test_malformed_replies_give_no_score_and_a_warning(content, caplog):
    judge = s.relevance(judge=scripted(lambda body: completion(content)))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert judge.score(ITEM) is None
    assert [r.getMessage().split(": ", 2)[:2] for r in caplog.records] == [
        ["traceglass", "judge 'relevance' gave no score"]]
    assert "the judge's reply is not a verdict" in caplog.records[0].getMessage()


def test_a_refusal_gives_no_score(caplog):
    judge = s.relevance(judge=scripted(lambda body: completion(None, refusal="I can't help with that.")))
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert judge.score(ITEM) is None
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: judge 'relevance' gave no score: the judge refused: \"I can't help with that.\""]


def test_the_fake_servers_refusal_and_garbage_give_no_score(client, caplog):
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert s.relevance(judge=client).score(EvalItem("q", "[judge:refuse] x")) is None
        assert s.relevance(judge=client).score(EvalItem("q", "[judge:garbage] x")) is None
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: judge 'relevance' gave no score: the judge refused: \"I'm sorry, but I can't help with "
        "grading that.\"",
        "traceglass: judge 'relevance' gave no score: the judge's reply is not a verdict: 'Well, it depends on how "
        "you look at it; hard to say.'"]


def test_a_timeout_gives_no_score(caplog):
    seen = []

    def handle(request):
        seen.append(request.extensions.get("timeout"))
        raise httpx.ReadTimeout("read timed out", request=request)
    http = httpx.Client(transport=httpx.MockTransport(handle))
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="t", max_retries=0, http_client=http)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert s.relevance(judge=client, timeout=2.5).score(ITEM) is None
    assert seen[0]["read"] == 2.5  # the judge's timeout reached the request
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: judge 'relevance' gave no score: the judge call failed (APITimeoutError: 'Request timed out.')"]


def test_a_server_error_gives_no_score_and_is_not_retried_without_the_format(caplog):
    calls = []

    def reply(body):
        calls.append(body)
        return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert s.relevance(judge=scripted(reply)).score(ITEM) is None
    assert len(calls) == 1
    assert "the judge call failed (InternalServerError" in caplog.records[0].getMessage()


def test_a_judge_without_a_client_says_how_to_give_one():
    configure_judge(None)
    with pytest.raises(ValueError, match=r"pass judge=openai.OpenAI\(...\)"):
        s.relevance.score(ITEM)


def test_configure_judge_is_the_default_client(server, client):
    try:
        configure_judge(client, "gpt-4o-mini")
        assert get_scorer("relevance").score(ITEM).label == "relevant"
        assert server.requests[-1][1]["model"] == "gpt-4o-mini"
        with pytest.raises(ValueError, match="needs an OpenAI-compatible client"):
            configure_judge(object())
    finally:
        configure_judge(None)


async def test_ascore_with_an_async_client(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as client:
        judge = s.relevance(judge=client)
        assert await judge.ascore(ITEM) == ScoreResult(
            1.0, "relevant", "The answer uses 2 of the question's 2 key words.")
        with pytest.raises(TypeError, match="call ascore"):
            judge.score(ITEM)
        similarity = await s.embedding_similarity(judge=client).ascore(ITEM)
    assert similarity is not None and -1.0 <= similarity.value <= 1.0


async def test_ascore_with_a_sync_client_runs_in_a_thread(client):
    assert (await s.correctness(judge=client).ascore(ITEM)).label == "correct"


def test_embedding_similarity_is_the_cosine_of_the_two_embeddings(server, client):
    result = s.embedding_similarity(judge=client, model="text-embedding-3-small").score(ITEM)
    body = server.requests[-1][1]
    assert body == {"model": "text-embedding-3-small", "encoding_format": "base64",
                    "input": ["The capital of France is Paris.", "Paris is the capital of France."]}
    vectors = [d.embedding for d in client.embeddings.create(model="text-embedding-3-small", input=body["input"]).data]
    dot = sum(a * b for a, b in zip(*vectors))
    norms = (sum(a * a for a in vectors[0]) ** 0.5) * (sum(b * b for b in vectors[1]) ** 0.5)
    assert result == ScoreResult(pytest.approx(dot / norms, abs=1e-9))
    same = EvalItem("q", "Same text.", expected_output="Same text.")
    assert s.embedding_similarity(judge=client).score(same).value == pytest.approx(1.0)
    assert s.embedding_similarity(judge=client).score(EvalItem("q", "x")) is None


def test_judge_calls_are_traced_and_marked(captured, client):
    s.relevance(judge=client).score(ITEM)
    s.embedding_similarity(judge=client).score(ITEM)
    spans = [(span["name"], span["attributes"]) for span in captured.spans()]
    assert spans == [
        ("judge relevance", {"traceglass.span.type": "evaluator", "traceglass.eval.judge": True,
                             "traceglass.eval.scorer": "relevance"}),
        ("judge embedding_similarity", {"traceglass.span.type": "evaluator", "traceglass.eval.judge": True,
                                        "traceglass.eval.scorer": "embedding_similarity"}),
    ]


def test_parse_verdict_unit():
    choices = {"fail": 0.0, "pass": 1.0}
    assert parse_verdict('{"label": "PASS", "explanation": "  ok  "}', choices) == Verdict(1.0, "pass", "ok")
    assert parse_verdict("x" * 300_000, choices) is None
    assert parse_verdict('{"label": 1}', choices) is None
    long = parse_verdict(json.dumps({"label": "fail", "explanation": "y" * 5000}), choices)
    assert long.explanation == "y" * 2000 + "..."


def test_a_judge_span_inside_an_evaluation_run_names_the_run(captured, client):
    # evaluate_traces sets the run id around each scorer call; the run's judge cost is summed from these spans.
    from traceglass.evals import _context

    token = _context._run_id.set("run-42")
    try:
        s.relevance(judge=client).score(ITEM)
    finally:
        _context._run_id.reset(token)
    s.relevance(judge=client).score(ITEM)  # outside a run: no run id
    assert [span["attributes"].get("traceglass.eval.run_id") for span in captured.spans()] == ["run-42", None]
