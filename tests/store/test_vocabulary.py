"""The word index's vocabulary kept per process (store/_vocabulary.py): a needle that may be part of any
word reads it once, not at every search, and the search still finds what a scan finds while spans are
added, posted again with other words, deleted (their row ids then taken again) and backfilled."""

from __future__ import annotations

import random
import sqlite3
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceglass.store import TraceStore, _search, _vocabulary

from .test_search_index import BASE_NS, _brute, _post, _search_ids

_watching: list[tuple[str, list[str]]] = []  # (a store's file, the list its whole reads go in)


@pytest.fixture(autouse=True)
def _count_whole_reads(monkeypatch):
    """Every read of a store's whole vocabulary (_vocabulary._read_whole) is listed for the tests watching it."""
    read_whole = _vocabulary._read_whole

    def counted(conn, file, table):
        for watched, reads in _watching:
            if watched == file:
                reads.append(file)
        return read_whole(conn, file, table)

    monkeypatch.setattr(_vocabulary, "_read_whole", counted)
    yield
    _watching.clear()


def _passes(store: TraceStore) -> list[str]:
    """The reads of ``store``'s whole vocabulary from now on."""
    reads: list[str] = []
    _watching.append((str(store.path.absolute()), reads))
    return reads


@pytest.mark.parametrize("candidates", ["few", "many"])
def test_a_lone_word_reads_the_vocabulary_once_and_new_spans_are_checked_until_they_are_many(tmp_path, monkeypatch,
                                                                                            candidates):
    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 3)
    if candidates == "many":  # the candidates and the spans above ``through`` picked in Python, chunk by chunk
        monkeypatch.setattr(_search, "MAX_CANDIDATES", 0)
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        refund = _post(store, 0, "a refund for the order")
        passes = _passes(store)
        assert _search_ids(store, "efun") == {refund} == _search_ids(store, "efun")
        assert len(passes) == 1
        # A new word after the vocabulary was read: its span is above ``through``, checked as an unindexed one.
        late = [_post(store, n, f"nonrefundable deposit {n}") for n in (1, 2, 3)]
        assert _search_ids(store, "efun") == {refund, *late} == _brute(path, "efun")
        assert _search_ids(store, "eposi") == set(late)
        assert len(passes) == 1
        # Four spans above it: more than TAIL_MAX, and adding their words costs more than reading them all again.
        _post(store, 4, "nothing here")
        assert _search_ids(store, "efun") == {refund, *late}
        assert len(passes) == 2


def test_runs_inside_words_are_looked_up_in_the_kept_words_not_the_vocabulary_table(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        refund = _post(store, 0, "a refund for the order")
        assert _search_ids(store, "efun") == {refund}  # the vocabulary read once, its words kept
        statements: list[str] = []
        store._db.conn.set_trace_callback(statements.append)
        try:
            assert _search_ids(store, "efun") == {refund}  # a part of a word
            assert _search_ids(store, "efund ") == {refund}  # the end of one
        finally:
            store._db.conn.set_trace_callback(None)
        assert statements and not [sql for sql in statements if "span_words_vocab" in sql]  # (a word there: a seek)


def _kept(path: Path) -> _vocabulary.Words:
    (words,) = [words for key, words in _vocabulary._kept.items() if key[0] == str(path)]
    return words


@pytest.mark.parametrize("candidates", ["few", "many"])
def test_the_words_of_spans_stored_since_are_added_without_reading_the_vocabulary_again(tmp_path, monkeypatch,
                                                                                      candidates):
    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 2)
    monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 1)  # a tail up to the spans below it is added
    if candidates == "many":
        monkeypatch.setattr(_search, "MAX_CANDIDATES", 0)
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        old = {_post(store, n, f"an old note {n}") for n in range(4)}
        passes = _passes(store)
        assert _search_ids(store, "ote") == old
        assert len(passes) == 1 and _kept(path).through == 5
        # Three spans, their words in a name, in a large value stored compressed (over MIN_PACKED characters)
        # and in an event's (values stored as text: the next test): more than TAIL_MAX, so their words are added.
        named = _post(store, 4, "plain", name="unrefundable")
        packed = _post(store, 5, "filler " * 300 + "zeppelinfund " + "filler " * 300)
        event = _post(store, 6, "plain", events_text="x" * 2000 + " fundraiser")
        assert _search_ids(store, "fund") == {named, packed, event} == _brute(path, "fund")
        assert len(passes) == 1  # the vocabulary was not read again
        kept = _kept(path)
        assert kept.through == 8 and kept.read < len(kept.text)
        assert {"unrefundable", "zeppelinfund", "fundraiser"} <= set(kept.text.split())
        assert _search_ids(store, "eppelinf") == {packed}
        assert _search_ids(store, "ote") == old  # the words read whole are still there
        assert len(passes) == 1
        # The words added are the index's own for those spans: nothing more, nothing less.
        assert set(kept.text.split()) == set(_state_and_words(store)[4].split("\n"))


