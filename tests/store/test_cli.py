"""The ``traceglass`` command, run for real against a database filled by the exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ._helpers import BASE_S, make_sdk

from traceglass.cli import main


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
    assert "ERROR" in table.stdout


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
    assert "ERROR RateLimitError: RateLimitError happened" in out
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
        ("gpt-4o-2024-07-18", 1, 120, 1.0), ("gpt-4o-mini-2024-07-18", 1, 120, 0.0)]
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
    assert (unknown.returncode, unknown.stderr) == (1, f"traceglass: no trace 'ffff' in {db}\n")
    usage = run("stats", "--by", "colour", "--db", str(db))
    assert usage.returncode == 2 and "invalid choice: 'colour'" in usage.stderr
    bad_time = run("traces", "--since", "whenever", "--db", str(db))
    assert bad_time.returncode == 2 and bad_time.stderr.startswith("traceglass: not a time: 'whenever'")
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
