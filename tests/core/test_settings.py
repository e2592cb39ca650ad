"""Settings parsed in one place, and the runtime that hands their snapshot to the handler.

``Settings`` alone reads the ``TRACEGLASS_*`` variables and parses arguments into typed values,
recording where each came from; the handler applies the snapshot it was built with; ``capture()``
swaps one runtime object and puts the previous one back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from traceglass import _config, _runtime
from traceglass._handler import ToolInvocation
from traceglass.exporters import SQLiteSpanExporter
from traceglass._pricing import Price
from traceglass.server._ingest import SpanIngest
from traceglass.testing import capture

PRICES = {"My-Model": {"input_per_1k": 1.0, "output_per_1k": 2.0}}


def test_values_are_parsed_into_their_types_and_their_sources_recorded():
    env = {"TRACEGLASS_DB_MAX_AGE": "7d", "TRACEGLASS_PRICES": '{"env-model": {"input_per_1k": 3.0}}',
           "TRACEGLASS_COST": "false"}
    settings = _config.Settings.from_env(env, db_max_size="2MB", capture_content=False)
    assert settings.db_max_age == 604800.0
    assert settings.db_max_size == 2_000_000
    assert dict(settings.prices) == {"env-model": Price(0.003, None)}
    assert settings.cost is False
    assert {name: settings.source(name) for name in
            ("db_max_age", "db_max_size", "prices", "cost", "capture_content", "flush_at")} == {
        "db_max_age": "environment", "db_max_size": "argument", "prices": "environment", "cost": "environment",
        "capture_content": "argument", "flush_at": "default"}
    with pytest.raises(KeyError):
        settings.source("no_such_option")


@pytest.mark.parametrize(("value", "seconds"), [("12h", 43200.0), (90, 90.0), (timedelta(days=1), 86400.0)])
def test_a_retention_age_argument_is_seconds_whatever_its_form(value, seconds):
    assert _config.Settings.from_env({}, db_max_age=value).db_max_age == seconds


def test_a_price_table_argument_is_parsed_once_and_an_argument_beats_the_environment():
    settings = _config.Settings.from_env({"TRACEGLASS_PRICES": "{not json"}, prices=PRICES)
    assert dict(settings.prices) == {"my-model": Price(0.001, 0.002)}
    assert settings.source("prices") == "argument"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"db_max_age": "soon"}, "not a duration"),
        ({"db_max_age": -5}, "age must be positive"),
        ({"db_max_age": True}, "expected an age"),
        ({"db_max_size": "lots"}, "not a size"),
        ({"db_max_size": 1.5}, "expected a number of bytes"),
        ({"prices": {"m": {"input_per_1k": -1}}}, "must be a non-negative number"),
        ({"prices": 42}, "prices must be a dict"),
    ],
)
def test_a_bad_argument_raises_value_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        _config.Settings.from_env({}, **arguments)


def test_a_bad_environment_value_warns_once_and_falls_back(caplog):
    env = {"TRACEGLASS_DB_MAX_SIZE": "a-lot-for-test_settings", "TRACEGLASS_PRICES": "{bad json for test_settings"}
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        first = _config.Settings.from_env(env)
        second = _config.Settings.from_env(env)
    assert (first.db_max_size, first.prices, second.db_max_size, second.prices) == (None, None, None, None)
    assert first.source("db_max_size") == "default"
    assert [r.getMessage().split(":")[1] for r in caplog.records] == [
        " ignoring TRACEGLASS_DB_MAX_SIZE='a-lot-for-test_settings'", " ignoring TRACEGLASS_PRICES='{bad json for test_settings'"]
    assert caplog.records[1].getMessage().endswith("; pricing with genai-prices only")


def test_only_reads_the_named_variables():
    env = {"TRACEGLASS_DB_MAX_AGE": "1d", "TRACEGLASS_COST": "false"}
    settings = _config.Settings.from_env(env, only=("db_max_age",))
    assert (settings.db_max_age, settings.cost, settings.source("cost")) == (86400.0, True, "default")


def test_the_sqlite_exporter_takes_its_retention_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACEGLASS_DB_MAX_AGE", "2h")
    monkeypatch.setenv("TRACEGLASS_DB_MAX_SIZE", "3MB")
    exporter = SQLiteSpanExporter(tmp_path / "a.db")
    given = SQLiteSpanExporter(tmp_path / "b.db", max_age=timedelta(minutes=1), max_size="1MB")
    try:
        assert (exporter.max_age, exporter.max_size, given.max_age, given.max_size) == (
            7200.0, 3_000_000, 60.0, 1_000_000)
    finally:
        exporter.shutdown()
        given.shutdown()


def test_the_receivers_price_argument_is_parsed_by_settings(tmp_path):
    with pytest.raises(ValueError, match="must be a non-negative number"):
        SpanIngest(tmp_path / "a.db", prices={"m": {"input_per_1k": -1}})
    ingest = SpanIngest(tmp_path / "b.db", prices=PRICES)
    try:
        priced = ingest.price("0" * 31 + "1", "0" * 15 + "1", {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "my-model",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}, 1)
    finally:
        ingest.shutdown()
    assert (priced["traceglass.cost.total_usd"], priced["traceglass.cost.source"]) == (2.0, "user")


def test_the_handler_applies_the_settings_it_was_built_with_not_those_installed_later():
    with capture(capture_content=False) as captured:
        handler = _runtime.get_handler()
        assert handler.settings.capture_content is _config.ContentCapture.NO_CONTENT
        with capture(capture_content=True):  # another runtime in force: this handler is unchanged
            handler.stop(handler.start(ToolInvocation(name="lookup", tool_name="lookup", input_value="secret")))
        assert captured.span("lookup")["attributes"] == {"traceglass.span.type": "tool", "gen_ai.tool.name": "lookup"}


def test_capture_installs_one_runtime_and_puts_the_previous_one_back():
    before = _runtime.peek()
    with capture(capture_content=False) as outer:
        runtime = _runtime.current()
        assert runtime is not before
        assert runtime.settings.capture_content is _config.ContentCapture.NO_CONTENT
        assert runtime.settings.source("capture_content") == "argument"
        assert runtime.handler is _runtime.get_handler()
        assert (runtime.first_time("x"), runtime.first_time("x")) == (True, False)
        with capture():
            assert _runtime.current() is not runtime
            assert _runtime.current().first_time("x") is True  # a fresh once-only memory
        assert _runtime.current() is runtime
        assert outer.spans() == []
    assert _runtime.peek() is before
