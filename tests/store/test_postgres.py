"""What only the PostgreSQL backend has to prove: concurrent writers of the same traces from several
processes, migrations run once when replicas start together, no password anywhere, and a clear
error without the driver. (Everything else runs on both backends through the parametrized ``db_path``.)"""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests._postgres import PASSWORD
from traceglass.store import SCHEMA_VERSION, TraceStore, TraceWriter

from ._helpers import BASE_S, SEC, make_sdk, rows

TRACES = 12
SPANS = 40  # per trace: a root and 39 children, each an LLM call of 3 + 2 tokens


def _ids(t: int, s: int) -> tuple[int, int]:
    return 0x5EED0000 + t, 0x100 + s


def _span(t: int, s: int):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    trace_id, span_id = _ids(t, s)
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))
    parent = None if s == 0 else SpanContext(trace_id, _ids(t, 0)[1], is_remote=False)
    attributes = {} if s == 0 else {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                                    "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2}
    start = (BASE_S + t) * SEC + s * 1000
    return ReadableSpan(name="root" if s == 0 else f"call {s}", context=context, parent=parent,
                        resource=Resource.create({"service.name": "race"}), attributes=attributes,
                        start_time=start, end_time=start + 10_000 + s)


def _write_everything(url: str, worker: int, go: str) -> None:
    """4 threads, each its own TraceWriter, writing its eighth of every trace's spans, and again
    every fifth span of the next eighth (a retried export), in small shuffled batches mixing
    traces: every trace is written by all 8 writers of both processes at once, and only a summary
    computed from every span committed before it (under the trace row's lock) ends up right."""
    deadline = time.time() + 60
    while not __import__("os").path.exists(go) and time.time() < deadline:
        time.sleep(0.005)

    def thread(n: int) -> None:
        me = worker * 4 + n
        pairs = [(t, s) for t in range(TRACES) for s in range(SPANS) if (t * SPANS + s) % 8 == me]
        pairs += [(t, s) for t in range(TRACES) for s in range(0, SPANS, 5) if (t * SPANS + s) % 8 == (me + 1) % 8]
        random.Random(worker * 10 + n).shuffle(pairs)
        with TraceWriter(url) as writer:
            for i in range(0, len(pairs), 7):
                writer.write([_span(t, s) for t, s in pairs[i:i + 7]])

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(4)]
    for started in threads:
        started.start()
    for joined in threads:
        joined.join(120)


def test_two_processes_of_four_writers_store_each_span_once_with_right_summaries(postgres_url, tmp_path):
    TraceStore(postgres_url).close()  # the schema, so the race is about the spans
    go = str(tmp_path / "go")
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_write_everything, args=(postgres_url, w, go)) for w in range(2)]
    for proc in procs:
        proc.start()
    time.sleep(0.3)
    (tmp_path / "go").write_text("go")
    for proc in procs:
        proc.join(180)
        assert proc.exitcode == 0
    assert rows(postgres_url, "SELECT count(*) AS n, count(DISTINCT (trace_no, span_id)) AS distinct_spans "
                              "FROM spans") == [{"n": TRACES * SPANS, "distinct_spans": TRACES * SPANS}]
    assert rows(postgres_url, "SELECT count(*) AS n FROM span_data d JOIN spans s ON s.id = d.id") == [
        {"n": TRACES * SPANS}]
    summaries = rows(postgres_url, "SELECT trace_id, root_span_id, name, project, start_ns, end_ns, status, "
                                   "span_count, error_count, input_tokens, output_tokens, total_tokens "
                                   "FROM traces ORDER BY trace_id")
    expected = []
    for t in range(TRACES):
        trace_id, root = _ids(t, 0)
        start = (BASE_S + t) * SEC
        expected.append({"trace_id": format(trace_id, "032x"), "root_span_id": format(root, "016x"),
                         "name": "root", "project": "race", "start_ns": start,
                         "end_ns": start + (SPANS - 1) * 1000 + 10_000 + SPANS - 1, "status": "OK",
                         "span_count": SPANS, "error_count": 0, "input_tokens": 3 * (SPANS - 1),
                         "output_tokens": 2 * (SPANS - 1), "total_tokens": 5 * (SPANS - 1)})
    assert summaries == expected


