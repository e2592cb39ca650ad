"""Alert rules: the ``AlertRule`` model, its checks, and the rules file (YAML or TOML) with ``${ENV}``.

Every check names the rule (or notifier) and the field it is about, in one line: a bad rules file
is refused whole by :func:`load_rules` with one :class:`RuleError`, before anything is evaluated.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traceglass._units import parse_duration
from traceglass.alerts._notify import Notifier, make_notifier
from traceglass.store import WindowQuery
from traceglass.store._alert_models import GROUP_KEYS, WHERE_KEYS

# Window metrics: numbers over the model calls (or spans of a type) in a window.
WINDOW_METRICS = ("cost_usd", "tokens", "calls", "error_rate", "latency_p50_ms", "latency_p95_ms",
                  "latency_max_ms")
# Per-trace metrics: one trace's total, checked as traces arrive.
TRACE_METRICS = ("cost_usd", "tokens", "latency_ms", "errors")
SCORE_MEAN, SCORE_COUNT = "score_mean:", "score_count:"
SEVERITIES = ("info", "warning", "critical")
_RULE_KEYS = ("name", "metric", "window", "above", "below", "where", "group_by", "min_calls", "cooldown", "severity",
              "notify", "per_trace", "description")
_FILE_KEYS = ("notifiers", "rules", "dashboard_url", "interval")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TRACE_WINDOW = "1h"  # which traces a per-trace rule looks at when evaluated on a schedule
DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8080/"


class RuleError(ValueError):
    """A rule (or notifier, or the file) is wrong: ``what`` names it, ``field`` the field."""

    def __init__(self, what: str, field_name: str | None, message: str) -> None:
        self.what = what
        self.field = field_name
        where = f"{what}, field {field_name!r}" if field_name else what
        super().__init__(f"{where}: {message}")


def _seconds(what: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RuleError(what, name, f"{value!r} is not a duration (use 15m, 1h, 1d)")
    try:
        seconds = parse_duration(value) if isinstance(value, str) else float(value)
    except ValueError:
        raise RuleError(what, name, f"{value!r} is not a duration (use 15m, 1h, 1d)") from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 366 * 86400:
        raise RuleError(what, name, f"{value!r} must be more than 0 and at most a year")
    return seconds


def _threshold(what: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RuleError(what, name, f"must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class AlertRule:
    """One alert rule; see docs/alerts.md. A bad field raises :class:`RuleError` naming it.

    Window rules (the default) compute ``metric`` over the last ``window`` of model calls (or, with
    ``where={"span_type": ...}``, spans of that type), per ``group_by`` group, and fire when it is
    ``above``/``below`` the threshold with at least ``min_calls`` samples. ``per_trace=True`` rules
    check each trace as it arrives (``cost_usd``, ``tokens``, ``latency_ms``, ``errors``,
    ``score_mean:<name>``). ``cooldown``: how long before a still-firing alert is notified again.
    """

    name: str
    metric: str
    window: str | float | None = None
    above: float | None = None
    below: float | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    group_by: str | None = None
    min_calls: int = 1
    cooldown: str | float | None = None
    severity: str = "warning"
    notify: Sequence[str] = ()
    per_trace: bool = False
    description: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 200:
            raise RuleError(f"rule {self.name!r}", "name", "must be a non-empty text of at most 200 characters")
        what = f"rule {self.name!r}"
        if not isinstance(self.per_trace, bool):
            raise RuleError(what, "per_trace", f"must be true or false, got {self.per_trace!r}")
        self._check_metric(what)
        if (self.above is None) == (self.below is None):
            raise RuleError(what, "above" if self.above is None else "below",
                            "give exactly one threshold: above: or below:")
        threshold = _threshold(what, "above" if self.above is not None else "below",
                               self.above if self.above is not None else self.below)
        window = self.window if self.window is not None else (DEFAULT_TRACE_WINDOW if self.per_trace else None)
        if window is None:
            raise RuleError(what, "window", "missing (a window rule needs one, e.g. 15m, 1h, 1d)")
        window_s = _seconds(what, "window", window)
        if not isinstance(self.where, Mapping):
            raise RuleError(what, "where", f"must be a mapping of filters, got {self.where!r}")
        where: dict[str, str] = {}
        for key, value in self.where.items():
            name = "span_type" if key == "type" else key
            if name not in WHERE_KEYS:
                raise RuleError(what, f"where.{key}", f"unknown filter; use {', '.join(WHERE_KEYS)}")
            if not isinstance(value, str) or not value.strip():
                raise RuleError(what, f"where.{key}", f"must be a non-empty text, got {value!r}")
            where[name] = value
        if self.group_by is not None:
            if self.per_trace:
                raise RuleError(what, "group_by", "a per-trace rule is already one alert per trace")
            if self.group_by not in GROUP_KEYS:
                raise RuleError(what, "group_by", f"must be one of {', '.join(GROUP_KEYS)}, got {self.group_by!r}")
            if self.metric.startswith(("score_", "score:")) and self.group_by == "model":
                raise RuleError(what, "group_by", "score rules group by project, user or session (a trace may "
                                                  "call several models)")
        if isinstance(self.min_calls, bool) or not isinstance(self.min_calls, int) or not 1 <= self.min_calls <= 10**9:
            raise RuleError(what, "min_calls", f"must be a whole number of at least 1, got {self.min_calls!r}")
        if self.per_trace and self.min_calls != 1:
            raise RuleError(what, "min_calls", "a per-trace rule looks at one trace at a time")
        cooldown_s = _seconds(what, "cooldown", self.cooldown) if self.cooldown is not None else None
        if self.severity not in SEVERITIES:
            raise RuleError(what, "severity", f"must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        notify = (self.notify,) if isinstance(self.notify, str) else self.notify
        if not isinstance(notify, Sequence) or not all(isinstance(n, str) and n for n in notify):
            raise RuleError(what, "notify", f"must be a list of notifier names, got {self.notify!r}")
        if self.description is not None and not isinstance(self.description, str):
            raise RuleError(what, "description", f"must be a text, got {self.description!r}")
        object.__setattr__(self, "where", where)
        object.__setattr__(self, "notify", tuple(notify))
        object.__setattr__(self, "_parsed", (threshold, window_s, cooldown_s))

    def _check_metric(self, what: str) -> None:
        metric = self.metric
        if not isinstance(metric, str):
            raise RuleError(what, "metric", f"must be a text, got {metric!r}")
        if metric.startswith(SCORE_MEAN):
            if not metric[len(SCORE_MEAN):].strip():
                raise RuleError(what, "metric", "score_mean: needs a score name, e.g. score_mean:helpfulness")
            return
        if metric.startswith(SCORE_COUNT):
            name, _, label = metric[len(SCORE_COUNT):].partition("=")
            if self.per_trace:
                raise RuleError(what, "metric", "a per-trace rule takes score_mean:<name>, not score_count")
            if not name.strip() or not label.strip():
                raise RuleError(what, "metric", "score_count: needs a name and a label, e.g. "
                                                "score_count:user_feedback=thumbs_down")
            return
        known = TRACE_METRICS if self.per_trace else WINDOW_METRICS
        if metric not in known:
            kind = "per-trace" if self.per_trace else "window"
            raise RuleError(what, "metric", f"unknown {kind} metric {metric!r}; use one of {', '.join(known)}, "
                                            f"{SCORE_MEAN}<name>" + ("" if self.per_trace else f", {SCORE_COUNT}<name>=<label>"))

    # -- parsed values -------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self._parsed[0]  # type: ignore[attr-defined,no-any-return]

    @property
    def condition(self) -> str:
        return "above" if self.above is not None else "below"

    @property
    def window_seconds(self) -> float:
        return self._parsed[1]  # type: ignore[attr-defined,no-any-return]

    @property
    def cooldown_seconds(self) -> float | None:
        return self._parsed[2]  # type: ignore[attr-defined,no-any-return]

    @property
    def window_text(self) -> str:
        window = self.window if self.window is not None else DEFAULT_TRACE_WINDOW
        return window if isinstance(window, str) else f"{window:g}s"

    @property
    def score(self) -> tuple[str, str | None] | None:
        """(score name, label) of a score metric (label None for a mean), else None."""
        if self.metric.startswith(SCORE_MEAN):
            return self.metric[len(SCORE_MEAN):].strip(), None
        if self.metric.startswith(SCORE_COUNT):
            name, _, label = self.metric[len(SCORE_COUNT):].partition("=")
            return name.strip(), label.strip()
        return None

    def breaches(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value > self.threshold if self.above is not None else value < self.threshold

    def window_query(self, until_ns: int) -> WindowQuery:
        """The store query this window rule's numbers come from, for the window ending at ``until_ns``."""
        score = self.score
        return WindowQuery(until_ns - int(self.window_seconds * 1e9), until_ns, tuple(sorted(self.where.items())),
                           self.group_by, self.metric in ("latency_p50_ms", "latency_p95_ms"),
                           score[0] if score else None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "window": self.window_text, self.condition: self.threshold,
                "where": dict(self.where), "group_by": self.group_by, "min_calls": self.min_calls,
                "cooldown": self.cooldown, "severity": self.severity, "notify": list(self.notify),
                "per_trace": self.per_trace}


