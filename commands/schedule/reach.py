"""Where a visit or meeting reaches its people: the one rule for `to=`.

`to=here` (the default) in a shared room (a post's, a summit's, any group room the bot is
in): the reminders go to that room and mention everyone. `to=here` in a direct message
with the bot, or `to=dm` anywhere: each person (the creator and every participant) gets
them in their own DM. Either way, each participant (people, and the members of posts) is
told in their own DM, in their language and zone, that they were added, of each change and
of a cancellation: a mention in a room they may not be in reaches no one.
"""

from __future__ import annotations

import aiosqlite

from commands.schedule.model import DM


async def is_dm(db: aiosqlite.Connection, room_id: str | None) -> bool:
    """A room that is someone's direct message with the bot (as the store knows it)."""
    if room_id is None:
        return False
    async with db.execute("SELECT 1 FROM dm_rooms WHERE room_id = ?", (room_id,)) as cur:
        return await cur.fetchone() is not None


async def item_room(db: aiosqlite.Connection, asked: str | None, here: str | None) -> str | None:
    """The room a new item's reminders go to (None: each person's DM), from `to=` as read by
    `_delivery` (DM for to=dm, None for to=here) and the room the command came from."""
    if asked == DM or here is None or await is_dm(db, here):
        return None
    return here
