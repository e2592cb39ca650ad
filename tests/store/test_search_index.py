"""The content search served by the word index (store/_search.py) finds exactly what a scan finds.

Every result is compared with a brute-force check: the stored name, attributes and events texts
read back and searched in Python (ASCII letters in any case, as SQLite's LIKE compares).
"""

from __future__ import annotations

import sqlite3
import string
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.store import TraceStore, _packed, _retention, _search
from traceglass.store._schema import SCHEMA_VERSION

from ._helpers import downgrade_to_13

BASE_NS = 1_800_000_000 * 10**9
FILLER = " ".join(f"word{i} lorem ipsum dolor {i * 7919 % 1000}" for i in range(60))  # > 1 KB: packed


def _post(store: TraceStore, n: int, text: str, *, name: str = "step", events_text: str | None = None,
          trace_no: int | None = None, span_no: int = 0, start_ns: int | None = None) -> str:
    trace_id = f"{(trace_no if trace_no is not None else n) + 1:032x}"
    start_ns = BASE_NS + n * 10**9 if start_ns is None else start_ns
    span = {"trace_id": trace_id, "span_id": f"{span_no + 1:016x}", "name": name,
            "start_ns": start_ns, "end_ns": start_ns + 1000,
            "attributes": {"traceglass.input": text}}
    if events_text is not None:
        span["events"] = [{"name": "log", "time_unix_nano": BASE_NS, "attributes": {"message": events_text}}]
    store.upsert_span(span)
    return trace_id


def _brute(path: Path, needle: str) -> set[str]:
    """Trace ids with a span whose stored texts hold ``needle``, found by reading every span."""
    wanted = needle.encode("utf-8", "surrogatepass").lower()
    conn = sqlite3.connect(path)
    from traceglass.store import _packed

    _packed.register(conn)
    found = set()
    for trace_id, *texts in conn.execute(
            "SELECT s.trace_id, s.name, tg_json(d.attributes), tg_json(d.events) FROM spans s "
            "JOIN span_data d ON d.id = s.id"):
        if any(t is not None and wanted in t.encode().lower() for t in texts):
            found.add(trace_id)
    conn.close()
    return found


def _search_ids(store: TraceStore, needle: str) -> set[str]:
    return {t.trace_id for t in store.list_traces(search=needle, limit=10_000).traces}


