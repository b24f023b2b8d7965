"""Writes messages to the outbox in the caller's transaction, with the effect that
produced them: a crash keeps both or neither."""

from __future__ import annotations

import aiosqlite

from commands.context import OutMessage
from commands.outbox_row import Queued


async def enqueue(db: aiosqlite.Connection, messages: list[OutMessage], now_iso: str) -> None:
    """Write messages in the caller's transaction (with the effect that produced them).

    A message to a room that is someone's DM now was rendered for that person (their
    clearance, marked lines in full): the row says so (Queued.reader), and is sent into
    that room only while they are its only other member (bot/recipients.py)."""
    for msg in messages:
        row = msg.to_row()
        if row["room_id"] and not row["user_id"]:
            async with db.execute(
                "SELECT user_id FROM dm_rooms WHERE room_id = ?", (row["room_id"],)
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                meta = Queued.loads(row["content"])
                meta.reader = str(found[0])
                row["content"] = meta.dumps()
        await db.execute(
            "INSERT INTO outbox (room_id, user_id, content, attachment, key, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                row["room_id"],
                row["user_id"],
                row["content"],
                row["attachment"],
                row["key"],
                now_iso,
            ),
        )
