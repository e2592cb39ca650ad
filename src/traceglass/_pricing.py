"""Prices: where a model's price comes from, and the arithmetic that turns tokens into USD.

Sources, highest first: the span's own override (``traceglass.price.*_per_token``, written by
``@trace_llm(cost_per_1k_*)`` and ``@observe(cost_per_*_token)``), the user's table
(``configure(prices=...)`` / ``TRACEGLASS_PRICES``), then the maintained ``genai-prices`` library.
Lookups are cached per (provider, model), so the hot path is a dict hit and a few multiplications.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from traceglass import semconv

logger = logging.getLogger("traceglass")

# Keys of one entry of the user's price table, USD per 1,000 tokens.
INPUT_PER_1K = "input_per_1k"
OUTPUT_PER_1K = "output_per_1k"
CACHED_INPUT_PER_1K = "cached_input_per_1k"
CACHE_WRITE_PER_1K = "cache_write_per_1k"
TABLE_KEYS = (INPUT_PER_1K, OUTPUT_PER_1K, CACHED_INPUT_PER_1K, CACHE_WRITE_PER_1K)

# Costs the library computes (tiered prices) are rounded to a trillionth of a dollar.
_DIGITS = 12
_CACHE_LIMIT = 4096  # distinct (provider, model) pairs remembered; model names are low-cardinality

# gen_ai.provider.name values -> genai-prices provider ids (where they differ or are ambiguous).
_LIBRARY_PROVIDER = {
    semconv.GenAIProvider.AZURE_AI_OPENAI: "azure",
    semconv.GenAIProvider.AZURE_AI_INFERENCE: "azure",
    semconv.GenAIProvider.AWS_BEDROCK: "aws",
    semconv.GenAIProvider.GCP_GEMINI: "google",
    semconv.GenAIProvider.GCP_VERTEX_AI: "google",
    semconv.GenAIProvider.GCP_GEN_AI: "google",
    semconv.GenAIProvider.MISTRAL_AI: "mistral",
    semconv.GenAIProvider.X_AI: "x-ai",
    "moonshot_ai": "moonshotai",
}

# Dated snapshots and version suffixes that name the same price as their base model.
_SUFFIXES = (
    re.compile(r"-v\d+(:\d+)?$"),  # Bedrock: anthropic.claude-3-opus-20240229-v1:0
    re.compile(r"[-@]\d{4}-\d{2}-\d{2}$"),  # gpt-4o-2024-08-06
    re.compile(r"[-@]\d{8}$"),  # claude-3-opus-20240229, Vertex's @20240229
    re.compile(r"-\d{4}$"),  # gpt-4-0613
    re.compile(r"-latest$"),
)


@dataclass(frozen=True)
class Price:
    """USD per token; ``None`` means this source has no price for that direction."""

    input: float | None
    output: float | None
    cached_input: float | None = None  # None: cached input costs the input price
    cache_write: float | None = None  # None: cache writes cost the input price
    source: str = semconv.COST_SOURCE_USER
    # A genai-prices model whose price is tiered or time-dependent: priced by the library per call; an
    # ``input`` or ``output`` beside it is a flat price given on the span, which prices that direction.
    library: tuple[Any, Any] | None = None
    # The four rates in femto-dollars per token, as ints (derived once; see compute_cost).
    scaled: tuple[int | None, int | None, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rate_in = _femto(self.input)
        cached = _femto(self.cached_input)
        write = _femto(self.cache_write)
        scaled = (rate_in, _femto(self.output),
                  cached if cached is not None else (rate_in or 0), write if write is not None else (rate_in or 0))
        object.__setattr__(self, "scaled", scaled)


_FEMTO = 10**15


def _femto(rate: float | None) -> int | None:
    return None if rate is None else round(rate * _FEMTO)


class Cost(NamedTuple):
    """What one model call cost, in USD. ``input_usd`` includes ``cached_input_usd``."""

    input_usd: float
    output_usd: float
    cached_input_usd: float
    total_usd: float
    source: str


# A Cost made in C (a NamedTuple's own __new__ is Python code): compute_cost runs for every priced span.
_cost: Callable[[tuple[float, float, float, float, str]], Cost] = functools.partial(tuple.__new__, Cost)


# --- the user's price table -------------------------------------------------------------------
class PriceTable(dict):  # type: ignore[type-arg]
    """A validated user price table, model (lower case) -> :class:`Price`: what the settings hold."""


def load_price_table(prices: Any) -> PriceTable:
    """Validate ``prices`` (a dict, a JSON/YAML file path, or inline JSON text) into a table.

    Raises ``ValueError`` naming the offending model and key. A table this function returned
    (``Settings.prices``) is returned as it is: validated once, not re-read.
    """
    if isinstance(prices, PriceTable):
        return prices
    if prices is None:
        return PriceTable()
    if isinstance(prices, os.PathLike):
        prices = os.fspath(prices)
    if isinstance(prices, str):
        prices = _read_table_text(prices)
    if not isinstance(prices, Mapping):
        # ValueError, as for every bad configure() argument (see _config).
        raise ValueError(f"prices must be a dict of model -> prices or a JSON/YAML file path, got {prices!r}")  # noqa: TRY004
    table = PriceTable()
    for model, entry in prices.items():
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"prices: model names must be non-empty strings, got {model!r}")
        table[model.strip().lower()] = _entry(model, entry)
    return table


def _read_table_text(text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"prices: inline JSON is not valid: {exc}") from None
    path = os.path.expanduser(stripped)
    if not os.path.isfile(path):
        raise ValueError(f"prices: no such price file {path!r} (expected a JSON or YAML file)")
    with open(path, encoding="utf-8") as handle:
        content = handle.read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml  # optional: only for YAML price files
        except ImportError:  # pragma: no cover - pyyaml is in the test extra
            raise ValueError(f"prices: reading {path!r} needs PyYAML (pip install pyyaml)") from None
        try:
            return yaml.safe_load(content)
        except yaml.YAMLError as exc:
            raise ValueError(f"prices: {path!r} is not valid YAML: {exc}") from None
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise ValueError(f"prices: {path!r} is not valid JSON: {exc}") from None


def _entry(model: str, entry: Any) -> Price:
    if not isinstance(entry, Mapping):
        raise ValueError(f"prices[{model!r}] must be a dict like {{'input_per_1k': 0.005, 'output_per_1k': 0.015}}")  # noqa: TRY004
    unknown = [key for key in entry if key not in TABLE_KEYS]
    if unknown:
        raise ValueError(f"prices[{model!r}]: unknown key(s) {unknown}; expected some of {list(TABLE_KEYS)}")
    if INPUT_PER_1K not in entry and OUTPUT_PER_1K not in entry:
        raise ValueError(f"prices[{model!r}] needs {INPUT_PER_1K!r} and/or {OUTPUT_PER_1K!r}")
    per_token: dict[str, float | None] = {}
    for key in TABLE_KEYS:
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value < math.inf):  # also refuses NaN
            raise ValueError(f"prices[{model!r}][{key!r}] must be a non-negative number (USD per 1K tokens), got {value!r}")
        per_token[key] = None if value is None else float(value) / 1000
    return Price(
        per_token[INPUT_PER_1K], per_token[OUTPUT_PER_1K], per_token[CACHED_INPUT_PER_1K], per_token[CACHE_WRITE_PER_1K]
    )


# --- lookups ----------------------------------------------------------------------------------
def model_candidates(model: str) -> tuple[str, ...]:
    """The names ``model`` may be priced under, most specific first (lower case)."""
    name = model.strip().lower()
    out = [name]
    if "/" in name:  # a provider or router prefix: openai/gpt-4o, models/gemini-1.5-pro
        name = name.rsplit("/", 1)[1]
        out.append(name)
    for suffix in _SUFFIXES:
        shorter = suffix.sub("", name)
        if shorter and shorter != name:
            name = shorter
            out.append(name)
    return tuple(dict.fromkeys(out))


class PriceBook:
    """Finds a model's price in the user's table, then in genai-prices; remembers the answer."""

    def __init__(self, table: Mapping[str, Price] | None = None, *, use_library: bool = True) -> None:
        self._table = dict(table or {})
        self._use_library = use_library
        self._cache: dict[tuple[str | None, str], Price | None] = {}

    def lookup(self, provider: str | None, model: str) -> Price | None:
        """The price of ``model`` at ``provider``, or None when no source knows it."""
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = self._find(provider, model)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = price
        return price

    def _find(self, provider: str | None, model: str) -> Price | None:
        candidates = model_candidates(model)
        if self._table:
            for name in candidates:
                for key in ((f"{provider.lower()}/{name}",) if provider else ()) + (name,):
                    if key in self._table:
                        return self._table[key]
        if self._use_library:
            return _library_price(provider, candidates)
        return None


def _library_price(provider: str | None, candidates: tuple[str, ...]) -> Price | None:
    try:
        from genai_prices import data_snapshot
    except ImportError:  # pragma: no cover - a core dependency, but never break the app
        return None
    snapshot = data_snapshot.get_snapshot()
    provider_id = _LIBRARY_PROVIDER.get(provider, provider) if provider else None
    if provider_id is not None:
        try:
            snapshot.find_provider(None, provider_id, None)
        except LookupError:
            provider_id = None  # a provider the library does not know: let it guess from the model
    # A provider the library knows is searched alone: a self-hosted model behind an OpenAI-style
    # endpoint must stay unpriced rather than take some other provider's list price.
    for name in candidates:
        try:
            found_provider, model = snapshot.find_provider_model(name, None, provider_id, None)
        except LookupError:
            continue
        return _flat_price(found_provider, model)
    return None


def _flat_price(provider: Any, model: Any) -> Price:
    """Per-token floats when the model's price is flat; otherwise a handle for per-call pricing."""
    from genai_prices import types

    if isinstance(model.prices, types.ModelPrice):
        prices = model.prices
        rates = [getattr(prices, key) for key in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")]
        if all(rate is None or not isinstance(rate, types.TieredPrices) for rate in rates):
            per_token = [None if rate is None else float(rate) / 1_000_000 for rate in rates]
            return Price(*per_token, source=semconv.COST_SOURCE_GENAI_PRICES)
    # Tiered (long-context) or conditional (dated, off-peak) prices: the library prices each call.
    return Price(None, None, source=semconv.COST_SOURCE_GENAI_PRICES, library=(provider, model))


# --- arithmetic -------------------------------------------------------------------------------
def compute_cost(
    price: Price,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    *,
    when_ns: int | None = None,
) -> Cost | None:
    """The cost of one call, or None when the price lacks a direction the call used.

    ``input_tokens`` includes cached tokens (the spec says so); each cached token is priced once,
    at the cached rate. A reporter whose cache counts exceed its input count evidently left them
    out (Anthropic's native shape), so its input count is taken as the uncached part.
    """
    cached = cache_read_tokens + cache_write_tokens
    uncached = input_tokens - cached if cached <= input_tokens else input_tokens
    if price.library is not None:
        return _library_cost(price, uncached, output_tokens, cache_read_tokens, cache_write_tokens, when_ns)
    rate_in, rate_out, cached_rate, write_rate = price.scaled
    if (rate_in is None and (uncached or cached)) or (rate_out is None and output_tokens):
        return None
    # Integer femto-dollars, divided once: exact sums, and int / int is correctly rounded, so
    # 1200 tokens at $0.005/1K is exactly the float 0.006 — no float noise, no round() per value.
    cached_f = cache_read_tokens * cached_rate
    input_f = uncached * (rate_in or 0) + cached_f + cache_write_tokens * write_rate
    output_f = output_tokens * (rate_out or 0)
    return _cost((input_f / _FEMTO, output_f / _FEMTO, cached_f / _FEMTO, (input_f + output_f) / _FEMTO, price.source))


def _library_cost(price: Price, uncached: int, output: int, read: int, write: int, when_ns: int | None) -> Cost | None:
    from genai_prices import Usage, types

    provider, model = price.library  # type: ignore[misc]
    when = datetime.fromtimestamp(when_ns / 1e9, tz=timezone.utc) if when_ns else None
    usage = Usage(input_tokens=uncached + read + write, output_tokens=output,
                  cache_read_tokens=read or None, cache_write_tokens=write or None)
    calc = model.calc_price(usage, provider, genai_request_timestamp=when)
    cached_usd = 0.0
    rate = getattr(calc.model_price, "cache_read_mtok", None)
    if read:
        if rate is None:
            rate = calc.model_price.input_mtok
        # Priced as the library prices the call: a tier the call's whole input passes prices every token.
        cached_usd = float(types.calc_unit_price(rate, read, usage.input_tokens, 1_000_000))
    cost = Cost(
        round(float(calc.input_price), _DIGITS),
        round(float(calc.output_price), _DIGITS),
        round(cached_usd, _DIGITS),
        round(float(calc.total_price), _DIGITS),
        price.source,
    )
    if price.input is None and price.output is None:
        return cost
    # A direction priced on the span, at its flat rate (an input price prices the cached tokens too).
    flat = compute_cost(Price(price.input or 0.0, price.output or 0.0, source=price.source),
                        usage.input_tokens, output, read, write)
    if price.input is not None:
        input_usd, cached = flat.input_usd, flat.cached_input_usd
    else:
        input_usd, cached = cost.input_usd, cost.cached_input_usd
    output_usd = flat.output_usd if price.output is not None else cost.output_usd
    return Cost(input_usd, output_usd, cached, round(input_usd + output_usd, _DIGITS), price.source)
