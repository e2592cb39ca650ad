"""Hostile scores and faults in the scores store: whatever a caller, a foreign SDK's record or a row
written by another tool holds, nothing invalid is stored, nothing but ScoreError is raised, and every
read stays strict-JSON safe. Real SQLite files, a real second connection holding the lock."""

from __future__ import annotations

import json
import math
import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass import semconv
from traceglass._scores import MAX_COMMENT_LENGTH, MAX_NAME_LENGTH, ScoreError, from_event, new_score
from traceglass.store import TraceStore, TraceWriter

from ..store._helpers import rows

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TRACE = "5b8efff798038103d269b633813fc60c"

_text = st.one_of(st.text(max_size=40), st.text(alphabet=st.characters(), min_size=190, max_size=260),
                  st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "名前", "<script>", "\u202e"]))
_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**400),
                                                                                   max_value=10**400))
_json = st.recursive(st.one_of(st.none(), st.booleans(), _numbers, _text),
                     lambda inner: st.one_of(st.lists(inner, max_size=3),
                                             st.dictionaries(st.one_of(_text, st.integers()), inner, max_size=3)),
                     max_leaves=10)
_anything = st.one_of(_json, st.binary(max_size=8), st.builds(object), st.tuples(st.integers()))
_hex = st.one_of(st.text(alphabet="0123456789abcdefABCDEF", min_size=31, max_size=33), st.just(TRACE),
                 st.just("0" * 32))


def _valid(score) -> None:
    """Everything the model promises of a stored score, checked on what was read back."""
    assert isinstance(score.name, str) and 0 < len(score.name) <= MAX_NAME_LENGTH and "\x00" not in score.name
    assert score.value is None or (type(score.value) is float and math.isfinite(score.value))
    assert score.comment is None or len(score.comment) <= MAX_COMMENT_LENGTH
    json.dumps(score.to_dict(), allow_nan=False).encode("utf-8")  # strict JSON, encodable
    # And the model accepts it again unchanged.
    value = score.label == "true" if score.data_type == "boolean" else (
        score.label if score.data_type == "categorical" else score.value)
    assert new_score(score.name, value, trace_id=score.trace_id, span_id=score.span_id, comment=score.comment,
                     source=score.source, user_id=score.user_id, metadata=score.metadata, id=score.id,
                     created_at=score.created_at) == score


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with TraceStore(tmp_path_factory.mktemp("scores") / "hostile.db") as opened:
        yield opened


@SETTINGS
@given(name=st.one_of(_text, _anything), value=st.one_of(_numbers, st.booleans(), _text, _anything),
       trace_id=st.one_of(_hex, _anything), span_id=st.one_of(st.none(), _text, _anything),
       comment=st.one_of(st.none(), _text, st.sampled_from(["c" * 10_001, " " * 10_001 + "c"]), _anything),
       source=st.one_of(st.sampled_from(["human", "api", "llm", "code", "eval"]), _anything),
       user_id=st.one_of(st.none(), _text, _anything), metadata=st.one_of(st.none(), _json, _anything),
       score_id=st.one_of(st.none(), _text, _anything))
def test_hostile_add_score_stores_a_valid_score_or_nothing(store, name, value, trace_id, span_id, comment, source,
                                                          user_id, metadata, score_id):
    before = store._db.conn.execute("SELECT count(*), total(length(id)) FROM scores").fetchone()
    try:
        score = store.add_score(name, value, trace_id=trace_id, span_id=span_id, comment=comment, source=source,
                                user_id=user_id, metadata=metadata, id=score_id)
    except ScoreError as exc:
        assert exc.problems and all(isinstance(f, str) and isinstance(m, str) for f, m in exc.problems)
        assert store._db.conn.execute("SELECT count(*), total(length(id)) FROM scores").fetchone() == before
        return
    assert store.get_score(score.id) == score
    _valid(score)


@SETTINGS
@given(which=st.sampled_from(["name", "value", "comment", "user_id", "metadata", "id"]),
       hostile=st.one_of(_text, _numbers, _json), name=st.text(min_size=1, max_size=30),
       value=st.one_of(st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.text(min_size=1)),
       metadata=st.dictionaries(st.text(max_size=10), _json, max_size=3))
def test_one_hostile_field_in_a_plausible_score_stores_a_valid_score_or_nothing(store, which, hostile, name, value,
                                                                               metadata):
    fields = {"name": f"{type(value).__name__}:{name}", "value": value, "comment": "fine", "user_id": "u",
              "metadata": metadata, "id": None}
    fields[which] = {"metadata": {"m": hostile}}.get(which, hostile)
    test_hostile_add_score_stores_a_valid_score_or_nothing.hypothesis.inner_test(
        store, fields["name"], fields["value"], TRACE, None, fields["comment"], "human", fields["user_id"],
        fields["metadata"], fields["id"])


