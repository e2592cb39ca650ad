"""Hostile input to the ``traceglass`` command: every bad value is one line on stderr and exit
code 2, never a traceback; odd but valid values succeed. Real databases in tmp_path."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.cli import main

from ..store._helpers import BASE_S, make_sdk

HUGE = "9" * 30


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-faults") / "traces.db"
    sdk = make_sdk(path)
    ids = [sdk.rag_trace(BASE_S), sdk.rag_trace(BASE_S + 60)]
    sdk.provider.shutdown()
    return path, ids


def _main(*args: str) -> tuple[int, str, str]:
    """main() in-process with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


BAD = [
    (["traces", "--since", HUGE], f"traceglass: since: time out of range: '{HUGE}' (epoch seconds must be within "
                                  "the years 1677-2262)\n"),
    (["traces", "--until", f"-{HUGE}"], f"traceglass: until: time out of range: '-{HUGE}' (epoch seconds must be "
                                        "within the years 1677-2262)\n"),
    (["traces", "--since", "9999-12-31"], "traceglass: since: time out of range: '9999-12-31' (epoch seconds must be "
                                          "within the years 1677-2262)\n"),
    (["traces", "--since", "0001-01-01"], "traceglass: since: time out of range: '0001-01-01'\n"),
    (["traces", "--since", "1e30"], "traceglass: since: not a time: '1e30' (use epoch seconds, an ISO date/time or "
                                    "an age such as 1h, 7d)\n"),
    (["traces", "--min-latency", "inf"], "traceglass: min_latency_ms must be a finite number, got inf\n"),
    (["traces", "--min-latency", "nan"], "traceglass: min_latency_ms must be a finite number, got nan\n"),
    (["traces", "--min-cost=-inf"], "traceglass: min_cost must be a finite number, got -inf\n"),
    (["traces", "--cursor", f"{HUGE}.abc"], f"traceglass: invalid cursor '{HUGE}.abc'; pass back a next_cursor "
                                            "from list_traces\n"),
    (["traces", "--cursor", f"{'9' * 5000}.abc"], None),  # beyond Python's int() digit limit
    (["stats", "--until", HUGE], f"traceglass: until: time out of range: '{HUGE}' (epoch seconds must be within "
                                 "the years 1677-2262)\n"),
    (["export", "--since", HUGE], f"traceglass: since: time out of range: '{HUGE}' (epoch seconds must be within "
                                  "the years 1677-2262)\n"),
    (["prune", "--older-than", "1e400d"], "traceglass: not a duration: '1e400d' (use e.g. 90s, 15m, 2h, 7d, 1w)\n"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else "")
def test_bad_values_are_one_line_and_exit_2(db, args, message):
    path, _ = db
    code, out, err = _main(*args, "--db", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("traceglass: ") and "Traceback" not in err
    if message is not None:
        assert err == message


@pytest.mark.parametrize("args", [["traces", "--limit", HUGE], ["traces", "--min-latency", "1e300"],
                                  ["traces", "--since", "-" + "9" * 9], ["prune", "--older-than", HUGE + "d"]])
def test_extreme_but_valid_values_succeed(tmp_path, args):
    path = tmp_path / "traces.db"
    sdk = make_sdk(path)
    sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()
    code, _, err = _main(*args, "--db", str(path), "--json")
    assert (code, err) == (0, "")


def test_export_to_a_directory_or_a_missing_folder_is_one_line_and_exit_2(db, tmp_path):
    path, _ = db
    for target, reason in ((tmp_path, "Is a directory"), (tmp_path / "no" / "such" / "x.jsonl",
                                                          "No such file or directory")):
        result = subprocess.run([sys.executable, "-m", "traceglass", "export", "-o", str(target), "--db", str(path)],
                                capture_output=True, text=True, timeout=60, env={**os.environ})
        assert (result.returncode, result.stdout, result.stderr) == (
            2, "", f"traceglass: cannot write {target}: {reason}\n")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("flag", ["--since", "--until"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=40), st.from_regex(r"-?\d{1,40}(\.\d{1,5})?[smhdw]?", fullmatch=True),
                       st.floats().map(repr), st.integers().map(str)))
def test_any_time_text_is_a_result_or_one_line_exit_2(db, flag, value):
    path, _ = db
    if value.startswith("-") or "\x00" in value:  # argparse reads it as an option / argv cannot hold NUL
        value = " " + value.replace("\x00", "")
    code, _, err = _main("traces", flag, value, "--db", str(path), "--json")
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("traceglass: ") and "Traceback" not in err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--min-cost", "--min-latency", "--limit", "--cursor"]),
       value=st.one_of(st.floats().map(repr), st.integers().map(str), st.text(max_size=30),
                       st.tuples(st.integers(), st.text(max_size=10)).map(lambda t: f"{t[0]}.{t[1]}")))
def test_any_number_or_cursor_is_a_result_or_one_line_exit_2(db, option, value):
    path, _ = db
    value = " " + value.replace("\x00", "") if value.startswith("-") or "\x00" in value else value
    code, _, err = _main("traces", option, value, "--db", str(path), "--json")
    assert code in (0, 2)
    if code == 2:
        lines = err.splitlines()
        # argparse's own usage errors are a usage block and one "error:" line; ours are one line.
        assert "Traceback" not in err
        assert (len(lines) == 1 and lines[0].startswith("traceglass: ")) or (
            lines[0].startswith("usage: ") and lines[-1].startswith("traceglass traces: error: argument "))
