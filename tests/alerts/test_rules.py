"""Rules files (YAML and TOML, ${ENV}) and the one clear error a bad one gives, naming the rule and field."""

from __future__ import annotations

import pytest

from traceglass.alerts import AlertRule, LogNotifier, RuleError, WebhookNotifier, load_rules

GOOD_YAML = """
notifiers:
  - name: team
    type: webhook
    url: ${SLACK_WEBHOOK_URL}
    format: slack
    secret: ${HOOK_SECRET}
  - {name: logs, type: log}
rules:
  - name: spend-too-high
    metric: cost_usd
    window: 1h
    above: 5.0
    where: {project: support-bot}
    group_by: user
    min_calls: 10
    cooldown: 6h
    notify: [team, logs]
  - name: pricey-trace
    metric: cost_usd
    per_trace: true
    above: 0.5
    severity: critical
"""


def test_a_yaml_file_with_environment_secrets(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(GOOD_YAML)
    rules = load_rules(path, environ={"SLACK_WEBHOOK_URL": "https://hooks.example/T0/B0/secret", "HOOK_SECRET": "s3"})
    spend, pricey = rules.rules
    assert spend.to_dict() == {"name": "spend-too-high", "metric": "cost_usd", "window": "1h", "above": 5.0,
                               "where": {"project": "support-bot"}, "group_by": "user", "min_calls": 10,
                               "cooldown": "6h", "severity": "warning", "notify": ["team", "logs"], "per_trace": False}
    assert (spend.window_seconds, spend.cooldown_seconds) == (3600, 6 * 3600)
    assert pricey.to_dict()["window"] == "1h" and pricey.severity == "critical" and pricey.per_trace
    team = rules.notifiers["team"]
    assert isinstance(team, WebhookNotifier) and team.url == "https://hooks.example/T0/B0/secret"
    assert team.format == "slack" and isinstance(rules.notifiers["logs"], LogNotifier)
    assert "secret" not in repr(team) and "s3" not in repr(team)  # repr names the host only
    assert (rules.dashboard_url, rules.interval) == ("http://127.0.0.1:8080/", 60)


def test_a_toml_file(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('dashboard_url = "https://tg.example"\ninterval = "30s"\n'
                    '[[rules]]\nname = "slow"\nmetric = "latency_p95_ms"\nwindow = "15m"\nabove = 2000\n')
    rules = load_rules(path, environ={})
    assert [r.name for r in rules] == ["slow"]
    assert (rules.dashboard_url, rules.interval) == ("https://tg.example/", 30)


RULE = {"name": "r", "metric": "cost_usd", "window": "1h", "above": 1}


@pytest.mark.parametrize(("change", "message"), [
    ({"metric": "cost"}, "rule 'r', field 'metric': unknown window metric 'cost'; use one of cost_usd, tokens, calls, "
                         "error_rate, latency_p50_ms, latency_p95_ms, latency_max_ms, score_mean:<name>, "
                         "score_count:<name>=<label>"),
    ({"window": "5x"}, "rule 'r', field 'window': '5x' is not a duration (use 15m, 1h, 1d)"),
    ({"window": None}, "rule 'r', field 'window': missing (a window rule needs one, e.g. 15m, 1h, 1d)"),
    ({"above": None}, "rule 'r', field 'above': give exactly one threshold: above: or below:"),
    ({"below": 3}, "rule 'r', field 'below': give exactly one threshold: above: or below:"),
    ({"above": "lots"}, "rule 'r', field 'above': must be a finite number, got 'lots'"),
    ({"group_by": "planet"}, "rule 'r', field 'group_by': must be one of model, project, user, session, got 'planet'"),
    ({"where": {"color": "red"}}, "rule 'r', field 'where.color': unknown filter; use project, model, user, session, "
                                  "span_type, name"),
    ({"min_calls": 0}, "rule 'r', field 'min_calls': must be a whole number of at least 1, got 0"),
    ({"cooldown": "-1h"}, "rule 'r', field 'cooldown': '-1h' is not a duration (use 15m, 1h, 1d)"),
    ({"severity": "meh"}, "rule 'r', field 'severity': must be one of info, warning, critical, got 'meh'"),
    ({"notify": ["nobody"]}, "rule 'r', field 'notify': no notifier named 'nobody' (notifiers: none)"),
    ({"colour": 1}, "rule 'r', field 'colour': unknown field; use name, metric, window, above, below, where, "
                    "group_by, min_calls, cooldown, severity, notify, per_trace, description"),
    ({"metric": "score_count:feedback"}, "rule 'r', field 'metric': score_count: needs a name and a label, e.g. "
                                         "score_count:user_feedback=thumbs_down"),
    ({"per_trace": True, "group_by": "user"}, "rule 'r', field 'group_by': a per-trace rule is already one alert "
                                              "per trace"),
    ({"metric": "latency_ms"}, "rule 'r', field 'metric': unknown window metric 'latency_ms'; use one of cost_usd, "
                               "tokens, calls, error_rate, latency_p50_ms, latency_p95_ms, latency_max_ms, "
                               "score_mean:<name>, score_count:<name>=<label>"),
])
def test_a_bad_rule_gives_one_error_naming_the_rule_and_field(tmp_path, change, message):
    import yaml

    rule = {key: value for key, value in {**RULE, **change}.items() if value is not None}
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}))
    with pytest.raises(RuleError) as info:
        load_rules(path, environ={})
    assert str(info.value) == message
    assert info.value.what == "rule 'r'"


