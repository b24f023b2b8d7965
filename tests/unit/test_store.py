"""The store: numbered migrations in order, a newer database refused, files 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import aiosqlite
import pytest

from bot.store import Store, StoreTooNew
from bot.store.migrations import MIGRATIONS, Migration


async def test_fresh_store_has_every_migration_and_private_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    await store.open()
    try:
        assert await store.schema_version() == MIGRATIONS[-1].number
        assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
        async with store.write() as db:
            await db.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')")
    finally:
        await store.close()
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_upgrade_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Store(path, migrations=MIGRATIONS[:1])
    await old.open()
    async with old.write() as db:
        await db.execute("INSERT INTO kv (key, value) VALUES ('sync_token', 's1')")
    await old.close()
    new = Store(path)
    await new.open()
    try:
        assert await new.schema_version() == MIGRATIONS[-1].number
        async with new.reader.execute("SELECT value FROM kv WHERE key='sync_token'") as cur:
            assert (await cur.fetchone())[0] == "s1"
    finally:
        await new.close()


async def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = Store(path)
    await store.open()
    await store.close()
    async with aiosqlite.connect(path) as db:
        await db.execute("UPDATE schema_version SET version = 999")
        await db.commit()
    with pytest.raises(StoreTooNew, match="newer than this bot"):
        await Store(path).open()


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    broken = (*MIGRATIONS[:1], Migration(2, "broken", "CREATE TABLE t (x);\nNOT SQL;"))
    store = Store(tmp_path / "b.db", migrations=broken)
    with pytest.raises(aiosqlite.OperationalError):
        await store.open()
    async with aiosqlite.connect(tmp_path / "b.db") as db:
        async with db.execute("SELECT version FROM schema_version") as cur:
            assert (await cur.fetchone())[0] == 1
        async with db.execute("SELECT name FROM sqlite_master WHERE name = 't'") as cur:
            assert await cur.fetchone() is None
