"""Scores in the store: add, update by id, list, delete, join their trace, survive restarts, filter
the trace list, sum up per trace and per stats group, go with their trace, migrate from schema 4."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from traceglass._scores import new_score
from traceglass.store import SCHEMA_VERSION, Score, ScoreError, ScorePage, SchemaTooOldError, TraceStore, TraceWriter
from traceglass.store import _schema

from ._helpers import BASE_S, SEC, rows

TRACE = 0x5B8EFFF798038103D269B633813FC60C
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
OTHER_HEX = "0123456789abcdef0123456789abcdef"
ROOT_HEX, CHILD_HEX = "0000000000000001", "0000000000000002"
DAY = 86_400
SCORE_COLUMNS = ("id, trace_id, span_id, name, value, label, data_type, comment, source, user_id, created_ns, "
                 "metadata")


def _span(span_id: int, name: str, parent: int | None = None, *, trace: int = TRACE, start_s: float = BASE_S,
          attributes: dict | None = None) -> ReadableSpan:
    context = SpanContext(trace, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent_context = SpanContext(trace, parent, is_remote=False) if parent else None
    start = int(start_s * SEC) + span_id
    return ReadableSpan(name=name, context=context, parent=parent_context, attributes=attributes or {},
                        resource=Resource.create({"service.name": "shop"}), start_time=start,
                        end_time=start + SEC)


def _trace(writer: TraceWriter, *, trace: int = TRACE, start_s: float = BASE_S, model: str = "gpt-4o") -> None:
    writer.write([_span(1, "agent", trace=trace, start_s=start_s, attributes={"traceglass.span.type": "agent"}),
                  _span(2, f"chat {model}", parent=1, trace=trace, start_s=start_s, attributes={
                      "traceglass.span.type": "llm", "gen_ai.request.model": model})])


def _stored(path) -> list[dict]:
    return rows(path, f"SELECT {SCORE_COLUMNS} FROM scores ORDER BY id")


def test_add_score_stores_one_row_and_returns_the_score(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        score = store.add_score("helpfulness", 0.75, trace_id=TRACE_HEX.upper(), span_id=CHILD_HEX,
                                comment="  clear answer ", source="human", user_id="u-7",
                                metadata={"widget": "thumbs", "n": 2}, id="fb-1")
    assert isinstance(score, Score)
    assert score.to_dict() == {
        "id": "fb-1", "name": "helpfulness", "value": 0.75, "label": None, "data_type": "numeric",
        "trace_id": TRACE_HEX, "span_id": CHILD_HEX, "comment": "  clear answer ", "source": "human",
        "user_id": "u-7", "created_at": score.created_at.isoformat(), "metadata": {"widget": "thumbs", "n": 2}}
    assert _stored(path) == [{
        "id": "fb-1", "trace_id": TRACE_HEX, "span_id": CHILD_HEX, "name": "helpfulness", "value": 0.75,
        "label": None, "data_type": "numeric", "comment": "  clear answer ", "source": "human", "user_id": "u-7",
        "created_ns": score.created_ns, "metadata": '{"widget": "thumbs", "n": 2}'}]


def test_scores_survive_a_restart_and_read_back_equal(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        made = [store.add_score("thumbs", False, trace_id=TRACE_HEX, comment="wrong", source="human", id="a"),
                store.add_score("tone", "friendly", trace_id=TRACE_HEX, source="llm", id="b"),
                store.add_score("accuracy", 3, trace_id=OTHER_HEX, source="code", id="c", metadata={"k": [1]})]
    with TraceStore(path, read_only=True) as store:
        assert store.get_score("a") == made[0]
        assert sorted(store.scores(), key=lambda s: s.id) == made
    assert [(s.value, s.label, s.data_type) for s in made] == [
        (0.0, "false", "boolean"), (None, "friendly", "categorical"), (3.0, None, "numeric")]


def test_the_same_id_updates_the_score_and_never_duplicates_it(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        store.add_score("helpfulness", 0.2, trace_id=TRACE_HEX, id="same", comment="first")
        updated = store.add_score("helpfulness", 0.9, trace_id=TRACE_HEX, id="same", comment="second")
        assert list(store.scores()) == [updated]
    assert [(r["id"], r["value"], r["comment"]) for r in _stored(path)] == [("same", 0.9, "second")]


def test_a_score_before_its_spans_joins_the_trace_when_they_arrive(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        on_trace = store.add_score("user_feedback", True, trace_id=TRACE_HEX, source="human", id="t")
        on_span = store.add_score("relevance", 0.5, trace_id=TRACE_HEX, span_id=CHILD_HEX, source="llm", id="s")
        assert store.get_trace(TRACE_HEX) is None
        assert [s.id for s in store.scores(trace_id=TRACE_HEX)] == ["s", "t"]
        with TraceWriter(path) as writer:
            _trace(writer)
        trace = store.get_trace(TRACE_HEX)
    assert trace.scores == [on_trace, on_span]
    assert [(s.name, s.scores) for s in trace.spans] == [("agent", []), ("chat gpt-4o", [on_span])]
    data = trace.to_dict()
    assert data["scores"] == [on_trace.to_dict(), on_span.to_dict()]
    assert data["spans"][0]["scores"] == []
    assert data["spans"][0]["children"][0]["scores"] == [on_span.to_dict()]


def test_a_score_on_a_span_the_trace_does_not_have_is_a_trace_score_only(tmp_path):
    path = tmp_path / "s.db"
    with TraceWriter(path) as writer:
        _trace(writer)
    with TraceStore(path) as store:
        score = store.add_score("x", 1, trace_id=TRACE_HEX, span_id="00000000000000ff")
        trace = store.get_trace(TRACE_HEX)
    assert trace.scores == [score]
    assert [s.scores for s in trace.spans] == [[], []]


@pytest.mark.parametrize(("value", "problem"), [
    (float("nan"), ("value", "must be a finite number, got nan")),
    (float("inf"), ("value", "must be a finite number, got inf")),
    (10**400, ("value", f"must be a finite number, got {10**400!r}")),
    ([1], ("value", "must be a number, a bool or a label string, got list")),
])
def test_a_bad_value_raises_a_value_error_and_stores_nothing(tmp_path, value, problem):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        with pytest.raises(ValueError) as raised:
            store.add_score("n", value, trace_id=TRACE_HEX)
    assert isinstance(raised.value, ScoreError) and raised.value.problems == [problem]
    assert _stored(path) == []


def test_every_problem_is_listed_at_once_and_nothing_is_stored(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        with pytest.raises(ScoreError) as raised:
            store.add_score("x" * 201, 1.0, trace_id=None, comment="c" * 10_001, source="robot")
        assert [field for field, _ in raised.value.problems] == ["name", "trace_id", "comment", "source"]
        with pytest.raises(ScoreError, match=r"name: must not be empty"):
            store.add_score("  ", 1.0, trace_id=TRACE_HEX)
        with pytest.raises(ScoreError, match=r"trace_id: must be 32 hex digits"):
            store.add_score("n", 1.0, trace_id="not-a-trace")
    assert _stored(path) == []


def test_a_value_of_another_data_type_than_the_names_is_refused(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        store.add_score("thumbs", True, trace_id=TRACE_HEX, id="1")
        with pytest.raises(ScoreError) as raised:
            store.add_score("thumbs", 0.5, trace_id=TRACE_HEX, id="2")
        assert raised.value.problems == [("value", "scores named 'thumbs' are boolean; got a numeric value (0.5)")]
        with pytest.raises(ValueError, match="scores named 'thumbs' are boolean; got a categorical value \\('meh'\\)"):
            store.add_score("thumbs", "meh", trace_id=OTHER_HEX, id="3")
        # The one score of a name may change its own type (it is the name's only holder).
        store.add_score("thumbs", "meh", trace_id=TRACE_HEX, id="1")
    assert [(r["id"], r["data_type"], r["label"]) for r in _stored(path)] == [("1", "categorical", "meh")]


def test_scores_lists_newest_first_filters_and_pages(tmp_path):
    path = tmp_path / "s.db"
    made = {}
    with TraceWriter(path) as writer:
        for n, (name, source, trace) in enumerate([("a", "human", TRACE_HEX), ("b", "llm", TRACE_HEX),
                                                   ("a", "code", OTHER_HEX), ("a", "human", OTHER_HEX)]):
            score = new_score(name, n, trace_id=trace, source=source, id=f"id{n}",
                              created_at=datetime.fromtimestamp(BASE_S + n, timezone.utc))
            made[score.id] = score
        assert writer.write_scores(list(made.values())) == list(made.values())
    with TraceStore(path) as store:
        ids = lambda page: [s.id for s in page]  # noqa: E731
        assert ids(store.scores()) == ["id3", "id2", "id1", "id0"]
        assert ids(store.scores(name="a")) == ["id3", "id2", "id0"]
        assert ids(store.scores(source="human")) == ["id3", "id0"]
        assert ids(store.scores(trace_id=OTHER_HEX.upper())) == ["id3", "id2"]
        assert ids(store.scores(since=BASE_S + 1, until=BASE_S + 3)) == ["id2", "id1"]
        first = store.scores(limit=3)
        assert isinstance(first, ScorePage) and len(first) == 3
        assert first.next_cursor == f"{made['id1'].created_ns}.id1"
        second = store.scores(limit=3, cursor=first.next_cursor)
        assert (ids(second), second.next_cursor) == (["id0"], None)
        assert second.to_dict() == {"scores": [made["id0"].to_dict()], "next_cursor": None}
        with pytest.raises(ValueError, match="invalid cursor"):
            store.scores(cursor="nope")
        with pytest.raises(ValueError, match="limit must be a positive integer"):
            store.scores(limit=0)


def test_delete_score(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        store.add_score("a", 1, trace_id=TRACE_HEX, id="gone")
        store.add_score("a", 2, trace_id=TRACE_HEX, id="kept")
        assert (store.delete_score("gone"), store.delete_score("gone"), store.delete_score("never")) == (
            True, False, False)
        assert store.get_score("gone") is None
    assert [r["id"] for r in _stored(path)] == ["kept"]


def test_write_scores_upserts_a_batch_and_skips_a_conflicting_type_logging_once_per_name(tmp_path, caplog):
    path = tmp_path / "s.db"
    good = new_score("quality", 0.5, trace_id=TRACE_HEX, id="q1")
    again = new_score("quality", 0.8, trace_id=TRACE_HEX, id="q1")
    clash = [new_score("quality", label, trace_id=TRACE_HEX, id=f"x{label}") for label in ("bad", "worse")]
    with TraceWriter(path) as writer, caplog.at_level(logging.WARNING, logger="traceglass"):
        assert writer.write_scores([good]) == [good]
        assert writer.write_scores([again, *clash]) == [again]
        assert writer.write_scores(clash) == []
        assert writer.write_scores([]) == []
    assert [(r["id"], r["value"]) for r in _stored(path)] == [("q1", 0.8)]
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: a score named 'quality' was not stored (invalid score: value: scores named 'quality' are "
        "numeric; got a categorical value ('bad')); further refusals of this name are not logged"]


def test_write_scores_stores_nothing_invalid_from_a_hand_made_score(tmp_path, caplog):
    path = tmp_path / "s.db"
    bad = Score(id="h", name="", value=float("nan"), label=None, data_type="numeric", trace_id="xyz")
    fine = new_score("ok", 1, trace_id=TRACE_HEX, id="f")
    with TraceWriter(path) as writer, caplog.at_level(logging.WARNING, logger="traceglass"):
        assert writer.write_scores([bad, "not a score", fine]) == [fine]  # type: ignore[list-item]
    assert [r["id"] for r in _stored(path)] == ["f"]
    assert len(caplog.records) == 2


def test_write_scores_checks_again_what_may_have_changed_since_new_score(tmp_path, caplog):
    """A score new_score made is stored without its fields checked twice, but its metadata dict can
    still be changed, and a dataclasses.replace() copy is anyone's: both are checked again."""
    import dataclasses

    path = tmp_path / "s.db"
    changed = new_score("ok", 1, trace_id=TRACE_HEX, id="m", metadata={"run": "r1"})
    changed.metadata["ratio"] = float("nan")  # not JSON: would fail the whole batch's statement
    renamed = dataclasses.replace(new_score("ok", 1, trace_id=TRACE_HEX, id="r"), name="")
    fine = new_score("ok", 1, trace_id=TRACE_HEX, id="f", metadata={"run": "r1"})
    with TraceWriter(path) as writer, caplog.at_level(logging.WARNING, logger="traceglass"):
        assert writer.write_scores([changed, renamed, fine]) == [fine]
    assert [(r["id"], r["metadata"]) for r in _stored(path)] == [("f", '{"run": "r1"}')]
    assert len(caplog.records) == 2


