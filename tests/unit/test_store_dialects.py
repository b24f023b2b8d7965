"""The store on both backends: same migrations, same API, the same rules (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import StoreTooNew, open_store
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.pgconn import translate
from tests.harness.postgres import PostgresServer


async def test_every_migration_applies_and_the_api_behaves_alike(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        assert await store.schema_version() == MIGRATIONS[-1].number
        async with store.write() as db:
            # Auto-assigned ids come back through RETURNING on both.
            cur = await db.execute(
                "INSERT INTO audit (at, actor, action) VALUES (?, ?, ?) RETURNING id",
                ("2026-01-01T00:00:00Z", "@a:test", "x"),
            )
            first = (await cur.fetchone())[0]  # type: ignore[index]
            async with db.execute(
                "INSERT INTO audit (at, actor, action) VALUES (?, ?, ?) RETURNING id",
                ("2026-01-01T00:00:01Z", "@a:test", "y"),
            ) as cur:
                second = (await cur.fetchone())[0]  # type: ignore[index]
            assert second == first + 1
            # SQLite converts loosely between a column's type and a parameter's: kept.
            await db.execute(
                "INSERT INTO bot_rooms (room_id, encrypted, updated_at) VALUES (?, ?, ?)",
                ("!r:test", True, "t"),
            )
            await db.execute("INSERT INTO kv (key, value) VALUES (?, ?)", ("n", 5))
            await db.executemany(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [("a", "1"), ("a", "2"), ("b", "?")],
            )
            # A savepoint rolled back undoes only its part, as the dispatcher relies on.
            await db.execute("SAVEPOINT handler")
            await db.execute("INSERT INTO kv (key, value) VALUES ('gone', 'x')")
            await db.execute("ROLLBACK TO handler")
            await db.execute("RELEASE handler")
        rows = await store.reader.execute_fetchall("SELECT key, value FROM kv ORDER BY key")
        assert [(r["key"], r[1]) for r in rows] == [("a", "1"), ("b", "?"), ("n", "5")]
        async with store.reader.execute(
            "SELECT encrypted FROM bot_rooms WHERE room_id = ?", ("!r:test",)
        ) as cur:
            assert (await cur.fetchone())[0] == 1  # type: ignore[index]
        assert await store.ping()
    finally:
        await store.close()


async def test_a_failed_write_changes_nothing(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        with pytest.raises(RuntimeError):
            async with store.write() as db:
                await db.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')")
                raise RuntimeError("handler failed")
        rows = await store.reader.execute_fetchall("SELECT * FROM kv")
        assert rows == []
    finally:
        await store.close()


async def test_upgrade_from_version_1_keeps_data_and_newer_is_refused(database_url: str) -> None:
    old = open_store(database_url)
    old._migrations = MIGRATIONS[:1]  # type: ignore[union-attr]
    await old.open()
    async with old.write() as db:
        await db.execute("INSERT INTO kv (key, value) VALUES ('sync_token', 's1')")
    await old.close()
    new = open_store(database_url)
    await new.open()
    try:
        assert await new.schema_version() == MIGRATIONS[-1].number
        async with new.reader.execute("SELECT value FROM kv WHERE key='sync_token'") as cur:
            assert (await cur.fetchone())[0] == "s1"  # type: ignore[index]
        async with new.write() as db:
            await db.execute("UPDATE schema_version SET version = 999")
    finally:
        await new.close()
    with pytest.raises(StoreTooNew, match="newer than this bot"):
        await open_store(database_url).open()


async def test_a_failed_migration_rolls_back_whole(database_url: str) -> None:
    broken = (*MIGRATIONS[:1], Migration(2, "broken", "CREATE TABLE t (x TEXT);\nNOT SQL;"))
    store = open_store(database_url)
    store._migrations = broken  # type: ignore[union-attr]
    with pytest.raises(Exception, match="syntax error"):
        await store.open()
    await store.close()
    check = open_store(database_url)
    check._migrations = MIGRATIONS[:1]  # type: ignore[union-attr]
    await check.open()
    try:
        assert await check.schema_version() == 1
        with pytest.raises(Exception, match=r"no such table|does not exist"):
            await check.reader.execute_fetchall("SELECT * FROM t")
    finally:
        await check.close()


async def test_postgresql_writes_are_one_at_a_time_across_stores(postgres: PostgresServer) -> None:
    """Two processes' stores on one database: a write waits for the other to commit."""
    url = postgres.new_database()
    one, two = open_store(url), open_store(url)
    await one.open()
    await two.open()
    try:
        order: list[str] = []
        async with one.write() as db:
            await db.execute("INSERT INTO kv (key, value) VALUES ('k', '1')")

            async def other() -> None:
                async with two.write() as db2:
                    order.append("two")
                    await db2.execute("UPDATE kv SET value = '2' WHERE key = 'k'")

            waiting = asyncio.create_task(other())
            await asyncio.sleep(0.3)
            order.append("one")
        await waiting
        assert order == ["one", "two"]
        rows = await one.reader.execute_fetchall("SELECT value FROM kv")
        assert [r[0] for r in rows] == ["2"]
    finally:
        await one.close()
        await two.close()


