"""Hostile input to ``traceglass score``/``scores``: every value is either stored exactly as given or refused
with one line on stderr and exit code 2, nothing stored; never a traceback. A real database in tmp_path."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.cli import main
from traceglass.store import TraceStore

from ..store._helpers import BASE_S, make_sdk


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-scores") / "traces.db"
    sdk = make_sdk(path)
    trace_id = sdk.rag_trace(BASE_S)
    sdk.provider.shutdown()
    return path, trace_id


def _main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _all(path) -> dict:
    with TraceStore(path, read_only=True) as store:
        return {s.id: s for s in store.scores(limit=10_000)}


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
NUMBERISH = st.from_regex(r"[-+]?(\d{1,400}|\d*\.\d+)(e[-+]?\d{1,4})?|nan|-?inf(inity)?|true|FALSE|True", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(name=TEXT, value=st.one_of(TEXT, NUMBERISH), comment=st.one_of(st.none(), TEXT),
       user=st.one_of(st.none(), TEXT), metadata=st.one_of(st.none(), TEXT, st.just('{"a": [1, {"b": null}]}')))
def test_a_score_is_stored_exactly_or_refused_in_one_line(db, name, value, comment, user, metadata):
    path, trace_id = db
    before = _all(path)
    options = [f"--comment={comment}"] if comment is not None else []
    options += [f"--user={user}"] if user is not None else []
    options += [f"--metadata={metadata}"] if metadata is not None else []
    # "--" so that a name or value starting with "-" is not taken for an option
    code, out, err = _main("score", "--db", str(path), "--json", *options, "--", trace_id, name, value)
    after = _all(path)
    if code == 2:
        assert out == "" and err.startswith("traceglass: ") and err.count("\n") == 1 and err.endswith("\n"), err
        assert after == before
        return
    assert (code, err) == (0, ""), err
    (new,) = set(after) - set(before)
    score = after[new]
    # a comment is kept as given (blank: none); names and user ids are stripped
    assert score.name == name.strip() and score.comment == (comment if comment and comment.strip() else None)
    assert score.user_id == (user.strip() if user and user.strip() else None)
    with TraceStore(path) as store:  # keep the names free for any data type in the next example
        assert store.delete_score(new)
    word = value.strip().lower()
    if word in ("true", "false"):
        assert (score.value, score.label, score.data_type) == (float(word == "true"), word, "boolean")
        return
    try:
        number = float(word)
    except ValueError:
        assert (score.value, score.label, score.data_type) == (None, value.strip(), "categorical")
    else:
        assert math.isfinite(number) and (score.value, score.label, score.data_type) == (number, None, "numeric")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--trace-id", "--name", "--since", "--until", "--cursor", "--limit"]), value=TEXT)
def test_scores_filters_never_crash(db, option, value):
    path, _ = db
    code, out, err = _main("scores", "--db", str(path), "--json", f"{option}={value}")
    if code == 0:
        assert out.startswith("{") and err == ""
    else:
        assert code in (1, 2) and out == "" and err.startswith(("traceglass: ", "usage: ")), err
        if err.startswith("traceglass: "):
            assert err.count("\n") == 1