@SETTINGS
@given(attributes=st.dictionaries(
    st.sampled_from([semconv.GEN_AI_EVALUATION_NAME, semconv.GEN_AI_EVALUATION_SCORE_VALUE,
                     semconv.GEN_AI_EVALUATION_SCORE_LABEL, semconv.GEN_AI_EVALUATION_EXPLANATION,
                     semconv.SCORE_ID, semconv.SCORE_SOURCE, semconv.SCORE_DATA_TYPE, semconv.SCORE_METADATA,
                     semconv.USER_ID, "other.key"]),
    st.one_of(_text, _numbers, st.booleans(), st.lists(_text, max_size=2), st.none())),
    timestamp=st.one_of(st.none(), st.integers(min_value=-(2**64), max_value=2**65)),
    span_id=st.one_of(st.none(), st.just("051581bf3cb55c13"), _text))
def test_a_hostile_foreign_record_is_a_valid_score_or_a_score_error_and_write_scores_never_raises(
        store, attributes, timestamp, span_id):
    try:
        score = from_event(attributes, trace_id=TRACE, span_id=span_id, timestamp_ns=timestamp)
    except ScoreError:
        return
    _valid(score)
    writer = store._writer_for_writes()
    stored = writer.write_scores([score])
    assert stored in ([score], [])  # [] only for a name of another data type
    if stored:
        assert store.get_score(score.id) == score


ODD_ROWS = [
    # id, trace_id, span_id, name, value, label, data_type, comment, source, user_id, created_ns, metadata
    ("text-value", TRACE, None, "n", "high", None, "numeric", None, "api", None, 1, "{}"),
    ("huge-created", TRACE, None, "n", 1.0, None, "numeric", None, "api", None, "later", "{}"),
    ("bad-json", TRACE, None, "n", 2.0, None, "numeric", None, "api", None, 2, "{not json"),
    ("list-json", TRACE, None, "n", 3.0, None, "numeric", None, "api", None, 3, "[1]"),
    ("nan-json", TRACE, None, "n", 4.0, None, "numeric", None, "api", None, 4, '{"x": NaN}'),
    ("blob-name", TRACE, "051581bf3cb55c13", b"\xff\xfe", None, b"\x00", "weird", 7, 8, 9, 5, "{}"),
    ("big-int", TRACE, None, "n", 10**18, None, "numeric", None, "api", None, 6, "{}"),
]


def test_rows_written_by_another_tool_read_back_json_safe(tmp_path):
    path = tmp_path / "odd.db"
    with TraceWriter(path) as writer:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, TraceFlags

        context = SpanContext(int(TRACE, 16), 0x051581BF3CB55C13, is_remote=False,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))
        writer.write([ReadableSpan(name="agent", context=context, start_time=10, end_time=20,
                                   attributes={"gen_ai.request.model": "gpt-4o"})])
    conn = sqlite3.connect(str(path))
    with conn:
        conn.execute("DROP INDEX scores_name")  # another tool's writes need not keep our indexes' types
        conn.executemany("INSERT INTO scores (id, trace_id, span_id, name, value, label, data_type, comment, "
                         "source, user_id, created_ns, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         ODD_ROWS)
    conn.close()
    with TraceStore(path) as store:
        listed = store.scores(limit=100)
        trace = store.get_trace(TRACE)
        page = store.list_traces()
        stats = [row.to_dict() for group in ("model", "type", "project", "day") for row in store.stats(group)]
    for document in (listed.to_dict(), trace.to_dict(), page.to_dict(), stats):
        json.dumps(document, allow_nan=False).encode("utf-8")
    by_id = {s.id: s for s in listed}
    assert sorted(by_id) == sorted(r[0] for r in ODD_ROWS)
    assert (by_id["text-value"].value, by_id["huge-created"].created_ns, by_id["bad-json"].metadata,
            by_id["list-json"].metadata, by_id["nan-json"].metadata, by_id["big-int"].value) == (
        None, 0, {}, {}, {"x": None}, 1e18)
    assert (by_id["blob-name"].name, by_id["blob-name"].data_type, by_id["blob-name"].source) == (
        "\ufffd\ufffd", "numeric", "8")
    assert [s.id for s in trace.root.scores] == ["blob-name"]
    assert page.traces[0].scores["n"]["count"] == 6


def test_a_score_written_while_another_process_holds_the_lock_waits_and_lands(tmp_path):
    path = tmp_path / "locked.db"
    TraceStore(path).close()
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    released.start()
    try:
        with TraceStore(path) as store:
            score = store.add_score("late", 1, trace_id=TRACE, id="waited")
            assert store.get_score("waited") == score
    finally:
        released.join(timeout=10)
        holder.close()


def test_a_full_disk_raises_a_storage_error_and_stores_nothing(tmp_path):
    path = tmp_path / "full.db"

    def full(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA max_page_count = 8")

    with TraceWriter(path, _on_connect=full) as writer:
        big = [new_score("n", 1, trace_id=TRACE, comment="c" * 9_000, id=f"s{n}") for n in range(40)]
        with pytest.raises(sqlite3.OperationalError, match="full"):
            writer.write_scores(big)
        assert writer.write_scores([new_score("n", 2, trace_id=TRACE, id="small")])[0].id == "small"
    assert rows(path, "SELECT id FROM scores") == [{"id": "small"}]
