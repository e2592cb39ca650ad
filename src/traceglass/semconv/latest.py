"""The one switch between the v1.41 baseline and names the GenAI group changed later.

``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (the opt-in word the GenAI
instrumentations use) selects the newer names; without it, the v1.41 names are written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
OPT_IN_VALUE = "gen_ai_latest_experimental"


@dataclass(frozen=True)
class LatestNames:
    """Attribute names that differ between the v1.41 baseline and the latest experimental spec."""

    cache_creation_input_tokens: str
    # Total cost in USD. No released spec has one. Baseline: ``gen_ai.usage.cost``, the key
    # OpenLIT writes and Langfuse's OTLP ingestion reads, so the most tools already look there.
    # Latest: ``gen_ai.usage.cost.amount`` (+ currency/source) from the open proposal
    # semantic-conventions-genai#443.
    cost_total: str
    cost_currency: str | None
    cost_source: str | None


BASELINE = LatestNames(
    cache_creation_input_tokens="gen_ai.usage.cache_creation.input_tokens",
    cost_total="gen_ai.usage.cost",
    cost_currency=None,
    cost_source=None,
)
LATEST = LatestNames(
    cache_creation_input_tokens="gen_ai.usage.cache_write.input_tokens",
    cost_total="gen_ai.usage.cost.amount",
    cost_currency="gen_ai.usage.cost.currency",
    cost_source="gen_ai.usage.cost.source",
)


def latest_experimental(environ: dict[str, str] | None = None) -> bool:
    """True when the environment opts in to the latest experimental GenAI names."""
    value = (os.environ if environ is None else environ).get(OPT_IN_ENV, "")
    return OPT_IN_VALUE in {part.strip() for part in value.split(",")}


def names(environ: dict[str, str] | None = None) -> LatestNames:
    """The names in force for this process (read from the environment on each call)."""
    return LATEST if latest_experimental(environ) else BASELINE