def test_a_batch_of_scores_is_checked_in_order_against_the_names_stored_type(tmp_path):
    path = tmp_path / "s.db"
    with TraceWriter(path) as writer:
        writer.write_scores([new_score("tone", "warm", trace_id=TRACE_HEX, id="t0")])
        batch = [new_score("tone", "cold", trace_id=TRACE_HEX, id="t1"),
                 new_score("tone", 0.5, trace_id=TRACE_HEX, id="t2"),
                 new_score("fresh", 0.5, trace_id=TRACE_HEX, id="f1"),
                 new_score("fresh", "label", trace_id=TRACE_HEX, id="f2"),
                 new_score("fresh", 0.7, trace_id=TRACE_HEX, id="f3")]
        assert [s.id for s in writer.write_scores(batch)] == ["t1", "f1", "f3"]
    assert sorted((r["id"], r["value"], r["label"]) for r in _stored(path)) == [
        ("f1", 0.5, None), ("f3", 0.7, None), ("t0", None, "warm"), ("t1", None, "cold")]


def test_a_read_only_store_refuses_add_score(tmp_path):
    path = tmp_path / "s.db"
    TraceStore(path).close()
    with TraceStore(path, read_only=True) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.add_score("a", 1, trace_id=TRACE_HEX)
    assert _stored(path) == []


