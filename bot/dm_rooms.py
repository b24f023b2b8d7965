"""DMs with people: whether a room is still a usable DM, whether a person can read one at
all, and making a new one (encrypted from its first event, waiting for the invitee)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nio import Api, AsyncClient, JoinedMembersError, RoomCreateError, RoomPreset

from bot.keyed_locks import KeyedLocks
from bot.send_error import SendError, error_from

DM_PERSON_GONE = "the person is neither joined nor invited"


@dataclass
class DmRooms:
    client: AsyncClient
    # Shared with the transport: one joined_members/keys query at a time.
    members_locks: KeyedLocks  # one joined_members per room at a time (bot/transport.py)
    join_wait: float = 30.0  # seconds a new DM waits for the invitee before the first send
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)  # person -> DM being made

    async def problem(self, room_id: str, user_id: str) -> str | None:
        """Why this room is not a usable DM with this person, or None if it is.

        A DM is encrypted and holds exactly the bot and the person, who is joined or
        invited: a room someone else made (a stolen token, a hostile server) and left
        unencrypted, or that a third party joined, is never written to as a DM.
        """
        room = self.client.rooms.get(room_id)
        if room is None:
            return "the bot is not in it"
        if not room.encrypted:
            return "it is not encrypted"
        if not room.members_synced:
            async with self.members_locks.hold([room_id]):
                resp = await self.client.joined_members(room_id)
            if isinstance(resp, JoinedMembersError):
                error = error_from(resp)
                if error.permanent:  # e.g. the bot was removed: not a DM any more
                    return "its members cannot be read"
                raise error
        members = set(room.users)
        if user_id not in members:
            return DM_PERSON_GONE
        if members - {self.client.user_id, user_id} or room.member_count > 2:
            return "someone else is in it"
        return None

    async def has_devices(self, user_id: str) -> bool:
        """Whether the person has any device that could read an encrypted DM. A deactivated
        account has none (and can still be invited), so the bot does not invite it."""
        method, path, data = Api.keys_query(self.client.access_token, {user_id})
        try:
            resp = await self.client.send(method, path, data)
            body = await resp.json()
        except Exception as exc:
            raise SendError(type(exc).__name__) from exc
        if resp.status != 200 or not isinstance(body, dict):
            raise SendError(f"keys query failed ({resp.status})")
        return bool((body.get("device_keys") or {}).get(user_id))

    async def create(self, user_id: str) -> str:
        """Create an encrypted DM with this person (the caller stores and reuses it)."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            try:
                resp = await self.client.room_create(
                    is_direct=True,
                    preset=RoomPreset.trusted_private_chat,
                    invite=[user_id],
                    initial_state=[
                        {
                            "type": "m.room.encryption",
                            "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                        }
                    ],
                )
            except Exception as exc:
                raise SendError(type(exc).__name__) from exc
            if isinstance(resp, RoomCreateError):
                raise error_from(resp)
            # Wait until our own sync has the room, so room_send knows it is encrypted.
            for _ in range(200):
                room = self.client.rooms.get(resp.room_id)
                if room is not None and room.encrypted:
                    break
                await asyncio.sleep(0.05)
            # Until the invitee joins, nio shares the room key with nobody (it has not
            # queried their devices), and the first messages stay undecryptable for them
            # for good (seen in tests/integration/test_liaison.py). Wait for the join,
            # bounded: a person who is away still gets the messages, later, as best we can.
            # A rejection ends the wait too: the caller sees it (dm_problem) and stops.
            seen = False
            for _ in range(int(self.join_wait / 0.05)):
                room = self.client.rooms.get(resp.room_id)
                here = room is not None and user_id in room.users
                if here and user_id not in room.invited_users:  # type: ignore[union-attr]
                    break
                if seen and not here:
                    break
                seen = seen or here
                await asyncio.sleep(0.05)
            return str(resp.room_id)
