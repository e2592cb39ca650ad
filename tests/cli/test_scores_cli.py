"""``traceglass score`` / ``scores`` / ``show``'s scores, run for real against a database filled by the exporter."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from traceglass.cli import main
from traceglass.store import SCHEMA_VERSION, TraceStore, _schema

from ..store._helpers import BASE_S, make_sdk

UNSTORED = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def filled(tmp_path):
    db = tmp_path / "traces.db"
    sdk = make_sdk(db)
    ids = [sdk.rag_trace(BASE_S, user="ada"), sdk.rag_trace(BASE_S + 60, user="bob")]
    sdk.provider.shutdown()
    return db, ids


def cli(*args: str) -> tuple[int, str, str]:
    """main() in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run(*args: str) -> subprocess.CompletedProcess:
    """``python -m traceglass ARGS`` in a real subprocess, 200 columns wide."""
    return subprocess.run([sys.executable, "-m", "traceglass", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"}, check=False)


def stored(db) -> list[dict]:
    with TraceStore(db, read_only=True) as store:
        return [score.to_dict() for score in store.scores(limit=1000)]


def _without_time(score: dict) -> dict:
    assert score.pop("created_at").endswith("+00:00")
    return score


def _span_ids(db, trace_id: str) -> dict[str, str]:
    with TraceStore(db, read_only=True) as store:
        return {span.name: span.span_id for span in store.get_trace(trace_id).spans}


def test_score_a_trace_by_prefix_then_list_it_as_json(filled):
    db, (first, second) = filled
    code, out, err = cli("score", first[:10], "helpfulness", "0.8", "--comment", "clear and short", "--user", "ada",
                         "--db", str(db), "--json")
    assert (code, err) == (0, "")
    printed = json.loads(out)
    assert _without_time(dict(printed)) == {
        "id": printed["id"], "name": "helpfulness", "value": 0.8, "label": None, "data_type": "numeric",
        "trace_id": first, "span_id": None, "comment": "clear and short", "source": "human", "user_id": "ada",
        "metadata": {}}
    assert stored(db) == [printed]
    code, out, err = cli("scores", "--db", str(db), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"scores": [printed], "next_cursor": None}


@pytest.mark.parametrize(("text", "value", "label", "data_type"), [
    ("true", 1.0, "true", "boolean"),
    ("FALSE", 0.0, "false", "boolean"),
    ("4", 4.0, None, "numeric"),
    ("-0.25", -0.25, None, "numeric"),
    ("1e-3", 0.001, None, "numeric"),
    ("off-topic", None, "off-topic", "categorical"),
    ("very good", None, "very good", "categorical"),
])
def test_value_is_a_number_a_boolean_or_a_label(filled, text, value, label, data_type):
    db, (first, _) = filled
    code, out, err = cli("score", first, "verdict", text, "--db", str(db))
    assert (code, err) == (0, "")
    (score,) = stored(db)
    assert (score["value"], score["label"], score["data_type"]) == (value, label, data_type)
    shown = label if label is not None else format(value, "g")
    assert out == f"stored score {score['id']} on trace {first}: verdict = {shown} (human)\n"


def test_a_span_score_by_span_prefix_with_source_id_and_metadata(filled):
    db, (first, _) = filled
    generate = _span_ids(db, first)["generate"]
    code, out, err = cli("score", first, "faithful", "false", "--span", generate[:6], "--source", "llm",
                         "--id", "judge-1", "--metadata", '{"judge": "gpt-4o", "run": 7}', "--db", str(db))
    assert (code, err) == (0, "")
    assert out == f"stored score judge-1 on trace {first} span {generate}: faithful = false (llm)\n"
    (score,) = stored(db)
    assert (score["id"], score["span_id"], score["source"], score["metadata"]) == (
        "judge-1", generate, "llm", {"judge": "gpt-4o", "run": 7})


def test_the_same_id_again_updates_the_score_instead_of_adding_one(filled):
    db, (first, _) = filled
    assert cli("score", first, "rating", "2", "--id", "r-1", "--db", str(db))[0] == 0
    code, out, err = cli("score", first, "rating", "5", "--id", "r-1", "--comment", "changed my mind",
                         "--db", str(db))
    assert (code, err) == (0, "")
    assert [(s["id"], s["value"], s["comment"]) for s in stored(db)] == [("r-1", 5.0, "changed my mind")]


def test_a_whole_trace_id_not_stored_yet_is_accepted_and_joins_the_trace_when_its_spans_arrive(filled):
    db, _ = filled
    code, out, err = cli("score", UNSTORED.upper(), "user_feedback", "true", "--user", "u-9", "--db", str(db))
    assert code == 0
    assert err == (f"note: no span of trace {UNSTORED} is stored yet; the score joins the trace when its spans "
                   "arrive\n")
    assert [(s["trace_id"], s["label"]) for s in stored(db)] == [(UNSTORED, "true")]
    with TraceStore(db) as store:
        store.upsert_span({"trace_id": UNSTORED, "span_id": "00000000000000aa", "name": "late",
                           "start_ns": BASE_S * 10**9, "end_ns": BASE_S * 10**9 + 10**6})
    code, out, err = cli("show", UNSTORED, "--db", str(db), "--json")
    assert (code, err) == (0, "")
    assert [(s["name"], s["label"], s["user_id"]) for s in json.loads(out)["scores"]] == [
        ("user_feedback", "true", "u-9")]


BAD_SCORES = [
    (["NAN"], "traceglass: invalid score: value: must be a finite number, got nan\n"),
    (["inf"], "traceglass: invalid score: value: must be a finite number, got inf\n"),
    (["1e999"], "traceglass: invalid score: value: must be a finite number, got inf\n"),
    (["  "], "traceglass: invalid score: value: a label must not be empty\n"),
    (["0.5", "--comment", "x" * 10_001],
     "traceglass: invalid score: comment: must be at most 10000 characters, got 10001\n"),
    (["0.5", "--metadata", "[1, 2]"], "traceglass: --metadata: must be a JSON object, got list\n"),
    (["0.5", "--metadata", "{oops"],
     "traceglass: --metadata: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
     "(char 1)\n"),
    (["0.5", "--span", "not-a-span"],
     "traceglass: invalid score: span_id: must be 16 hex digits, not all zero, got 'not-a-span'\n"),
]


@pytest.mark.parametrize(("args", "message"), BAD_SCORES)
def test_bad_input_is_one_line_exit_2_and_nothing_is_stored(filled, args, message):
    db, (first, _) = filled
    code, out, err = cli("score", first, "quality", *args, "--db", str(db))
    assert (code, out, err) == (2, "", message)
    assert stored(db) == []


def test_every_problem_of_a_score_is_named_at_once(filled):
    db, _ = filled
    code, out, err = cli("score", "xyz", "n" * 201, "nan", "--db", str(db))
    assert (code, out) == (2, "")
    assert err == ("traceglass: invalid score: name: must be at most 200 characters, got 201; value: must be a "
                   "finite number, got nan; trace_id: must be 32 hex digits, not all zero, got 'xyz'\n")
    assert stored(db) == []


def test_a_value_of_another_type_than_the_names_scores_is_refused(filled):
    db, (first, second) = filled
    assert cli("score", first, "user_feedback", "true", "--db", str(db))[0] == 0
    code, out, err = cli("score", second, "user_feedback", "great", "--db", str(db))
    assert (code, out) == (2, "")
    assert err == ("traceglass: invalid score: value: scores named 'user_feedback' are boolean; got a categorical "
                   "value ('great')\n")
    assert [s["trace_id"] for s in stored(db)] == [first]


def test_unknown_and_ambiguous_ids(filled, tmp_path):
    db, (first, _) = filled
    assert cli("score", "fff", "q", "1", "--db", str(db)) == (
        1, "", f"traceglass: no trace 'fff' in {db} (a trace not stored yet needs its whole 32-digit id)\n")
    assert cli("score", first, "q", "1", "--span", "abc", "--db", str(db)) == (
        1, "", f"traceglass: no span 'abc' in trace {first}\n")
    with TraceStore(db) as store:  # a second trace sharing the first one's first digit
        store.upsert_span({"trace_id": first[0] + "f" * 31, "span_id": "00000000000000bb", "name": "twin",
                           "start_ns": BASE_S * 10**9, "end_ns": BASE_S * 10**9 + 10**6})
    code, out, err = cli("score", first[0], "q", "1", "--db", str(db))
    assert (code, out) == (2, "")
    assert err.startswith(f"traceglass: trace id prefix '{first[0]}' matches ") and err.endswith(
        " traces; give more of the id\n")
    missing = tmp_path / "none.db"
    assert cli("score", first, "q", "1", "--db", str(missing)) == (
        1, "", f"traceglass: no trace database at {missing} (pass --db PATH or set TRACEGLASS_DB)\n")
    assert not missing.exists()
    assert stored(db) == []


def test_score_without_its_three_arguments_is_a_usage_error(filled):
    db, (first, _) = filled
    assert cli("score", first, "q", "--db", str(db)) == (
        2, "", "traceglass: score needs TRACE_ID NAME VALUE (missing VALUE), or --delete ID\n")


def test_delete_a_score(filled):
    db, (first, _) = filled
    assert cli("score", first, "q", "1", "--id", "s-1", "--db", str(db))[0] == 0
    assert cli("score", "--delete", "s-1", "x", "--db", str(db)) == (
        2, "", "traceglass: --delete takes only the score's id, not TRACE_ID NAME VALUE\n")
    assert cli("score", "--delete", "s-1", "--db", str(db)) == (0, "deleted score s-1\n", "")
    assert stored(db) == []
    assert cli("score", "--delete", "s-1", "--db", str(db)) == (1, "", f"traceglass: no score 's-1' in {db}\n")


def test_scores_filters_and_pages(filled):
    db, (first, second) = filled
    for args in ([first, "helpfulness", "0.5", "--source", "llm"], [second, "helpfulness", "1"],
                 [second, "user_feedback", "false", "--user", "bob"]):
        assert cli("score", *args, "--db", str(db))[0] == 0

    def listed(*options: str) -> list[tuple[str, str]]:
        code, out, err = cli("scores", "--db", str(db), "--json", *options)
        assert (code, err) == (0, ""), err
        return [(s["trace_id"], s["name"]) for s in json.loads(out)["scores"]]

    everything = listed()
    assert sorted(everything) == sorted([(first, "helpfulness"), (second, "helpfulness"), (second, "user_feedback")])
    assert listed("--name", "helpfulness") == [s for s in everything if s[1] == "helpfulness"]
    assert listed("--source", "llm") == [(first, "helpfulness")]
    assert sorted(listed("--trace-id", second[:8])) == [(second, "helpfulness"), (second, "user_feedback")]
    assert listed("--since", "1h") == everything  # made just now
    assert listed("--until", "2001-01-01") == []
    code, out, _ = cli("scores", "--db", str(db), "--json", "--limit", "2")
    page = json.loads(out)
    assert len(page["scores"]) == 2 and page["next_cursor"]
    assert listed("--limit", "2", "--cursor", page["next_cursor"]) == everything[2:]


def test_scores_table_prints_user_data_literally(filled):
    db, (first, _) = filled
    generate = _span_ids(db, first)["generate"]
    assert cli("score", first, "[bold]tone", "[red]rude", "--span", generate, "--comment",
               "said \x1b[2J [link=https://evil.example]x[/link]\nsecond line", "--user", "[i]ada", "--id", "t-1",
               "--db", str(db))[0] == 0
    listed = run("scores", "--db", str(db))
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "\x1b" not in listed.stdout
    (row,) = [line for line in listed.stdout.splitlines() if first[:16] in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[1:] == [first[:16], generate, "[bold]tone", "[red]rude", "human", "[i]ada",
                         "said \\x1b[2J [link=https://evil.example]x[/link]…", "t-1"]
    assert listed.stdout.splitlines()[0].rstrip() == "scores (newest first)"


def test_show_lists_the_traces_scores_with_who_and_where(filled):
    db, (first, _) = filled
    generate = _span_ids(db, first)["generate"]
    assert cli("score", first, "user_feedback", "false", "--comment", "missed the point", "--user", "ada",
               "--id", "fb-1", "--db", str(db))[0] == 0
    assert cli("score", first, "relevance", "0.75", "--span", generate, "--source", "llm", "--id", "rel-1",
               "--db", str(db))[0] == 0
    shown = run("show", first, "--db", str(db))
    assert (shown.returncode, shown.stderr) == (0, "")
    lines = [line.rstrip() for line in shown.stdout.splitlines()]
    start = lines.index("scores (2)")
    assert [cell.strip() for cell in lines[start + 1].split("┃")] == [
        "on", "name", "value", "source", "user", "comment", "created (UTC)", "id"]
    rows = [[cell.strip() for cell in line.split("│")] for line in lines[start + 1:] if "│" in line]
    assert [row[:6] + row[7:] for row in rows] == [
        ["trace", "user_feedback", "false", "human", "ada", "missed the point", "fb-1"],
        [f"generate {generate}", "relevance", "0.75", "llm", "", "", "rel-1"],
    ]
    code, out, _ = cli("show", first, "--db", str(db), "--json")
    trace = json.loads(out)
    assert sorted(s["id"] for s in trace["scores"]) == ["fb-1", "rel-1"]


def test_show_without_scores_prints_no_scores_section(filled):
    db, (first, _) = filled
    shown = run("show", first, "--db", str(db))
    assert shown.returncode == 0 and "scores" not in shown.stdout


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_scores_is_a_reader_it_never_changes_the_file(filled, tmp_path):
    db, (first, _) = filled
    assert cli("score", first, "q", "1", "--db", str(db))[0] == 0
    with TraceStore(db):
        pass  # checkpointed and closed: the file alone holds everything
    before = _fingerprint(db)
    listed = run("scores", "--db", str(db), "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["scores"]) == 1
    assert _fingerprint(db) == before
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = _fingerprint(other), sorted(p.name for p in tmp_path.iterdir())
    refused = run("scores", "--db", str(other))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (f"traceglass: {other} is not a traceglass database (it holds another application's "
                              "tables)\n")
    assert (_fingerprint(other), sorted(p.name for p in tmp_path.iterdir())) == before
    older = tmp_path / "older.db"  # the schema before scores: a reader must not migrate it
    conn = sqlite3.connect(older, isolation_level=None)
    for version in range(1, SCHEMA_VERSION):
        _schema.MIGRATIONS[version](conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    before = _fingerprint(older)
    refused = run("scores", "--db", str(older))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.startswith(f"traceglass: {older} has schema version {SCHEMA_VERSION - 1}, older than ")
    assert _fingerprint(older) == before


def test_traces_gets_a_scores_column_only_when_a_trace_on_the_page_has_scores(filled):
    db, (first, second) = filled
    plain_table = run("traces", "--db", str(db))
    assert plain_table.returncode == 0 and "scores" not in plain_table.stdout
    for args in ([first, "helpfulness", "0.5"], [first, "helpfulness", "1"], [first, "tone", "rude"],
                 [first, "tone", "kind"], [first, "tone", "kind"]):
        assert cli("score", *args, "--db", str(db))[0] == 0
    listed = run("traces", "--db", str(db))
    assert (listed.returncode, listed.stderr) == (0, "")
    lines = listed.stdout.splitlines()
    header = next(line for line in lines if "trace id" in line)
    assert [cell.strip() for cell in header.split("┃")][-2] == "scores"
    at = next(i for i, line in enumerate(lines) if first in line)
    own = [lines[at]] + [line for line in lines[at + 1:at + 4] if line.startswith("│ ") and line[2] == " "]
    cell = " ".join(line.split("│")[-2].strip() for line in own)
    assert cell.split() == ["helpfulness", "0.75", "(2)", "tone", "kind×2,", "rude×1"]
    (row,) = [line for line in lines if second in line]
    assert row.split("│")[-2].strip() == ""
    filtered = run("traces", "--db", str(db), "--json", "--score-name", "helpfulness", "--min-score", "0.9")
    assert [t["trace_id"] for t in json.loads(filtered.stdout)["traces"]] == [first]
