"""A judge's reply -> its verdict, or None: structured JSON first, then tolerant fallbacks.

Models answer in many shapes: the bare JSON object asked for, JSON in a code fence or after a
sentence, ``Label: relevant`` lines, a lone label. Each is accepted when it names exactly one of
the allowed labels (or, with no label, gives a score in [0, 1]); anything else is no verdict, so a
judge that answered garbage is never turned into a made-up score.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

MAX_EXPLANATION = 2_000
_MAX_REPLY = 200_000  # a longer reply is not a verdict (and not worth scanning)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL | re.IGNORECASE)
_LABEL_LINE = re.compile(r"^\W*(?:label|verdict|choice|rating)\W*[:=]\s*[\"'`*]*([\w\- ]+?)[\"'`*.]*\s*$",
                         re.IGNORECASE | re.MULTILINE)
_EXPLANATION_LINE = re.compile(r"^\W*(?:explanation|reason|reasoning|rationale)\W*[:=]\s*(.+)$",
                               re.IGNORECASE | re.MULTILINE)
_LABEL_KEYS = ("label", "verdict", "choice", "rating", "answer")
_EXPLANATION_KEYS = ("explanation", "reason", "reasoning", "rationale")


@dataclass(frozen=True)
class Verdict:
    value: float
    label: str | None
    explanation: str | None


def normalize_label(text: str) -> str:
    """``"Partially Relevant"`` -> ``"partially_relevant"``: how labels are compared."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def parse_verdict(reply: Any, choices: Mapping[str, float]) -> Verdict | None:
    """The verdict in ``reply`` (the judge's text) given the allowed ``choices`` (label -> value)."""
    if not isinstance(reply, str) or not reply.strip() or len(reply) > _MAX_REPLY:
        return None
    labels = {normalize_label(label): (label, value) for label, value in choices.items()}
    found = _json_object(reply)
    if found is not None:
        return _from_object(found, labels)
    label_lines = {normalize_label(m) for m in _LABEL_LINE.findall(reply)}
    if len(label_lines) == 1:
        key = label_lines.pop()
        if key in labels:
            explanation = _EXPLANATION_LINE.search(reply)
            return _verdict(labels[key], explanation.group(1) if explanation else None)
        return None
    bare = normalize_label(reply.strip().strip("\"'`*.!"))
    if bare in labels:
        return _verdict(labels[bare], None)
    return None


def _json_object(reply: str) -> dict[str, Any] | None:
    """The JSON object the reply is, or holds in a code fence, or starts somewhere inside."""
    candidates = [reply.strip()]
    candidates += _FENCE.findall(reply)
    start = reply.find("{")
    end = reply.rfind("}")
    if 0 <= start < end:
        candidates.append(reply[start:end + 1])
    for text in candidates:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _from_object(found: dict[str, Any], labels: dict[str, tuple[str, float]]) -> Verdict | None:
    explanation = next((found[k] for k in _EXPLANATION_KEYS if isinstance(found.get(k), str)), None)
    raw_label = next((found[k] for k in _LABEL_KEYS if k in found), None)
    if raw_label is not None:
        if not isinstance(raw_label, str) or normalize_label(raw_label) not in labels:
            return None  # a label outside the allowed ones: not a verdict we can map
        return _verdict(labels[normalize_label(raw_label)], explanation)
    score = found.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0 <= score <= 1:
        return None
    exact = [label for label, value in labels.values() if value == score]
    return Verdict(float(score), exact[0] if len(exact) == 1 else None, _explanation(explanation))


def _verdict(choice: tuple[str, float], explanation: Any) -> Verdict:
    return Verdict(float(choice[1]), choice[0], _explanation(explanation))


def _explanation(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    return text if len(text) <= MAX_EXPLANATION else text[:MAX_EXPLANATION] + "..."


__all__ = ["MAX_EXPLANATION", "Verdict", "normalize_label", "parse_verdict"]
