"""Code scorers: exact, deterministic checks of an item's output and metadata (no model call).

Each is a frozen dataclass whose ``name`` is the score name (``name=`` overrides it); calling an
instance with options returns a changed copy (``exact_match(name="em")``). Each returns a bool
score (True: the check passed) with an explanation when it fails, or None when the item lacks
what the check needs (no output, no expected output, no latency): no score, never a guess.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from traceglass.evals._item import COST_USD, LATENCY_MS, EvalItem
from traceglass.evals._scorer import ScoreResult
from traceglass.evals._text import as_text

_MAX_SHOWN = 80  # characters of a value quoted in an explanation


class _Options:
    """``scorer(name=..., ...)``: a copy with these fields changed."""

    def __call__(self, **options: Any) -> Any:
        return dataclasses.replace(self, **options)  # type: ignore[type-var]


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


def _passed(ok: bool, why_not: str) -> ScoreResult:
    return ScoreResult(ok, explanation=None if ok else why_not)


@dataclass(frozen=True)
class ExactMatch(_Options):
    """The output's text equals the expected output's text exactly."""

    name: str = "exact_match"

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.expected_output is None or item.output is None:
            return None
        output, expected = as_text(item.output), as_text(item.expected_output)
        return _passed(output == expected, f"output {_shown(output)} differs from expected {_shown(expected)}")


@dataclass(frozen=True)
class Contains(_Options):
    """The output's text contains ``text`` (``ignore_case=True``: in any case)."""

    text: str
    name: str = "contains"
    ignore_case: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"contains needs a non-empty text, got {self.text!r}")

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.output is None:
            return None
        output, text = as_text(item.output), self.text
        if self.ignore_case:
            output, text = output.casefold(), text.casefold()
        return _passed(text in output, f"output does not contain {_shown(self.text)}")