MIGRATOR = textwrap.dedent("""
    import os, sys, time
    from traceglass.store import TraceStore
    url, go = sys.argv[1], sys.argv[2]
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.002)
    TraceStore(url).close()
""")


def test_replicas_starting_together_migrate_the_schema_once(postgres_cluster, tmp_path, caplog):
    url = postgres_cluster.new_database(empty=True)
    try:
        script, go = tmp_path / "migrate.py", tmp_path / "go"
        script.write_text(MIGRATOR)
        procs = [subprocess.Popen([sys.executable, str(script), url, str(go)], stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        time.sleep(0.5)
        go.write_text("go")
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert rows(url, "SELECT version FROM traceglass_schema") == [{"version": SCHEMA_VERSION}]
        tables = rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        assert [t["tablename"] for t in tables] == [
            "alert_events", "alert_state", "eval_dataset_items", "eval_datasets", "eval_results", "eval_run_items",
            "eval_runs", "scores", "span_data", "spans", "traceglass_schema", "traces"]
    finally:
        postgres_cluster.drop_database(url)


def test_the_password_never_shows(postgres_url, postgres_cluster, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with TraceStore(postgres_url) as store:
        shown = [str(store.path), repr(store.path), f"{store.path}", repr(store), "%s" % store.path]
        assert all(PASSWORD not in text and "***" in text for text in shown), shown
        writer = TraceWriter(store.path)  # the server hands store.path on: it opens the same database
        assert PASSWORD not in repr(writer)
        writer.close()
    wrong = postgres_url.replace(PASSWORD, "not-" + PASSWORD)
    with pytest.raises(OSError) as raised:
        TraceStore(wrong)
    assert "password authentication failed" in str(raised.value)
    assert "not-" + PASSWORD not in str(raised.value) and PASSWORD not in str(raised.value)
    from traceglass.cli import main

    code = main(["traces", "--db", wrong])
    out, err = capsys.readouterr()
    assert code != 0 and "password authentication failed" in err
    assert PASSWORD not in out + err + caplog.text


def test_content_search_and_trace_id_prefix(postgres_url):
    with TraceStore(postgres_url) as store:
        span = store.upsert_span({"name": "Answer", "trace_id": "ab" * 16,
                                  "attributes": {"gen_ai.prompt": "100% of the_CAT"}})
        store.upsert_span({"name": "other", "trace_id": "cd" * 16})
        assert [t.trace_id for t in store.list_traces(search="of THE_cat").traces] == [span.trace_id]
        assert [t.trace_id for t in store.list_traces(search="100%").traces] == [span.trace_id]
        assert store.list_traces(search="of_the").traces == []  # _ is a character, not a wildcard
        assert store.get_trace("abab", prefix=True).trace_id == span.trace_id


def test_without_psycopg_the_error_names_the_extra(postgres_url, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["psycopg"] = None  # as if not installed
        from traceglass.store import TraceStore
        TraceStore({str(tmp_path / "plain.db")!r}).close()  # SQLite never needs it
        try:
            TraceStore({postgres_url!r})
        except ImportError as exc:
            print("ImportError:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == ("ImportError: a PostgreSQL database needs psycopg: "
                                   "pip install 'traceglass[postgres]'"), done.stderr


def test_a_sqlite_user_never_imports_psycopg(tmp_path):
    code = (f"import sys; from traceglass.store import TraceStore; TraceStore({str(tmp_path / 'x.db')!r}).close(); "
            "print(sorted(m for m in sys.modules if m.startswith('psycopg') or m == 'traceglass.store._postgres'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_dashboard_and_its_api_serve_a_postgres_store_without_the_password(postgres_url):
    from starlette.testclient import TestClient

    from traceglass.server import create_app

    with TraceStore(postgres_url) as store:
        span = store.upsert_span({"name": "chat", "trace_id": "ef" * 16, "model": "gpt-4o-mini", "input_tokens": 3,
                                  "output_tokens": 2, "project": "team"})
    app = create_app(postgres_url)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        pages = {path: client.get(path) for path in ("/", "/api/traces", f"/api/traces/{span.trace_id}",
                                                     "/api/stats?group_by=project", "/readyz")}
    assert {path: response.status_code for path, response in pages.items()} == dict.fromkeys(pages, 200)
    assert [t["trace_id"] for t in pages["/api/traces"].json()["traces"]] == [span.trace_id]
    assert all(PASSWORD not in response.text for response in pages.values())


def test_traceglass_migrate_takes_a_postgres_url(postgres_cluster, capsys):
    from traceglass.cli import main

    url = postgres_cluster.new_database(empty=True)
    try:
        assert main(["migrate", "--db", url, "--json"]) == 0
        shown = url.replace(PASSWORD, "***")
        assert json.loads(capsys.readouterr().out) == {"path": shown, "schema_before": None,
                                                       "schema": SCHEMA_VERSION}
        assert main(["migrate", "--db", url]) == 0
        assert capsys.readouterr().out == f"{shown}: already at schema {SCHEMA_VERSION}\n"
    finally:
        postgres_cluster.drop_database(url)


def test_root_io_reads_what_sqlite_reads(postgres_url, tmp_path):
    """The trace list's previews: the root span's input/output values as SQLite's json_extract gives them."""
    spans = [
        {"name": "agent", "trace_id": "a1" * 16, "input": "What is OTel?",
         "attributes": {"gen_ai.output.messages": '[{"role": "assistant"}]', "traceglass.output": ["a", "b"]}},
        {"name": "chain", "trace_id": "a2" * 16, "attributes": {"gen_ai.input.messages": "plain"}},
        {"name": "bare", "trace_id": "a3" * 16},
    ]
    found = []
    for target in (tmp_path / "t.db", postgres_url):
        with TraceStore(target) as store:
            for span in spans:
                store.upsert_span(span)
            found.append(store.root_io([s["trace_id"] for s in spans] + ["ff" * 16]))
    assert found[0] == found[1] == {"a1" * 16: ("What is OTel?", '["a","b"]'), "a2" * 16: ("plain", None),
                                    "a3" * 16: (None, None)}


def _haystack(store: TraceStore) -> None:
    """40 two-span traces (pairs share a start time: the trace id breaks the tie); "needle" in a span
    attribute, a span name or an event of some, densely among the newest ten, sparsely before."""
    for i in range(40):
        trace_id, start = f"{100 - i:032x}", (BASE_S + i // 2) * SEC
        project = "odd" if i in (3, 5, 9) else "shop"
        store.upsert_span({"trace_id": trace_id, "span_id": f"{i + 1:016x}", "name": "NEEDLE finder" if i == 5
                           else "root", "start_ns": start, "end_ns": start + SEC, "project": project})
        child = {"trace_id": trace_id, "span_id": f"{i + 1000:016x}", "parent_id": f"{i + 1:016x}",
                 "name": "child", "start_ns": start + 1, "end_ns": start + 2, "project": project,
                 "attributes": {"note": "a Needle here" if i % 7 == 0 or (i >= 30 and i % 2 == 0) else "hay"}}
        if i == 11:
            child["events"] = [{"name": "found", "attributes": {"what": "the needle"}}]
        store.upsert_span(child)


def _pages(store: TraceStore, limit: int, **filters) -> list[tuple[list[str], str | None]]:
    pages, cursor = [], None
    for _ in range(50):
        page = store.list_traces(search="needle", limit=limit, cursor=cursor, **filters)
        pages.append(([t.trace_id for t in page.traces], page.next_cursor))
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("no last page")


def test_content_search_looks_in_the_newest_traces_first_and_answers_as_sqlite(postgres_url, tmp_path, monkeypatch):
    """Text many spans contain is found among the newest traces without the query over every span (which
    took 50 s over 385,536 spans); rarer text falls back to it; pages and cursors equal SQLite's."""
    from traceglass.store import _postgres_read

    everything = []
    real = _postgres_read._search_everything
    monkeypatch.setattr(_postgres_read, "_search_everything",
                        lambda *args: everything.append(args) or real(*args))
    monkeypatch.setattr(_postgres_read, "SEARCH_WINDOW", 4)
    with TraceStore(postgres_url) as pg, TraceStore(tmp_path / "same.db") as sqlite:
        _haystack(pg)
        _haystack(sqlite)
        matching = [i for i in range(40) if i % 7 == 0 or i in (5, 11) or (i >= 30 and i % 2 == 0)]
        newest_first = [f"{100 - i:032x}" for i in sorted(matching, key=lambda i: (i // 2, 100 - i), reverse=True)]
        for limit in (1, 2, 3, 5, 12, 50):
            for filters in ({}, {"project": "odd"}, {"project": "shop"}):
                assert _pages(pg, limit, **filters) == _pages(sqlite, limit, **filters), (limit, filters)
            assert [t for ids, _ in _pages(pg, limit) for t in ids] == newest_first, limit

        everything.clear()  # the newest four traces hold two matches: a page of one needs no more
        assert [t.trace_id for t in pg.list_traces(search="NEEDLE", limit=1).traces] == newest_first[:1]
        assert everything == []
        # a project of three traces: fewer than the window, so the window holds every candidate
        assert [t.trace_id for t in pg.list_traces(search="needle", project="odd").traces] == [f"{100 - 5:032x}"]
        assert everything == []
        # two of the newest four match; a page of three looks further
        assert [t.trace_id for t in pg.list_traces(search="needle", limit=3).traces] == newest_first[:3]
        assert len(everything) == 1


def _calls(db) -> None:
    """Model calls of 1..40 ms under four stored names, three of one family (gpt-4o-mini), in two
    projects, one in five failing, over two days; and a tool span per call (stats by type)."""
    names = ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini", "o3"]
    for service in ("shop", "billing"):
        sdk = make_sdk(db, service=service)
        for i in range(1, 41):
            start = BASE_S + i * 3600 + (0.5 if service == "billing" else 0)

            def tool(parent, start=start, sdk=sdk):
                sdk.span("lookup", start + 0.1, start + 0.105, parent=parent,
                         attributes={"traceglass.span.type": "tool"})

            sdk.span(f"chat {i}", start, start + (i + (i % 3) * 7) / 1000, error="Boom" if i % 5 == 0 else None,
                     children=tool, attributes={
                         "traceglass.span.type": "llm", "gen_ai.request.model": names[i % 4],
                         "gen_ai.usage.input_tokens": i, "gen_ai.usage.output_tokens": 2 * i,
                         "traceglass.cost.total_usd": i / 1000, "session.id": f"s{i % 3}", "user.id": f"u{i % 2}"})
        sdk.provider.shutdown()


def test_stats_equal_sqlites_with_a_model_family_stored_under_several_names(postgres_url, tmp_path):
    """Percentiles are taken in SQL on PostgreSQL (no longer every duration fetched and sorted in Python):
    a family's p50/p95 are over all its stored names' calls, nearest rank, as SQLite's."""
    _calls(postgres_url)
    _calls(tmp_path / "same.db")
    with TraceStore(postgres_url) as pg, TraceStore(tmp_path / "same.db") as sqlite:
        def table(store, group_by, **scope):
            return [{**row.to_dict(), "cost_usd": row.cost_usd and round(row.cost_usd, 9)}
                    for row in store.stats(group_by, **scope)]

        for group_by in ("model", "type", "project", "user", "session", "day"):
            for scope in ({}, {"project": "billing"}, {"since": BASE_S + 10 * 3600, "until": BASE_S + 30 * 3600}):
                assert table(pg, group_by, **scope) == table(sqlite, group_by, **scope), (group_by, scope)
        family = sorted(i + (i % 3) * 7 for i in range(1, 41) for _ in range(2) if i % 4 != 3)  # two projects
        mini = next(row for row in pg.stats("model") if row.key == "gpt-4o-mini")
        assert (mini.calls, mini.p50_ms, mini.p95_ms) == (60, float(family[30 - 1]), float(family[57 - 1]))


def test_stats_by_model_and_type_read_only_their_covering_indexes(postgres_url, monkeypatch):
    """Schema 11: the statement stats runs is answerable from spans_model / spans_type alone (an index-only
    scan: no visit of the spans table, 260 MB at 1,000,000 spans), as SQLite's covering indexes do."""
    import psycopg

    _calls(postgres_url)
    sent, real = [], psycopg.Connection.execute
    monkeypatch.setattr(psycopg.Connection, "execute", lambda self, query, params=None, **kw: (
        sent.append((query, params)), real(self, query, params, **kw))[1])
    statements = []
    with TraceStore(postgres_url) as store:
        for group_by, index in (("model", "spans_model"), ("type", "spans_type")):
            for scope in ({}, {"since": BASE_S, "project": "shop"}):
                sent.clear()
                store.stats(group_by, **scope)
                statements += [(index, q, p) for q, p in sent if "percentile_disc" in q]
    monkeypatch.undo()
    assert len(statements) == 6  # the sums per group, and the percentiles of the family stored under 3 names
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE spans")  # the visibility map an index-only scan relies on
    with psycopg.connect(postgres_url) as conn:  # one transaction, rolled back
        conn.execute("SET LOCAL enable_seqscan = off")  # a few rows: the planner would read the table anyway
        conn.execute("SET LOCAL enable_bitmapscan = off")
        # Nor the start-time index (a time scope over a few rows costs about the same either way): the
        # question is whether the statement can be answered from the covering index alone.
        conn.execute("DROP INDEX spans_start")
        for index, query, params in statements:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params))
            assert f"Index Only Scan using {index} on spans" in plan, plan
        conn.rollback()


def _counting_statements(monkeypatch) -> list[str]:
    """The statements psycopg sends from now on (an executemany counts once per parameter set;
    ``Connection.execute`` goes through ``Cursor.execute``), until ``monkeypatch.undo()``."""
    import psycopg

    sent: list[str] = []
    real_execute, real_many = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def execute(self, query, params=None, **kw):
        sent.append(str(query))
        return real_execute(self, query, params, **kw)

    def executemany(self, query, params_seq, **kw):
        params_seq = list(params_seq)
        sent.extend([str(query)] * len(params_seq))
        return real_many(self, query, params_seq, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", executemany)
    return sent


def _statements_per_write(url: str, monkeypatch, batches: list[list]) -> list[int]:
    """Statements each write of ``batches`` sends."""
    counts = []
    with TraceWriter(url) as writer:
        writer.write(batches[0][:1])  # connected and migrated outside the counts
        sent = _counting_statements(monkeypatch)
        for batch in batches:
            sent.clear()
            writer.write(batch)
            counts.append(len(sent))
        monkeypatch.undo()
    return counts


def test_a_batch_costs_the_same_few_statements_however_many_traces_it_holds(postgres_cluster, monkeypatch):
    # Each statement is a round trip whose wait gives up the GIL; beside a CPU-busy application thread
    # every give-up costs a switch interval to win back. The summaries went in one UPDATE a trace.
    counts = []
    for traces in (2, 60):
        url = postgres_cluster.new_database()
        try:
            spans = [_span(t, s) for t in range(traces) for s in range(3)]
            counts.append(_statements_per_write(url, monkeypatch, [spans, spans[::2]]))
            with TraceStore(url) as store:
                summary = store.list_traces(limit=1).traces[0]
                assert (summary.span_count, summary.input_tokens, summary.output_tokens) == (3, 6, 4)
                assert store.count()["traces"] == traces
        finally:
            postgres_cluster.drop_database(url)
    assert counts[0] == counts[1]
    assert max(counts[1]) <= 8  # 6 today: the pool's check, 4 statements of rows, 1 of summaries


def test_a_batch_of_scores_costs_the_same_few_statements_however_many_it_holds(postgres_cluster, monkeypatch):
    # An upsert a score was a round trip a score.
    from traceglass._scores import new_score

    counts = []
    for count in (2, 60):
        url = postgres_cluster.new_database()
        try:
            scores = [new_score("quality", n / count, trace_id="ab" * 16, id=f"q{n}", comment=f"#{n}")
                      for n in range(count)]
            scores.append(new_score("thumbs", True, trace_id="ab" * 16, id="t"))
            with TraceWriter(url) as writer:
                writer.write_scores([new_score("warm", 1.0, trace_id="ab" * 16, id="warm")])
                sent = _counting_statements(monkeypatch)
                assert writer.write_scores(scores) == scores
                counts.append(len(sent))
                monkeypatch.undo()
            with TraceStore(url) as store:
                stored = {s.id: s for s in store.scores(limit=100)}
            assert stored["q1"].value == 1 / count and stored["q1"].comment == "#1"
            assert stored["t"].value == 1.0 and stored["t"].data_type == scores[-1].data_type
            assert len(stored) == count + 2
        finally:
            postgres_cluster.drop_database(url)
    assert counts[0] == counts[1] <= 8
