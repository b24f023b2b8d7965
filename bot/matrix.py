"""nio client setup: one device for the bot's whole life, its E2EE store, and sending."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersError,
    LoginResponse,
    RoomCreateError,
    RoomPreset,
    RoomSendResponse,
    UploadResponse,
    WhoamiResponse,
)

from bot import ledger
from bot.crypto.missed_devices import MissedDevices
from bot.federation_calls import FederationBoundClient
from bot.niostore import BotCryptoStore
from commands.i18n import N_
from config import Settings

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
PERMANENT_ERRORS = frozenset(
    {"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE", "M_INVALID_PARAM"}
)
CRYPTO_DIR = "crypto"
DM_PERSON_GONE = "the person is neither joined nor invited"
# Why a send was refused as unsafe: logged, and told to the admins in their language.
NOT_ENCRYPTED = N_("room is not end-to-end encrypted")


class StartupError(RuntimeError):
    """The bot cannot start; the message says what to do."""


class SendError(Exception):
    """A send failed. retry_after: seconds the server asked for; permanent: do not retry.

    unsafe: the message could only have gone out in plaintext (or to the wrong people), so
    it was not sent at all; the outbox fails it and tells the admins.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        unsafe: bool = False,
    ):
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent or unsafe
        self.unsafe = unsafe
        self.rate_limited = retry_after is not None


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (never a half-written secret)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """Files created meanwhile are owner-only (nio's SqliteStore takes the umask: 0644)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def protect_crypto_store(crypto_dir: Path) -> None:
    """Olm/Megolm pickles and peers' keys: 0700 directory, 0600 files, also for old stores."""
    crypto_dir.chmod(0o700)
    for path in crypto_dir.iterdir():
        if path.is_file():
            path.chmod(0o600)


def make_client(settings: Settings, may_write: Any = None) -> AsyncClient:
    crypto_dir = settings.data_dir / CRYPTO_DIR
    crypto_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    assert settings.pickle_key is not None
    # On PostgreSQL the crypto store is shared with a standby (see bot/crypto/pgstore.py).
    store: Any = BotCryptoStore  # nio's SqliteStore without per-event trust queries
    if settings.on_postgresql:
        from bot.crypto.pgstore import PostgresCryptoStore

        store = PostgresCryptoStore.for_url(settings.store_url, may_write)
    config = AsyncClientConfig(
        store=store,
        store_sync_tokens=False,  # the bot's own store keeps the token, after dispatch
        encryption_enabled=True,
        pickle_key=settings.pickle_key.get_secret_value(),
        # Retries are ours (outbox, sync loop), so they are bounded, logged and counted.
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=settings.sync_timeout_ms / 1000 + 30,
    )
    return FederationBoundClient(  # timeouts on calls that wait on other servers
        settings.homeserver,
        settings.user_id,
        store_path=str(crypto_dir),
        config=config,
    )


async def login(client: AsyncClient, settings: Settings, *, fresh: bool = False) -> None:
    """Restore the saved device, or log in once with the password and save it (0600).

    fresh: log in with the password as a new device whatever is saved (after a restore,
    bot/recovery.py)."""
    creds_path = settings.data_dir / CREDENTIALS_FILE
    if fresh and settings.password is None:
        raise StartupError(
            "after a restore the bot logs in as a fresh device and needs its password: "
            "set password_file (ATTACHE_PASSWORD_FILE)"
        )
    if creds_path.exists() and not fresh:
        saved = json.loads(creds_path.read_text(encoding="utf-8"))
        if saved.get("user_id") != settings.user_id:
            raise StartupError(
                f"{creds_path} belongs to {saved.get('user_id')}, not {settings.user_id}; "
                "use another data_dir"
            )
        with private_files():
            client.restore_login(settings.user_id, saved["device_id"], saved["access_token"])
    elif settings.access_token is not None and not fresh:
        assert settings.device_id is not None
        with private_files():
            client.restore_login(
                settings.user_id, settings.device_id, settings.access_token.get_secret_value()
            )
    else:
        assert settings.password is not None
        with private_files():  # nio opens its store when the login answer arrives
            resp = await client.login(
                settings.password.get_secret_value(), device_name=settings.device_name
            )
        if not isinstance(resp, LoginResponse):
            raise StartupError(f"login failed: {getattr(resp, 'message', resp)}")
        write_private(
            creds_path,
            json.dumps(
                {
                    "user_id": resp.user_id,
                    "device_id": resp.device_id,
                    "access_token": resp.access_token,
                }
            ),
        )
        log.info("logged in as a new device %s", resp.device_id)
    protect_crypto_store(settings.data_dir / CRYPTO_DIR)
    who = await client.whoami()
    if not isinstance(who, WhoamiResponse):
        raise StartupError(
            f"the homeserver refused the saved access token ({getattr(who, 'message', who)}); "
            f"if the device was deleted, remove {creds_path} and the crypto store to start anew"
        )
    if client.should_upload_keys:
        await client.keys_upload()


