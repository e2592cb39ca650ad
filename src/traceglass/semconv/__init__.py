"""Every attribute name and enumerated value traceglass writes or reads.

No other module spells an attribute string: upstream names (``gen_ai.*``, ``server.*``,
``error.*``, ``openai.*``) live in :mod:`traceglass.semconv.gen_ai`, pinned to the
OpenTelemetry semantic conventions v1.41 baseline; traceglass's own names, for what the
spec has no word for, live under ``traceglass.*`` in :mod:`traceglass.semconv.traceglass`.
Names the GenAI working group renamed after v1.41 are chosen by one switch, see
:mod:`traceglass.semconv.latest`.
"""

from traceglass.semconv.gen_ai import *  # noqa: F401,F403
from traceglass.semconv.gen_ai import __all__ as _gen_ai_all
from traceglass.semconv.latest import LatestNames, latest_experimental, names
from traceglass.semconv.span_types import OPERATION_FOR_SPAN_TYPE, SpanType, operation_for
from traceglass.semconv.traceglass import *  # noqa: F401,F403
from traceglass.semconv.traceglass import __all__ as _traceglass_all

__all__ = [
    *_gen_ai_all,
    *_traceglass_all,
    "LatestNames",
    "OPERATION_FOR_SPAN_TYPE",
    "SpanType",
    "latest_experimental",
    "names",
    "operation_for",
]