def test_a_tail_over_sqlites_limit_on_a_value_is_read_in_fewer_spans_a_step(tmp_path, monkeypatch):
    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 0)
    monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 0)
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "first")
        passes = _passes(store)
        assert _search_ids(store, "irs") == {f"{1:032x}"} and len(passes) == 1
        # Six spans of ~900 characters each (stored as text): any three are over the limit, one is not.
        spans = {_post(store, n, f"word{n}fund " + "padding " * 110) for n in range(1, 7)}
        store._db.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2_500)
        assert _search_ids(store, "fund") == spans == _brute(path, "fund")
        assert len(passes) == 1 and _kept(path).through == 8
        assert {f"word{n}fund" for n in range(1, 7)} <= set(_kept(path).text.split())


def test_the_vocabulary_is_read_again_when_that_costs_less_or_the_words_added_doubled_it(tmp_path, monkeypatch):
    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 0)
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        for n in range(3):
            _post(store, n, f"shipping {n}")
        passes = _passes(store)
        assert len(_search_ids(store, "hippin")) == 3 and len(passes) == 1
        read = _kept(path).read
        # CATCH_UP_COST 18: one new span costs 18 spans' share of reading the whole vocabulary; three are below.
        _post(store, 3, "shipped")
        assert len(_search_ids(store, "hippe")) == 1 and len(passes) == 2
        monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 0)
        _post(store, 4, "shipments")
        assert len(_search_ids(store, "hipmen")) == 1 and len(passes) == 2  # added
        assert _kept(path).read == read + len("shipped\n")  # read whole with span 3
        _post(store, 5, " ".join(f"longword{n:04d}" for n in range(50)))  # its words double the text
        assert len(_search_ids(store, "ongword0049")) == 1 and len(passes) == 2
        _post(store, 6, "shipyard")
        assert len(_search_ids(store, "hipyar")) == 1 and len(passes) == 3  # the text had doubled: read whole
        monkeypatch.setattr(_vocabulary, "CATCH_UP_MAX", 1)
        _post(store, 7, "shipwright")
        assert len(_search_ids(store, "hipwrigh")) == 1 and len(passes) == 3  # one span: added
        _post(store, 8, "shipload")
        _post(store, 9, "shipmate")
        assert len(_search_ids(store, "hipmat")) == 1 and len(passes) == 4  # two: more than CATCH_UP_MAX


def test_the_rule_between_adding_a_tails_words_and_reading_the_vocabulary_again_at_its_bounds(monkeypatch):
    monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 4)
    monkeypatch.setattr(_vocabulary, "CATCH_UP_MAX", 100)
    kept = _vocabulary.Words(1, 0, 400, "\n" + "word\n" * 10, read=51)  # 400 spans below the tail
    assert _vocabulary._catches_up(kept, 500)  # 100 spans: 4 x 100 = 400, as much as reading again
    assert not _vocabulary._catches_up(replace(kept, through=399), 499)  # 4 x 100 > 399
    assert not _vocabulary._catches_up(replace(kept, through=1_000), 1_101)  # over CATCH_UP_MAX
    assert _vocabulary._catches_up(replace(kept, text="x" * 102), 500)  # the text twice as long as read
    assert not _vocabulary._catches_up(replace(kept, text="x" * 103), 500)


def test_a_process_keeps_the_words_of_the_four_stores_it_searched_last(tmp_path):
    stores = [TraceStore(tmp_path / f"s{n}.db") for n in range(5)]
    try:
        passes = []
        for n, store in enumerate(stores):
            _post(store, 0, f"shipping {n}")
            passes.append(_passes(store))
        for store in stores[:4]:
            assert len(_search_ids(store, "hippin")) == 1
        assert [len(p) for p in passes] == [1, 1, 1, 1, 0]
        assert len(_search_ids(stores[0], "hippin")) == 1  # still kept: not read again, and now used last
        assert len(_search_ids(stores[4], "hippin")) == 1  # a fifth: the words of the one unused longest go
        assert [len(p) for p in passes] == [1, 1, 1, 1, 1] and len(_vocabulary._kept) == 4
        assert {key[0] for key in _vocabulary._kept} == {str((tmp_path / f"s{n}.db").absolute()) for n in (0, 2, 3, 4)}
        assert len(_search_ids(stores[1], "hippin")) == 1 and len(passes[1]) == 2
        kept = set(_vocabulary._kept)  # the stores 3, 0, 4 and 1, in the order used
        _post(stores[4], 1, "shipped")  # a store kept whose words are read again: it takes no other's place
        stores[4].delete_trace(f"{2:032x}")  # the newest: its words are read again
        assert len(_search_ids(stores[4], "hippin")) == 1 and len(passes[4]) == 2
        assert set(_vocabulary._kept) == kept
    finally:
        for store in stores:
            store.close()


