"""One password mask for every text traceglass shows: the store's ``_postgres_url.mask`` (a
PostgreSQL error's message, a DatabaseURL shown) and the server's ``_health.mask_secrets`` (the
/readyz log line) mask the same passwords, in any scheme's URL and libpq's ``password=``."""

from __future__ import annotations

import pytest

from traceglass.server import _health
from traceglass.store import _postgres_url

CASES = [
    ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
    ("postgres://u:p%40ss@h:5432/db?sslmode=require", "postgres://u:***@h:5432/db?sslmode=require"),
    ("POSTGRESQL://u:p@h/db", "POSTGRESQL://u:***@h/db"),
    ("https://admin:s3cret@example.com/x", "https://admin:***@example.com/x"),
    ("redis://:p@h:6379/0", "redis://:***@h:6379/0"),
    ("one postgresql://u:p@h1/a, two mysql://v:q@h2/b", "one postgresql://u:***@h1/a, two mysql://v:***@h2/b"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),  # no password: unchanged
    ("host=h password='a b' user=u", "host=h password=*** user=u"),
    ("host=h password='it\\'s' user=u", "host=h password=*** user=u"),  # libpq's escaped quote
    ("PASSWORD = hunter2", "PASSWORD = ***"),
    ('FATAL:  password authentication failed for user "u"', 'FATAL:  password authentication failed for user "u"'),
    ("/var/lib/traceglass/traces.db", "/var/lib/traceglass/traces.db"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "masked"), CASES)
def test_the_store_and_the_server_mask_alike(text, masked):
    assert (_postgres_url.mask(text), _health.mask_secrets(text)) == (masked, masked)


def test_a_database_url_and_a_postgres_error_show_no_password():
    url = _postgres_url.DatabaseURL("postgresql://u:p%40ss@db.example:5432/traces")
    assert (str(url), repr(url)) == ("postgresql://u:***@db.example:5432/traces",
                                     "DatabaseURL('postgresql://u:***@db.example:5432/traces')")
    assert url.secret() == "postgresql://u:p%40ss@db.example:5432/traces"
    error = _postgres_url.PostgresError("cannot reach postgresql://u:p@h/db with PASSWORD=x nor https://a:b@c", "08006")
    assert (str(error), error.sqlstate) == ("cannot reach postgresql://u:***@h/db with PASSWORD=*** nor https://a:***@c",
                                            "08006")
