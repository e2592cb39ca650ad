"""The trace list's input/output previews under hostile stored data: attributes that are not JSON (a row
written by another tool), huge values, odd message shapes. The page still answers; a bad row loses its
previews, nothing more."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest

from traceglass.server._previews import PREVIEW_CHARS, preview
from traceglass.store import TraceStore
from tests.server.conftest import db_path, serve_app  # noqa: F401 - fixtures

T0 = 1_800_000_000


@pytest.mark.parametrize(("value", "output", "expected"), [
    (None, False, None),
    ("", False, None),
    ("{}", False, None),
    ("[]", True, None),
    ("null", False, "null"),
    ("5", True, "5"),
    ("true", False, "true"),
    ("plain text, not JSON {", False, "plain text, not JSON {"),
    ("  many\n\n  lines\tand   spaces ", False, "many lines and spaces"),
    (json.dumps({"question": "Q?", "n": 2}), False, "Q?"),
    (json.dumps({"a": "x", "b": "y"}), False, '{"a":"x","b":"y"}'),
    (json.dumps({"answer": "A."}), True, "A."),
    (json.dumps({"rows": 2, "source": "db"}), True, '{"rows":2,"source":"db"}'),
    (json.dumps([{"role": "user", "parts": "not a list"}]), False, None),
    (json.dumps([{"role": "user", "parts": [{"type": "image", "url": "u"}]}]), False,
     '[{"type":"image","url":"u"}]'),
    (json.dumps([{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}]), False, "hi"),
    (json.dumps([{"role": "user", "content": 42}]), False, "42"),
    (json.dumps([{"role": "system", "content": "sys"}]), False, "sys"),  # no user message: the last one
    (json.dumps([{"role": "user", "content": None}]), False, None),
    (json.dumps([1, 2, 3]), False, "[1,2,3]"),
    # Deeper than the JSON parser goes: shown as the text it is, cut.
    ("[" * 5000 + "]" * 5000, False, "[" * (PREVIEW_CHARS - 1) + "…"),
])
def test_preview_of_odd_values(value, output, expected):
    assert preview(value, output=output) == expected


def test_a_huge_value_is_cut_to_one_line():
    got = preview(json.dumps({"question": "word " * 200_000}))
    assert len(got) == PREVIEW_CHARS and got.endswith("…") and got.startswith("word word")


def test_a_root_span_whose_attributes_are_not_json_loses_only_its_previews(db_path, serve_app):  # noqa: F811
    with TraceStore(db_path) as store:
        bad = store.upsert_span({"name": "bad", "input": {"question": "hidden"}, "start": T0})
        good = store.upsert_span({"name": "good", "input": {"question": "shown"}, "output": "fine", "start": T0 + 1})
    with sqlite3.connect(db_path) as conn:  # as another tool might have written it
        conn.execute("UPDATE span_data SET attributes = ? WHERE id = (SELECT id FROM spans WHERE span_id = ?)",
                     ("{not json", bad.span_id))
    server = serve_app(db_path)
    response = httpx.get(f"{server.url}/api/traces/", timeout=10)
    assert response.status_code == 200, response.text
    rows = {row["trace_id"]: row for row in response.json()["traces"]}
    assert (rows[bad.trace_id]["input_preview"], rows[bad.trace_id]["output_preview"]) == (None, None)
    assert (rows[good.trace_id]["input_preview"], rows[good.trace_id]["output_preview"]) == ("shown", "fine")