def test_a_span_posted_again_in_place_is_found_by_its_new_words(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        trace = _post(store, 0, "about shipping")
        _post(store, 1, "another span after it")  # the first keeps a row id below the newest
        assert _search_ids(store, "hippin") == {trace}
        _post(store, 0, "now about a refund")  # the same span, stored again under its row id
        assert _search_ids(store, "efun") == {trace} == _brute(path, "efun")
        assert _search_ids(store, "hippin") == set()


def test_row_ids_freed_by_a_deletion_and_taken_again_are_searched(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "first words")
        newest = _post(store, 1, "second words")
        assert _search_ids(store, "word") == {f"{1:032x}", newest}
        assert store.delete_trace(newest)  # the newest row id is free again
        again = _post(store, 2, "a refund under a reused row id")
        assert _search_ids(store, "efun") == {again} == _brute(path, "efun")


def test_deleting_older_traces_keeps_the_words_and_deleting_the_newest_has_them_read_again(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        traces = [_post(store, n, f"shipping {n}") for n in range(4)]
        passes = _passes(store)
        assert _search_ids(store, "hippin") == set(traces) and len(passes) == 1
        assert store.delete_trace(traces[0]) and store.delete_trace(traces[2])  # as retention does: not the newest
        assert _search_ids(store, "hippin") == {traces[1], traces[3]} == _brute(path, "hippin")
        assert len(passes) == 1
        assert store.delete_trace(traces[3])  # the newest: new spans may take its row id
        assert _search_ids(store, "hippin") == {traces[1]} and len(passes) == 2


def test_the_newest_span_deleted_and_stored_again_with_other_words_is_found_by_them(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "first words")
        newest = _post(store, 1, "about shipping")
        assert _search_ids(store, "hippin") == {newest}
        assert store.delete_trace(newest)
        # The same span (its id and start: the mark the kept words check) under the same row id, other words.
        assert _post(store, 1, "now about a refund") == newest
        assert _search_ids(store, "efun") == {newest} == _brute(path, "efun")
        assert _search_ids(store, "hippin") == set()


def test_a_backfill_moves_the_watermark_and_the_vocabulary_is_read_again(tmp_path):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        old = _post(store, 0, "an old refund")
    conn = sqlite3.connect(path, isolation_level=None)  # the old span below the watermark: not indexed
    conn.execute("UPDATE search_index SET first_id = 2")
    conn.execute("INSERT INTO span_words (span_words) VALUES ('delete-all')")
    conn.close()
    with TraceStore(path) as store:
        new = _post(store, 1, "a new refund")
        passes = _passes(store)
        assert _search_ids(store, "efun") == {old, new}
        assert store.backfill_search_index() == 1
        assert _search_ids(store, "efun") == {old, new} == _brute(path, "efun")
        assert len(passes) == 2


def test_another_file_in_the_stores_place_is_not_read_with_the_words_kept_for_the_first(tmp_path, monkeypatch):
    # As if the second file took the first one's inode number (file systems reuse them): the same key.
    monkeypatch.setattr(_vocabulary, "_key", lambda file: ("the store", 1, 1))
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    with TraceStore(first) as store:
        for n in range(3):
            _post(store, n, f"shipping note {n}")
        assert len(_search_ids(store, "hippin")) == 3
    with TraceStore(second) as store:  # the same state the words were read at: watermark, changes, row ids
        refunds = {_post(store, n, f"a refund {n}", start_ns=BASE_NS + 7 + n) for n in range(4)}  # other spans
        assert _search_ids(store, "efun") == refunds == _brute(second, "efun")


_texts = st.text(alphabet="abcdefgh refundRE.-", min_size=1, max_size=24)
_ops = st.lists(st.tuples(st.sampled_from(["post", "post", "delete", "search"]), st.integers(0, 5), _texts),
                min_size=1, max_size=16)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops, tail=st.integers(0, 3), cost=st.sampled_from([0, _vocabulary.CATCH_UP_COST]))
def test_property_searches_between_posts_and_deletes_find_what_a_scan_finds(ops, tail, cost):
    saved = _vocabulary.TAIL_MAX, _vocabulary.CATCH_UP_COST
    _vocabulary.TAIL_MAX, _vocabulary.CATCH_UP_COST = tail, cost  # cost 0: every tail's words are added
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "o.db"
            with TraceStore(path) as store:
                for op, n, text in ops:
                    if op == "post":
                        _post(store, n, text)
                    elif op == "delete":
                        store.delete_trace(f"{n + 1:032x}")
                    else:
                        for needle in (text, text[1:4], text.strip()[-3:]):
                            if needle.strip():
                                assert _search_ids(store, needle) == _brute(path, needle), needle
    finally:
        _vocabulary.TAIL_MAX, _vocabulary.CATCH_UP_COST = saved


def test_the_words_holding_a_run_come_in_order_up_to_the_limit():
    words = _vocabulary.Words(1, 0, 1, "\nrefund\nrefunds\nunrefundable\nzebra\n")
    assert _vocabulary.holding(words, "fund", suffix=False, limit=5) == ["refund", "refunds", "unrefundable"]
    assert _vocabulary.holding(words, "fund", suffix=True, limit=5) == ["refund"]
    assert _vocabulary.holding(words, "fund", suffix=False, limit=2) is None
    assert _vocabulary.holding(words, "ebr", suffix=False, limit=2) == ["zebra"]
    assert _vocabulary.holding(words, "qq", suffix=False, limit=2) == []
    added = _vocabulary.Words(1, 0, 1, words.text + "refunds\nzebra\nrefunding\n")  # a tail's words repeat some
    assert _vocabulary.holding(added, "fund", suffix=False, limit=4) == ["refund", "refunds", "unrefundable",
                                                                          "refunding"]
    assert _vocabulary.holding(added, "fund", suffix=False, limit=3) is None


@pytest.fixture
def on_threads(monkeypatch):
    """The whole vocabulary read on two threads, however small the store."""
    monkeypatch.setattr(_vocabulary, "PARALLEL_FROM", 0)
    monkeypatch.setattr(_vocabulary, "READERS", 2)


def _state_and_words(store: TraceStore) -> tuple:
    conn = store._db.conn
    (file,) = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return _vocabulary._read_whole(conn, file, "span_words_vocab")


def test_the_vocabulary_read_on_threads_a_range_at_a_time_is_the_one_statements_read(tmp_path, monkeypatch,
                                                                                     on_threads):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        # Words in every range and on the cuts themselves: numbers, each letter, non-ASCII ones.
        _post(store, 0, "0 9 12345 a ab c d e f g h i j k l m n o p q r s t u v w x y z zz")
        _post(store, 1, "élan ωmega 日本語 ÿes Zürich naïve ~tilde_")
        monkeypatch.setattr(_vocabulary, "READERS", 1)
        one = _state_and_words(store)
        monkeypatch.setattr(_vocabulary, "READERS", 2)
        assert _state_and_words(store) == one
        assert {"0", "12345", "a", "c", "u", "zz", "elan", "zurich", "ωmega", "日本語"} <= set(one[4].split("\n"))
        monkeypatch.setattr(_vocabulary, "READERS", 3)
        assert _state_and_words(store) == one


def _meanwhile(monkeypatch, path: Path, change) -> list[bool]:
    """Has ``change(store)`` run once, on another store of ``path``, as the vocabulary's ranges are read."""
    range_words, done, lock = _vocabulary.range_words, [], threading.Lock()

    def reading(conn, table, low, high):
        with lock:
            if not done:
                done.append(True)
                with TraceStore(path) as other:
                    change(other)
        return range_words(conn, table, low, high)

    monkeypatch.setattr(_vocabulary, "range_words", reading)
    return done


def test_a_span_changed_while_the_ranges_are_read_has_the_words_read_in_one_statement(tmp_path, monkeypatch,
                                                                                      on_threads):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        trace = _post(store, 0, "about shipping")
        _post(store, 1, "the newest")
        # The first span written again in place, with other words, by another store.
        changed = _meanwhile(monkeypatch, path, lambda other: _post(other, 0, "now a refund"))
        state = _state_and_words(store)
        now = store._db.conn.execute("SELECT first_id, changes FROM search_index").fetchone()
        assert changed and state[:2] == now and now[1] == 1  # the words go with the state after the change
        assert "refund" in state[4].split("\n")
        assert _search_ids(store, "efun") == {trace} == _brute(path, "efun")


def test_spans_stored_while_the_ranges_are_read_keep_the_words_read(tmp_path, monkeypatch, on_threads):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "about shipping")
        stored = _meanwhile(monkeypatch, path, lambda other: _post(other, 1, "a refund"))  # a writer at work
        first, changes, top, mark, text = _state_and_words(store)
        assert stored and top == 2  # read on the threads: the new span (row id 2) is above ``top``, to check
        assert "shipping" in text.split("\n")