@dataclass(frozen=True)
class Regex(_Options):
    """The output's text matches ``pattern`` somewhere (``re.search``)."""

    pattern: str
    name: str = "regex"
    flags: int = 0
    _compiled: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise ValueError(f"regex needs a pattern string, got {self.pattern!r}")
        try:
            compiled = re.compile(self.pattern, self.flags)
        except re.error as exc:
            raise ValueError(f"regex: invalid pattern {self.pattern!r}: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.output is None:
            return None
        return _passed(self._compiled.search(as_text(item.output)) is not None,
                       f"output does not match {_shown(self.pattern)}")


def _parsed_json(output: Any) -> tuple[bool, Any, str]:
    """(valid, value, why not): a string is parsed as JSON; other values must be JSON-encodable."""
    if isinstance(output, (str, bytes, bytearray)):
        try:
            return True, json.loads(output), ""
        except (ValueError, RecursionError) as exc:
            return False, None, f"output is not valid JSON: {str(exc)[:200]}"
    try:
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return False, None, f"output is not JSON-encodable: {str(exc)[:200]}"
    return True, output, ""


@dataclass(frozen=True)
class JsonValid(_Options):
    """The output is valid JSON (a string that parses, or a JSON-encodable value)."""

    name: str = "json_valid"

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.output is None:
            return None
        valid, _, why_not = _parsed_json(item.output)
        return _passed(valid, why_not)


@dataclass(frozen=True)
class JsonSchema(_Options):
    """The output is JSON that validates against ``schema`` (needs the ``jsonschema`` package:
    ``pip install 'traceglass[evals]'``)."""

    schema: dict[str, Any]
    name: str = "json_schema"
    _validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            import jsonschema
        except ImportError:
            raise ImportError("json_schema needs the jsonschema package: pip install 'traceglass[evals]' "
                              "(or pip install jsonschema)") from None
        if not isinstance(self.schema, (dict, bool)):
            raise ValueError(f"json_schema needs a JSON Schema (a dict), got {type(self.schema).__name__}")
        cls = jsonschema.validators.validator_for(self.schema)
        try:
            cls.check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"json_schema: invalid schema: {exc.message}") from None
        object.__setattr__(self, "_validator", cls(self.schema))

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.output is None:
            return None
        valid, value, why_not = _parsed_json(item.output)
        if not valid:
            return ScoreResult(False, explanation=why_not)
        import jsonschema

        try:
            error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        except RecursionError:
            return ScoreResult(False, explanation="output is nested too deeply to validate")
        if error is None:
            return ScoreResult(True)
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return ScoreResult(False, explanation=f"at {where}: {error.message[:300]}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _metadata(item: EvalItem) -> dict[str, Any]:
    return item.metadata if isinstance(item.metadata, dict) else {}


def _limit(label: str, value: Any) -> float:
    number = _number(value)
    if number is None or number < 0:
        raise ValueError(f"{label} must be a non-negative number, got {value!r}")
    return number


@dataclass(frozen=True)
class MaxLatency(_Options):
    """The item's latency (``metadata["latency_ms"]``) is at most ``ms`` milliseconds."""

    ms: float
    name: str = "max_latency"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ms", _limit("max_latency's ms", self.ms))

    def score(self, item: EvalItem) -> ScoreResult | None:
        latency = _number(_metadata(item).get(LATENCY_MS))
        if latency is None:
            return None
        return _passed(latency <= self.ms, f"latency {latency:g} ms is over {self.ms:g} ms")


@dataclass(frozen=True)
class MaxCost(_Options):
    """The item's cost (``metadata["cost_usd"]``) is at most ``usd`` US dollars."""

    usd: float
    name: str = "max_cost"

    def __post_init__(self) -> None:
        object.__setattr__(self, "usd", _limit("max_cost's usd", self.usd))

    def score(self, item: EvalItem) -> ScoreResult | None:
        cost = _number(_metadata(item).get(COST_USD))
        if cost is None:
            return None
        return _passed(cost <= self.usd, f"cost ${cost:g} is over ${self.usd:g}")


@dataclass(frozen=True)
class LengthBetween(_Options):
    """The output's text is ``lo`` to ``hi`` characters long (both included)."""

    lo: int
    hi: int
    name: str = "length_between"

    def __post_init__(self) -> None:
        for label, value in (("lo", self.lo), ("hi", self.hi)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"length_between's {label} must be a non-negative integer, got {value!r}")
        if self.lo > self.hi:
            raise ValueError(f"length_between needs lo <= hi, got {self.lo} > {self.hi}")

    def score(self, item: EvalItem) -> ScoreResult | None:
        if item.output is None:
            return None
        length = len(as_text(item.output))
        return _passed(self.lo <= length <= self.hi,
                       f"output is {length} characters long, not between {self.lo} and {self.hi}")


#: The ready-made instances (``exact_match`` and ``json_valid`` take no argument).
exact_match = ExactMatch()
json_valid = JsonValid()


def contains(text: str, *, name: str = "contains", ignore_case: bool = False) -> Contains:
    """Passes when the output contains ``text``."""
    return Contains(text, name=name, ignore_case=ignore_case)


def regex(pattern: str, *, name: str = "regex", flags: int = 0) -> Regex:
    """Passes when ``pattern`` matches somewhere in the output (``re.search``)."""
    return Regex(pattern, name=name, flags=flags)


def json_schema(schema: dict[str, Any], *, name: str = "json_schema") -> JsonSchema:
    """Passes when the output is JSON valid against ``schema`` (needs ``jsonschema``)."""
    return JsonSchema(schema, name=name)


def max_latency(ms: float, *, name: str = "max_latency") -> MaxLatency:
    """Passes when ``metadata["latency_ms"]`` is at most ``ms``."""
    return MaxLatency(ms, name=name)


def max_cost(usd: float, *, name: str = "max_cost") -> MaxCost:
    """Passes when ``metadata["cost_usd"]`` is at most ``usd``."""
    return MaxCost(usd, name=name)


def length_between(lo: int, hi: int, *, name: str = "length_between") -> LengthBetween:
    """Passes when the output has ``lo`` to ``hi`` characters."""
    return LengthBetween(lo, hi, name=name)


__all__ = [
    "Contains", "ExactMatch", "JsonSchema", "JsonValid", "LengthBetween", "MaxCost", "MaxLatency", "Regex",
    "contains", "exact_match", "json_schema", "json_valid", "length_between", "max_cost", "max_latency", "regex",
]
