"""Alerts: rules on cost, latency, errors, tokens and scores over the local store, with notifications.

    from traceglass.alerts import load_rules, check
    rules = load_rules("alerts.yaml")           # YAML or TOML; ${ENV} for secrets; RuleError when wrong
    for event in check(rules):                  # evaluate once, notify what changed, persist the state
        print(event.state, event.message)

Or from cron: ``traceglass alerts check --rules alerts.yaml`` (exit 1 when something fires), and
continuously in the dashboard: ``traceglass ui --alerts alerts.yaml``. See docs/alerts.md.
"""

from traceglass.alerts._engine import AlertEngine, AlertEvent, check
from traceglass.alerts._notify import (
    CommandNotifier,
    Delivery,
    Dispatcher,
    LogNotifier,
    Notifier,
    WebhookNotifier,
    payload,
    sign,
)
from traceglass.alerts._rules import AlertRule, AlertRules, RuleError, load_rules, parse_rules

__all__ = [
    "AlertEngine",
    "AlertEvent",
    "AlertRule",
    "AlertRules",
    "CommandNotifier",
    "Delivery",
    "Dispatcher",
    "LogNotifier",
    "Notifier",
    "RuleError",
    "WebhookNotifier",
    "check",
    "load_rules",
    "parse_rules",
    "payload",
    "sign",
]
