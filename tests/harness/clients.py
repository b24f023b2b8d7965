"""Real matrix-nio E2EE test clients talking to a harness Synapse (no mocks).

Each ``TestClient`` owns an ``AsyncClient`` with a store on disk and a background sync loop,
and records every timeline event it sees so tests can wait for and assert on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    ForwardedRoomKeyEvent,
    InviteMemberEvent,
    JoinError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateError,
    RoomKeyEvent,
    RoomMessage,
    RoomPreset,
    RoomSendResponse,
    SyncError,
)
from nio.api import Api

from bot.crypto.cross_signing import ensure_cross_signed
from tests.harness.synapse import SynapseServer

log = logging.getLogger(__name__)
T = TypeVar("T")

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class TestClient:
    """An E2EE matrix-nio client for tests; build with ``await TestClient.create(...)``."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, client: AsyncClient, synapse: SynapseServer, user: dict[str, str], auto_join: bool
    ) -> None:
        self.client = client
        self.synapse = synapse
        self.user = user
        self.auto_join = auto_join
        self.timeline: list[tuple[str, Event]] = []  # (room_id, event), every room event
        self._sync_timeout_ms = 0  # set by create()
        self.received: list[tuple[str, RoomMessage]] = []  # decrypted/plain m.room.message
        self.undecryptable: list[tuple[str, MegolmEvent]] = []  # could not be read on arrival
        self.late_decrypted: list[tuple[str, RoomMessage]] = []  # ... and read once its key came
        self.sync_errors: list[Any] = []
        self._tick = asyncio.Event()
        self._keys_lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._joining: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    async def create(
        cls,
        synapse: SynapseServer,
        user: dict[str, str],
        store_dir: Path | str,
        *,
        auto_join: bool = False,
        new_device: bool = False,
        sync_timeout_ms: int = 30000,
        cross_sign: bool = True,
    ) -> TestClient:
        """Restore the user's registered device (or log in a new one) and start syncing.

        Returns once the first sync and the device-key upload are done. With
        ``cross_sign`` (the default, as every Element user is today) the device is signed
        by the user's own cross-signing identity, created on first use; the bot acts only
        on messages from such devices.
        """
        store = Path(store_dir)
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=True,
            max_timeout_retry_wait_time=1.0,  # come back fast after a Synapse restart
            request_timeout=60,
        )
        client = AsyncClient(synapse.url, user["user_id"], store_path=str(store), config=config)
        if new_device:
            resp = await client.login(user["password"], device_name="test-client")
            if not isinstance(resp, LoginResponse):
                await client.close()
                raise RuntimeError(f"login failed for {user['user_id']}: {resp}")
        else:
            client.restore_login(user["user_id"], user["device_id"], user["access_token"])
        self = cls(client, synapse, dict(user, device_id=client.device_id or ""), auto_join)
        client.add_event_callback(self._on_event, Event)
        client.add_event_callback(self._on_message, RoomMessage)
        client.add_event_callback(self._on_undecryptable, MegolmEvent)
        client.add_event_callback(self._on_invite, InviteMemberEvent)
        client.add_to_device_callback(self._on_room_key, (RoomKeyEvent, ForwardedRoomKeyEvent))
        self._sync_timeout_ms = sync_timeout_ms
        await self._key_maintenance()
        if cross_sign:
            await self.cross_sign(store)
        first = await client.sync(timeout=0, full_state=True)
        if isinstance(first, SyncError):
            await client.close()
            raise RuntimeError(f"first sync failed for {user['user_id']}: {first}")
        await self._key_maintenance()
        self._sync_task = asyncio.create_task(self._sync_loop(), name=f"sync {user['user_id']}")
        return self

    async def cross_sign(self, store: Path, *, reset: bool = False) -> str:
        """Sign this device with the user's identity (made on first use); returns the master key.

        ``reset=True`` replaces the identity with a new one, as a user who resets their
        cross-signing in Element does (needs the password).
        """
        keys_path = Path(store) / ("xsign-reset.keys" if reset else "xsign.keys")
        if reset:
            keys_path.unlink(missing_ok=True)
        assert self.client.olm is not None
        status = await ensure_cross_signed(
            self.synapse.url,
            str(self.client.access_token),
            self.user_id,
            self.device_id,
            self.client.olm.account.identity_keys["ed25519"],
            self.client.olm.account.sign,
            self.user.get("password"),
            keys_path,
            "test-client-secret",
        )
        if status.problem or not status.device_signed:
            raise RuntimeError(f"cross-signing {self.user_id} failed: {status.problem}")
        assert status.master_key is not None
        self.master_key = status.master_key
        return status.master_key

    async def close(self) -> None:
        """Stop syncing and close the HTTP session. Never logs out (that would delete keys)."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        await self.client.close()

    @property
    def user_id(self) -> str:
        return self.user["user_id"]

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    # ------------------------------------------------------------------ sync machinery
    async def _sync_loop(self) -> None:
        while True:
            try:
                resp = await self.client.sync(timeout=self._sync_timeout_ms)
                if isinstance(resp, SyncError):
                    self.sync_errors.append(resp)
                    await asyncio.sleep(0.2)
                    continue
                await self._key_maintenance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep syncing through outages; record for debugging
                log.warning("%s: sync loop error: %r", self.user_id, exc)
                self.sync_errors.append(exc)
                await asyncio.sleep(0.2)
            self._notify()

    async def _key_maintenance(self) -> None:
        """What sync_forever does between syncs: to-device out, key upload/query/claim."""
        c = self.client
        async with self._keys_lock:
            await c.send_to_device_messages()
            if c.should_upload_keys:
                await c.keys_upload()
            if c.should_query_keys:
                await c.keys_query()
            if c.should_claim_keys:
                await c.keys_claim(c.get_users_for_key_claiming())

    def _notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.user_id}: no {what} within {timeout} s")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def _on_event(self, room: MatrixRoom, event: Event) -> None:
        self.timeline.append((room.room_id, event))

    async def _on_message(self, room: MatrixRoom, event: RoomMessage) -> None:
        self.received.append((room.room_id, event))
        self._notify()

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        self.undecryptable.append((room.room_id, event))
        self._notify()

    async def _on_room_key(self, event: RoomKeyEvent | ForwardedRoomKeyEvent) -> None:
        """A room key that arrives after its messages: read them now, as Element does.

        They stay in `undecryptable` (tests that require every message to be readable on
        arrival still see them); what could be read is added to `received` and to
        `late_decrypted`."""
        retried = {id(e) for _, e in self.late_decrypted}
        for room_id, waiting in list(self.undecryptable):
            if waiting.session_id != event.session_id or id(waiting) in retried:
                continue
            try:
                event_read = self.client.decrypt_event(waiting)
            except Exception as exc:  # still not readable (another key, or none)
                log.debug("%s: still cannot read %s: %s", self.user_id, waiting.event_id, exc)
                continue
            if isinstance(event_read, RoomMessage):
                self.received.append((room_id, event_read))
                self.late_decrypted.append((room_id, event_read))
                self._notify()

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if not (
            self.auto_join
            and event.state_key == self.user_id
            and event.membership == "invite"
            and room.room_id not in self._joining
        ):
            return
        self._joining.add(room.room_id)
        resp = await self.client.join(room.room_id)
        if isinstance(resp, JoinError):
            log.warning("%s: auto-join %s failed: %s", self.user_id, room.room_id, resp)
            self._joining.discard(room.room_id)

    # ------------------------------------------------------------------ rooms
    async def create_encrypted_dm(self, invitee: str, *, wait_joined: float | None = None) -> str:
        """Create an E2EE direct room inviting ``invitee``; optionally wait for their join."""
        return await self._create_room(invitee, [ENCRYPTION_STATE], wait_joined)

    async def create_plain_room(self, invitee: str, *, wait_joined: float | None = None) -> str:
        """Create an unencrypted direct room inviting ``invitee``."""
        return await self._create_room(invitee, [], wait_joined)

    async def _create_room(
        self, invitee: str, initial_state: list[dict[str, Any]], wait_joined: float | None
    ) -> str:
        resp = await self.client.room_create(
            is_direct=True,
            invite=[invitee],
            preset=RoomPreset.trusted_private_chat,
            initial_state=initial_state,
        )
        if isinstance(resp, RoomCreateError):
            raise RuntimeError(f"room_create failed: {resp}")
        room_id: str = resp.room_id
        await self.wait_room(room_id)
        if wait_joined is not None:
            await self.wait_joined(room_id, invitee, wait_joined)
        return room_id

    async def join(self, room_id: str, timeout: float = 10.0) -> None:
        """Join a room we were invited to and wait until our sync shows it."""
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            raise RuntimeError(f"join {room_id} failed: {resp}")
        await self.wait_room(room_id, timeout)

    async def wait_room(self, room_id: str, timeout: float = 10.0) -> MatrixRoom:
        """Wait until our sync knows the joined room."""
        return await self._wait_until(
            lambda: self.client.rooms.get(room_id), timeout, f"room {room_id} in sync"
        )

    async def wait_invited(self, timeout: float = 10.0) -> str:
        """Wait for any pending invite; return its room id."""
        return await self._wait_until(
            lambda: next(iter(self.client.invited_rooms), None), timeout, "invite"
        )

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 10.0) -> None:
        """Wait until ``user_id`` has really joined (nio lists invited members as users too)."""

        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return bool(room and user_id in room.users and user_id not in room.invited_users)

        await self._wait_until(joined, timeout, f"join of {user_id} in {room_id}")

    # ------------------------------------------------------------------ messages
    async def send(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        """Send any event (encrypted when the room is); returns its event id."""
        await self.wait_room(room_id)
        async with self._keys_lock:  # make sure all members' device keys are known
            if self.client.should_query_keys:
                await self.client.keys_query()
        resp = await self.client.room_send(
            room_id, event_type, content, ignore_unverified_devices=True
        )
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"send to {room_id} failed: {resp}")
        return str(resp.event_id)

    async def send_text(
        self,
        room_id: str,
        body: str,
        *,
        msgtype: str = "m.text",
        reply_to: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Send a text (or notice) message; ``reply_to`` adds an ``m.in_reply_to`` relation."""
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if extra:
            content.update(extra)
        return await self.send(room_id, content)

    async def send_edit(self, room_id: str, original: str, new_body: str) -> str:
        """Edit a message exactly as Element does: the new text in ``m.new_content``, the
        body ``* <new text>``, and ``m.relates_to`` only in the clear part of the encrypted
        event (nio would also put it inside the ciphertext)."""
        inner = {
            "msgtype": "m.text",
            "body": f"* {new_body}",
            "m.new_content": {"msgtype": "m.text", "body": new_body},
        }
        room = await self.wait_room(room_id)
        if not room.members_synced:
            await self.client.joined_members(room_id)
        async with self._keys_lock:
            if self.client.should_query_keys:
                await self.client.keys_query()
        if self.client.olm.should_share_group_session(room_id):  # type: ignore[union-attr]
            await self.client.share_group_session(room_id, ignore_unverified_devices=True)
        _, content = self.client.encrypt(room_id, "m.room.message", inner)
        content["m.relates_to"] = {"rel_type": "m.replace", "event_id": original}
        method, path, data = Api.room_send(
            str(self.client.access_token), room_id, "m.room.encrypted", content, uuid4()
        )
        resp = await self.client._send(RoomSendResponse, method, path, data, (room_id,))
        if not isinstance(resp, RoomSendResponse):
            raise RuntimeError(f"edit in {room_id} failed: {resp}")
        return str(resp.event_id)

    def messages(self, room_id: str, *, from_others: bool = False) -> list[RoomMessage]:
        """All ``RoomMessage`` events received in the room so far, oldest first."""
        return [
            ev
            for rid, ev in self.received
            if rid == room_id and not (from_others and ev.sender == self.user_id)
        ]

    async def wait_for_message(
        self,
        room_id: str,
        predicate: Callable[[RoomMessage], bool] | None = None,
        timeout: float = 10.0,
        *,
        from_others: bool = True,
        after: int = 0,
    ) -> RoomMessage:
        """First message in the room (index >= ``after`` in ``messages(room_id)``) matching.

        By default our own echoes are ignored (``from_others=True``).
        """

        def find() -> RoomMessage | None:
            for ev in self.messages(room_id)[after:]:
                if from_others and ev.sender == self.user_id:
                    continue
                if predicate is None or predicate(ev):
                    return ev
            return None

        return await self._wait_until(find, timeout, f"matching message in {room_id}")

    async def wait_for_messages(
        self,
        room_id: str,
        count: int,
        predicate: Callable[[RoomMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[RoomMessage]:
        """Wait until ``count`` messages from others match; return them."""

        def find() -> list[RoomMessage] | None:
            hits = [
                ev
                for ev in self.messages(room_id, from_others=True)
                if predicate is None or predicate(ev)
            ]
            return hits if len(hits) >= count else None

        return await self._wait_until(find, timeout, f"{count} messages in {room_id}")
