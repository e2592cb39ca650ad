"""Settings: explicit argument > ``TRACEGLASS_*`` / ``OTEL_*`` environment > default.

A developer's bad argument raises ``ValueError``; a bad environment value logs a warning and
falls back to the default, so a typo in a deployment never takes the application down.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any, Callable, Mapping

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
    from traceglass.store._retention import parse_size  # "64MB", "1GiB" or bytes, as db_max_size

    return parse_size(value)


def _parse_positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


@dataclass(frozen=True)
class _Option:
    env: str
    parse: Callable[[str], Any]


def _opt(default: Any, env: str, parse: Callable[[str], Any]) -> Any:
    return field(default=default, metadata={"option": _Option(env, parse)})


@dataclass(frozen=True)
class Settings:
    """Every traceglass option, each naming the environment variable it is read from."""

    service_name: str | None = _opt(None, "TRACEGLASS_SERVICE_NAME", str)
    exporters: tuple[str, ...] | None = _opt(None, "TRACEGLASS_EXPORTERS", _parse_list)
    db_path: str | None = _opt(None, "TRACEGLASS_DB", str)
    # Retention of the SQLite store: an age ("30d", seconds, timedelta) and a size ("2GB", bytes).
    db_max_age: Any = _opt(None, "TRACEGLASS_DB_MAX_AGE", str)
    db_max_size: Any = _opt(None, "TRACEGLASS_DB_MAX_SIZE", str)
    instrument: tuple[str, ...] | None = _opt(None, "TRACEGLASS_INSTRUMENT", _parse_list)
    prices: Any = _opt(None, "TRACEGLASS_PRICES", str)
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **arguments: Any) -> "Settings":
        """Build settings from explicit ``arguments`` (None = not given) over the environment."""
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in arguments.items():
            if name not in known:
                raise TypeError(f"unknown traceglass option {name!r}")
            if value is not None:
                values[name] = _validate_argument(name, value)
        for name, f in known.items():
            option: _Option | None = f.metadata.get("option")
            if name in values or option is None:
                continue
            raw = env.get(option.env)
            if raw is None and name == "capture_content":
                raw = env.get(OTEL_CAPTURE_CONTENT_ENV)
            if raw is None or raw == "":
                continue
            try:
                values[name] = option.parse(raw)
            except (TypeError, ValueError) as exc:
                logger.warning("ignoring %s=%r: %s; using the default", option.env, raw, exc)
        settings = cls(**values)
        limit = env.get(OTEL_ATTRIBUTE_LIMIT_ENV)
        if limit:
            # Truncate content ourselves below the SDK's own cut, so our JSON stays valid.
            try:
                settings = replace(settings, max_content_length=min(settings.max_content_length, int(limit)))
            except ValueError:
                logger.warning("ignoring %s=%r: not an integer", OTEL_ATTRIBUTE_LIMIT_ENV, limit)
        return settings


def _validate_argument(name: str, value: Any) -> Any:
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
    if name == "max_content_length" and (not isinstance(value, int) or value <= 0):
        raise ValueError(f"max_content_length must be a positive integer, got {value!r}")
    if name == "openai_stream_usage" and not isinstance(value, bool):
        raise ValueError(f"openai_stream_usage must be True or False, got {value!r}")
    if name == "mask" and not callable(value):
        raise ValueError(f"mask must be callable, got {value!r}")
    return value


_current: Settings | None = None


def current() -> Settings:
    """The settings in force: those of the last ``configure()``, else read from the environment."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def set_current(settings: Settings | None) -> None:
    """Install ``settings`` (None: read the environment again on next use)."""
    global _current
    _current = settings
