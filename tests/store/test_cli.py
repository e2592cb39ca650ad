"""The ``traceglass`` command, run for real against a database filled by the exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ._helpers import BASE_S, make_sdk

from traceglass.cli import main
from traceglass.store._postgres_url import mask


@pytest.fixture
def filled(db_path):
    sdk = make_sdk(db_path)
    ids = [sdk.rag_trace(BASE_S, session="s1", user="ada"),
           sdk.rag_trace(BASE_S + 60, model="gpt-4o", user="bob", error=True)]
    sdk.provider.shutdown()
    return db_path, ids


def run(*args, env=None):
    """``python -m traceglass ARGS`` in a real subprocess."""
    environ = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "traceglass", *args], capture_output=True, text=True,
                          timeout=60, env=environ)


def test_traces_json_and_table(filled):
    db, (first, second) = filled
    result = run("traces", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert [t["trace_id"] for t in page["traces"]] == [second, first]
    assert page["traces"][0]["status"] == "ERROR" and page["next_cursor"] is None
    table = run("traces", "--db", str(db))
    assert table.returncode == 0
    assert first in table.stdout and second in table.stdout and "$0.0012" in table.stdout
    statuses = [line.split("│")[-2].strip() for line in table.stdout.splitlines() if first in line or second in line]
    assert statuses == ["error", "ok"]


def test_traces_filters_and_cursor(filled, capsys):
    db, (first, second) = filled
    assert main(["traces", "--db", str(db), "--json", "--user", "ada"]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)["traces"]] == [first]
    assert main(["--db", str(db), "traces", "--json", "--status", "error", "--model", "gpt-4o"]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)["traces"]] == [second]
    assert main(["traces", "--db", str(db), "--json", "--limit", "1"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [t["trace_id"] for t in page["traces"]] == [second]
    assert main(["traces", "--db", str(db), "--json", "--limit", "1", "--cursor", page["next_cursor"]]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)["traces"]] == [first]
    assert main(["traces", "--db", str(db), "--json", "--since", "2027-01-15T08:00:30Z", "--search", "otel",
                 "--min-cost", "0.001", "--min-latency", "1500", "--type", "llm"]) == 0
    assert [t["trace_id"] for t in json.loads(capsys.readouterr().out)["traces"]] == [second]


def test_show_draws_the_tree_with_bars_tokens_cost_and_errors(filled):
    db, (_, second) = filled
    result = run("show", second, "--db", str(db))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"trace {second}  rag  project=shop  user=bob")
    names = [line.split("│")[0].rstrip() for line in lines if "│" in line]
    assert names == [" rag", "   retrieve", "   generate", "     chat gpt-4o"]
    assert "█" in out and "100→20" in out and "$0.0012" in out
    statuses = [line.split("│")[-1].strip() for line in lines if "│" in line]
    assert statuses == ["ok", "ok", "ok", "error RateLimitError: RateLimitError happened"]
    assert "UNSET" not in out
    assert "4 span(s), 2000.0 ms, tokens 100→20 (120), cost $0.0012, 1 error(s)" in out


def test_show_json(filled, capsys):
    db, (first, _) = filled
    assert main(["show", first, "--db", str(db), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert (trace["trace_id"], trace["total_tokens"], trace["cost_usd"]) == (first, 120, 0.0012)
    assert trace["spans"][0]["name"] == "rag"
    assert [c["name"] for c in trace["spans"][0]["children"]] == ["retrieve", "generate"]


def test_stats(filled, capsys):
    db, _ = filled
    assert main(["stats", "--by", "model", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["group_by"] == "model"
    assert [(r["key"], r["calls"], r["total_tokens"], r["error_rate"]) for r in out["rows"]] == [
        ("gpt-4o", 1, 120, 1.0), ("gpt-4o-mini", 1, 120, 0.0)]
    result = run("stats", "--by", "user", "--db", str(db))
    assert result.returncode == 0 and "stats by user" in result.stdout
    assert "ada" in result.stdout and "bob" in result.stdout and "100.0%" in result.stdout


def test_export_to_stdout_and_to_a_file(filled, tmp_path):
    db, (first, _) = filled
    result = run("export", "--db", str(db))
    assert result.returncode == 0
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 8
    assert "exported 8 span(s)" in result.stderr
    out = tmp_path / "spans.jsonl"
    result = run("export", "--db", str(db), "-o", str(out), "--trace-id", first)
    assert result.returncode == 0 and result.stdout == ""
    assert {json.loads(line)["trace_id"] for line in out.read_text().splitlines()} == {first}


def test_prune(filled, capsys):
    db, _ = filled
    assert main(["prune", "--db", str(db), "--older-than", "1d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted_traces"] == 0  # 2027 is not old yet
    assert main(["prune", "--db", str(db), "--max-size", "1"]) == 0
    assert capsys.readouterr().out.startswith("deleted 2 trace(s)")
    assert main(["prune", "--db", str(db)]) == 2
    assert "prune needs --older-than and/or --max-size" in capsys.readouterr().err


def test_errors_are_one_line_with_proper_exit_codes(filled, tmp_path):
    db, _ = filled
    missing = run("traces", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 1
    assert missing.stderr == f"traceglass: no trace database at {tmp_path / 'nope.db'} (pass --db PATH or set TRACEGLASS_DB)\n"
    assert not (tmp_path / "nope.db").exists()
    unknown = run("show", "ffff", "--db", str(db))
    assert (unknown.returncode, unknown.stderr) == (1, f"traceglass: no trace 'ffff' in {mask(str(db))}\n")
    usage = run("stats", "--by", "colour", "--db", str(db))
    assert usage.returncode == 2 and "invalid choice: 'colour'" in usage.stderr
    bad_time = run("traces", "--since", "whenever", "--db", str(db))
    assert (bad_time.returncode, bad_time.stderr) == (2, "traceglass: since: not a time: 'whenever' (use epoch "
                                                      "seconds, an ISO date/time or an age such as 1h, 7d)\n")
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_text("this is not sqlite" * 100)
    junk = run("traces", "--db", str(not_a_db))
    assert junk.returncode == 1 and junk.stderr.startswith(f"traceglass: cannot read {not_a_db}")
    assert run().returncode == 2


def test_the_default_database_comes_from_traceglass_db(filled):
    db, (first, second) = filled
    result = run("traces", "--json", env={"TRACEGLASS_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert [t["trace_id"] for t in json.loads(result.stdout)["traces"]] == [second, first]


HOSTILE_NAMES = ["docs[/tmp]", "retrieve [v2]", "[link=https://evil.example]click[/link]", "[bold red]loud",
                 "bell\x07 and \x1b[2J clear"]


@pytest.fixture
def hostile(db_path):
    """One trace whose root, children, model, project and user are Rich markup and control codes."""
    sdk = make_sdk(db_path, service="[red]shop[/red]")

    def children(root):
        for i, name in enumerate(HOSTILE_NAMES[1:]):
            sdk.span(name, BASE_S + i, BASE_S + i + 0.5, parent=root,
                     attributes={"gen_ai.request.model": "[bold]gpt[i]", "user.id": "[i]ada"})

    root = sdk.span(HOSTILE_NAMES[0], BASE_S, BASE_S + 5, children=children)
    sdk.provider.shutdown()
    return db_path, format(root.get_span_context().trace_id, "032x")


def test_span_names_and_other_user_data_print_literally_not_as_markup(hostile):
    db, trace_id = hostile
    listed = run("traces", "--db", str(db))
    assert (listed.returncode, listed.stderr) == (0, "")
    (row,) = [line for line in listed.stdout.splitlines() if trace_id in line]
    assert [cell.strip() for cell in row.split("│")[3:5]] == ["docs[/tmp]", "[red]shop[/red]"]
    shown = run("show", trace_id, "--db", str(db))
    assert (shown.returncode, shown.stderr) == (0, "")
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout  # no escape reaches the terminal
    names = [line.split("│")[0].strip() for line in shown.stdout.splitlines() if "│" in line]
    assert names == ["docs[/tmp]", "retrieve [v2]", "[link=https://evil.example]click[/link]", "[bold red]loud",
                     "bell\\x07 and \\x1b[2J clear"]
    models = {line.split("│")[4].strip() for line in shown.stdout.splitlines()[2:] if "│" in line}
    assert models == {"", "[bold]gpt[i]"}
    stats = run("stats", "--by", "model", "--db", str(db))
    assert stats.returncode == 0 and "│ [bold]gpt[i] " in stats.stdout
    users = run("stats", "--by", "user", "--db", str(db))
    assert users.returncode == 0 and "│ [i]ada " in users.stdout


def test_show_takes_a_unique_prefix_and_names_the_count_of_an_ambiguous_one(db_path):
    sdk = make_sdk(db_path)
    ids = [sdk.rag_trace(BASE_S + i) for i in range(40)]
    sdk.provider.shutdown()
    # A one-digit prefix that several of 40 random ids share, and a unique one.
    shared = max("0123456789abcdef", key=lambda c: sum(i.startswith(c) for i in ids))
    count = sum(i.startswith(shared) for i in ids)
    assert count >= 2
    unique = next(p for i in ids for p in (i[:n] for n in range(2, 33))
                  if sum(other.startswith(p) for other in ids) == 1)
    full = next(i for i in ids if i.startswith(unique))
    result = run("show", unique.upper(), "--db", str(db_path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trace_id"] == full
    ambiguous = run("show", shared, "--db", str(db_path))
    assert (ambiguous.returncode, ambiguous.stderr, ambiguous.stdout) == (
        2, f"traceglass: trace id prefix '{shared}' matches {count} traces; give more of the id\n", "")
    for pattern in ("*", "[0-9]", "?"):  # GLOB's wildcards are not a prefix
        wild = run("show", pattern, "--db", str(db_path))
        assert (wild.returncode, wild.stderr) == (1, f"traceglass: no trace '{pattern}' in {mask(str(db_path))}\n")


def test_show_content_prints_prompts_and_completions(db_path):
    sdk = make_sdk(db_path)
    messages = [{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                {"role": "user", "parts": [{"type": "text", "content": "why [is] the sky blue?\nreally?"}]}]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": "Rayleigh scattering."}],
               "finish_reason": "stop"}]

    def children(root):
        sdk.span("chat gpt-4o-mini", BASE_S + 0.1, BASE_S + 0.9, parent=root, attributes={
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps(output)})
        sdk.span("lookup", BASE_S + 0.2, BASE_S + 0.3, parent=root, attributes={
            "traceglass.span.type": "tool", "gen_ai.tool.call.arguments": '{"q": "sky"}',
            "gen_ai.tool.call.result": "blue"})

    root = sdk.span("ask", BASE_S, BASE_S + 1, children=children)
    sdk.provider.shutdown()
    trace_id = format(root.get_span_context().trace_id, "032x")
    plain_run = run("show", trace_id, "--db", str(db_path))
    assert plain_run.returncode == 0 and "Rayleigh" not in plain_run.stdout
    result = run("show", trace_id, "--content", "--db", str(db_path))
    assert result.returncode == 0, result.stderr
    content = result.stdout.split(", tokens –, cost –\n", 1)[1]
    assert content.splitlines() == [
        "", "── chat gpt-4o-mini",
        "gen_ai.input.messages:", "  system: Be brief.", "  user: why [is] the sky blue?", "    really?",
        "gen_ai.output.messages:", "  assistant: Rayleigh scattering.",
        "", "── lookup",
        "gen_ai.tool.call.arguments:", "  {", '    "q": "sky"', "  }",
        "gen_ai.tool.call.result:", "  blue"]


def test_tiny_costs_are_shown_and_unknown_usage_is_a_dash(db_path):
    sdk = make_sdk(db_path)
    ids = []
    for i, cost in enumerate((0.0000004, 0.00000000123, 0.0)):
        ids.append(format(sdk.span(f"chat {i}", BASE_S + i, BASE_S + i + 0.5, attributes={
            "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 1,
            "traceglass.cost.total_usd": cost}).get_span_context().trace_id, "032x"))
    ids.append(format(sdk.span("no usage", BASE_S + 9, BASE_S + 9.5).get_span_context().trace_id, "032x"))
    sdk.provider.shutdown()
    table = run("traces", "--db", str(db_path))
    assert table.returncode == 0
    cells = {line.split("│")[3].strip(): [c.strip() for c in line.split("│")[7:9]]
             for line in table.stdout.splitlines() if any(i in line for i in ids)}
    assert cells == {"chat 0": ["4", "$0.0000004"], "chat 1": ["4", "$0.0000000012"], "chat 2": ["4", "$0"],
                     "no usage": ["–", "–"]}
    shown = run("show", ids[1], "--db", str(db_path))
    assert "$0.0000000012" in shown.stdout and "tokens 3→1 (4), cost $0.0000000012" in shown.stdout
    empty = run("show", ids[3], "--db", str(db_path))
    assert empty.stdout.splitlines()[-1] == "1 span(s), 500.0 ms, tokens –, cost –"
