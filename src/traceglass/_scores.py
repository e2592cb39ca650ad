"""The score model: one record of how good a trace or span was, checked once, whoever made it.

A person's thumbs-down, a code check and an LLM judge's verdict are all a :class:`Score`. This
module makes one from user input (:func:`new_score`, which lists every problem at once), and
turns it into the GenAI ``gen_ai.evaluation.result`` event's attributes and back
(:func:`event_attributes`, :func:`from_event`), so the store, the server, the CLI and the OTel
emission all agree on one shape. It does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from traceglass import semconv
from traceglass._unicode import is_valid_unicode

#: Who or what gave a score.
SOURCES = ("human", "api", "llm", "code", "eval")
#: What a score's value is: a number, a yes/no (stored as 1.0/0.0 with label "true"/"false"), a label.
NUMERIC, BOOLEAN, CATEGORICAL = "numeric", "boolean", "categorical"
DATA_TYPES = (NUMERIC, BOOLEAN, CATEGORICAL)

MAX_NAME_LENGTH = 200
MAX_LABEL_LENGTH = 200
MAX_COMMENT_LENGTH = 10_000
MAX_ID_LENGTH = 200
MAX_USER_ID_LENGTH = 1_000
MAX_METADATA_BYTES = 65_536

_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")


class ScoreError(ValueError):
    """A score that cannot be stored; ``problems`` lists every ``(field, message)`` found."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("invalid score: " + "; ".join(f"{name}: {message}" for name, message in self.problems))


@dataclass(frozen=True)
class Score:
    """One score on a trace (``span_id`` None) or on one of its spans.

    ``value`` is a float for numeric and boolean scores (True is 1.0) and None for categorical
    ones, whose value is ``label``; a boolean score's ``label`` is ``"true"`` or ``"false"``.
    """

    id: str
    name: str
    value: float | None
    label: str | None
    data_type: str
    trace_id: str
    span_id: str | None = None
    comment: str | None = None
    source: str = "api"
    user_id: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def created_ns(self) -> int:
        """``created_at`` as Unix ns."""
        return to_ns(self.created_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``created_at`` in ISO 8601)."""
        return {
            "id": self.id, "name": self.name, "value": self.value, "label": self.label,
            "data_type": self.data_type, "trace_id": self.trace_id, "span_id": self.span_id,
            "comment": self.comment, "source": self.source, "user_id": self.user_id,
            "created_at": self.created_at.isoformat(), "metadata": dict(self.metadata),
        }


def to_ns(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp loses the microseconds' last digits.
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).replace(microsecond=(ns % 1_000_000_000) // 1_000)


def new_score(
    name: Any,
    value: Any,
    *,
    trace_id: Any,
    span_id: Any = None,
    comment: Any = None,
    source: Any = "api",
    user_id: Any = None,
    metadata: Any = None,
    id: Any = None,  # noqa: A002 - the public parameter's name
    created_at: datetime | None = None,
) -> Score:
    """A checked :class:`Score`; raises :class:`ScoreError` (a ValueError) listing every problem.

    Ids are normalized to lower-case hex; a missing ``id`` gets a fresh random one.
    """
    problems: list[tuple[str, str]] = []
    name = _text("name", name, MAX_NAME_LENGTH, problems, required=True)
    number, label, data_type = _value(value, problems)
    trace_id = _hex_id("trace_id", trace_id, _TRACE_ID, 32, problems, required=True)
    span_id = _hex_id("span_id", span_id, _SPAN_ID, 16, problems, required=False)
    comment = _text("comment", comment, MAX_COMMENT_LENGTH, problems, strip=False)
    user_id = _text("user_id", user_id, MAX_USER_ID_LENGTH, problems)
    score_id = _text("id", id, MAX_ID_LENGTH, problems)
    if not isinstance(source, str) or source not in SOURCES:
        problems.append(("source", f"must be one of {', '.join(SOURCES)}, got {source!r}"))
    meta = _metadata(metadata, problems)
    if created_at is not None and (not isinstance(created_at, datetime) or created_at.tzinfo is None):
        problems.append(("created_at", "must be a timezone-aware datetime"))
    elif created_at is not None and not _NS_MIN <= to_ns(created_at) <= _NS_MAX:
        # Stored (and sent over OTLP) as 64-bit Unix ns: 1677-09-21 to 2262-04-11.
        problems.append(("created_at", f"must be between 1677 and 2262, got {created_at.isoformat()}"))
    if problems:
        raise ScoreError(problems)
    score = Score(
        id=score_id or uuid.uuid4().hex, name=name, value=number, label=label, data_type=data_type,
        trace_id=trace_id, span_id=span_id, comment=comment, source=source, user_id=user_id,
        created_at=(created_at or datetime.now(timezone.utc)).astimezone(timezone.utc), metadata=meta,
    )
    object.__setattr__(score, "_checked", True)  # not a field: Score(...) and dataclasses.replace() lack it
    return score


def checked(score: Any) -> Score:
    """``score`` as :func:`new_score` would make it, for storing; raises :class:`ScoreError`.

    A Score made by hand (or changed with ``dataclasses.replace``) may hold anything, so it is checked
    whole. One that ``new_score`` made is frozen apart from its metadata (a dict anyone holding the
    score can change), so only the metadata is checked again: half the cost of a write was checking
    scores a second time."""
    if not isinstance(score, Score):
        raise ScoreError([("score", f"must be a Score, got {type(score).__name__}")])
    if type(score) is Score and score.__dict__.get("_checked"):
        problems: list[tuple[str, str]] = []
        _metadata(score.metadata, problems)
        if problems:
            raise ScoreError(problems)
        return score
    if score.data_type == BOOLEAN and score.label in ("true", "false"):
        value: Any = score.label == "true"
    elif score.data_type == CATEGORICAL:
        value = score.label
    else:
        value = score.value
    return new_score(score.name, value, trace_id=score.trace_id, span_id=score.span_id, comment=score.comment,
                     source=score.source, user_id=score.user_id, metadata=score.metadata, id=score.id,
                     created_at=score.created_at)


def check_data_type(score: Score, known: Mapping[str, str]) -> None:
    """Raise :class:`ScoreError` when ``score``'s name already holds values of another data type."""
    existing = known.get(score.name)
    if existing is not None and existing != score.data_type:
        raise ScoreError([("value", f"scores named {score.name!r} are {existing}; got a {score.data_type} value "
                                    f"({score.label if score.value is None else score.value!r})")])


