"""Passwords masked out of text traceglass shows (an error message, a log line, a store's URL).

One mask for the store (``_postgres_url.mask``: a PostgreSQL error, a ``DatabaseURL`` shown) and the
server (``_health.mask_secrets``: the /readyz log line). Dependency-free, so importing it never
loads a database driver.
"""

from __future__ import annotations

import re

# user:password@ in a URL of any scheme (a driver's error may name another service's URL).
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
# password=... in a libpq key/value string, quoted with libpq's backslash escapes or bare.
_KEY_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with the password of any URL (``scheme://user:***@host``) or ``password=`` masked."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _KEY_PASSWORD.sub(r"\g<head>***", text)
