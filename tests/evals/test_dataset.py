"""EvalDataset: list-like, JSON Lines, pandas, and immutable named versions in a real SQLite store."""

from __future__ import annotations

import sqlite3
import sys
import types

import pytest

from traceglass.evals import EvalDataset, EvalItem
from traceglass.store import TraceStore

ITEM = EvalItem(input=[{"role": "user", "content": "2+2?"}], output="4", expected_output="4",
                context=["arithmetic"], metadata={"latency_ms": 12.5, "tags": ["math"]},
                trace_id="a" * 32, span_id="b" * 16)


def test_list_like_and_add():
    dataset = EvalDataset([ITEM])
    added = dataset.add("hello", output="hi", context=["doc"], metadata={"k": 1})
    assert added == EvalItem("hello", "hi", None, ["doc"], {"k": 1})
    assert len(dataset) == 2 and dataset[0] is ITEM and dataset[-1] is added
    assert list(dataset) == [ITEM, added]
    assert isinstance(dataset[1:], EvalDataset) and list(dataset[1:]) == [added]
    assert EvalDataset([ITEM.to_dict()]) == EvalDataset([ITEM])
    with pytest.raises(TypeError, match="a dataset item must be an EvalItem or its dict, got int"):
        EvalDataset([1])  # type: ignore[list-item]


def test_jsonl_round_trip_is_exact(tmp_path):
    dataset = EvalDataset([ITEM, EvalItem("ünïcode \ud800?", output={"nested": [1, None]})])
    path = tmp_path / "d.jsonl"
    assert dataset.to_jsonl(path) == 2
    lines = path.read_text(encoding="utf-8", errors="surrogatepass").splitlines()
    assert len(lines) == 2
    assert EvalDataset.from_jsonl(path) == dataset


def test_from_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "ok"}\n\n{"output": "no input"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:3: not an eval item: an eval item needs an 'input'"):
        EvalDataset.from_jsonl(path)
    path.write_text('{"input": "ok"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not an eval item"):
        EvalDataset.from_jsonl(path)


def test_saved_versions_never_change(tmp_path):
    path = tmp_path / "t.db"
    dataset = EvalDataset([ITEM])
    assert dataset.save("golden", store=path) == 1
    assert (dataset.name, dataset.version) == ("golden", 1)
    dataset.add("second")
    assert dataset.save("golden", store=path) == 2
    first = EvalDataset.load("golden", version=1, store=path)
    latest = EvalDataset.load("golden", store=path)
    assert list(first) == [ITEM] and (first.name, first.version) == ("golden", 1)
    assert list(latest) == [ITEM, EvalItem("second")] and latest.version == 2
    with TraceStore(path) as store:
        assert [(d.name, d.version, d.item_count) for d in store.datasets()] == [("golden", 2, 2)]
        assert [(d.version, d.item_count) for d in store.datasets("golden")] == [(2, 2), (1, 1)]
        assert [(d.name, d.version) for d in EvalDataset.list(store=store)] == [("golden", 2)]
    with pytest.raises(KeyError, match="no saved dataset version 3 of 'golden'"):
        EvalDataset.load("golden", version=3, store=path)
    with pytest.raises(KeyError, match="no saved dataset 'missing'"):
        EvalDataset.load("missing", store=path)


def test_save_refuses_bad_names_and_read_only_stores(tmp_path):
    path = tmp_path / "t.db"
    with pytest.raises(ValueError, match="a dataset name must be a non-empty text"):
        EvalDataset([ITEM]).save("  ", store=path)
    with TraceStore(path, read_only=True) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            EvalDataset([ITEM]).save("x", store=store)
        assert store.datasets() == []


def test_to_pandas_without_pandas_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"EvalDataset.to_pandas\(\) needs pandas, which is not installed: "
                                          "pip install pandas"):
        EvalDataset([ITEM]).to_pandas()


def test_to_pandas_gives_one_row_per_item(monkeypatch):
    # pandas is not in the test environment: a stand-in records what a DataFrame is built from.
    made = []
    fake = types.ModuleType("pandas")
    fake.DataFrame = types.SimpleNamespace(from_records=lambda records, columns: made.append((records, columns)) or "df")
    monkeypatch.setitem(sys.modules, "pandas", fake)
    assert EvalDataset([ITEM]).to_pandas() == "df"
    assert made == [([ITEM.to_dict()], ["input", "output", "expected_output", "context", "metadata", "trace_id",
                                        "span_id"])]