@dataclass(frozen=True)
class AlertRules:
    """What a rules file holds: the rules, the notifiers by name, the dashboard's address for links,
    and how often ``traceglass ui --alerts`` evaluates the window rules (seconds)."""

    rules: tuple[AlertRule, ...]
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    dashboard_url: str = DEFAULT_DASHBOARD_URL
    interval: float = 60.0

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise RuleError(f"rule {rule.name!r}", "name", "another rule has the same name")
            seen.add(rule.name)
            for name in rule.notify:
                if name not in self.notifiers:
                    raise RuleError(f"rule {rule.name!r}", "notify",
                                    f"no notifier named {name!r} (notifiers: {', '.join(self.notifiers) or 'none'})")

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def _substitute(value: Any, what: str, name: str, environ: Mapping[str, str]) -> Any:
    """``${VAR}`` in every text of ``value`` replaced by the variable's value (never echoed back)."""
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            if match.group(1) not in environ:
                raise RuleError(what, name, f"the environment variable {match.group(1)} is not set")
            return environ[match.group(1)]
        return _ENV.sub(one, value)
    if isinstance(value, Mapping):
        return {key: _substitute(item, what, f"{name}.{key}", environ) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, what, name, environ) for item in value]
    return value


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"rules file {path}", None, f"cannot be read: {exc}") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"rules file {path}", None, f"not valid TOML: {exc}") from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is in the yaml extra
        raise RuleError(f"rules file {path}", None, "YAML needs pyyaml: pip install 'traceglass[yaml]' "
                                                     "(or write the rules in TOML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"rules file {path}", None, f"not valid YAML: {' '.join(str(exc).split())}") from None


def load_rules(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> AlertRules:
    """Read a rules file (``.toml`` as TOML, anything else as YAML); raises :class:`RuleError`."""
    file = Path(path)
    return parse_rules(_read(file), environ=environ, source=f"rules file {file}")


def parse_rules(data: Any, *, environ: Mapping[str, str] | None = None, source: str = "rules") -> AlertRules:
    """Rules and notifiers from the parsed contents of a rules file; raises :class:`RuleError`."""
    env = os.environ if environ is None else environ
    if not isinstance(data, Mapping):
        raise RuleError(source, None, "must be a mapping with 'rules:' (and 'notifiers:')")
    unknown = [key for key in data if key not in _FILE_KEYS]
    if unknown:
        raise RuleError(source, str(unknown[0]), f"unknown key; use {', '.join(_FILE_KEYS)}")
    notifiers: dict[str, Notifier] = {}
    raw_notifiers = data.get("notifiers") or []
    if not isinstance(raw_notifiers, list):
        raise RuleError(source, "notifiers", "must be a list")
    for position, item in enumerate(raw_notifiers, start=1):
        name = item.get("name") if isinstance(item, Mapping) else None
        what = f"notifier {name!r}" if isinstance(name, str) and name else f"notifier #{position}"
        if not isinstance(item, Mapping):
            raise RuleError(what, None, "must be a mapping")
        if not isinstance(name, str) or not name.strip():
            raise RuleError(what, "name", "missing")
        if name in notifiers:
            raise RuleError(what, "name", "another notifier has the same name")
        options = {key: _substitute(value, what, key, env) for key, value in item.items() if key != "name"}
        try:
            notifiers[name] = make_notifier(name, options)
        except RuleError:
            raise
        except ValueError as exc:
            field_name, _, message = str(exc).partition(": ")
            raise RuleError(what, field_name, message) from None
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleError(source, "rules", "must be a non-empty list of rules")
    rules = []
    for position, item in enumerate(raw_rules, start=1):
        name = item.get("name") if isinstance(item, Mapping) else None
        what = f"rule {name!r}" if isinstance(name, str) and name else f"rule #{position}"
        if not isinstance(item, Mapping):
            raise RuleError(what, None, "must be a mapping")
        for key in item:
            if key not in _RULE_KEYS:
                raise RuleError(what, str(key), f"unknown field; use {', '.join(_RULE_KEYS)}")
        if "name" not in item:
            raise RuleError(what, "name", "missing")
        if "metric" not in item:
            raise RuleError(what, "metric", "missing")
        values = {key: _substitute(value, what, key, env) for key, value in item.items()}
        try:
            rules.append(AlertRule(**values))
        except TypeError as exc:  # pragma: no cover - every key is checked above
            raise RuleError(what, None, str(exc)) from None
    dashboard = data.get("dashboard_url", DEFAULT_DASHBOARD_URL)
    if not isinstance(dashboard, str) or not re.match(r"https?://", dashboard):
        raise RuleError(source, "dashboard_url", f"must be an http(s) URL, got {dashboard!r}")
    interval = _seconds(source, "interval", data.get("interval", 60))
    return AlertRules(tuple(rules), notifiers, dashboard if dashboard.endswith("/") else dashboard + "/", interval)
