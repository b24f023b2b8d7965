"""The bot's rooms kept across restarts, so a restart resumes with an incremental sync.

nio keeps no room list on disk: a process that knows only the sync token learns of a room
quiet since then only from a full-state sync, whose cost grows with the rooms the bot is in
(10.8 s at 1,000 rooms under load, docs/BENCHMARKS.md). The store's `bot_rooms` table
(bot/membership.py) already holds each room and whether it is encrypted; once a full-state
sync has written every joined room into it, the kv marker below says so, in the same
statement that saves that sync's token. From then on every sync writes its joins and
leaves before its token is saved, so the table is complete as of the saved token, and the
next process puts those rooms into nio and syncs from the token. A failed write marks the
list incomplete, and the next process asks for full state again.

What a room needs to be sent to is its ID and its encryption: members are asked of the
server before the first send (bot/transport.py, bot/dm_rooms.py: `members_synced` is
False on a restored room, as on a room learnt from a lazy-loading sync), and DMs are in
`dm_rooms`. A room is encrypted if its row or nio's own store (which never forgets a room
once encrypted) says so; a room in neither list is unknown and is not sent to.
"""

from __future__ import annotations

from collections.abc import Iterable

from nio import AsyncClient, MatrixRoom

from bot import kv
from bot.store import Store

KEY = "room_list"  # kv: COMPLETE or INCOMPLETE
COMPLETE = "complete"
INCOMPLETE = "incomplete"


async def restore(client: AsyncClient, store: Store) -> dict[str, int] | None:
    """Put the stored rooms into nio's room list: room -> encrypted flag as stored; None
    when the stored list is not known to be complete (the first sync must be full state)."""
    if await kv.get(store, KEY) != COMPLETE:
        return None
    async with store.reader.execute("SELECT room_id, encrypted FROM bot_rooms") as cur:
        rows = await cur.fetchall()
    flags: dict[str, int] = {}
    for room_id, encrypted in rows:
        flags[str(room_id)] = int(encrypted)
        if room_id not in client.rooms:
            known = bool(encrypted) or room_id in client.encrypted_rooms
            client.rooms[room_id] = MatrixRoom(room_id, client.user_id, known)
    return flags


def stale(stored: Iterable[str], joined: Iterable[str]) -> list[str]:
    """Rooms in the stored list that a full-state sync did not show the bot joined to."""
    return sorted(set(stored) - set(joined))
