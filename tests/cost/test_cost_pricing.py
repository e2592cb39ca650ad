"""Price sources and arithmetic: the user table, genai-prices, name resolution, cached tokens."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, types

from traceglass._pricing import (
    Price,
    PriceBook,
    compute_cost,
    load_price_table,
    model_candidates,
)


def _library(usage: Usage, model: str, provider: str):
    calc = calc_price(usage, model, provider_id=provider)
    return round(float(calc.input_price), 12), round(float(calc.output_price), 12), round(float(calc.total_price), 12)


# --- the user table ---------------------------------------------------------------------------
def test_table_entries_become_per_token_prices():
    table = load_price_table({
        "GPT-4o": {"input_per_1k": 0.005, "output_per_1k": 0.015},
        "claude-3-opus": {"input_per_1k": 0.015, "output_per_1k": 0.075, "cached_input_per_1k": 0.0015,
                          "cache_write_per_1k": 0.01875},
        "text-embedding-3-small": {"input_per_1k": 0.00002},
    })
    assert table == {
        "gpt-4o": Price(0.005 / 1000, 0.015 / 1000, None, None, "user"),
        "claude-3-opus": Price(0.015 / 1000, 0.075 / 1000, 0.0015 / 1000, 0.01875 / 1000, "user"),
        "text-embedding-3-small": Price(0.00002 / 1000, None, None, None, "user"),
    }


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (["gpt-4o"], r"prices must be a dict of model -> prices"),
        ({"gpt-4o": 0.005}, r"prices\['gpt-4o'\] must be a dict like"),
        ({"gpt-4o": {"input_per_1K": 0.005}}, r"unknown key\(s\) \['input_per_1K'\]; expected some of"),
        ({"gpt-4o": {"cached_input_per_1k": 0.001}}, r"needs 'input_per_1k' and/or 'output_per_1k'"),
        ({"gpt-4o": {"input_per_1k": -1}}, r"\['input_per_1k'\] must be a non-negative number"),
        ({"gpt-4o": {"input_per_1k": "0.005"}}, r"must be a non-negative number \(USD per 1K tokens\), got '0.005'"),
        ({"gpt-4o": {"input_per_1k": True}}, r"must be a non-negative number"),
        ({"gpt-4o": {"input_per_1k": float("inf")}}, r"must be a non-negative number \(USD per 1K tokens\), got inf"),
        ({"gpt-4o": {"output_per_1k": float("nan")}}, r"\['output_per_1k'\] must be a non-negative number .* got nan"),
        ({"": {"input_per_1k": 1}}, r"model names must be non-empty strings"),
        ("/no/such/prices.json", r"no such price file '/no/such/prices.json'"),
        ("{not json", r"inline JSON is not valid"),
    ],
)
def test_a_bad_table_is_refused_with_a_clear_message(prices, message):
    with pytest.raises(ValueError, match=message):
        load_price_table(prices)


def test_table_from_json_yaml_and_inline_text(tmp_path):
    entry = {"my-model": {"input_per_1k": 0.002, "output_per_1k": 0.004}}
    expected = {"my-model": Price(0.002 / 1000, 0.004 / 1000, None, None, "user")}
    json_file = tmp_path / "prices.json"
    json_file.write_text(json.dumps(entry))
    yaml_file = tmp_path / "prices.yaml"
    yaml_file.write_text("my-model:\n  input_per_1k: 0.002\n  output_per_1k: 0.004\n")
    assert load_price_table(str(json_file)) == expected
    assert load_price_table(json_file) == expected  # a pathlib.Path
    assert load_price_table(str(yaml_file)) == expected
    assert load_price_table(json.dumps(entry)) == expected  # TRACEGLASS_PRICES may hold the JSON itself
    assert load_price_table(None) == {}


def test_a_broken_file_names_itself(tmp_path):
    bad = tmp_path / "prices.yml"
    bad.write_text("my-model: [unclosed\n")
    with pytest.raises(ValueError, match=r"prices.yml' is not valid YAML"):
        load_price_table(str(bad))


# --- name resolution ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "candidates"),
    [
        ("gpt-4o", ("gpt-4o",)),
        ("gpt-4o-2024-08-06", ("gpt-4o-2024-08-06", "gpt-4o")),
        ("openai/gpt-4o-mini-2024-07-18", ("openai/gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", "gpt-4o-mini")),
        ("claude-3-opus-20240229", ("claude-3-opus-20240229", "claude-3-opus")),
        ("claude-3-sonnet@20240229", ("claude-3-sonnet@20240229", "claude-3-sonnet")),
        ("anthropic.claude-3-opus-20240229-v1:0",
         ("anthropic.claude-3-opus-20240229-v1:0", "anthropic.claude-3-opus-20240229", "anthropic.claude-3-opus")),
        ("gpt-4-0613", ("gpt-4-0613", "gpt-4")),
        ("claude-3-opus-latest", ("claude-3-opus-latest", "claude-3-opus")),
        ("openrouter/anthropic/claude-3-opus", ("openrouter/anthropic/claude-3-opus", "claude-3-opus")),  # a router's
        (" GPT-4o ", ("gpt-4o",)),
    ],
)
def test_dated_and_prefixed_names_resolve_to_their_base(model, candidates):
    assert model_candidates(model) == candidates


def test_user_table_wins_over_the_library_and_matches_dated_and_prefixed_names():
    book = PriceBook(load_price_table({"gpt-4o": {"input_per_1k": 1, "output_per_1k": 2}}))
    user = Price(0.001, 0.002, None, None, "user")
    assert book.lookup("openai", "gpt-4o") == user
    assert book.lookup("openai", "gpt-4o-2024-08-06") == user
    assert book.lookup(None, "openai/gpt-4o") == user
    # not in the table: the library answers
    assert book.lookup("openai", "gpt-4o-mini").source == "genai-prices"


def test_provider_qualified_table_keys_apply_only_to_that_provider():
    book = PriceBook(load_price_table({"azure.ai.openai/gpt-4o": {"input_per_1k": 9, "output_per_1k": 9}}),
                     use_library=False)
    assert book.lookup("azure.ai.openai", "gpt-4o") == Price(0.009, 0.009, None, None, "user")
    assert book.lookup("openai", "gpt-4o") is None


def test_library_prices_are_the_libraries_own_rates():
    book = PriceBook()
    price = book.lookup("openai", "gpt-4o-2024-08-06")
    calc = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000),
                      "gpt-4o", provider_id="openai")
    model_price = calc.model_price
    assert price == Price(float(model_price.input_mtok) / 1e6, float(model_price.output_mtok) / 1e6,
                          float(model_price.cache_read_mtok) / 1e6, None, "genai-prices")
    # Provider names of the spec map to the library's ids; prefixes are stripped.
    assert book.lookup("anthropic", "claude-3-opus-20240229").source == "genai-prices"
    assert book.lookup("gcp.gemini", "gemini-1.5-flash") is not None
    assert book.lookup(None, "openai/gpt-4o") == price


def test_lookups_are_cached_and_unknown_models_are_none():
    book = PriceBook()
    first = book.lookup("openai", "gpt-4o")
    assert book.lookup("openai", "gpt-4o") is first
    assert book.lookup("openai", "no-such-model-xyz") is None
    assert book.lookup("nobody", "no-such-model-xyz") is None


# --- arithmetic -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "provider", "tokens"),
    [
        ("gpt-4o", "openai", {"input_tokens": 1200, "output_tokens": 300}),
        ("gpt-4o", "openai", {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000}),
        ("gpt-4o-mini", "openai", {"input_tokens": 5000, "output_tokens": 10, "cache_read_tokens": 4096}),
        ("claude-3-5-sonnet", "anthropic",
         {"input_tokens": 3000, "output_tokens": 200, "cache_read_tokens": 1000, "cache_write_tokens": 500}),
        ("text-embedding-3-small", "openai", {"input_tokens": 800}),
    ],
)
def test_flat_library_prices_match_genai_prices_to_the_picodollar(model, provider, tokens):
    price = PriceBook().lookup(provider, model)
    assert price.library is None  # the fast path
    cost = compute_cost(price, tokens["input_tokens"], tokens.get("output_tokens", 0),
                        tokens.get("cache_read_tokens", 0), tokens.get("cache_write_tokens", 0))
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == _library(Usage(**tokens), model, provider)


def test_tiered_library_prices_are_priced_by_the_library_per_call():
    price = PriceBook().lookup("gcp.gemini", "gemini-1.5-pro")
    assert price.library is not None and price.source == "genai-prices"
    for input_tokens in (1000, 300_000):  # below and above the long-context tier
        cost = compute_cost(price, input_tokens, 100)
        expected = _library(Usage(input_tokens=input_tokens, output_tokens=100), "gemini-1.5-pro", "google")
        assert (cost.input_usd, cost.output_usd, cost.total_usd) == expected
    small, large = compute_cost(price, 1000, 0), compute_cost(price, 300_000, 0)
    assert large.input_usd / 300_000 > small.input_usd / 1000  # the tier really applied


def _tier_rate(rate, input_tokens: int) -> float:
    """The library's cliff model: the highest tier whose start the call's input passes prices every token."""
    for tier in reversed(rate.tiers):
        if input_tokens > tier.start:
            return float(tier.price)
    return float(rate.base)


@pytest.mark.parametrize("input_tokens", [150_000, 200_000, 250_000])  # below, on and above the 200,000-token tier
def test_tiered_library_prices_with_cached_tokens_price_the_cached_share_at_the_calls_tier(input_tokens):
    price = PriceBook().lookup("anthropic", "claude-sonnet-4-5")
    assert price.library is not None
    tokens = {"input_tokens": input_tokens, "output_tokens": 100, "cache_read_tokens": 100_000,
              "cache_write_tokens": 10_000}
    cost = compute_cost(price, input_tokens, 100, 100_000, 10_000)
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == _library(Usage(**tokens), "claude-sonnet-4-5",
                                                                         "anthropic")
    read_rate = price.library[1].prices.cache_read_mtok
    assert read_rate.tiers and read_rate.tiers[0].start == 200_000
    assert cost.cached_input_usd == round(_tier_rate(read_rate, input_tokens) * 100_000 / 1_000_000, 12)
    assert cost.cached_input_usd < cost.input_usd


@pytest.mark.parametrize("input_tokens", [32_000, 100_000, 300_000])  # on the first tier's start, past it, past both
def test_a_cached_share_of_two_tiers_is_priced_at_the_highest_tier_the_input_passes(input_tokens):
    found = PriceBook().lookup("anthropic", "claude-sonnet-4-5")
    provider, model = found.library
    tiered = types.TieredPrices(base=Decimal("0.1"), tiers=[types.Tier(start=32_000, price=Decimal("0.2")),
                                                            types.Tier(start=256_000, price=Decimal("0.4"))])
    model = dataclasses.replace(model, prices=types.ModelPrice(input_mtok=tiered, cache_read_mtok=tiered,
                                                               output_mtok=Decimal("1")))
    price = dataclasses.replace(found, library=(provider, model))
    cost = compute_cost(price, input_tokens, 10, cache_read_tokens=20_000)
    assert cost.cached_input_usd == round(_tier_rate(tiered, input_tokens) * 20_000 / 1_000_000, 12)
    assert cost.input_usd == round(_tier_rate(tiered, input_tokens) * input_tokens / 1_000_000, 12)


def test_dated_library_prices_are_those_of_the_calls_start():
    price = PriceBook().lookup("anthropic", "claude-sonnet-4-6")  # its long-context tier ended on 2026-03-13
    assert price.library is not None
    before = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1e9)
    after = int(datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp() * 1e9)
    usage = Usage(input_tokens=300_000, output_tokens=100)
    for when_ns in (before, after):
        calc = calc_price(usage, "claude-sonnet-4-6", provider_id="anthropic",
                          genai_request_timestamp=datetime.fromtimestamp(when_ns / 1e9, tz=timezone.utc))
        cost = compute_cost(price, 300_000, 100, when_ns=when_ns)
        assert (cost.input_usd, cost.total_usd) == (round(float(calc.input_price), 12),
                                                    round(float(calc.total_price), 12))
    assert compute_cost(price, 300_000, 100, when_ns=before).input_usd == 2 * compute_cost(
        price, 300_000, 100, when_ns=after).input_usd  # $6 against $3 a million


def test_cached_input_is_part_of_input_and_priced_once_at_the_cached_rate():
    price = Price(0.00001, 0.00003, 0.000001, 0.0000125)
    cost = compute_cost(price, 1000, 100, cache_read_tokens=600, cache_write_tokens=200)
    # 200 uncached x 1e-5 + 600 cached x 1e-6 + 200 written x 1.25e-5
    assert cost.cached_input_usd == 0.0006
    assert cost.input_usd == 0.0051
    assert cost.output_usd == 0.003
    assert cost.total_usd == 0.0081


def test_an_input_all_cached_costs_only_the_cached_rate():
    cost = compute_cost(Price(0.00001, 0.00003, 0.000001), 600, 0, cache_read_tokens=600)
    assert (cost.input_usd, cost.cached_input_usd) == (0.0006, 0.0006)  # not 600 uncached on top


def test_a_free_model_is_priced_at_zero_not_left_unpriced():
    table = load_price_table({"llama-local": {"input_per_1k": 0, "output_per_1k": 0.0}})
    assert table["llama-local"] == Price(0.0, 0.0, None, None, "user")
    cost = compute_cost(table["llama-local"], 1000, 100)
    assert (cost.input_usd, cost.output_usd, cost.total_usd) == (0.0, 0.0, 0.0)


def test_without_a_cached_rate_cached_tokens_cost_the_input_rate():
    cost = compute_cost(Price(0.00001, 0.00003), 1000, 0, cache_read_tokens=600)
    assert (cost.input_usd, cost.cached_input_usd, cost.total_usd) == (0.01, 0.006, 0.01)


def test_cache_counts_beyond_input_mean_the_reporter_left_them_out():
    # Anthropic's own shape: input_tokens excludes cache reads; never a negative uncached count.
    cost = compute_cost(Price(0.00001, 0.00003, 0.000001), 100, 0, cache_read_tokens=600)
    assert (cost.input_usd, cost.cached_input_usd) == (0.0016, 0.0006)  # 100 x 1e-5 + 600 x 1e-6


def test_a_missing_direction_is_unknown_not_zero():
    assert compute_cost(Price(0.00001, None), 100, 5) is None
    assert compute_cost(Price(None, 0.00003), 100, 5) is None
    # an embedding price (input only) prices an input-only call
    assert compute_cost(Price(0.00001, None), 100, 0).total_usd == 0.001


def test_a_known_provider_is_searched_alone_an_unknown_one_lets_the_library_guess():
    book = PriceBook()
    # a self-hosted model behind an OpenAI-style endpoint never takes another provider's price
    assert book.lookup("openai", "meta-llama/Llama-3-8b") is None
    assert book.lookup("openai", "claude-3-opus") is None
    assert book.lookup("anthropic", "claude-3-opus").source == "genai-prices"
    # a provider the library has no entry for: the model name decides
    assert book.lookup("ibm.watsonx.ai", "gpt-4o") == book.lookup("openai", "gpt-4o")
    assert book.lookup(None, "claude-3-5-haiku").source == "genai-prices"
