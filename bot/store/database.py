"""aiosqlite store: WAL, foreign keys, serialized write transactions, read connection."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)


class StoreTooNew(RuntimeError):
    """The database was written by a newer version of the bot; refuse to touch it."""


class Store:
    """One writer connection guarded by a lock, one reader connection (WAL lets both run).

    Handlers run inside `write()`: they are short (no network), so one writer at a time
    costs little and gives every command a transaction of its own.
    """

    dialect = "sqlite"

    def __init__(self, path: Path, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
        self.path = path
        self._migrations = migrations
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._snapshots: aiosqlite.Connection | None = None  # opened at the first snapshot()
        self._lock = asyncio.Lock()
        self._snapshot_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        if fresh:
            # Create it 0600 before SQLite does, so no window exists where it is readable.
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._migrate()
        self._reader = await self._connect()
        for suffix in ("-wal", "-shm"):
            side = Path(f"{self.path}{suffix}")
            if side.exists():
                side.chmod(0o600)

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        return db

    async def close(self) -> None:
        for db in (self._snapshots, self._reader, self._writer):
            if db is not None:
                await db.close()
        self._snapshots = self._reader = self._writer = None

    @property
    def version(self) -> int:
        return self._migrations[-1].number if self._migrations else 0

    async def schema_version(self) -> int:
        db = self._db()
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with db.execute("SELECT version FROM schema_version") as cur:
            row = await cur.fetchone()
        if row is None:
            await db.execute("INSERT INTO schema_version (version) VALUES (0)")
            return 0
        return int(row[0])

    async def _migrate(self) -> None:
        db = self._db()
        current = await self.schema_version()
        if current > self.version:
            raise StoreTooNew(
                f"{self.path} is at schema version {current}, newer than this bot "
                f"({self.version}); run the newer bot or restore a backup"
            )
        for migration in self._migrations:
            if migration.number <= current:
                continue
            log.info("store: applying migration %03d %s", migration.number, migration.name)
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in migration.statements():
                    await db.execute(statement)
                await db.execute("UPDATE schema_version SET version = ?", (migration.number,))
                await db.commit()
            except BaseException:
                await db.rollback()
                raise

    def _db(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT), one at a time."""
        async with self._lock:
            db = self._db()
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.rollback()
                raise
            else:
                await db.commit()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read-only transaction: one consistent view of what is committed, for a command
        that only reads, so that it renders without holding the write lock (issue 25). Its
        own connection, refusing writes (query_only), never the shared `reader`: what else
        reads there (the outbox's markings) must see the latest commit, not this view."""
        async with self._snapshot_lock:
            if self._snapshots is None:
                if self._writer is None:
                    raise RuntimeError("store is not open")
                self._snapshots = await self._connect()
                await self._snapshots.execute("PRAGMA query_only=ON")
            db = self._snapshots
            await db.execute("BEGIN")
            try:
                yield db
            finally:
                await db.rollback()

    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement, atomic on its own (SQLite runs a lone statement as a transaction).

        One trip to the database thread instead of three (BEGIN, statement, COMMIT); each
        trip costs more CPU than a small indexed write itself (docs/BENCHMARKS.md).
        """
        async with self._lock:
            await self._db().execute(sql, params)

    @property
    def reader(self) -> aiosqlite.Connection:
        """Connection for reads outside a transaction; it never sees uncommitted writes."""
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    async def ping(self) -> bool:
        """True when the database file answers a read (`SELECT 1` would not touch it)."""
        try:
            async with self.reader.execute("SELECT version FROM schema_version") as cur:
                return (await cur.fetchone()) is not None
        except Exception:
            return False
