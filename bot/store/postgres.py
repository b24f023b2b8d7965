"""The bot's store on PostgreSQL: same migrations, same API, same single-writer rule.

- One dedicated writer connection, taken by `write()` under an in-process lock, and a
  transaction-scoped advisory lock (`pg_advisory_xact_lock`) so that write transactions
  are one at a time across every process sharing the database, as SQLite's
  BEGIN IMMEDIATE makes them across processes sharing a file.
- Reads outside a transaction go through a small pool (`reader`).
- Migrations run under a session advisory lock, so two instances starting together apply
  each migration once.
- A `fence` (set by the lease, see bot/lease.py) is checked inside every write transaction:
  an instance that lost the lease cannot commit anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from bot.store import pgconn
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.pgconn import PgConnection

log = logging.getLogger(__name__)

# Advisory lock keys (any fixed bigints; named so a DBA can tell them apart in pg_locks).
MIGRATE_LOCK = 0x41_54_54_41_01  # "ATTA" 1
WRITE_LOCK = 0x41_54_54_41_02

# SQLite's group_concat(value, separator), which PostgreSQL spells string_agg; SQLite 3.40
# has no string_agg, so PostgreSQL gets the SQLite name (an explicit, one-place shim).
_PRELUDE = (
    "CREATE OR REPLACE FUNCTION attache_concat_step(acc text, value text, sep text) "
    "RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN value IS NULL THEN acc "
    "WHEN acc IS NULL THEN value ELSE acc || sep || value END $$",
    "CREATE OR REPLACE AGGREGATE group_concat(text, text) "
    "(SFUNC = attache_concat_step, STYPE = text)",
)


class FencedOff(RuntimeError):
    """This instance no longer holds the lease; it must not write (or send) anything."""


Fence = Callable[[PgConnection], Awaitable[None]]


class PgStore:
    """Store on PostgreSQL with the interface of bot.store.database.Store."""

    dialect = "postgresql"

    def __init__(
        self, url: str, migrations: tuple[Migration, ...] = MIGRATIONS, *, pool_size: int = 4
    ) -> None:
        self.url = url
        self._migrations = migrations
        self._pool_size = pool_size
        self._writer: psycopg.AsyncConnection[Any] | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        self._reader: PgConnection | None = None
        self._lock = asyncio.Lock()
        self.fence: Fence | None = None

    def __repr__(self) -> str:
        return f"PgStore({redact(self.url)})"

    async def open(self) -> None:
        self._writer = await pgconn.connect(self.url)
        await self._migrate()
        self._pool = await pgconn.pool(self.url, self._pool_size)
        self._reader = PgConnection(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._writer is not None and not self._writer.closed:
            await self._writer.close()
        self._pool = self._writer = self._reader = None

    @property
    def version(self) -> int:
        return self._migrations[-1].number if self._migrations else 0

    async def schema_version(self) -> int:
        db = PgConnection(self._conn())
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        version = await db.fetchval("SELECT version FROM schema_version")
        if version is None:
            await db.execute("INSERT INTO schema_version (version) VALUES (0)")
            return 0
        return int(version)

    async def _migrate(self) -> None:
        from bot.store.database import StoreTooNew

        conn = self._conn()
        db = PgConnection(conn)
        await db.execute("SELECT pg_advisory_lock(?)", (MIGRATE_LOCK,))
        try:
            async with conn.transaction():
                for statement in _PRELUDE:
                    await db.execute(statement)
            current = await self.schema_version()
            if current > self.version:
                raise StoreTooNew(
                    f"the database is at schema version {current}, newer than this bot "
                    f"({self.version}); run the newer bot or restore a backup"
                )
            for migration in self._migrations:
                if migration.number <= current:
                    continue
                log.info("store: applying migration %03d %s", migration.number, migration.name)
                async with conn.transaction():
                    for statement in migration.statements("postgresql"):
                        await db.execute(statement)
                    await db.execute("UPDATE schema_version SET version = ?", (migration.number,))
        finally:
            await db.execute("SELECT pg_advisory_unlock(?)", (MIGRATE_LOCK,))

    def _conn(self) -> psycopg.AsyncConnection[Any]:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    async def _writer_conn(self) -> psycopg.AsyncConnection[Any]:
        """The writer, reconnected if the server dropped it (a restart, a failover)."""
        if self._writer is None:
            raise RuntimeError("store is not open")
        if self._writer.closed:
            log.warning("store: the database connection was lost; reconnecting")
            self._writer = await pgconn.connect(self.url)
        return self._writer

    @asynccontextmanager
    async def write(self) -> AsyncIterator[PgConnection]:
        """A write transaction, one at a time across every process on this database."""
        async with self._lock:
            conn = await self._writer_conn()
            async with conn.transaction():
                db = PgConnection(conn)
                await db.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
                if self.fence is not None:
                    await self.fence(db)
                yield db

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgConnection]:
        """A read-only transaction (REPEATABLE READ: one view of what is committed) on a
        connection of the pool, for a command that only reads (bot/store/database.py)."""
        if self._pool is None:
            raise RuntimeError("store is not open")
        async with self._pool.connection() as conn:
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield PgConnection(conn)

    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in a write transaction of its own (fenced and serialized like any)."""
        async with self.write() as db:
            await db.execute(sql, params)

    @property
    def reader(self) -> PgConnection:
        """Reads outside a transaction; they never see uncommitted writes."""
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    async def ping(self) -> bool:
        try:
            async with self.reader.execute("SELECT version FROM schema_version") as cur:
                return (await cur.fetchone()) is not None
        except Exception:
            return False

    async def raw(self) -> psycopg.AsyncConnection[Any]:
        """A new connection of its own (the lease holds one; tools use one)."""
        return await pgconn.connect(self.url)


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    user = cred.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
