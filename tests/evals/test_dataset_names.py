"""One rule for a dataset's name: the store raises it (ValueError), the server reports it in its
422 problem list; both accept the same names and refuse the same ones."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from traceglass.evals import EvalDataset, EvalItem
from traceglass.server import create_app
from traceglass.store import TraceStore

from ..server.conftest import RunningServer
from ._traces import Spans

BAD = [" ", "\t\n", "n" * 201, "a\x00b", " " + "n" * 201]
GOOD = [("n" * 200, "n" * 200), ("  padded  ", "padded"), (" " * 5 + "m" * 200, "m" * 200), ("é ü", "é ü")]
RULE = "must be a non-empty text of at most 200 characters"


@pytest.mark.parametrize("name", BAD)
def test_the_store_refuses_a_bad_name_with_the_rule(tmp_path, name):
    with TraceStore(tmp_path / "t.db") as store:
        with pytest.raises(ValueError) as raised:
            store.save_dataset(name, [EvalItem("x").to_dict()])
        assert str(raised.value) == f"a dataset name {RULE}, got {name!r}"
        assert store.datasets() == []


def test_the_store_refuses_a_name_that_is_not_text(tmp_path):
    with TraceStore(tmp_path / "t.db") as store, pytest.raises(ValueError, match=f"^a dataset name {RULE}, got 7$"):
        store.save_dataset(7, [EvalItem("x").to_dict()])  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "saved"), GOOD)
def test_the_store_keeps_a_good_name_stripped(tmp_path, name, saved):
    with TraceStore(tmp_path / "t.db") as store:
        assert store.save_dataset(name, [EvalItem("x").to_dict()]).name == saved


def test_the_server_reports_the_same_rule_as_a_problem(tmp_path):
    path = tmp_path / "t.db"
    spans = Spans(path)
    trace_id, _ = spans.chat(0, "refund?", "Your refund is on its way.")
    spans.close()
    server = RunningServer(create_app(path)).start()
    try:
        def add(name):
            return httpx.post(f"{server.url}/api/datasets/{quote(name, safe='')}/items",
                              json={"trace_id": trace_id}, timeout=10)

        for name in BAD:
            refused = add(name)
            assert (refused.status_code, refused.json()) == (422, {
                "error": "invalid dataset item", "problems": [{"field": "name", "message": RULE}]}), name
        assert TraceStore(path).datasets() == []
        for name, saved in GOOD:
            made = add(name)
            assert (made.status_code, made.json()["dataset"]["name"]) == (201, saved), name
        EvalDataset.load("padded", store=path)
    finally:
        server.stop()
