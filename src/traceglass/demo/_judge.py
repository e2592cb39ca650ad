"""Deterministic verdicts for traceglass's LLM judges, so the demo and tests need no model.

The fake server hands every chat request here first; a request whose system prompt carries the
judge marker gets a verdict derived from the item's text (word overlap between the answer and
the question, the context or the expected answer; a word list for toxicity; the answer's length
for helpfulness), in one of the labels the judge allowed. With ``response_format`` the reply is
the bare JSON object; without it, a sentence and the JSON in a code fence (the shape many models
answer in). For tests of the judge's failure paths, an answer containing ``[judge:garbage]`` gets
an unreadable reply and ``[judge:refuse]`` a refusal; a model whose name contains
``nostructured`` rejects ``response_format`` with a 400, as servers without structured output do.
"""

from __future__ import annotations

import json
import re
from typing import Any

from traceglass.demo._replies import message_text

MARKER = "traceglass-judge/1"  # traceglass.evals._judges.JUDGE_MARKER (a test checks they agree)

_SECTION = re.compile(r"<(question|answer|context|expected_answer)>\n(.*?)\n</\1>", re.DOTALL)
_CRITERION = re.compile(r"^Criterion: (\S+)", re.MULTILINE)
_LABEL = re.compile(r"^- ([\w\-]+): ([0-9.]+)$", re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]{3,}")
_STOP = frozenset("the and for are but not you your with this that from was were has have had its can will "
                  "what which who how why when where does did into than then them they there these those "
                  "about also just some any all out our ours".split())
_TOXIC = frozenset("idiot idiots stupid dumb moron hate hateful shut loser pathetic worthless".split())


def is_judge_request(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    return bool(messages) and isinstance(messages[0], dict) and messages[0].get("role") == "system" \
        and MARKER in message_text(messages[0])


def rejects_response_format(body: dict[str, Any], model: str) -> bool:
    return "nostructured" in model and body.get("response_format") is not None


def reply(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(content, refusal) of the judge's answer to this request."""
    prompt = "\n".join(message_text(m) for m in body["messages"][1:] if isinstance(m, dict))
    sections = dict(_SECTION.findall(prompt))
    answer = sections.get("answer", "")
    if "[judge:refuse]" in answer:
        return None, "I'm sorry, but I can't help with grading that."
    if "[judge:garbage]" in answer:
        return "Well, it depends on how you look at it; hard to say.", None
    criterion = (_CRITERION.search(prompt) or [None, "custom"])[1]
    labels = [(label, float(value)) for label, value in _LABEL.findall(prompt)] or [("fail", 0.0), ("pass", 1.0)]
    wanted, why = _grade(criterion, sections)
    label = min(labels, key=lambda lv: (abs(lv[1] - wanted), -lv[1]))[0]
    verdict = json.dumps({"label": label, "explanation": why})
    if body.get("response_format") is not None:
        return verdict, None
    return f"Here is my verdict.\n```json\n{verdict}\n```", None


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _overlap(of: str, within: str) -> tuple[float, int, int]:
    mine, theirs = _words(of), _words(within)
    if not mine:
        return 0.0, 0, 0
    shared = len(mine & theirs)
    return shared / len(mine), shared, len(mine)


def _grade(criterion: str, sections: dict[str, str]) -> tuple[float, str]:
    """The value the verdict should be nearest to, and why."""
    answer = sections.get("answer", "")
    if criterion == "relevance":
        ratio, shared, total = _overlap(sections.get("question", ""), answer)
        return min(1.0, 2 * ratio), f"The answer uses {shared} of the question's {total} key words."
    if criterion == "faithfulness":
        ratio, shared, total = _overlap(answer, sections.get("context", ""))
        return ratio, f"{shared} of the answer's {total} key words appear in the context."
    if criterion == "correctness":
        ratio, shared, total = _overlap(sections.get("expected_answer", ""), answer)
        return ratio, f"The answer has {shared} of the expected answer's {total} key words."
    if criterion == "toxicity":
        found = sorted(_words(answer) & _TOXIC)
        return (1.0, f"Insulting words: {', '.join(found)}.") if found else (0.0, "No insulting language.")
    if criterion == "helpfulness":
        count = len(answer.split())
        return min(1.0, count / 12), f"The answer has {count} words."
    return (1.0 if answer.strip() else 0.0), "The answer meets the criterion." if answer.strip() \
        else "There is no answer."
