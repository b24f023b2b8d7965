"""The store's `kv` table: one named value each (the sync token, room marks, events
awaiting their room key, possible DMs)."""

from __future__ import annotations

from bot.store import Store


async def get(store: Store, key: str) -> str | None:
    async with store.reader.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return str(row[0]) if row else None


async def under(store: Store, prefix: str) -> list[tuple[str, str]]:
    """Every (key without the prefix, value) whose key starts with `prefix`."""
    async with store.reader.execute(
        "SELECT key, value FROM kv WHERE key LIKE ?", (f"{prefix}%",)
    ) as cur:
        rows = await cur.fetchall()
    return [(str(key).removeprefix(prefix), str(value)) for key, value in rows]


async def put(store: Store, key: str, value: str) -> None:
    async with store.write() as db:
        await db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


async def delete(store: Store, key: str) -> None:
    async with store.write() as db:
        await db.execute("DELETE FROM kv WHERE key = ?", (key,))
