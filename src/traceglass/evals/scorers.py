"""The built-in scorers.

Code scorers (exact, no model call): ``exact_match``, ``contains(text)``, ``regex(pattern)``,
``json_valid``, ``json_schema(schema)``, ``max_latency(ms)``, ``max_cost(usd)``,
``length_between(lo, hi)``. LLM judges (through any OpenAI-compatible client: ``judge=``,
``model=``, or ``traceglass.evals.configure_judge``): ``relevance``, ``faithfulness``,
``correctness``, ``toxicity``, ``helpfulness`` and ``judge(name, criteria, choices)`` for a custom
rubric; ``embedding_similarity``. Each stores its results under its ``name`` (``name=``
overrides it); a ready-made instance called with options gives a changed copy:
``relevance(judge=client, model="gpt-4o-mini")``.
"""

from traceglass.evals._code import (
    Contains,
    ExactMatch,
    JsonSchema,
    JsonValid,
    LengthBetween,
    MaxCost,
    MaxLatency,
    Regex,
    contains,
    exact_match,
    json_schema,
    json_valid,
    length_between,
    max_cost,
    max_latency,
    regex,
)
from traceglass.evals._embedding import EmbeddingSimilarity, embedding_similarity
from traceglass.evals._judges import (
    JudgeNotConfigured,
    LLMJudge,
    correctness,
    faithfulness,
    helpfulness,
    judge,
    relevance,
    toxicity,
)

__all__ = [
    "Contains", "EmbeddingSimilarity", "ExactMatch", "JsonSchema", "JsonValid", "JudgeNotConfigured", "LLMJudge",
    "LengthBetween", "MaxCost", "MaxLatency", "Regex",
    "contains", "correctness", "embedding_similarity", "exact_match", "faithfulness", "helpfulness", "json_schema",
    "json_valid", "judge", "length_between", "max_cost", "max_latency", "regex", "relevance", "toxicity",
]
