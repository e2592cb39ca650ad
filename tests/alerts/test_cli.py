"""``traceglass alerts check`` exit codes (0 nothing fires, 1 something fires, 2 bad rules file) and output,
and ``traceglass alerts history``."""

from __future__ import annotations

import json
import time

from traceglass.cli import main
from traceglass.store import TraceStore


def _spend(db, cost: float, user: str = "alice") -> None:
    with TraceStore(db) as store:  # now-ish: the command evaluates at the current time
        start = time.time_ns() - 60 * 10**9
        count = store.count()["traces"] + 1
        store.upsert_span({"trace_id": f"{count:032x}", "span_id": f"{count:016x}", "name": "chat",
                           "start_ns": start, "end_ns": start + 10**8, "model": "gpt-4o-mini", "cost_usd": cost,
                           "input_tokens": 5, "output_tokens": 5, "user": user})


def _rules(tmp_path, text: str):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    return str(path)


RULES = "rules:\n  - {name: spend, metric: cost_usd, window: 1h, above: 1.0, group_by: user}\n"


def test_check_exits_0_when_nothing_fires_then_1_when_something_does(tmp_path, capsys):
    db, rules = str(tmp_path / "t.db"), _rules(tmp_path, RULES)
    _spend(db, 0.5)
    assert main(["alerts", "check", "--rules", rules, "--db", db]) == 0
    assert capsys.readouterr().out == "nothing fires (1 rule checked)\n"
    _spend(db, 0.75)
    assert main(["alerts", "check", "--rules", rules, "--db", db]) == 1
    assert capsys.readouterr().out == ("FIRING    [warning] spend: user=alice cost_usd = 1.25 (above 1) over 1h  "
                                       "(notified: none)\n")
    # Still firing: still exit 1, not notified again.
    assert main(["alerts", "check", "--rules", rules, "--db", db, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["rules"], out["resolved"]) == (1, [])
    [firing] = out["firing"]
    assert {k: firing[k] for k in ("rule", "state", "group", "value", "notified", "id", "delivery")} == {
        "rule": "spend", "state": "firing", "group": {"user": "alice"}, "value": 1.25, "notified": False, "id": None,
        "delivery": None}


def test_history_lists_what_fired(tmp_path, capsys):
    db, rules = str(tmp_path / "t.db"), _rules(tmp_path, RULES)
    _spend(db, 2.0, user="bob")
    assert main(["alerts", "check", "--rules", rules, "--db", db]) == 1
    capsys.readouterr()
    assert main(["alerts", "history", "--db", db, "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert (record["rule"], record["state"], record["group"], record["delivery"], record["attempts"]) == (
        "spend", "firing", {"user": "bob"}, "none", 0)
    assert main(["alerts", "history", "--db", db]) == 0
    line = capsys.readouterr().out
    assert line.endswith("  FIRING    [warning] spend: user=bob cost_usd = 2 (above 1) over 1h  [none]\n")


def test_a_bad_rules_file_exits_2_with_one_line(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    rules = _rules(tmp_path, "rules:\n  - {name: spend, metric: cost_usd, window: soon, above: 1}\n")
    assert main(["alerts", "check", "--rules", rules, "--db", db]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "", "traceglass: rule 'spend', field 'window': 'soon' is not a duration (use 15m, 1h, 1d)\n")
    assert main(["alerts", "check", "--rules", str(tmp_path / "missing.yaml"), "--db", db]) == 2
    assert capsys.readouterr().err.startswith(f"traceglass: rules file {tmp_path / 'missing.yaml'}: cannot be read: ")


def test_a_missing_database_exits_2(tmp_path, capsys):
    rules = _rules(tmp_path, RULES)
    assert main(["alerts", "check", "--rules", rules, "--db", str(tmp_path / "none.db")]) == 2
    assert capsys.readouterr().err == (f"traceglass: no trace database at {tmp_path / 'none.db'} "
                                       "(pass --db PATH or set TRACEGLASS_DB)\n")


def test_ui_refuses_a_bad_rules_file_before_serving(tmp_path, capsys):
    import socket

    rules = _rules(tmp_path, "rules:\n  - {name: slow, metric: latency_p95_ms, window: 1h}\n")
    with socket.socket() as busy:  # were the file not checked first, the taken port would be the complaint
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["ui", "--alerts", rules, "--db", str(tmp_path / "t.db"), "--port", port]) == 2
    assert capsys.readouterr().err == ("traceglass: rule 'slow', field 'above': give exactly one threshold: "
                                       "above: or below:\n")
