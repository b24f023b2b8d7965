"""Sending: every event encrypted (`m.room.encrypted`, never plaintext, to any room),
one send per room at a time, a one-off session for a refused device's explanation, and
encrypted uploads."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

from nio import Api, AsyncClient, JoinedMembersError, RoomSendResponse, UploadResponse

from bot import ledger
from bot.crypto.missed_devices import MissedDevices
from bot.dm_rooms import DmRooms
from bot.keyed_locks import KeyedLocks
from bot.room_members import server_members
from bot.send_error import SendError, error_from
from commands.i18n import N_

# Why a send was refused as unsafe: logged, and told to the admins in their language.
NOT_ENCRYPTED = N_("room is not end-to-end encrypted")


@dataclass
class MatrixTransport:
    """The outbox's view of Matrix: send encrypted, upload encrypted, find a DM
    (bot/dm_rooms.py) and a room's members (bot/room_members.py)."""

    client: AsyncClient
    prepare_room: Any = None  # async (room_id) -> None: trust policy before a send
    dm_join_wait: float = 30.0  # seconds a new DM waits for the invitee before the first send
    # On PostgreSQL: False once this instance may no longer act (bot/lease.py); a send then
    # fails retryably and the row stays queued for the instance that holds the lease.
    may_send: Any = None
    # Keys the clear ledger tag of a job's messages (bot/ledger.py); None: no tag.
    ledger_key: bytes | None = None

    def __post_init__(self) -> None:
        # One joined_members per room at a time (shared with the DM checks), and one of
        # nio's /keys/query (it asks about everyone outdated at once) at a time.
        self._member_locks = KeyedLocks()
        self._query_lock = asyncio.Lock()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._missed = MissedDevices()  # devices a room key skipped while unreachable
        self.dms = DmRooms(self.client, self._member_locks, self.dm_join_wait)

    def forget_room(self, room_id: str) -> None:
        """The bot left the room (bot/roomgc.py): drop its send lock unless a send holds it."""
        lock = self._room_locks.get(room_id)
        if lock is not None and not lock.locked():
            del self._room_locks[room_id]

    async def _keys(self, room_id: str) -> None:
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        if not room.members_synced:
            async with self._member_locks.hold([room_id]):
                if not room.members_synced:
                    resp = await self.client.joined_members(room_id)
                    if isinstance(resp, JoinedMembersError):
                        raise error_from(resp)
        # Wait for a key query only if someone here is outdated: one naming a hung
        # server (bounded: bot/federation_calls.py) holds up no other room's send.
        if self.client.users_for_key_query & set(room.users):
            async with self._query_lock:
                if self.client.users_for_key_query & set(room.users):
                    await self.client.keys_query()
        if self.prepare_room is not None:
            await self.prepare_room(room_id)
        await self._missed.catch_up(self.client, room_id)

    async def send(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str,
        reveal_to: tuple[str, str] | None = None,
        event_type: str = "m.room.message",
    ) -> str:
        """Send one event, always as `m.room.encrypted`: never plaintext, to any room.

        nio's room_send falls back to plaintext when it believes a room is unencrypted (and
        always for m.reaction); here the room must be known to be encrypted and the content
        is encrypted explicitly, or the send is refused (SendError.unsafe).
        """
        room = self.client.rooms.get(room_id)
        if room is None:
            raise SendError(f"not in room {room_id}", permanent=True)
        if not room.encrypted:
            raise SendError(NOT_ENCRYPTED, unsafe=True)
        # One send per room at a time: a one-off session (reveal_to) must never carry
        # another message.
        async with self._room_locks.setdefault(room_id, asyncio.Lock()):
            try:
                await self._keys(room_id)
                if self.may_send is not None and not self.may_send():
                    raise SendError("this instance no longer holds the lease")
                device = self._device(reveal_to)
                if device is None:
                    resp = await self._room_send(room_id, content, txn_id, event_type)
                else:
                    resp = await self._send_revealed(room_id, content, txn_id, device, event_type)
            except SendError:
                raise
            except Exception as exc:  # network errors, key-sharing failures: retry later
                raise SendError(type(exc).__name__) from exc
        if isinstance(resp, RoomSendResponse):
            return resp.event_id
        raise error_from(resp)

    async def _room_send(
        self, room_id: str, content: dict[str, Any], txn_id: str, event_type: str
    ) -> Any:
        # With a trust policy every device is verified or blacklisted first, so a device
        # that appears between the two fails the send (retried) rather than silently
        # receiving keys.
        return await self._encrypted_send(
            room_id, event_type, content, txn_id, ignore_unverified=self.prepare_room is None
        )

    async def _encrypted_send(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        txn_id: str,
        *,
        ignore_unverified: bool,
    ) -> Any:
        """Share the room key if needed, encrypt, PUT `m.room.encrypted`; nothing else."""
        client = self.client
        room = client.rooms.get(room_id)
        if client.olm is None or room is None or not room.encrypted:
            raise SendError(NOT_ENCRYPTED, unsafe=True)
        if not room.members_synced:
            resp = await client.joined_members(room_id)
            if isinstance(resp, JoinedMembersError):
                raise error_from(resp)
        if client.olm.should_share_group_session(room_id):
            sharing = client.sharing_session.get(room_id)
            if sharing is not None:
                await sharing.wait()
            else:
                await client.share_group_session(
                    room_id, ignore_unverified_devices=ignore_unverified
                )
        origin = content.pop(ledger.FIELD, None)
        sent_type, encrypted = client.encrypt(room_id, event_type, content)
        if sent_type != "m.room.encrypted":  # never: encrypt() raises on a plain room
            raise SendError(N_("encryption produced no m.room.encrypted event"), unsafe=True)
        if isinstance(origin, str) and self.ledger_key is not None:
            encrypted[ledger.FIELD] = ledger.tag(self.ledger_key, origin)  # bot/ledger.py
        method, path, data = Api.room_send(
            client.access_token, room_id, sent_type, encrypted, txn_id
        )
        return await client._send(RoomSendResponse, method, path, data, (room_id,))

    def _device(self, reveal_to: tuple[str, str] | None) -> Any:
        if reveal_to is None:
            return None
        return self.client.device_store.active_user_devices(reveal_to[0]) and next(
            (
                d
                for d in self.client.device_store.active_user_devices(reveal_to[0])
                if d.id == reveal_to[1]
            ),
            None,
        )

    async def _send_revealed(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str,
        device: Any,
        event_type: str = "m.room.message",
    ) -> Any:
        """Send in a fresh session that this one untrusted device also receives, then
        retire that session so the room's next message uses one the device never gets."""
        self.client.invalidate_outbound_session(room_id)
        self.client.unblacklist_device(device)
        try:
            return await self._encrypted_send(
                room_id, event_type, content, txn_id, ignore_unverified=True
            )
        finally:
            self.client.blacklist_device(device)
            self.client.invalidate_outbound_session(room_id)

    async def upload(self, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        """Encrypt and upload; returns the `file` object for an m.file event."""
        try:
            resp, keys = await self.client.upload(
                io.BytesIO(data),
                content_type=mimetype,
                filename=filename,
                encrypt=True,
                filesize=len(data),
            )
        except Exception as exc:
            raise SendError(type(exc).__name__) from exc
        if not isinstance(resp, UploadResponse) or keys is None:
            raise error_from(resp)
        return {**keys, "url": resp.content_uri}

    # -- DMs and members (bot/dm_rooms.py, bot/room_members.py) ------------------------

    async def dm_problem(self, room_id: str, user_id: str) -> str | None:
        return await self.dms.problem(room_id, user_id)

    async def dm_room(self, user_id: str) -> str:
        return await self.dms.create(user_id)

    async def has_devices(self, user_id: str) -> bool:
        return await self.dms.has_devices(user_id)

    async def room_members(self, room_id: str) -> list[str]:
        """Everyone but the bot who is joined or invited, as the homeserver has it now
        (server_members): what bot/recipients.py decides releasability and DMs from."""
        return await server_members(self.client, room_id)