# -- the trace list: filter and summaries ------------------------------------------------------

THIRD_HEX = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def scored(store_target):
    path = store_target  # a SQLite file, then a PostgreSQL database (tests/conftest.py)
    with TraceWriter(path) as writer:
        _trace(writer, trace=int(TRACE_HEX, 16), start_s=BASE_S + 30, model="gpt-4o")
        _trace(writer, trace=int(OTHER_HEX, 16), start_s=BASE_S + 20, model="gpt-4o-mini")
        _trace(writer, trace=int(THIRD_HEX, 16), start_s=BASE_S + 10, model="gpt-4o")
    store = TraceStore(path)
    for trace, value in ((TRACE_HEX, 0.9), (TRACE_HEX, 0.5), (OTHER_HEX, 0.2)):
        store.add_score("helpfulness", value, trace_id=trace)
    store.add_score("thumbs", True, trace_id=TRACE_HEX, span_id=CHILD_HEX)
    store.add_score("thumbs", False, trace_id=OTHER_HEX)
    store.add_score("thumbs", True, trace_id=OTHER_HEX)
    store.add_score("tone", "terse", trace_id=THIRD_HEX)
    yield store
    store.close()


def test_list_traces_filters_by_score_name_and_range(scored):
    ids = lambda **kw: [t.trace_id for t in scored.list_traces(**kw)]  # noqa: E731
    assert ids(score_name="helpfulness") == [TRACE_HEX, OTHER_HEX]
    assert ids(score_name="tone") == [THIRD_HEX]
    assert ids(score_name="nothing") == []
    assert ids(score_name="helpfulness", min_score=0.6) == [TRACE_HEX]
    assert ids(score_name="helpfulness", max_score="0.3") == [OTHER_HEX]
    assert ids(score_name="helpfulness", min_score=0.3, max_score=0.6) == [TRACE_HEX]
    assert ids(score_name="thumbs", max_score=0) == [OTHER_HEX]
    assert ids(min_score=0.95) == [TRACE_HEX, OTHER_HEX]  # any name: the thumbs-ups (1.0)
    assert ids(score_name="helpfulness", min_score=0.3, model="gpt-4o-mini") == []
    with pytest.raises(ValueError, match="min_score must be a finite number"):
        scored.list_traces(min_score="inf")
    with pytest.raises(ValueError, match="score_name must be a non-empty text"):
        scored.list_traces(score_name=" ")


