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


async def test_013_moves_every_history_into_one_table(tmp_path: Path) -> None:
    """Rows of action_history, liaison_history and the schedule's audit become `history`."""
    path = tmp_path / "h.db"
    old = Store(path, migrations=MIGRATIONS[:12])
    await old.open()
    at = "2026-03-02T09:00:00+00:00"
    async with old.write() as db:  # the old schema: only raw SQL can write it
        await db.execute(
            "INSERT INTO summits (id, name, room_id, timezone, created_by, created_at) "
            "VALUES (1, 'S', '!r:test', 'UTC', '@s:test', ?)",
            (at,),
        )
        await db.execute(
            "INSERT INTO action_items (id, summit_id, text, owner_kind, owner, due_at, due_zone, "
            "created_by, created_at, updated_at) "
            "VALUES (7, 1, 't', 'person', '@o:test', ?, 'UTC', '@s:test', ?, ?)",
            (at, at, at),
        )
        await db.execute(
            "INSERT INTO action_history (item_id, at, actor, field, old, new, comment, event_id) "
            "VALUES (7, ?, '@o:test', 'status', 'open', 'done', 'sent', '$e1')",
            (at,),
        )
        await db.execute(
            "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
            "created_at, updated_at) VALUES (3, '@a:test', 'FR-PARIS', 's', 'routine', ?, ?)",
            (at, at),
        )
        await db.execute(
            "INSERT INTO liaison_history (request_id, at, actor, action, status, detail) "
            "VALUES (3, ?, '@b:test', 'answer', 'answered', 'all set')",
            (at,),
        )
        await db.executemany(
            "INSERT INTO audit (at, actor, action, object, detail, event_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (at, "@a:test", "meeting.create", "M-2", "Tue 03 Mar", "$e2"),
                (at, "@a:test", "tz.set", "@a:test", "UTC", "$e3"),
                (at, "@a:test", "action.done", "A-7", "", "$e1"),
            ],
        )
    await old.close()
    new = Store(path)
    await new.open()
    try:
        async with new.reader.execute(
            "SELECT object, actor, action, old, new, detail, event_id FROM history ORDER BY id"
        ) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        assert rows == [
            ("A-7", "@o:test", "status", "open", "done", "sent", "$e1"),
            ("LR-3", "@b:test", "answer", None, "answered", "all set", None),
            ("M-2", "@a:test", "create", None, None, "Tue 03 Mar", "$e2"),
        ]
        async with new.reader.execute(
            "SELECT name FROM sqlite_master WHERE name IN ('action_history', 'liaison_history')"
        ) as cur:
            assert await cur.fetchall() == []
        async with new.reader.execute("SELECT count(*) FROM audit") as cur:
            assert (await cur.fetchone())[0] == 3  # the audit log itself is untouched
    finally:
        await new.close()