@pytest.mark.parametrize(("text", "message"), [
    ("rules: [{name: a, metric: calls, window: 1h, above: 1}, {name: a, metric: calls, window: 1h, above: 2}]",
     "rule 'a', field 'name': another rule has the same name"),
    ("rules: [{metric: calls, window: 1h, above: 1}]", "rule #1, field 'name': missing"),
    ("rules: [{name: a, window: 1h, above: 1}]", "rule 'a', field 'metric': missing"),
    ("notifiers: [{name: n, type: webhook, url: '${NOPE}'}]\nrules: [{name: a, metric: calls, window: 1h, above: 1}]",
     "notifier 'n', field 'url': the environment variable NOPE is not set"),
    ("notifiers: [{name: n, type: webhook, url: 'ftp://x'}]\nrules: [{name: a, metric: calls, window: 1h, above: 1}]",
     "notifier 'n', field 'url': must be an http(s) URL"),
    ("notifiers: [{name: n, type: pager}]\nrules: [{name: a, metric: calls, window: 1h, above: 1}]",
     "notifier 'n', field 'type': must be webhook, log or command, got 'pager'"),
    ("notifiers: [{name: n, url: 'http://x', format: xml}]\nrules: [{name: a, metric: calls, window: 1h, above: 1}]",
     "notifier 'n', field 'format': must be one of json, slack, teams, got 'xml'"),
    ("rules: []", "RULES, field 'rules': must be a non-empty list of rules"),
    ("rulez: []", "RULES, field 'rulez': unknown key; use notifiers, rules, dashboard_url, interval"),
    ("rules: [{name: a\n", "RULES: not valid YAML: while parsing a flow mapping"),
])
def test_a_bad_file_gives_one_error(tmp_path, text, message):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(RuleError) as info:
        load_rules(path, environ={})
    expected = message.replace("RULES", f"rules file {path}")
    assert str(info.value).startswith(expected)


def test_a_secret_from_the_environment_is_never_in_an_error(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("notifiers: [{name: n, url: '${HOOK}', format: xml}]\n"
                    "rules: [{name: a, metric: calls, window: 1h, above: 1}]")
    with pytest.raises(RuleError) as info:
        load_rules(path, environ={"HOOK": "https://hooks.example/very-secret-path"})
    assert "very-secret" not in str(info.value)


def test_python_rules_check_the_same_way():
    with pytest.raises(RuleError, match=r"^rule 'x', field 'window': '1 fortnight' is not a duration"):
        AlertRule("x", "calls", window="1 fortnight", above=1)


def test_the_rules_files_in_the_docs_load():
    import re
    from pathlib import Path

    import yaml

    from traceglass.alerts import parse_rules

    root = Path(__file__).resolve().parents[2]
    blocks = [b for doc in ("docs/alerts.md", "README.md")
              for b in re.findall(r"```yaml\n(.*?)```", (root / doc).read_text(), re.S) if "rules:" in b]
    assert len(blocks) == 2
    env = {"SLACK_WEBHOOK_URL": "https://hooks.example/T0", "HOOK_SECRET": "s"}
    assert [[r.name for r in parse_rules(yaml.safe_load(b), environ=env)] for b in blocks] == [
        ["spend-too-high", "pricey-trace"], ["spend-too-high"]]
