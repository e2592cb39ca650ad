"""Settings: explicit argument > ``TRACEGLASS_*`` / ``OTEL_*`` environment > default.

A developer's bad argument raises ``ValueError``; a bad environment value logs a warning and
falls back to the default, so a typo in a deployment never takes the application down.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import Enum
from typing import Any, Callable, Iterable, Mapping

from traceglass._sampling import ENV_FIELDS as _SAMPLING_ENV, ENV_PREFIX as _SAMPLING_PREFIX
from traceglass._sampling import Sampling, parse_content_policies
from traceglass._units import as_seconds, parse_duration, parse_size

logger = logging.getLogger("traceglass")

CAPTURE_CONTENT_ENV = "TRACEGLASS_CAPTURE_CONTENT"
OTEL_CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OTEL_ATTRIBUTE_LIMIT_ENV = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"


class ContentCapture(str, Enum):
    """Where captured prompts, completions and function inputs/outputs go."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (ContentCapture.SPAN_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentCapture.EVENT_ONLY, ContentCapture.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not ContentCapture.NO_CONTENT


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_capture(value: Any) -> ContentCapture:
    """Turn a bool, a ``ContentCapture`` or one of the documented strings into a mode."""
    if isinstance(value, ContentCapture):
        return value
    if isinstance(value, bool):
        return ContentCapture.SPAN_ONLY if value else ContentCapture.NO_CONTENT
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _TRUE:
            return ContentCapture.SPAN_ONLY
        if text.lower() in _FALSE:
            return ContentCapture.NO_CONTENT
        try:
            return ContentCapture(text.upper())
        except ValueError:
            pass
    raise ValueError(
        f"capture_content must be a bool or one of {[m.value for m in ContentCapture]}, got {value!r}"
    )


def _parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _parse_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _parse_positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return number


def _parse_size(value: Any) -> int:
    """Bytes from a positive int or a size such as ``"64MB"``, ``"1GiB"`` (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a number of bytes or a size such as '64MB', got {value!r}")
    return parse_size(value)


def _parse_age(value: Any) -> float:
    """Seconds from ``"30d"``/``"12h"``/a number of seconds (str), a positive number or a timedelta."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, timedelta)):
        raise ValueError(f"expected an age such as '30d', a number of seconds or a timedelta, got {value!r}")
    return as_seconds(value)


def _parse_prices(value: Any) -> Any:
    """A validated price table (model -> ``Price``) from a dict, a JSON/YAML path or inline JSON.

    A path is read here, once: the settings hold the table, not the file name.
    """
    from traceglass._pricing import load_price_table  # lazy: only when prices are given

    return load_price_table(value)


def _parse_positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


# (variable, value) of bad environment values already warned about: settings are built more than
# once per process (configure(), the exporter's retention, a runtime built before configure()), and
# one bad value deserves one warning. A global of the reported-once kind, like the guard's.
_warned_env: set[tuple[str, str]] = set()

# Where a setting's value came from (``Settings.source(name)``).
ARGUMENT = "argument"
ENVIRONMENT = "environment"
DEFAULT = "default"


@dataclass(frozen=True)
class _Option:
    env: str
    parse: Callable[[str], Any]
    # What the warning says happens instead, when the environment value is bad.
    fallback: str = "using the default"


def _opt(default: Any, env: str, parse: Callable[[str], Any], fallback: str = "using the default") -> Any:
    return field(default=default, metadata={"option": _Option(env, parse, fallback)})