def _words(path: Path) -> set[str]:
    """The index's vocabulary once merged: only words of live indexed spans remain when deletes are exact."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO span_words (span_words) VALUES ('optimize')")
    words = {term for (term,) in conn.execute("SELECT term FROM span_words_vocab")}
    conn.close()
    return words


def _first_id(path: Path) -> int | None:
    conn = sqlite3.connect(path)
    (first,) = conn.execute("SELECT first_id FROM search_index").fetchone()
    conn.close()
    return first


DOCS = [
    "The customer asked about Refunds for order #A-1234 (priority: HIGH)",
    "Shipping delays in Europe; the premium plan includes priority_support",
    "naïve café ÉCOLE résumé Straße 東京 emoji 🙂 done",
    "path/to/file.py:42 raised ValueError('bad input') at 0x7ffe",
    "nonrefundable deposit of $1,000.50 — see https://example.com/terms?x=1&y=2",
    FILLER + " hidden-needle-in-a-packed-value " + FILLER,
]
NEEDLES = [
    "refund", "REFUND", "efun", "Refunds for", "for order #A-12", "order", "#A-1234", "1234", "A-1", "a-1",
    "priority", "priority_support", "_support", "support", "y: HIGH)", "HIGH", "high)",
    "café", "CAFÉ", "caf", "école", "ÉCOLE", "cole", "straße", "東京", "🙂", "e 🙂 d",
    "file.py:42", ".py", "ValueError('bad", "0x7ff", "x7ffe", "$1,000.50", "1,000", "example.com/terms?x=1",
    "nonrefund", "refundable", "hidden-needle", "needle-in-a-packed", "packed-value", "word59", "ord5",
    "lorem ipsum", "m ipsu", "a", "ab", "th", "zzz absent", "absent", "%", "_", "\\", "'", "\"", " ",
    "step", "ste", "log", "message",
]


@pytest.fixture
def store_with_docs(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        for i, doc in enumerate(DOCS):
            _post(store, i, doc, name=f"step {i}", events_text=doc[::-1] if i % 2 else None)
        yield path, store


@pytest.mark.parametrize("needle", NEEDLES)
def test_search_finds_what_a_scan_finds(store_with_docs, needle):
    path, store = store_with_docs
    assert _first_id(path) == 1  # a new store: every span indexed
    assert _search_ids(store, needle) == _brute(path, needle)


def test_the_index_serves_needles_with_a_word_and_the_vocabulary_others(store_with_docs):
    _, store = store_with_docs
    conn = store._db.conn  # the plan is what this test is about
    assert _search.match_expression(conn, "Refunds for") == ('("for")', 1)
    assert _search.match_expression(conn, "for order #A-12") == ('("order")', 1)
    assert _search.match_expression(conn, "ValueError('bad input')") == ('("input") AND ("bad")', 1)
    assert _search.match_expression(conn, "efun") == ('("nonrefundable" OR "refunds")', 2)
    assert _search.match_expression(conn, "Lorem ipsum dol") == ('("ipsum") AND ("dolor")', 1)
    assert _search.match_expression(conn, "zzz absent") == ("", 0)
    assert _search.match_expression(conn, "qqqq") == ("", 0)  # no such word: nothing indexed can match
    assert _search.match_expression(conn, "ab") is None  # too short to look up: scanned
    assert _search.match_expression(conn, "é") is None


@pytest.mark.parametrize("few, many", [(3, 5), (0, 100), (100, 100)])
def test_many_candidates_take_the_per_trace_path_and_very_many_a_scan(tmp_path, monkeypatch, few, many):
    path = tmp_path / "s.db"
    monkeypatch.setattr(_search, "MAX_CANDIDATES", few)
    monkeypatch.setattr(_search, "MANY_CANDIDATES", many)
    with TraceStore(path) as store:
        for i in range(8):
            _post(store, i, f"common text number {i}" + (" rare" if i % 3 == 0 else ""))
        for needle in ("common", "common text", "text number 4", "rare", "number 9", "n tex", " rare"):
            assert _search_ids(store, needle) == _brute(path, needle)


@pytest.mark.parametrize("mode", ["few", "many", "scan"])
def test_the_search_reads_traces_newest_first_a_chunk_at_a_time_through_ties(tmp_path, monkeypatch, mode):
    """Chunks of 2, then 3 traces (the walk's continuation after the last trace of a chunk), pairs of
    traces starting at the same time across chunk ends (the trace id breaks the tie), the needle in
    a compressed value, a plain one, an event or a name; pages of 2 through the cursor."""
    monkeypatch.setattr(_search, "FIRST_CHUNK", 2)
    monkeypatch.setattr(_search, "MAX_CHUNK", 3)
    if mode == "many":
        monkeypatch.setattr(_search, "MAX_CANDIDATES", 0)
    elif mode == "scan":
        monkeypatch.setattr(_search, "MANY_CANDIDATES", 0)
    path = tmp_path / "w.db"
    with TraceStore(path) as store:
        for i in range(15):
            where = i % 5
            text = ("Found-It " if where == 0 else "") + (FILLER if i % 2 else "short")
            _post(store, i // 2, text, trace_no=i, name="found-it" if where == 3 else "step",
                  events_text="found-it" if where == 4 else None)
        newest_first = [t.trace_id for t in store.list_traces(limit=100).traces]
        holding = _brute(path, "found-it")
        assert len(holding) == 9 and len({t.start_ns for t in store.list_traces(limit=100).traces}) == 8
        expected = [trace_id for trace_id in newest_first if trace_id in holding]
        assert [t.trace_id for t in store.list_traces(search="FOUND-it", limit=100).traces] == expected
        pages, cursor = [], None
        for _ in range(10):
            page = store.list_traces(search="found-it", limit=2, cursor=cursor)
            pages.extend(t.trace_id for t in page.traces)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == expected


_ALPHABET = string.ascii_letters[:6] + "XYZ" + "0123" + " _-.:'\"\\%" + "éÉßﬁ🙂東"
_texts = st.text(alphabet=_ALPHABET, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(_texts, min_size=1, max_size=6), picks=st.lists(st.tuples(st.integers(0, 5),
       st.integers(0, 40), st.integers(1, 12)), max_size=6), extra=st.lists(_texts.filter(bool), max_size=3))
def test_property_index_search_equals_a_substring_scan(docs, picks, extra):
    needles = [docs[i % len(docs)][start:start + size] for i, start, size in picks] + extra
    needles = [n for n in needles if n.strip("\x00")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.db"
        with TraceStore(path) as store:
            for i, doc in enumerate(docs):
                _post(store, i, doc + (" " + FILLER if i == 1 else ""), name=doc[:8] if doc[:8].strip() else "x")
            for needle in needles:
                assert _search_ids(store, needle) == _brute(path, needle), needle


def _downgrade_to_9(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    downgrade_to_13(conn)
    for table in ("zstd_dicts", "span_words_vocab", "span_words", "search_index"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 9")
    conn.close()


@pytest.mark.parametrize("candidates", ["few", "many"])
def test_a_store_from_before_the_index_still_finds_its_old_spans(tmp_path, monkeypatch, candidates):
    if candidates == "many":  # the candidates and the old spans picked in Python, chunk by chunk
        monkeypatch.setattr(_search, "MAX_CANDIDATES", 0)
    path = tmp_path / "old.db"
    with TraceStore(path) as store:
        old = [_post(store, i, doc) for i, doc in enumerate(DOCS[:3])]
    _downgrade_to_9(path)
    with TraceStore(path) as store:
        assert _first_id(path) == 4  # the old spans stay below the watermark, scanned
        new = _post(store, 10, "a refund asked for today")
        assert _search_ids(store, "refund") == {old[0], new} == _brute(path, "refund")
        assert _search_ids(store, "café") == {old[2]}
        _post(store, 0, "replaced text, no longer about money")  # an old span re-posted stays scanned
        assert _search_ids(store, "refund") == {new}
        assert _search_ids(store, "no longer") == {old[0]}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_retention_deletes_the_words_of_deleted_spans(tmp_path):
    path = tmp_path / "r.db"
    with TraceStore(path) as store:
        ids = [_post(store, i, f"uniqueword{i} shared") for i in range(6)]
        for trace_id in ids[:4]:
            assert store.delete_trace(trace_id)
        assert _search_ids(store, "shared") == set(ids[4:])
        assert _search_ids(store, "uniqueword1") == set()
        # New spans may take the deleted spans' row ids: found by their own words only.
        again = _post(store, 20, "different content")
        assert _search_ids(store, "uniqueword") == set(ids[4:])
        assert _search_ids(store, "different") == {again}
    assert {w for w in _words(path) if w.startswith("uniqueword")} == {"uniqueword4", "uniqueword5"}
    with TraceStore(path) as store:
        assert store.prune(max_size=1) == 3
    assert _words(path) == set()  # every deletion was exact


def _index(path: Path) -> tuple[int, int]:
    """``search_index.forgotten`` and the bytes of the word index's blocks."""
    conn = sqlite3.connect(path)
    forgotten = conn.execute("SELECT forgotten FROM search_index").fetchone()[0]
    size = conn.execute("SELECT sum(length(block)) FROM span_words_data").fetchone()[0]
    conn.close()
    return forgotten, size


def _long(n: int, words: int = 400) -> str:
    return " ".join(f"w{n}x{i}" for i in range(words))  # words of this trace's own


def test_deleted_and_replaced_spans_are_counted_until_the_index_is_merged(tmp_path):
    path = tmp_path / "f.db"
    with TraceStore(path) as store:
        ids = [_post(store, i, _long(i)) for i in range(6)]
        _post(store, 0, "one more span", trace_no=0, span_no=1)
        assert _index(path)[0] == 0
        assert store.delete_trace(ids[0]) and store.delete_trace(ids[1])
        assert _index(path)[0] == 3  # trace 0's two spans, trace 1's one
        _post(store, 2, "replaced text")  # the span's old words are deleted, its new ones added
        forgotten, size = _index(path)
        assert forgotten == 4
        assert store.prune(older_than="3650d") == 0  # 4 of the 4 spans indexed now: a merge is due
        assert _index(path)[0] == 0 and _index(path)[1] < size / 2
        assert _search_ids(store, "w3x") == {ids[3]} and _search_ids(store, "replaced") == {ids[2]}


def test_age_retention_merges_the_index_once_its_deletions_reach_the_merge_share(tmp_path, monkeypatch):
    monkeypatch.setattr(_search, "MERGE_SHARE", 0.5)
    path = tmp_path / "a.db"
    now = time.time_ns()
    day = 86400 * 10**9
    with TraceStore(path) as store:
        ages = [44.5, 43.5, 42.5, 41.5, 38.5, 37.5, 36.5, 35.5, 34.5, 33.5]  # days
        ids = [_post(store, i, _long(i), start_ns=now - int(age * day)) for i, age in enumerate(ages)]
        grown = _index(path)[1]
        assert store.prune(older_than="42d") == 3  # 3 deleted, 7 indexed: no merge, the deletions take space
        forgotten, size = _index(path)
        assert forgotten == 3 and size > grown
        assert store.prune(older_than="37d") == 3  # 6 deleted, 4 indexed: merged
        forgotten, size = _index(path)
        assert forgotten == 0 and size < grown * 0.5
        assert _search_ids(store, "x399") == set(ids[6:])


def test_retention_deletes_words_in_row_id_order(tmp_path):
    # FTS5 writes its pending entries out as a segment of its own whenever a row id is lower than the
    # last one; a trace's spans come in span id order, here the reverse of their row ids'.
    path = tmp_path / "o.db"
    with TraceStore(path) as store:
        ids = [_post(store, t, f"trace{t}x{k} words", trace_no=t, span_no=k) for t in range(30)
               for k in (3, 2, 1, 0)][::4]
        keep = _post(store, 40, "kept words")
    conn = sqlite3.connect(path, isolation_level=None)
    _packed.register(conn)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    assert _retention.delete_traces(conn, ids) == 30
    conn.close()
    assert len([s for s in statements if s.startswith("-- ")]) <= 20  # the index's own statements
    words = _words(path)
    assert "kept" in words and not [w for w in words if w.startswith("trace") and w[5:6].isdigit()]
    with TraceStore(path) as store:
        assert _search_ids(store, "words") == {keep}


def _automerge(path: Path) -> int | None:
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT v FROM span_words_config WHERE k = 'automerge'").fetchone()
    conn.close()
    return None if row is None else row[0]


def test_the_index_merges_eight_segments_at_a_time_when_new_and_when_upgraded(tmp_path):
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    TraceStore(new).close()
    assert _automerge(new) == _search.AUTOMERGE == 8
    with TraceStore(old) as store:
        kept = _post(store, 0, "stored under schema 12")
    conn = sqlite3.connect(old, isolation_level=None)  # what schema 12 made: FTS5's default, no count
    downgrade_to_13(conn)
    conn.execute("DELETE FROM span_words_config WHERE k = 'automerge'")
    conn.execute("ALTER TABLE search_index DROP COLUMN forgotten")
    conn.execute("PRAGMA user_version = 12")
    conn.close()
    with TraceStore(old) as store:
        assert _search_ids(store, "schema") == {kept}
        assert store.delete_trace(kept)
    assert _automerge(old) == 8 and _index(old)[0] == 1


def test_a_merge_keeps_counting_the_deletions_made_while_it_runs(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    with TraceStore(path) as store:
        ids = [_post(store, i, _long(i, 4000)) for i in range(12)]  # the index: dozens of pages
        for trace_id in ids[:6]:
            store.delete_trace(trace_id)
    monkeypatch.setattr(_search, "MERGE_PAGES", 2)  # many steps
    conn = sqlite3.connect(path, isolation_level=None)
    _packed.register(conn)

    class DeletingBetweenSteps:
        entered = 0

        def __enter__(self):
            self.entered += 1
            if self.entered == 3:  # the merge has begun: these deletions are not in it
                _retention.delete_traces(conn, ids[6:8])

        def __exit__(self, *exc):
            return None

    steps = DeletingBetweenSteps()
    assert _search.merge(conn, step=steps) is True
    conn.close()
    assert steps.entered > 3
    assert _index(path)[0] == 2


def test_a_reposted_span_is_found_by_its_new_text_only(tmp_path):
    path = tmp_path / "u.db"
    with TraceStore(path) as store:
        trace_id = _post(store, 0, "original wording here", name="first")
        _post(store, 1, "another trace")
        _post(store, 0, "rewritten sentence, same wording", name="second")
        assert _search_ids(store, "original") == set() == _brute(path, "original")
        assert _search_ids(store, "rewritten") == {trace_id}
        assert _search_ids(store, "second") == {trace_id}
        assert _search_ids(store, "first") == set()
        _post(store, 0, "wording kept, the rest new", name="third")  # a word deleted and added back at once
        assert _search_ids(store, "wording") == {trace_id} == _brute(path, "wording")
        assert _search_ids(store, "ordin") == {trace_id}
    words = _words(path)
    assert "original" not in words and "first" not in words and "rewritten" not in words
    assert {"wording", "kept", "third"} <= words


def test_without_fts5_the_store_works_and_scans(tmp_path, monkeypatch):
    monkeypatch.setattr(_search, "FTS5", False)
    path = tmp_path / "n.db"
    with TraceStore(path) as store:
        for i, doc in enumerate(DOCS):
            _post(store, i, doc)
        assert _first_id(path) is None
        conn = sqlite3.connect(path)
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'span_words'").fetchone()
        conn.close()
        for needle in ("refund", "café", "hidden-needle", "zzz"):
            assert _search_ids(store, needle) == _brute(path, needle)


def test_a_process_without_fts5_moves_the_watermark_and_nothing_is_missed(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    with TraceStore(path) as store:
        ids = [_post(store, i, doc) for i, doc in enumerate(DOCS[:4])]
    monkeypatch.setattr(_search, "FTS5", False)  # e.g. the same file opened by another Python
    with TraceStore(path) as store:
        _post(store, 1, "changed without the index: refund")
        late = _post(store, 10, "written without the index: refund")
        assert store.delete_trace(ids[3])
    assert _first_id(path) == 6
    monkeypatch.setattr(_search, "FTS5", True)
    with TraceStore(path) as store:
        newest = _post(store, 11, "indexed again: refund")
        assert _search_ids(store, "refund") == {ids[0], ids[1], late, newest} == _brute(path, "refund")
        assert _search_ids(store, "Shipping") == set() == _brute(path, "Shipping")


_ops = st.lists(st.tuples(st.sampled_from(["post", "post", "delete"]), st.integers(0, 4), _texts), min_size=1,
                max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops, needles=st.lists(_texts.filter(str.strip), min_size=1, max_size=4))
def test_property_after_reposts_and_deletes_the_index_still_finds_what_a_scan_finds(ops, needles):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.db"
        with TraceStore(path) as store:
            for op, n, text in ops:
                if op == "post":  # a new span, or the same span (trace n) with new text
                    _post(store, n, text + (" " + FILLER if n == 1 else ""))
                else:
                    store.delete_trace(f"{n + 1:032x}")
            for needle in [*needles, *(text[:5] for _, _, text in ops if text[:5].strip())]:
                assert _search_ids(store, needle) == _brute(path, needle), needle
            for n in range(5):
                store.delete_trace(f"{n + 1:032x}")
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("INSERT INTO span_words (span_words) VALUES ('integrity-check')")
        conn.close()
        assert _words(path) == set()  # every word taken out was exactly what was put in


def test_backfill_indexes_an_upgraded_stores_old_spans_newest_first(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    with TraceStore(path) as store:
        old = [_post(store, i, doc, events_text=doc[::-1] if i % 2 else None) for i, doc in enumerate(DOCS)]
    _downgrade_to_9(path)
    monkeypatch.setattr(_search, "BACKFILL_CHUNK", 2)
    with TraceStore(path) as store:
        new = _post(store, 10, "a refund asked for today")
        assert _first_id(path) == 7
        steps = []
        assert store.backfill_search_index(max_spans=3, progress=lambda done, left: steps.append((done, left))) == 3
        assert steps == [(2, 4), (3, 3)] and _first_id(path) == 4  # the newest old spans first
        for needle in NEEDLES:  # half indexed, half scanned: still what a scan finds
            assert _search_ids(store, needle) == _brute(path, needle), needle
        assert store.backfill_search_index() == 3 and _first_id(path) == 1
        assert store.backfill_search_index() == 0  # nothing left
        for needle in NEEDLES:
            assert _search_ids(store, needle) == _brute(path, needle), needle
        # The backfilled words are exactly the spans' texts: deleting every trace empties the index.
        for trace_id in [*old, new]:
            assert store.delete_trace(trace_id)
    assert _words(path) == set()


def test_backfill_refuses_a_read_only_store_and_bad_limits(tmp_path):
    path = tmp_path / "s.db"
    with TraceStore(path) as store:
        _post(store, 0, "text")
        with pytest.raises(ValueError, match="max_spans"):
            store.backfill_search_index(max_spans=-1)
        assert store.backfill_search_index() == 0  # a new store: every span indexed already
    with TraceStore(path, read_only=True) as store, pytest.raises(sqlite3.OperationalError, match="read_only"):
        store.backfill_search_index()


def test_migrate_search_index_from_the_command_line(tmp_path, capsys):
    import json

    from traceglass.cli import main

    path = tmp_path / "old.db"
    with TraceStore(path) as store:
        for i, doc in enumerate(DOCS[:4]):
            _post(store, i, doc)
    _downgrade_to_9(path)
    assert main(["migrate", "--db", str(path), "--search-index", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(path), "schema_before": 9, "schema": SCHEMA_VERSION,
                                                   "search_indexed": 4}
    assert _first_id(path) == 1
    assert main(["migrate", "--db", str(path), "--search-index"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: already at schema {SCHEMA_VERSION}",
                                                    "indexed 0 older span(s) for the content search"]