def test_placeholders_are_translated_outside_quotes_and_comments() -> None:
    sql = translate("SELECT '?', \"a?\" FROM t WHERE a = ? -- b = ?\nAND c = ?")
    assert sql == "SELECT '?', \"a?\" FROM t WHERE a = %s -- b = ?\nAND c = %s"
    assert translate("UPDATE t SET a = 'it''s ?' WHERE b = ?") == (
        "UPDATE t SET a = 'it''s ?' WHERE b = %s"
    )
    # psycopg reads % everywhere (even in quotes and comments): a literal one is doubled.
    assert translate("SELECT 5 % 2 FROM t WHERE a LIKE 'x%' -- 100%\n AND b = ?") == (
        "SELECT 5 %% 2 FROM t WHERE a LIKE 'x%%' -- 100%%\n AND b = %s"
    )


def test_postgresql_migrations_translate_only_types() -> None:
    for migration in MIGRATIONS:
        if "-- postgresql:" in migration.sql or "sqlite-only" in migration.sql:
            continue  # says so explicitly
        lite, pg = migration.statements(), migration.statements("postgresql")
        assert len(lite) == len(pg), migration.name
    outbox = next(s for s in MIGRATIONS[0].statements("postgresql") if "TABLE outbox" in s)
    assert "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in outbox
    assert "attachment BYTEA" in outbox
    both = Migration(9, "x", "-- postgresql: CREATE EXTENSION x;\n-- sqlite-only\nSELECT 1;\n")
    assert both.statements() == ["-- sqlite-only\nSELECT 1"]
    assert both.statements("postgresql") == ["CREATE EXTENSION x"]


async def test_parameters_take_the_statements_types_never_their_python_ones(
    database_url: str,
) -> None:
    """A bool stays a bool where the statement wants a boolean (the sync loop's query for
    a left or rejected DM died on PostgreSQL when bools became ints), and becomes SQLite's
    0/1 where it wants an integer; the same query gives the same rows on both backends."""
    store = open_store(database_url)
    await store.open()
    try:
        async with store.write() as db:
            for room, sent_at in (("!a:test", "2026-01-01T00:00:00Z"), ("!b:test", None)):
                await db.execute(
                    "INSERT INTO outbox (room_id, user_id, content, created_at, state, sent_at) "
                    "VALUES (?, '@p:test', '{}', 't', 'sent', ?)",
                    (room, sent_at),
                )
            await db.execute(
                "INSERT INTO bot_rooms (room_id, encrypted, updated_at) VALUES (?, ?, ?)",
                ("!r:test", False, "t"),
            )
        query = (
            "SELECT room_id FROM outbox WHERE user_id = ? AND state = 'sent' "
            "AND (? OR sent_at >= ?) ORDER BY room_id"
        )
        for everything, expected in ((True, ["!a:test", "!b:test"]), (False, ["!a:test"])):
            rows = await store.reader.execute_fetchall(
                query, ("@p:test", everything, "2025-12-31T00:00:00Z")
            )
            assert [r[0] for r in rows] == expected
            # SQLite's 0/1 for a boolean reads the same
            rows = await store.reader.execute_fetchall(
                query, ("@p:test", int(everything), "2025-12-31T00:00:00Z")
            )
            assert [r[0] for r in rows] == expected
        rows = await store.reader.execute_fetchall(
            "SELECT encrypted FROM bot_rooms WHERE encrypted = ?", (False,)
        )
        assert [r[0] for r in rows] == [0]
    finally:
        await store.close()
