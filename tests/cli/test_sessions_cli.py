"""``traceglass sessions`` (a table, or one session as a transcript) and ``traceglass users`` (issue 19),
run as real subprocesses over a real SQLite file: exact output lines, JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from traceglass.store import TraceStore

BASE_NS = 1_800_000_000 * 10**9  # 2027-01-15T08:00:00Z


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traceglass", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"}, check=False)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.db"
    with TraceStore(path) as store:
        for n, (session, user, question, answer, status) in enumerate([
                ("s-a", "ann", "Hi?", "Hello!", "OK"), ("s-a", "ann", "Price?", "Ten euros.", "OK"),
                ("s-[b]", "bob", "Broken?", "Sorry.", "ERROR")]):
            store.upsert_span({"trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}", "name": "turn",
                               "start_ns": BASE_NS + n * 10**9, "end_ns": BASE_NS + n * 10**9 + 5 * 10**8,
                               "session": session, "user": user, "input": {"question": question}, "output": answer,
                               "status": status, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001})
        store.add_score("user_feedback", True, trace_id=f"{1:032x}")
    return path


def test_sessions_table_lists_the_latest_active_first(db):
    result = run("sessions", "--db", str(db))
    assert (result.returncode, result.stderr) == (0, "")
    lines = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in line.strip("│").split("│")] for line in lines] == [
        ["s-[b]", "bob", "1", "2027-01-15 08:00:02", "2027-01-15 08:00:02", "15", "$0.001", "1", ""],
        ["s-a", "ann", "2", "2027-01-15 08:00:00", "2027-01-15 08:00:01", "30", "$0.002", "0",
         "user_feedback 1.00 (1)"],
    ]
    paged = run("sessions", "--db", str(db), "--limit", "1")
    assert paged.stdout.splitlines()[-1] == f"more: --cursor {BASE_NS + 2 * 10**9}.s-[b]"


def test_one_session_as_a_transcript(db):
    result = run("sessions", "s-a", "--db", str(db))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "session s-a · 2 turns · users ann · 30 tokens · $0.002 · 0 errors",
        "",
        f"#1 2027-01-15 08:00:00 · ann · 500.0 ms · 15 tokens · $0.001 · ok · trace {1:032x}",
        "  scores: user_feedback 1.00 (1)",
        "  user: Hi?",
        "  assistant: Hello!",
        "",
        f"#2 2027-01-15 08:00:01 · ann · 500.0 ms · 15 tokens · $0.001 · ok · trace {2:032x}",
        "  user: Price?",
        "  assistant: Ten euros.",
    ]


def test_users_and_json(db):
    users = run("users", "--db", str(db), "--json")
    assert users.returncode == 0
    assert [(u["user_id"], u["calls"], u["sessions"], u["errors"]) for u in json.loads(users.stdout)["users"]] == [
        ("bob", 1, 1, 1), ("ann", 2, 1, 0)]
    one = json.loads(run("sessions", "s-[b]", "--db", str(db), "--json").stdout)
    assert [(t["input"], t["output"], t["status"]) for t in one["turns"]] == [("Broken?", "Sorry.", "ERROR")]


@pytest.mark.parametrize("args, code, message", [
    (("sessions", "nope"), 1, "traceglass: no session 'nope' in {db}\n"),
    (("users", "--since", "never"), 2, "traceglass: since: not a time: 'never' (use epoch seconds, an ISO date/time "
                                       "or an age such as 1h, 7d)\n"),
    (("sessions", "--cursor", "x"), 2, "traceglass: invalid cursor 'x'; pass back a next_cursor from sessions()\n"),
])
def test_refusals(db, args, code, message):
    result = run(*args, "--db", str(db))
    assert (result.returncode, result.stdout, result.stderr) == (code, "", message.format(db=db))
