"""A throwaway PostgreSQL cluster for the tests: Debian's postgresql binaries, a temp directory, 127.0.0.1.

``cluster()`` (session-scoped through the ``postgres_cluster`` fixture in tests/conftest.py) runs
initdb into a temporary directory as the unprivileged ``postgres`` system user when we are root
(PostgreSQL refuses to run as root), starts the server on a free port on 127.0.0.1 only, with
fsync off (nothing here must survive a crash), and stops it at the end. Each test then gets a
fresh, empty database (``new_database``). Without the binaries the PostgreSQL tests skip, saying
why, unless the ``CI`` environment variable is set: then they fail, as a missing package there is
a broken CI, not a choice.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "s3cret-pw"  # the tests' superuser's: a test checks it never shows
_names = itertools.count()


@dataclass
class Cluster:
    port: int
    directory: Path
    user: str
    _migrated: str = ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self, *, empty: bool = False) -> str:
        """A fresh database, its schema already migrated (a copy of a template made once: migrating
        each test's database measured 0.6 s a test), or ``empty``; its URL."""
        import psycopg

        template = "template0" if empty else self._template()
        name = f"tg_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def _template(self) -> str:
        if not self._migrated:
            from traceglass.store import TraceStore

            url = self.new_database(empty=True)
            TraceStore(url).close()  # migrates
            self._migrated = url.rsplit("/", 1)[1]
        return self._migrated

    def restore_database(self, url: str) -> None:
        """Make the database of ``url`` again (after ``drop_database``), migrated and empty."""
        import psycopg

        name, template = url.rsplit("/", 1)[1], self._template()
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _binaries() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def start() -> tuple[Cluster, callable]:
    """Start a cluster; returns it and its stop function (skips or fails when it cannot run)."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'traceglass[postgres]')")
    binaries = _binaries()
    if binaries is None:
        _unavailable("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="traceglass-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the postgres system user runs it
        try:
            import pwd

            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' system user to run the server")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else \
            ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--clear-groups"]
    data = directory / "data"
    password_file = directory / "pw"
    password_file.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    user = "traceglass"
    subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-U", user, "--auth=scram-sha-256",
                    f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c unix_socket_directories={directory} -c max_connections=200")
    log = directory / "server.log"
    subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
                    "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    cluster = Cluster(port, directory, user)

    def stop() -> None:
        subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       check=False, capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)

    deadline = time.monotonic() + 30
    import psycopg

    while True:  # pg_ctl -w waited; a loaded machine may still need a moment for TCP
        try:
            psycopg.connect(cluster.url(), connect_timeout=5).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                stop()
                raise
            time.sleep(0.2)
    return cluster, stop
