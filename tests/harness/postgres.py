"""A throwaway PostgreSQL server for tests, started like Synapse: real, local, unprivileged.

`initdb` refuses to run as root, so when the suite runs as root the cluster belongs to the
`postgres` system user (the Debian package creates it) and both `initdb` and `pg_ctl` run
through `runuser`. The data directory is a fresh directory under /tmp (pytest's own temp
dirs are 0700 root and the server user could not enter them), removed on close.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from tests.harness.synapse import free_port

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
SUPERUSER = "attache"
REUSED = "attache_migrated"

# Empties every table of the schema and restarts its sequences: the database as a fresh
# one is right after the migrations. Connections a previous test left open are ended
# first, so nothing of theirs can write into the next test or hold a lock it waits on.
# (TRUNCATE, or a CREATE DATABASE ... TEMPLATE per test, costs the server 6 to 8 times the
# CPU of these DELETEs on tables of a few rows; replication role `replica` skips the
# foreign-key triggers, so the order of the tables does not matter.) Sent over a connection
# kept for the session (`_session`), not by a `psql` per test: that process and the server
# backend it starts cost about 30 ms of CPU each time, some 550 times in the unit suite.
_EMPTY = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid();
DO $$
DECLARE r record;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR r IN SELECT tablename FROM pg_tables
            WHERE schemaname = 'public' AND tablename <> 'schema_version' LOOP
        EXECUTE format('DELETE FROM %I', r.tablename);
    END LOOP;
    FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER SEQUENCE %I RESTART', r.sequencename);
    END LOOP;
END $$;
"""


def pg_bin() -> Path | None:
    """The directory holding initdb/pg_ctl, or None when PostgreSQL is not installed."""
    override = os.environ.get("ATTACHE_PG_BIN")
    for candidate in (override, *PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _log(msg: str) -> None:
    print(f"[postgres-harness] {msg}", file=sys.stderr, flush=True)


class PostgresServer:
    """One cluster on 127.0.0.1:<free port>, trust auth, one database per `new_database()`."""

    def __init__(self) -> None:
        self.port = 0
        self.root: Path | None = None
        self._run_as: str | None = None
        self._migrated = False
        # Open connections by database, for the statements the suite sends per test.
        self._sessions: dict[str, psycopg.Connection[tuple[object, ...]]] = {}
        self._sessions_lock = threading.Lock()  # a test may create databases from threads

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        if self._run_as is None:
            return list(args)
        return ["runuser", "-u", self._run_as, "--", *args]

    def start(self) -> PostgresServer:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it"
            )
        self.root = Path(tempfile.mkdtemp(prefix="attache-pg-"))
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        if os.geteuid() == 0:
            self._run_as = "postgres"
            entry = pwd.getpwnam("postgres")
            for path in (self.root, sock):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        t0 = time.monotonic()
        subprocess.run(
            self._cmd(
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        # Test settings: no fsync (a lost test cluster costs nothing), enough connections for
        # several bots with pools plus the tests' own.
        options = (
            f"-p {{port}} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        for attempt in range(3):
            self.port = free_port()
            proc = subprocess.run(
                self._cmd(
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    options.format(port=self.port),
                    "start",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                break
            _log(f"start on port {self.port} failed (attempt {attempt + 1}): {proc.stderr}")
        else:
            raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'server.log'}")
        _log(f"up on 127.0.0.1:{self.port} in {time.monotonic() - t0:.1f} s")
        return self

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one statement as the superuser; returns psql's unaligned output."""
        proc = subprocess.run(
            ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", self.url(database), "-c", sql],
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout.strip()

    def _session(self, sql: str, database: str = "postgres") -> None:
        """Run statements as the superuser over this database's session connection (opened
        on first use, in autocommit: CREATE DATABASE may not run in a transaction)."""
        with self._sessions_lock:
            conn = self._sessions.get(database)
            if conn is None or conn.closed:
                conn = psycopg.connect(self.url(database), autocommit=True)
                self._sessions[database] = conn
            conn.execute(sql.encode())  # several statements: no parameters, simple protocol

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._session(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def migrated_database(self) -> str:
        """The URL of this server's one database at the latest schema, emptied for the caller.

        Creating and migrating a database costs the server about 0.15 s of CPU, which the
        unit tests on PostgreSQL paid once each; they share one database instead, migrated
        once by the bot's own code (`open_store`) and emptied before each test. Tests of the
        migrations themselves take `new_database()`.
        """
        url = self.url(REUSED)
        if not self._migrated:
            self._session(f'CREATE DATABASE "{REUSED}"')
            # The migrations are async; the caller may be inside pytest-asyncio's loop.
            with ThreadPoolExecutor(1) as thread:
                thread.submit(asyncio.run, _migrate(url)).result()
            self._migrated = True
        self._session(_EMPTY, REUSED)
        return url

    def stop(self) -> None:
        with self._sessions_lock:
            for conn in self._sessions.values():
                conn.close()
            self._sessions.clear()
        bindir = pg_bin()
        if self.root is None or bindir is None:
            return
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                self._cmd(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


async def _migrate(url: str) -> None:
    from bot.store import open_store

    store = open_store(url)
    await store.open()
    await store.close()
