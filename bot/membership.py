"""Who is in which room, as sync tells it: the bot's own rooms and their encryption,
people's display names, and member events (a DM shared or left, a room's members changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nio import AsyncClient, RoomMemberEvent, SyncResponse

from bot import ratelimit, room_list
from bot.clock import Clock
from bot.dm_lifecycle import DmLifecycle
from bot.parking import Parking
from bot.store import Store
from commands.context import utc_iso


@dataclass
class Membership:
    client: AsyncClient
    store: Store
    clock: Clock
    parking: Parking
    dms: DmLifecycle
    on_members: Callable[[str], None] | None = None  # a room's members changed (recipients)
    _room_flags: dict[str, int] = field(default_factory=dict)  # room -> encrypted, as stored

    def known_rooms(self, flags: dict[str, int]) -> None:
        """The rooms restored from the store (bot/room_list.py), as stored: not rewritten."""
        self._room_flags.update(flags)

    async def note_rooms(self, resp: SyncResponse, *, full_state: bool = False) -> None:
        """Keep the store's list of the bot's rooms and their encryption current, so a
        command can refuse an unencrypted post or summit room when it is set, and the next
        process can resume from the saved token (bot/room_list.py).

        full_state: the response lists every room the bot is in; stored rooms it does not
        list are dropped."""
        joined = [
            (r, int(bool(room.encrypted)), utc_iso(self.clock.now()))
            for r in resp.rooms.join
            if (room := self.client.rooms.get(r)) is not None
            and self._room_flags.get(r) != int(bool(room.encrypted))
        ]
        # Left and joined again within one sync: still in it.
        gone = [r for r in resp.rooms.leave if r not in resp.rooms.join]
        if full_state:
            async with self.store.reader.execute("SELECT room_id FROM bot_rooms") as cur:
                stored = [str(row[0]) for row in await cur.fetchall()]
            gone += [r for r in room_list.stale(stored, resp.rooms.join) if r not in gone]
        left = [(r,) for r in gone]
        if not joined and not left:
            return
        self._room_flags.update({r: flag for r, flag, _at in joined})
        for (r,) in left:
            self._room_flags.pop(r, None)
        async with self.store.write() as db:
            await db.executemany(
                "INSERT INTO bot_rooms (room_id, encrypted, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (room_id) DO UPDATE SET encrypted = excluded.encrypted, "
                "updated_at = excluded.updated_at",
                joined,
            )
            await db.executemany("DELETE FROM bot_rooms WHERE room_id = ?", left)
            await ratelimit.forget_rooms(db, [r for (r,) in left])

    async def changed(self, room_id: str, events: list[Any]) -> None:
        """A room's member events: its members changed (the recipients' cache), and a DM
        shared, left or rejected (bot/dm_lifecycle.py).

        Noticed from sync, not from a failed send: a left DM still accepts the bot's sends,
        so waiting for failure would mark messages sent that nobody reads.
        """
        for event in events:
            if isinstance(event, RoomMemberEvent) and self.on_members is not None:
                self.on_members(room_id)
            if isinstance(event, RoomMemberEvent) and event.membership in ("join", "invite"):
                await self.dms.no_longer_a_dm(room_id, event.state_key)
            if (
                not isinstance(event, RoomMemberEvent)
                or event.membership not in ("leave", "ban")
                or event.state_key == self.client.user_id
            ):
                continue
            async with self.parking.guard(
                "membership", event_id=event.event_id, room_id=room_id, sender=event.sender
            ):
                await self.dms.person_left(
                    room_id, event.state_key, event.prev_membership, event.server_timestamp
                )

    async def remember_names(self, events: list[Any]) -> None:
        """Display names from the member events sync already brings, kept in the store:
        handlers name people as Element does without any network I/O of their own."""
        names: dict[str, str] = {}
        for event in events:
            if not isinstance(event, RoomMemberEvent) or event.membership != "join":
                continue
            name = (event.content or {}).get("displayname")
            if isinstance(name, str) and name.strip() and event.state_key:
                names[event.state_key] = name.strip()[:256]
        if not names:
            return
        async with self.store.write() as db:
            await db.executemany(
                "INSERT INTO profile_names (user_id, display_name, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, "
                "updated_at = excluded.updated_at "
                "WHERE profile_names.display_name != excluded.display_name",
                [(u, n, utc_iso(self.clock.now())) for u, n in names.items()],
            )