@dataclass
class MatrixTransport:
    """The outbox's view of Matrix: send encrypted, upload encrypted, find a DM."""

    client: AsyncClient
    prepare_room: Any = None  # async (room_id) -> None: trust policy before a send
    dm_join_wait: float = 30.0  # seconds a new DM waits for the invitee before the first send
    # On PostgreSQL: False once this instance may no longer act (bot/lease.py); a send then
    # fails retryably and the row stays queued for the instance that holds the lease.
    may_send: Any = None
    # Keys the clear ledger tag of a job's messages (bot/ledger.py); None: no tag.
    ledger_key: bytes | None = None

    def __post_init__(self) -> None:
        self._keys_lock = asyncio.Lock()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._dm_locks: dict[str, asyncio.Lock] = {}
        self._missed = MissedDevices()  # devices a room key skipped while unreachable

    def forget_room(self, room_id: str) -> None:
        """The bot left the room (bot/roomgc.py): drop its send lock unless a send holds it."""
        lock = self._room_locks.get(room_id)
        if lock is not None and not lock.locked():
            del self._room_locks[room_id]

    async def _keys(self, room_id: str) -> None:
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        async with self._keys_lock:
            if not room.members_synced:
                resp = await self.client.joined_members(room_id)
                if isinstance(resp, JoinedMembersError):
                    raise _send_error(resp)
            if self.client.should_query_keys:
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
        raise _send_error(resp)

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
                raise _send_error(resp)
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
            raise _send_error(resp)
        return {**keys, "url": resp.content_uri}

    async def dm_problem(self, room_id: str, user_id: str) -> str | None:
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
            async with self._keys_lock:
                resp = await self.client.joined_members(room_id)
            if isinstance(resp, JoinedMembersError):
                error = _send_error(resp)
                if error.permanent:  # e.g. the bot was removed: not a DM any more
                    return "its members cannot be read"
                raise error
        members = set(room.users)
        if user_id not in members:
            return DM_PERSON_GONE
        if members - {self.client.user_id, user_id} or room.member_count > 2:
            return "someone else is in it"
        return None

    async def room_members(self, room_id: str) -> list[str]:
        """Everyone but the bot who is joined or invited, as the homeserver has it now
        (server_members): what bot/recipients.py decides releasability and DMs from."""
        return await server_members(self.client, room_id)

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

    async def dm_room(self, user_id: str) -> str:
        """Create an encrypted DM with this person (the caller stores and reuses it)."""
        lock = self._dm_locks.setdefault(user_id, asyncio.Lock())
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
                raise _send_error(resp)
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
            for _ in range(int(self.dm_join_wait / 0.05)):
                room = self.client.rooms.get(resp.room_id)
                here = room is not None and user_id in room.users
                if here and user_id not in room.invited_users:  # type: ignore[union-attr]
                    break
                if seen and not here:
                    break
                seen = seen or here
                await asyncio.sleep(0.05)
            return str(resp.room_id)


async def server_members(client: AsyncClient, room_id: str) -> list[str]:
    """Everyone but the bot who is joined or invited in a room, as the homeserver has it
    now: `/members`, not nio's lazily loaded state (which misses people invited before the
    bot joined). Raises SendError when it cannot be read (the caller fails closed)."""
    method, path = (
        "GET",
        Api._build_path(
            ["rooms", room_id, "members"],
            {"access_token": client.access_token, "not_membership": "leave"},
        ),
    )
    try:
        resp = await client.send(method, path)
        body = await resp.json()
    except Exception as exc:
        raise SendError(type(exc).__name__) from exc
    if resp.status == 429:
        retry = body.get("retry_after_ms") if isinstance(body, dict) else None
        raise SendError("rate limited", retry_after=(retry or 5000) / 1000)
    if resp.status != 200 or not isinstance(body, dict):
        # 403/404: the bot cannot read the room's members, so nothing goes into it.
        raise SendError(f"members unreadable ({resp.status})", permanent=resp.status < 500)
    return sorted(
        {
            str(event.get("state_key"))
            for event in body.get("chunk") or []
            if isinstance(event, dict)
            and (event.get("content") or {}).get("membership") in ("join", "invite")
            and event.get("state_key") != client.user_id
        }
    )


def _send_error(resp: Any) -> SendError:
    status = str(getattr(resp, "status_code", "") or "")
    retry_ms = getattr(resp, "retry_after_ms", None)
    if status in ("M_LIMIT_EXCEEDED", "429"):
        return SendError("rate limited", retry_after=(retry_ms or 5000) / 1000)
    permanent = status in PERMANENT_ERRORS
    return SendError(f"send failed ({status or type(resp).__name__})", permanent=permanent)