def test_a_backfill_while_the_ranges_are_read_has_the_words_read_in_one_statement(tmp_path, monkeypatch,
                                                                                  on_threads):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "an old zeppelin")
    conn = sqlite3.connect(path, isolation_level=None)  # the old span below the watermark: not indexed
    conn.execute("UPDATE search_index SET first_id = 2")
    conn.execute("INSERT INTO span_words (span_words) VALUES ('delete-all')")
    conn.close()
    with TraceStore(path) as store:
        _post(store, 1, "a new refund")
        # The old span's words go into the index: another store's backfill.
        done = _meanwhile(monkeypatch, path, lambda other: other.backfill_search_index())
        state = _state_and_words(store)
        assert done and state[0] == 1 and "zeppelin" in state[4].split("\n")  # the words go with the new watermark


def test_a_range_that_fails_has_the_words_read_in_one_statement(tmp_path, monkeypatch, on_threads):
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "about shipping and refunds")
        monkeypatch.setattr(_vocabulary, "READERS", 1)
        one = _state_and_words(store)
        monkeypatch.setattr(_vocabulary, "READERS", 2)
        range_words = _vocabulary.range_words

        def failing(conn, table, low, high):
            if low == "p":
                raise sqlite3.OperationalError("disk I/O error")
            return range_words(conn, table, low, high)

        monkeypatch.setattr(_vocabulary, "range_words", failing)
        assert _state_and_words(store) == one