@pytest.mark.sqlite_only("reads SQLite's EXPLAIN QUERY PLAN")
def test_the_score_filter_reads_the_name_index_once_not_per_trace(scored):
    from traceglass.store._filter import TraceFilter
    from traceglass.store._scores import filter_clause

    clause, params = filter_clause("helpfulness", 0.3, None)
    plan = [row[-1] for row in scored._db.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT t.trace_id FROM traces t WHERE {clause}", params)]
    assert any("USING COVERING INDEX scores_name (name=? AND value>?)" in step for step in plan), plan
    assert not any("CORRELATED" in step for step in plan), plan
    assert TraceFilter(score_name="a", min_score="1", max_score=2).min_score_value == 1.0


def test_each_trace_summary_sums_up_its_scores(scored):
    page = scored.list_traces()
    assert {t.trace_id: t.scores for t in page} == {
        TRACE_HEX: {"helpfulness": {"mean": 0.7, "count": 2, "labels": {}},
                    "thumbs": {"mean": 1.0, "count": 1, "labels": {"true": 1}}},
        OTHER_HEX: {"helpfulness": {"mean": 0.2, "count": 1, "labels": {}},
                    "thumbs": {"mean": 0.5, "count": 2, "labels": {"false": 1, "true": 1}}},
        THIRD_HEX: {"tone": {"mean": None, "count": 1, "labels": {"terse": 1}}},
    }
    assert page.to_dict()["traces"][2]["scores"] == {"tone": {"mean": None, "count": 1, "labels": {"terse": 1}}}


def _by_key(rows) -> dict:
    return {row.key: row.scores for row in rows}


def test_stats_sum_up_scores_per_model_type_and_trace_group(scored):
    both = {"mean": 0.5, "count": 2, "labels": {"false": 1, "true": 1}}
    assert _by_key(scored.stats("model")) == {
        "gpt-4o": {"helpfulness": {"mean": pytest.approx(0.7), "count": 2, "labels": {}},
                   "thumbs": {"mean": 1.0, "count": 1, "labels": {"true": 1}},
                   "tone": {"mean": None, "count": 1, "labels": {"terse": 1}}},
        "gpt-4o-mini": {"helpfulness": {"mean": 0.2, "count": 1, "labels": {}}, "thumbs": both}}
    # Trace-level scores count under the root span's type, a span's under its own.
    assert _by_key(scored.stats("type")) == {
        "agent": {"helpfulness": {"mean": pytest.approx(1.6 / 3), "count": 3, "labels": {}}, "thumbs": both,
                  "tone": {"mean": None, "count": 1, "labels": {"terse": 1}}},
        "llm": {"thumbs": {"mean": 1.0, "count": 1, "labels": {"true": 1}}}}
    all_three = {"helpfulness": {"mean": pytest.approx(1.6 / 3), "count": 3, "labels": {}},
                 "thumbs": {"mean": pytest.approx(2 / 3), "count": 3, "labels": {"false": 1, "true": 2}},
                 "tone": {"mean": None, "count": 1, "labels": {"terse": 1}}}
    assert _by_key(scored.stats("project")) == {"shop": all_three}
    assert _by_key(scored.stats("day")) == {"2027-01-15": all_three}
    assert _by_key(scored.stats("user")) == {None: all_three}
    assert _by_key(scored.stats("project", since=BASE_S + 15)) == {"shop": {
        "helpfulness": {"mean": pytest.approx(1.6 / 3), "count": 3, "labels": {}},
        "thumbs": {"mean": pytest.approx(2 / 3), "count": 3, "labels": {"false": 1, "true": 2}}}}
    assert scored.stats("project", project="elsewhere") == []
    assert scored.stats("model")[0].to_dict()["scores"] == scored.stats("model")[0].scores


def test_a_trace_calling_one_model_twice_counts_its_score_once_under_the_model(tmp_path):
    path = tmp_path / "s.db"
    with TraceWriter(path) as writer:
        writer.write([_span(1, "agent"), _span(2, "chat", 1, attributes={"gen_ai.request.model": "gpt-4o"}),
                      _span(3, "chat", 1, attributes={"gen_ai.request.model": "gpt-4o-2024-08-06"}),
                      _span(4, "chat", 1, attributes={"gen_ai.request.model": "o3"})])
    with TraceStore(path) as store:
        store.add_score("good", 1, trace_id=TRACE_HEX)
        store.add_score("good", 0, trace_id=TRACE_HEX, span_id="0000000000000004")
        assert _by_key(store.stats("model")) == {
            "gpt-4o": {"good": {"mean": 1.0, "count": 1, "labels": {}}},
            "o3": {"good": {"mean": 0.5, "count": 2, "labels": {}}}}


# -- retention ---------------------------------------------------------------------------------

def test_delete_trace_deletes_its_scores(scored):
    assert scored.delete_trace(OTHER_HEX)
    assert {s.trace_id for s in scored.scores()} == {TRACE_HEX, THIRD_HEX}
    scored.add_score("early", 1, trace_id="ab" * 16)  # a trace whose spans have not arrived
    assert scored.delete_trace("ab" * 16) is False
    assert scored.scores(trace_id="ab" * 16).scores == []


def test_prune_by_age_deletes_old_traces_scores_and_old_orphans(tmp_path):
    path = tmp_path / "s.db"
    now = time.time()  # prune's cutoff is an age back from now
    old, new = datetime.fromtimestamp(now - 10 * DAY, timezone.utc), datetime.fromtimestamp(now - DAY, timezone.utc)
    with TraceWriter(path) as writer:
        _trace(writer, trace=int(TRACE_HEX, 16), start_s=now - 6 * DAY)  # pruned
        _trace(writer, trace=int(OTHER_HEX, 16), start_s=now - 4 * DAY)  # kept
        writer.write_scores([
            new_score("a", 1, trace_id=TRACE_HEX, id="of-pruned-trace", created_at=new),
            new_score("a", 1, trace_id=OTHER_HEX, id="old-of-kept-trace", created_at=old),
            new_score("a", 1, trace_id=THIRD_HEX, id="old-orphan", created_at=old),
            new_score("a", 1, trace_id=THIRD_HEX, id="new-orphan", created_at=new),
        ])
    with TraceStore(path) as store:
        assert store.prune(older_than="5d") == 1
    assert [r["id"] for r in _stored(path)] == ["new-orphan", "old-of-kept-trace"]


def test_prune_by_size_deletes_scores_with_their_traces(tmp_path):
    path = tmp_path / "s.db"
    with TraceWriter(path) as writer:
        _trace(writer, trace=int(TRACE_HEX, 16), start_s=BASE_S - 50)
        _trace(writer, trace=int(OTHER_HEX, 16), start_s=BASE_S + 50)
        writer.write_scores([new_score("a", 1, trace_id=TRACE_HEX, id="1"),
                             new_score("a", 2, trace_id=OTHER_HEX, id="2")])
    with TraceStore(path) as store:
        assert store.prune(max_size=1) == 2
    assert _stored(path) == []


def test_a_writers_max_age_retention_deletes_old_traces_scores(tmp_path):
    path = tmp_path / "s.db"
    now = time.time()
    with TraceWriter(path, max_age=5 * DAY, _retention_interval=0) as writer:
        _trace(writer, trace=int(TRACE_HEX, 16), start_s=now - 6 * DAY)
        writer._wait_for_retention()
        _trace(writer, trace=int(OTHER_HEX, 16), start_s=now - 4 * DAY)
        writer._wait_for_retention()
        writer.write_scores([new_score("a", 1, trace_id=OTHER_HEX, id="kept")])
        writer._wait_for_retention()
    assert [r["id"] for r in _stored(path)] == ["kept"]
    with TraceWriter(path, max_age=3 * DAY, _retention_interval=0) as writer:
        writer.write_scores([new_score("a", 2, trace_id=THIRD_HEX, id="new")])  # starts a retention pass
        writer._wait_for_retention()
    assert [r["id"] for r in _stored(path)] == ["new"]


# -- schema 4 -> 5 -----------------------------------------------------------------------------

def _v4_database(path) -> None:
    """A database as traceglass with schema 4 wrote it, holding one trace."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for version in (1, 2, 3, 4):
        _schema.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("""INSERT INTO traces (id, trace_id, root_span_id, name, start_ns, end_ns, duration_ns, status,
        span_count, error_count, input_tokens, output_tokens, total_tokens) VALUES (1, ?, ?, 'agent', ?, ?, ?, 'OK',
        1, 0, 0, 0, 0)""", (TRACE_HEX, ROOT_HEX, BASE_S * SEC, (BASE_S + 1) * SEC, SEC))
    conn.execute("""INSERT INTO spans (id, trace_no, trace_id, span_id, name, kind, span_type, start_ns, end_ns,
        duration_ns, status) VALUES (1, 1, ?, ?, 'agent', 'INTERNAL', 'agent', ?, ?, ?, 'OK')""",
                 (TRACE_HEX, ROOT_HEX, BASE_S * SEC, (BASE_S + 1) * SEC, SEC))
    conn.execute("INSERT INTO span_data (id, attributes, events, links, resource) VALUES (1, '{}', '[]', '[]', '{}')")
    conn.close()


def test_a_version_4_database_is_migrated_and_takes_scores(tmp_path):
    path = tmp_path / "v4.db"
    _v4_database(path)
    with pytest.raises(SchemaTooOldError, match=f"schema version 4, older than this traceglass's {SCHEMA_VERSION}"):
        TraceStore(path, read_only=True)
    assert rows(path, "PRAGMA user_version") == [{"user_version": 4}]
    with TraceStore(path) as store:
        score = store.add_score("thumbs", True, trace_id=TRACE_HEX, span_id=ROOT_HEX)
        trace = store.get_trace(TRACE_HEX)
        assert (trace.name, trace.scores, trace.root.scores) == ("agent", [score], [score])
    assert rows(path, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]
    assert [r["name"] for r in rows(path, "SELECT name FROM sqlite_master WHERE tbl_name = 'scores' "
                                          "AND type = 'index' AND sql IS NOT NULL ORDER BY name")] == [
        "scores_created", "scores_name", "scores_trace"]
    with TraceStore(path, read_only=True) as store:
        assert store.get_trace(TRACE_HEX).scores == [score]


def test_traceglass_migrate_upgrades_a_version_4_database(tmp_path):
    path = tmp_path / "v4.db"
    _v4_database(path)
    result = subprocess.run([sys.executable, "-m", "traceglass", "migrate", "--db", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"{path}: schema 4 -> {SCHEMA_VERSION}\n")
    assert rows(path, "SELECT count(*) AS n FROM scores") == [{"n": 0}]


def _statements_writing_scores(path, count: int) -> int:
    statements: list[str] = []
    with TraceWriter(path, _on_connect=lambda conn: conn.set_trace_callback(statements.append)) as writer:
        writer.write_scores([new_score("warm", 1.0, trace_id=TRACE_HEX, id="warm")])  # connected, schema made
        scores = [new_score("quality", n / count, trace_id=TRACE_HEX, id=f"q{n}", comment=f"#{n}")
                  for n in range(count)]
        statements.clear()
        assert writer.write_scores(scores) == scores
    return len([s for s in statements if not s.startswith("-- ")])


def test_a_batch_of_scores_costs_the_same_few_statements_however_many_it_holds(tmp_path):
    # Each statement step gives up the GIL; beside a CPU-busy application thread every give-up costs a
    # switch interval to win back. executemany stepped once per score.
    few, many = _statements_writing_scores(tmp_path / "few.db", 2), _statements_writing_scores(tmp_path / "many.db", 300)
    assert few == many <= 5  # BEGIN, the name's stored type, the upsert, COMMIT
    assert rows(tmp_path / "many.db", "SELECT count(*) AS n, min(value) AS low, max(comment) AS last FROM scores "
                "WHERE name = 'quality'") == [{"n": 300, "low": 0.0, "last": "#99"}]