@dataclass(frozen=True)
class Settings:
    """Every traceglass option, each naming the environment variable it is read from.

    Built only by :meth:`from_env` (arguments over the environment over the defaults), which
    parses every value into its type: nothing downstream reads a ``TRACEGLASS_*`` variable or
    validates a value again. :meth:`source` says where each value came from.
    """

    service_name: str | None = _opt(None, "TRACEGLASS_SERVICE_NAME", str)
    exporters: tuple[str, ...] | None = _opt(None, "TRACEGLASS_EXPORTERS", _parse_list)
    db_path: str | None = _opt(None, "TRACEGLASS_DB", str)
    # Retention of the SQLite store, parsed: an age in seconds ("30d", seconds or a timedelta
    # given) and a size in bytes ("2GB" or bytes given). None: no limit.
    db_max_age: float | None = _opt(None, "TRACEGLASS_DB_MAX_AGE", _parse_age)
    db_max_size: int | None = _opt(None, "TRACEGLASS_DB_MAX_SIZE", _parse_size)
    # Write the SQLite store from a child process (off the application's GIL); see docs/store.md.
    db_separate_process: bool = _opt(False, "TRACEGLASS_DB_SEPARATE_PROCESS", _parse_bool)
    instrument: tuple[str, ...] | None = _opt(None, "TRACEGLASS_INSTRUMENT", _parse_list)
    # The user's price table, validated (model -> Price); a path or inline JSON given is read once,
    # here. None: genai-prices only. A bad TRACEGLASS_PRICES warns and leaves genai-prices alone.
    prices: Mapping[str, Any] | None = _opt(None, "TRACEGLASS_PRICES", _parse_prices,
                                            "pricing with genai-prices only")
    cost: bool = _opt(True, "TRACEGLASS_COST", _parse_bool)
    metrics: bool = _opt(True, "TRACEGLASS_METRICS", _parse_bool)
    flush_at: int = _opt(512, "TRACEGLASS_FLUSH_AT", _parse_positive_int)
    flush_interval: float = _opt(5.0, "TRACEGLASS_FLUSH_INTERVAL", _parse_positive_float)
    # Bound on the bytes of spans waiting for export (an estimate); past it spans are dropped and counted.
    max_queue_bytes: int = _opt(64 * 1024 * 1024, "TRACEGLASS_MAX_QUEUE_BYTES", _parse_size)
    capture_content: ContentCapture = _opt(ContentCapture.SPAN_ONLY, CAPTURE_CONTENT_ENV, parse_capture)
    max_content_length: int = _opt(16384, "TRACEGLASS_MAX_CONTENT_LENGTH", _parse_positive_int)
    # Ask OpenAI-compatible APIs for a stream's token usage (stream_options.include_usage).
    openai_stream_usage: bool = _opt(True, "TRACEGLASS_OPENAI_STREAM_USAGE", _parse_bool)
    mask: Callable[[Any], Any] | None = None
    # Head sampling and content sampling (docs/sampling.md); from TRACEGLASS_SAMPLING_<FIELD>, one per
    # field of Sampling (a bad one warns and its default stands), or whole from configure(sampling=...).
    sampling: Sampling = Sampling()
    # Exporter name -> content policy ("all", "sampled", "none") for exporters named by the environment
    # (TRACEGLASS_EXPORTERS, or OTEL_TRACES_EXPORTER under opentelemetry-instrument).
    exporter_content: Mapping[str, str] | None = _opt(None, "TRACEGLASS_EXPORTER_CONTENT", parse_content_policies)
    # field name -> ARGUMENT / ENVIRONMENT (absent: DEFAULT); see ``source``.
    _sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source(self, name: str) -> str:
        """Where ``name``'s value came from: ``"argument"``, ``"environment"`` or ``"default"``."""
        if name not in _OPTION_NAMES:
            raise KeyError(f"unknown traceglass option {name!r}")
        return self._sources.get(name, DEFAULT)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, only: Iterable[str] | None = None,
                 **arguments: Any) -> "Settings":
        """Build settings from explicit ``arguments`` (None = not given) over the environment.

        A bad argument raises ``ValueError``; a bad environment value logs a warning and its
        default stands. ``only``: read just these options from the environment (the others keep
        their defaults), for a component that needs a few and must not warn about the rest.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name, value in arguments.items():
            if name not in _OPTION_NAMES:
                raise TypeError(f"unknown traceglass option {name!r}")
            if value is not None:
                values[name] = _validate_argument(name, value)
                sources[name] = ARGUMENT
        wanted = _OPTION_NAMES if only is None else set(only)
        for f in fields(cls):
            option: _Option | None = f.metadata.get("option")
            if f.name in values or option is None or f.name not in wanted:
                continue
            raw = env.get(option.env)
            if raw is None and f.name == "capture_content":
                raw = env.get(OTEL_CAPTURE_CONTENT_ENV)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[f.name] = option.parse(raw)
            except (TypeError, ValueError) as exc:
                if (option.env, raw) not in _warned_env:
                    _warned_env.add((option.env, raw))
                    logger.warning("traceglass: ignoring %s=%r: %s; %s", option.env, raw, exc, option.fallback)
                continue
            sources[f.name] = ENVIRONMENT
        if "sampling" not in values and "sampling" in wanted:
            sampling = _sampling_from_env(env)
            if sampling is not None:
                values["sampling"] = sampling
                sources["sampling"] = ENVIRONMENT
        limit = env.get(OTEL_ATTRIBUTE_LIMIT_ENV) if "max_content_length" in wanted else None
        if limit:
            # Truncate content ourselves below the SDK's own cut, so our JSON stays valid.
            try:
                cut = int(limit)
            except ValueError:
                logger.warning("traceglass: ignoring %s=%r: not an integer", OTEL_ATTRIBUTE_LIMIT_ENV, limit)
            else:
                if cut < values.get("max_content_length", cls.max_content_length):
                    values["max_content_length"] = cut
                    sources["max_content_length"] = ENVIRONMENT
        return cls(**values, _sources=sources)


_OPTION_NAMES = frozenset(f.name for f in fields(Settings) if not f.name.startswith("_"))


def _sampling_from_env(env: Mapping[str, str]) -> Sampling | None:
    """``Sampling`` from its ``TRACEGLASS_SAMPLING_*`` variables (None: none set); a bad one warns."""
    given: dict[str, Any] = {}
    for name, parse in _SAMPLING_ENV.items():
        variable = _SAMPLING_PREFIX + name.upper()
        raw = env.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = parse(raw)
            Sampling(**{name: value})  # checked alone, so one bad variable leaves the others standing
        except (TypeError, ValueError) as exc:
            if (variable, raw) not in _warned_env:
                _warned_env.add((variable, raw))
                logger.warning("traceglass: ignoring %s=%r: %s; using the default", variable, raw, exc)
            continue
        given[name] = value
    return Sampling(**given) if given else None


def _validate_argument(name: str, value: Any) -> Any:
    """A developer's argument, parsed into the field's type; ValueError when it is bad."""
    if name == "capture_content":
        return parse_capture(value)
    if name in ("exporters", "instrument"):
        if isinstance(value, (str, bytes)):
            raise ValueError(f"{name} must be a list, got the string {value!r}")
        return tuple(value)
    if name == "flush_at" and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise ValueError(f"flush_at must be a positive integer, got {value!r}")
    if name == "flush_interval" and (not isinstance(value, (int, float)) or value <= 0):
        raise ValueError(f"flush_interval must be a positive number of seconds, got {value!r}")
    if name == "max_queue_bytes":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"max_queue_bytes must be a number of bytes or a size such as '64MB', got {value!r}")
        return _parse_size(value)
    if name == "db_max_size":
        return _parse_size(value)
    if name == "db_max_age":
        return _parse_age(value)
    if name == "prices":
        return _parse_prices(value)
    if name == "max_content_length" and (not isinstance(value, int) or value <= 0):
        raise ValueError(f"max_content_length must be a positive integer, got {value!r}")
    if name == "db_separate_process" and not isinstance(value, bool):
        raise ValueError(f"db_separate_process must be True or False, got {value!r}")
    if name == "openai_stream_usage" and not isinstance(value, bool):
        raise ValueError(f"openai_stream_usage must be True or False, got {value!r}")
    if name == "mask" and not callable(value):
        raise ValueError(f"mask must be callable, got {value!r}")
    if name == "sampling" and not isinstance(value, Sampling):
        raise ValueError(f"sampling must be a traceglass.Sampling, got {value!r}")
    if name == "exporter_content":
        return parse_content_policies(value) if isinstance(value, str) else dict(value)
    return value
