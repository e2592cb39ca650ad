"""Shared fixtures: loud internal errors, and spans captured per test (never the global provider)."""

from __future__ import annotations

import os

import pytest

# traceglass swallows its own faults in production; under the tests they must surface.
os.environ.setdefault("TRACEGLASS_RAISE_INTERNAL_ERRORS", "1")
# configure() turns on every instrumentor whose library is installed; litellm would then fetch its
# model price map from GitHub at import. Tests never leave 127.0.0.1.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# deepeval (the evals bridge) sends telemetry from import on unless told not to.
os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] = "1"
# Tests decide on content capture themselves; a developer's shell must not change results.
for _name in ("TRACEGLASS_CAPTURE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
              "OTEL_SEMCONV_STABILITY_OPT_IN", "TRACEGLASS_DB", "TRACEGLASS_PRICES"):
    os.environ.pop(_name, None)


@pytest.fixture
def captured():
    """Spans and metrics made by traceglass during the test (see ``traceglass.testing``)."""
    from traceglass.testing import capture

    with capture() as result:
        yield result


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole session (see tests/_postgres.py);
    skips without PostgreSQL's binaries, fails then under CI."""
    from tests._postgres import start

    cluster, stop = start()
    try:
        yield cluster
    finally:
        stop()


STORE_BACKENDS = ("sqlite", "postgres")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): a store test about SQLite itself; skipped on PostgreSQL")


@pytest.fixture(params=STORE_BACKENDS)
def store_backend(request):
    """The store backend under test, "sqlite" or "postgres": a fixture that opens a store and asks for
    this runs its tests on both. A test marked ``sqlite_only("why")`` is skipped on PostgreSQL."""
    if request.param == "postgres":
        marker = request.node.get_closest_marker("sqlite_only")
        if marker is not None:
            pytest.skip(f"SQLite only: {marker.args[0] if marker.args else marker.kwargs.get('reason', '')}")
    return request.param


@pytest.fixture
def store_target(request, tmp_path, store_backend):
    """Where a test's store lives: a SQLite file in tmp_path, or a fresh PostgreSQL database's URL."""
    if store_backend == "postgres":
        return request.getfixturevalue("postgres_url")
    return tmp_path / "data" / "traces.db"


@pytest.fixture
def postgres_url(postgres_cluster):
    """The URL of a fresh, empty database of the session's cluster, dropped after the test."""
    url = postgres_cluster.new_database()
    yield url
    postgres_cluster.drop_database(url)