def test_a_store_under_parallel_from_spans_has_its_vocabulary_read_in_one_statement(tmp_path, monkeypatch):
    monkeypatch.setattr(_vocabulary, "READERS", 2)
    monkeypatch.setattr(_vocabulary, "PARALLEL_FROM", 4)  # the newest row id + 1: 3 with two spans, 4 with three
    ranges: list[str | None] = []
    range_words = _vocabulary.range_words
    monkeypatch.setattr(_vocabulary, "range_words", lambda conn, table, low, high: (
        ranges.append(low), range_words(conn, table, low, high))[1])
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        for n in range(2):
            _post(store, n, f"shipping {n}")
        assert "shipping" in _state_and_words(store)[4].split("\n") and ranges == []
        _post(store, 2, "shipped")
        assert "shipped" in _state_and_words(store)[4].split("\n") and len(ranges) == len(_vocabulary.CUTS) + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_searches_beside_a_writer_leave_words_that_find_what_a_scan_finds(tmp_path, monkeypatch, on_threads, seed):
    # Tails added, vocabularies read on threads and in one statement, all while another store writes: spans
    # new, written again in place with other words, deleted (the newest too). Each word is new (a base and the
    # write's number), so words kept stale miss spans. Once the writer stops, searches must find what a scan finds.
    monkeypatch.setattr(_vocabulary, "TAIL_MAX", 2)
    monkeypatch.setattr(_vocabulary, "CATCH_UP_COST", 1)
    rng = random.Random(seed)
    bases = ["refund", "shipping", "zeppelin", "invoice"]
    needles = [base[1:] + str(digit) for base in bases for digit in range(1, 10)]  # "efund3": refund3, refund31...
    path = tmp_path / "v.db"
    with TraceStore(path) as store:
        _post(store, 0, "the first words")
        done = threading.Event()

        def write() -> None:
            wrng = random.Random(seed + 100)
            with TraceStore(path) as other:
                for n in range(1, 160):
                    text = " ".join(f"{base}{n}" for base in wrng.sample(bases, 2))
                    kind = wrng.random()
                    if kind < 0.15:  # an older span written again in place, with other words
                        _post(other, wrng.randrange(n), text)
                    elif kind < 0.25:
                        other.delete_trace(f"{wrng.randrange(1, n + 1):032x}")
                    else:
                        _post(other, n, text)
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            while not done.is_set():
                store.list_traces(search=rng.choice(needles), limit=10_000)
        finally:
            writer.join()
        for needle in needles:
            assert _search_ids(store, needle) == _brute(path, needle), needle
