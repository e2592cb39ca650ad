"""Each distinct resource stored once (store/_resources.py, schema 14): named by id from every span, read
back whole, kept while a stored span can name it and deleted with the last trace that could."""

from __future__ import annotations

import io
import json
import sqlite3
import time

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from traceglass.exporters import SQLiteSpanExporter
from traceglass.store import TraceStore, _resources

from ._helpers import downgrade_to_13, rows

HOUR = 3600 * 10**9
SHOP = Resource({"service.name": "shop", "service.instance.id": "a1", "host.name": "web-1"})
BILLING = Resource({"service.name": "billing", "service.instance.id": "b7", "k8s.pod.name": "billing-5d9c"})
SHOP_READ, BILLING_READ = dict(SHOP.attributes), dict(BILLING.attributes)


def _span(trace: int, span: int, start_ns: int, resource: Resource, name: str = "step") -> ReadableSpan:
    context = SpanContext(trace, span, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return ReadableSpan(name=name, context=context, resource=resource, attributes={"n": span},
                        start_time=start_ns, end_time=start_ns + 10**6)


def _export(path, *batches: list[ReadableSpan], **options) -> None:
    exporter = SQLiteSpanExporter(path, **options)
    try:
        for batch in batches:
            assert exporter.export(batch) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def _resources_of(path, trace: int) -> dict[int, dict]:
    """The resource each span of ``trace`` reads back with, by span id."""
    with TraceStore(path, read_only=True) as store:
        return {int(s.span_id, 16): s.resource for s in store.get_trace(format(trace, "032x")).spans}


def _stored(path) -> dict[str, int]:
    """``resources`` as service name -> last_ns."""
    return {json.loads(r["resource"])["service.name"]: r["last_ns"]
            for r in rows(path, "SELECT resource, last_ns FROM resources")}


@pytest.mark.parametrize("separate_process", [False, True])
def test_spans_name_their_resource_once_stored_and_read_it_back_whole(tmp_path, separate_process):
    path, now = tmp_path / "t.db", time.time_ns()
    _export(path, [_span(1, 1, now, SHOP), _span(1, 2, now, BILLING), _span(2, 3, now, SHOP)],
            [_span(2, 4, now, BILLING), _span(3, 5, now, SHOP)], separate_process=separate_process)
    assert set(_stored(path)) == {"shop", "billing"}
    data = rows(path, "SELECT d.resource FROM span_data d JOIN resources r ON r.id = d.resource_id")
    assert [d["resource"] for d in data] == [""] * 5
    assert _resources_of(path, 1) == {1: SHOP_READ, 2: BILLING_READ}
    assert _resources_of(path, 2) == {3: SHOP_READ, 4: BILLING_READ}
    with TraceStore(path) as store:  # the other reads: the export's rows, and an update's stored span
        out = io.StringIO()
        assert store.export(out) == 5
        assert [json.loads(line)["resource"]["service.name"] for line in out.getvalue().splitlines()] == [
            "shop", "billing", "shop", "billing", "shop"]
        updated = store.upsert_span({"trace_id": format(3, "032x"), "span_id": format(5, "016x"),
                                     "resource": {"deployment.environment": "prod"}})
    assert updated.resource == {**SHOP_READ, "deployment.environment": "prod"}
    assert set(_stored(path)) == {"shop", "billing"} and len(rows(path, "SELECT * FROM resources")) == 3


def test_last_ns_is_raised_only_when_a_batch_goes_past_it(tmp_path):
    path, start = tmp_path / "t.db", time.time_ns()
    _export(path, [_span(1, 1, start, SHOP)], [_span(2, 2, start + HOUR // 2, SHOP)])
    assert _stored(path) == {"shop": start + _resources.SLACK_NS}  # the second batch was within it
    _export(path, [_span(3, 3, start + HOUR + 5, SHOP), _span(3, 4, start + 7, SHOP)])
    assert _stored(path) == {"shop": start + HOUR + 5 + _resources.SLACK_NS}


def test_retention_deletes_a_resource_once_no_stored_span_can_name_it(tmp_path):
    path, now = tmp_path / "t.db", time.time_ns()
    # Three hours ago: trace 1 (shop), trace 2 (billing); half an hour ago, in a later batch: trace 3 (billing).
    _export(path, [_span(1, 1, now - 3 * HOUR, SHOP), _span(2, 2, now - 3 * HOUR, BILLING)],
            [_span(3, 3, now - HOUR // 2, BILLING)])
    with TraceStore(path) as store:
        assert store.prune(older_than="2h") == 2
    assert set(_stored(path)) == {"billing"}
    assert _resources_of(path, 3) == {3: BILLING_READ}
    with TraceStore(path) as store:
        assert store.delete_trace(format(3, "032x"))
    assert _stored(path) == {}


def test_a_re_exported_span_reads_its_new_resource(tmp_path):
    path, now = tmp_path / "t.db", time.time_ns()
    _export(path, [_span(1, 1, now, SHOP)], [_span(1, 1, now, BILLING)])
    assert _resources_of(path, 1) == {1: BILLING_READ}


def test_a_schema_13_store_reads_its_own_resource_texts_and_stores_new_spans_resources_once(tmp_path):
    path, now = tmp_path / "t.db", time.time_ns()
    _export(path, [_span(1, 1, now, SHOP), _span(1, 2, now, SHOP)])
    conn = sqlite3.connect(path, isolation_level=None)
    downgrade_to_13(conn)
    conn.execute("PRAGMA user_version = 13")
    conn.close()
    _export(path, [_span(2, 3, now, SHOP), _span(2, 4, now, BILLING)])
    data = rows(path, "SELECT * FROM span_data ORDER BY id")
    assert [(len(r["resource"]) > 0, r["resource_id"]) for r in data] == [
        (True, None), (True, None), (False, 1), (False, 2)]
    assert _resources_of(path, 1) == {1: SHOP_READ, 2: SHOP_READ}
    assert _resources_of(path, 2) == {3: SHOP_READ, 4: BILLING_READ}


def test_a_batch_of_thousands_of_distinct_resources_stores_each_once_and_reads_each_back(tmp_path):
    # 12,000 resources: three values a row is more than one statement's parameters hold (32,766).
    path, now = tmp_path / "t.db", time.time_ns()
    made = [Resource({"service.name": "svc", "request.id": f"r-{i}", "note": "\u00e9\U0001f600" * (i % 3)})
            for i in range(12_000)]
    _export(path, [_span(1 + i // 5, 1 + i, now + i, resource) for i, resource in enumerate(made)])
    _export(path, [_span(9_999_999, 1, now, made[7])])  # a later batch finds it stored
    assert rows(path, "SELECT count(*) AS n, count(DISTINCT resource) AS d FROM resources") == [
        {"n": 12_000, "d": 12_000}]
    for i in (0, 4, 5, 11_999):
        assert _resources_of(path, 1 + i // 5)[1 + i] == dict(made[i].attributes)
    assert _resources_of(path, 9_999_999) == {1: dict(made[7].attributes)}