def _value(value: Any, problems: list[tuple[str, str]]) -> tuple[float | None, str | None, str]:
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ("true" if value else "false"), BOOLEAN
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            number = math.inf
        if not math.isfinite(number):
            problems.append(("value", f"must be a finite number, got {value!r}"))
            return None, None, NUMERIC
        return number, None, NUMERIC
    if isinstance(value, str):
        label = value.strip()
        if not label:
            problems.append(("value", "a label must not be empty"))
        elif len(label) > MAX_LABEL_LENGTH:
            problems.append(("value", f"a label must be at most {MAX_LABEL_LENGTH} characters, got {len(label)}"))
        if "\x00" in label:
            problems.append(("value", "a label must not contain NUL characters"))
        if not is_valid_unicode(label):
            problems.append(("value", "a label must be valid Unicode (it holds a lone surrogate)"))
        return None, label, CATEGORICAL
    problems.append(("value", f"must be a number, a bool or a label string, got {type(value).__name__}"))
    return None, None, NUMERIC


def _text(field_name: str, value: Any, limit: int, problems: list[tuple[str, str]], *, required: bool = False,
          strip: bool = True) -> Any:
    if value is None:
        if required:
            problems.append((field_name, "is required"))
        return None
    if not isinstance(value, str):
        problems.append((field_name, f"must be a string, got {type(value).__name__}"))
        return None
    text = value.strip() if strip else value
    if not text.strip():
        if required:
            problems.append((field_name, "must not be empty"))
        return None
    if len(text) > limit:
        problems.append((field_name, f"must be at most {limit} characters, got {len(text)}"))
    if "\x00" in text:
        problems.append((field_name, "must not contain NUL characters"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.append((field_name, "must be valid Unicode (it holds a lone surrogate)"))
    return text


def _hex_id(field_name: str, value: Any, pattern: re.Pattern[str], digits: int, problems: list[tuple[str, str]], *,
            required: bool) -> str | None:
    if value is None:
        if required:
            problems.append((field_name, "is required"))
        return None
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not pattern.fullmatch(text) or not text.strip("0"):
        problems.append((field_name, f"must be {digits} hex digits, not all zero, got {value!r}"))
        return None
    return text


def _metadata(value: Any, problems: list[tuple[str, str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        problems.append(("metadata", "must be a mapping with string keys"))
        return {}
    try:
        text = json.dumps(dict(value), ensure_ascii=False, allow_nan=False, default=str)
    except (TypeError, ValueError) as exc:
        problems.append(("metadata", f"must be JSON-serializable with finite numbers ({exc})"))
        return {}
    except RecursionError:
        problems.append(("metadata", "is nested too deeply"))
        return {}
    if not is_valid_unicode(text):  # SQLite's UTF-8 text and the OTLP encoder refuse lone surrogates
        problems.append(("metadata", "must be valid Unicode (it holds a lone surrogate)"))
        return {}
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        problems.append(("metadata", f"must be at most {MAX_METADATA_BYTES} bytes as JSON"))
        return {}
    return json.loads(text)  # a plain, JSON-shaped copy: what is stored is what is returned


# -- the OTel shape --------------------------------------------------------------------------

def event_attributes(score: Score) -> dict[str, Any]:
    """The ``gen_ai.evaluation.result`` event's attributes for ``score`` (no None values)."""
    attributes: dict[str, Any] = {
        semconv.GEN_AI_EVALUATION_NAME: score.name,
        semconv.SCORE_ID: score.id,
        semconv.SCORE_SOURCE: score.source,
        semconv.SCORE_DATA_TYPE: score.data_type,
    }
    if score.value is not None:
        attributes[semconv.GEN_AI_EVALUATION_SCORE_VALUE] = score.value
    if score.label is not None:
        attributes[semconv.GEN_AI_EVALUATION_SCORE_LABEL] = score.label
    if score.comment is not None:
        attributes[semconv.GEN_AI_EVALUATION_EXPLANATION] = score.comment
    if score.user_id is not None:
        attributes[semconv.USER_ID] = score.user_id
    if score.metadata:
        attributes[semconv.SCORE_METADATA] = json.dumps(score.metadata, ensure_ascii=False)
    return attributes


def from_event(attributes: Mapping[str, Any], *, trace_id: str, span_id: str | None,
               timestamp_ns: int | None) -> Score:
    """The score a ``gen_ai.evaluation.result`` record carries (ours, or any SDK's).

    A record without our id gets one derived from its content, so a retried export of the same
    record updates its score instead of adding a second one. Raises :class:`ScoreError`.
    """
    name = attributes.get(semconv.GEN_AI_EVALUATION_NAME)
    number = attributes.get(semconv.GEN_AI_EVALUATION_SCORE_VALUE)
    label = attributes.get(semconv.GEN_AI_EVALUATION_SCORE_LABEL)
    data_type = attributes.get(semconv.SCORE_DATA_TYPE)
    if data_type == BOOLEAN and label in ("true", "false"):
        value: Any = label == "true"
    elif number is not None and not isinstance(number, bool):
        value = number
    elif label is not None:
        value = label
    else:
        value = number  # a bare bool (another SDK's yes/no) is a boolean score; None is a listed problem
    metadata: Any = attributes.get(semconv.SCORE_METADATA)
    if isinstance(metadata, str):
        # Another SDK's metadata may be any text: what is not a JSON object is kept as text.
        try:
            parsed = json.loads(metadata)
        except (ValueError, RecursionError):
            parsed = None
        metadata = parsed if isinstance(parsed, dict) else {"raw": metadata}
    if not isinstance(timestamp_ns, int) or isinstance(timestamp_ns, bool) or not 0 < timestamp_ns < 2**63:
        timestamp_ns = time.time_ns()  # missing, or beyond what a 64-bit ns time holds
    score_id = attributes.get(semconv.SCORE_ID)
    if score_id is None:
        key = json.dumps([trace_id, span_id, name, number, label, timestamp_ns], default=str)
        score_id = "otel-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return new_score(
        name, value, trace_id=trace_id, span_id=span_id,
        comment=attributes.get(semconv.GEN_AI_EVALUATION_EXPLANATION),
        source=attributes.get(semconv.SCORE_SOURCE, "eval"), user_id=attributes.get(semconv.USER_ID),
        metadata=metadata, id=score_id, created_at=from_ns(timestamp_ns),
    )
