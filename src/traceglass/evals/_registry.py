"""Scorers by name: ``register(name, scorer)`` and ``get_scorer("max_latency:2000")``.

A spec string is a registered name, optionally followed by ``:`` and an argument (the CLI's
``--scorer`` syntax): ``"relevance"``, ``"contains:refund"``, ``"regex:^\\d+$"``,
``"max_latency:2000"``, ``"max_cost:0.01"``, ``"length_between:10:200"``, ``"json_schema:schema.json"``.
The built-ins are always known; ``register`` adds or replaces names, process-wide (online metrics
look names up on their worker thread).
"""

from __future__ import annotations

import json
import threading
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Union

from traceglass.evals import _code, _embedding, _judges
from traceglass.evals._deepeval import DeepEvalScorer, is_deepeval_metric
from traceglass.evals._scorer import Scorer

# A registered entry: a scorer, or a function of the spec's argument (None when absent) giving one.
Entry = Union[Scorer, Callable[[Union[str, None]], Scorer]]


def _argument(name: str, arg: str | None) -> str:
    if arg is None or arg == "":
        raise ValueError(f"scorer {name!r} needs an argument: {name}:VALUE")
    return arg


def _number(name: str, arg: str | None) -> float:
    text = _argument(name, arg)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"scorer {name!r} needs a number, got {text!r}") from None


def _length_between(arg: str | None) -> Scorer:
    text = _argument("length_between", arg)
    parts = text.replace(",", ":").split(":")
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"scorer 'length_between' needs two integers, LO:HI, got {text!r}") from None
    return _code.length_between(lo, hi)


def _json_schema(arg: str | None) -> Scorer:
    text = _argument("json_schema", arg).strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"json_schema: cannot read the schema file {arg!r}: {exc.strerror}") from None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"json_schema: the schema is not JSON: {exc}") from None
    return _code.json_schema(schema)


def _no_argument(scorer: Scorer) -> Callable[[str | None], Scorer]:
    def make(arg: str | None) -> Scorer:
        if arg is not None:
            raise ValueError(f"scorer {scorer.name!r} takes no argument, got {arg!r}")
        return scorer
    return make


_BUILTINS: dict[str, Callable[[str | None], Scorer]] = {
    "exact_match": _no_argument(_code.exact_match),
    "json_valid": _no_argument(_code.json_valid),
    "contains": lambda arg: _code.contains(_argument("contains", arg)),
    "regex": lambda arg: _code.regex(_argument("regex", arg)),
    "json_schema": _json_schema,
    "max_latency": lambda arg: _code.max_latency(_number("max_latency", arg)),
    "max_cost": lambda arg: _code.max_cost(_number("max_cost", arg)),
    "length_between": _length_between,
    "relevance": _no_argument(_judges.relevance),
    "faithfulness": _no_argument(_judges.faithfulness),
    "correctness": _no_argument(_judges.correctness),
    "toxicity": _no_argument(_judges.toxicity),
    "helpfulness": _no_argument(_judges.helpfulness),
    "embedding_similarity": _no_argument(_embedding.embedding_similarity),
}

_lock = threading.Lock()
_registered: dict[str, Entry] = {}


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise ValueError(f"a scorer name must be a non-empty string without ':', got {name!r}")
    return name.strip()


def is_scorer(value: Any) -> bool:
    """Whether ``value`` has a string ``name`` and a callable ``score``."""
    return isinstance(getattr(value, "name", None), str) and callable(getattr(value, "score", None))


def register(name: str, scorer: Entry) -> None:
    """Make ``name`` (and ``name:ARG`` specs) give ``scorer``: a scorer, or a function of the text
    after ``:`` (None when absent) returning one. Replaces an earlier registration or built-in."""
    name = _check_name(name)
    if not is_scorer(scorer) and not callable(scorer):
        raise ValueError(f"register({name!r}, ...) needs a scorer (with .name and .score) or a function "
                         f"returning one, got {type(scorer).__name__}")
    with _lock:
        _registered[name] = scorer


def unregister(name: str) -> bool:
    """Forget a registered name (the built-in of that name, if any, is known again)."""
    with _lock:
        return _registered.pop(name, None) is not None


def scorer_names() -> list[str]:
    """Every name ``get_scorer`` knows: the built-ins and the registered ones."""
    with _lock:
        return sorted({*_BUILTINS, *_registered})


def get_scorer(spec: str | Scorer, *, judge: Any = None, model: str | None = None) -> Scorer:
    """The scorer a spec names (``"relevance"``, ``"max_latency:2000"``), or ``spec`` itself when it
    is a scorer. ``judge``/``model`` give LLM judges and ``embedding_similarity`` their client and
    model (default: ``configure_judge``'s). Raises ValueError for an unknown name or a bad argument."""
    if is_deepeval_metric(spec):  # a deepeval metric given as it is
        scorer: Any = DeepEvalScorer(spec)
    elif is_scorer(spec):
        scorer = spec
    elif isinstance(spec, str):
        name, colon, arg = spec.partition(":")
        name = name.strip()
        with _lock:
            entry = _registered.get(name)
        if entry is None and name in _BUILTINS:
            entry = _BUILTINS[name]
        if entry is None:
            raise ValueError(f"unknown scorer {name!r}; known: {', '.join(scorer_names())}")
        if is_scorer(entry):
            if colon:
                raise ValueError(f"scorer {name!r} takes no argument, got {arg!r}")
            scorer = entry
        else:
            scorer = entry(arg if colon else None)  # type: ignore[operator]
            if not is_scorer(scorer):
                raise ValueError(f"the function registered as {name!r} returned {type(scorer).__name__}, "
                                 "not a scorer")
    else:
        raise ValueError(f"a scorer spec must be a string or a scorer, got {type(spec).__name__}")
    return _with_judge(scorer, judge, model)


def _with_judge(scorer: Any, judge: Any, model: str | None) -> Any:
    """``scorer`` with this client/model, when it takes one and they are given."""
    if judge is None and model is None:
        return scorer
    if not is_dataclass(scorer) or not {"judge", "model"} <= {f.name for f in fields(scorer)}:
        return scorer  # a code scorer (or one of the user's): no judge to set
    options = {key: value for key, value in (("judge", judge), ("model", model)) if value is not None}
    return scorer(**options)


__all__ = ["get_scorer", "is_scorer", "register", "scorer_names", "unregister"]
