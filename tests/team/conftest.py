"""The team-server tests reuse the server tests' fixtures (a real uvicorn server on 127.0.0.1)."""

from tests.server.conftest import db_path, serve_app  # noqa: F401 - fixtures
