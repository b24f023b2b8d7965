"""Whose language and zone what the outbox renders at send time is in: the row's reader
(a DM's person, a room's `lang=`), or the person a notice about a row is for."""

from __future__ import annotations

from typing import Any

from bot.store import Store
from commands.readers import reader_language, zones_of


class Readers:
    def __init__(self, store: Store, default_language: str, default_timezone: str) -> None:
        self.store = store
        # For readers who set none (ATTACHE_LANGUAGE, ATTACHE_TIMEZONE).
        self.default_language = default_language
        self.default_timezone = default_timezone

    async def language_of(self, *, user_id: str | None = None, room_id: str | None = None) -> str:
        """The language of a message's reader (see reader_language)."""
        return await reader_language(
            self.store.reader, self.default_language, user_id=user_id, room_id=room_id
        )

    async def sender_language(self, origin: dict[str, Any] | None) -> str:
        """The language of the person a message was sent for (a notice about it is theirs)."""
        return await self.language_of(user_id=(origin or {}).get("user_id"))

    async def zone_of(self, user_id: str | None, room_id: str | None) -> str:
        """The time zone of a message's reader: a DM's person's, else the default."""
        if user_id is None and room_id is not None:
            async with self.store.reader.execute(
                "SELECT user_id FROM dm_rooms WHERE room_id = ?", (room_id,)
            ) as cur:
                found = await cur.fetchone()
            user_id = str(found[0]) if found is not None else None
        if user_id is None:
            return self.default_timezone
        zones = await zones_of(self.store.reader, [user_id], self.default_timezone)
        return zones[user_id]
