"""The distro's defaults under ``opentelemetry-instrument``: metrics and logs (scores) follow the traces."""

from __future__ import annotations

import os

import pytest

from traceglass.distro import TraceglassDistro

_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
              "OTEL_PYTHON_CONFIGURATOR")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("otlp", "otlp", "otlp")),  # nothing chosen: the upstream distro's defaults
        # Scores (log records) go to the store when the traces do.
        ({"OTEL_TRACES_EXPORTER": "traceglass_sqlite"}, ("traceglass_sqlite", "none", "traceglass_sqlite")),
        ({"OTEL_TRACES_EXPORTER": "traceglass_sqlite, otlp"},
         ("traceglass_sqlite, otlp", "otlp", "traceglass_sqlite,otlp")),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console", "none", "none")),
        # the store exporter's name for a SQLite file or a PostgreSQL URL: scores follow under the same name
        ({"OTEL_TRACES_EXPORTER": "traceglass_store"}, ("traceglass_store", "none", "traceglass_store")),
        ({"OTEL_TRACES_EXPORTER": "otlp,Traceglass_Store"}, ("otlp,Traceglass_Store", "otlp", "traceglass_store,otlp")),
        ({"OTEL_TRACES_EXPORTER": "otlp_proto_http"}, ("otlp_proto_http", "otlp", "otlp")),
        ({"OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_METRICS_EXPORTER": "console"},
         ("traceglass_sqlite", "console", "traceglass_sqlite")),  # what the user set wins
        ({"OTEL_TRACES_EXPORTER": "traceglass_sqlite", "OTEL_LOGS_EXPORTER": "console"},
         ("traceglass_sqlite", "none", "console")),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "none"}, ("otlp", "otlp", "none")),
    ],
)
def test_metrics_default_to_otlp_only_with_otlp_traces_and_logs_to_where_traces_go(monkeypatch, given, expected):
    for name in _VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so the distro's defaults are undone after the test
        monkeypatch.delenv(name)
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    TraceglassDistro().configure()
    assert tuple(os.environ[name] for name in _VARIABLES[:3]) == expected
    assert (os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"], os.environ["OTEL_PYTHON_CONFIGURATOR"]) == ("grpc", "traceglass")
