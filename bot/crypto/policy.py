"""Device-trust policy at run time: who may command the bot, who receives its room keys.

Rule: a message is acted on only if the Megolm session that decrypted it was delivered
(not forwarded) by a device whose curve25519 and ed25519 keys match a device that is
owner-signed under the sender's trusted identity (see bot/crypto/trust.py); the identity
is the master key pinned on first sight (tofu) or configured by the operator (strict, or
for listed users in tofu). Before every encrypted send, each device in the room is
either verified (owner-signed) or blacklisted in nio, so room keys go only to the former.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from nio import AsyncClient
from nio.events import Event

from bot.crypto.cross_signing import (
    CrossSigningError,
    CrossSigningStatus,
    HomeserverKeysAPI,
    ensure_cross_signed,
)
from bot.crypto.trust import UserTrust, evaluate_user
from bot.metrics import Metrics
from bot.outbox import enqueue
from bot.store import Store
from commands.context import OutMessage, utc_iso
from config import Settings

log = logging.getLogger(__name__)

KEYS_FILE = "cross_signing.keys"
CACHE_SECONDS = 60.0
REFRESH_ON_MISS_SECONDS = 5.0

UNTRUSTED_DEVICE = (
    "I did not act on your message: it came from a session ({device}) that your own "
    "cross-signing identity has not verified, and I only take instructions from verified "
    "sessions. In Element: Settings → Sessions → verify this session (or send from one "
    "that is verified), then send the command again."
)
IDENTITY_CHANGED = (
    "I did not act on your message: your cross-signing identity changed since I first "
    "saw it, and I wait for an admin to confirm the new one. Ask an admin to send "
    "`{prefix}trust approve {user}` once they have checked it with you."
)
NOT_LISTED = (
    "I did not act on your message: this bot only trusts people whose cross-signing "
    "identity an operator has configured, and yours is not among them. Ask an operator "
    "to add it (trusted_identities)."
)
NO_IDENTITY = (
    "I did not act on your message: your account has no cross-signing identity yet, so "
    "I cannot tell your sessions from an impostor's. In Element: Settings → Security & "
    "Privacy → set up cross-signing (secure backup), then send the command again."
)


@dataclass(frozen=True)
class Refusal:
    """Why a sender's device is not trusted; device_id lets the bot explain it to them."""

    reason: str
    device_id: str | None = None


@dataclass
class _Cached:
    trust: UserTrust
    query: dict[str, Any]
    at: float


async def own_cross_signing(client: AsyncClient, settings: Settings) -> CrossSigningStatus:
    """Bootstrap or repair the bot's identity and sign its device (idempotent)."""
    assert client.olm is not None and client.access_token and client.device_id
    password = settings.password.get_secret_value() if settings.password else None
    return await ensure_cross_signed(
        settings.homeserver,
        client.access_token,
        settings.user_id,
        client.device_id,
        client.olm.account.identity_keys["ed25519"],
        client.olm.account.sign,
        password,
        settings.data_dir / KEYS_FILE,
        settings.secret_for_keys,
    )


class DeviceTrustPolicy:
    def __init__(
        self, client: AsyncClient, settings: Settings, store: Store, metrics: Metrics
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.own: CrossSigningStatus | None = None
        self._cache: dict[str, _Cached] = {}
        self._refresh_lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            self.own = await own_cross_signing(self.client, self.settings)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            self.own = None
            log.error(
                "CROSS-SIGNING FAILED: %s. Element users will not see this bot's "
                "messages; run `attache-bot bootstrap-cross-signing`.",
                exc,
            )
            return
        if self.own.problem or not self.own.device_signed:
            log.error(
                "CROSS-SIGNING NOT IN ORDER: %s. Element users in the default 'exclude "
                "insecure devices' mode cannot read this bot; run "
                "`attache-bot bootstrap-cross-signing`.",
                self.own.problem or "device not signed",
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def device_signed(self) -> bool:
        return bool(self.own and self.own.device_signed and not self.own.problem)

    # -- others' identities ------------------------------------------------------------

    def forget(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            self._cache.pop(user_id, None)
        # nio's device-trust answers are cached too (bot/niostore.py): re-read them.
        forget_users = getattr(self.client.store, "forget_users", None)
        if forget_users is not None:
            forget_users(user_ids)

    async def _pin(self, user_id: str) -> tuple[str | None, str | None]:
        """(pinned master key, pending changed key) — configured pins win over the store."""
        configured = self.settings.trusted_identities.get(user_id)
        rows = await self.store.reader.execute_fetchall(  # one round trip, not three
            "SELECT master_key, pending_key FROM identities WHERE user_id = ?", (user_id,)
        )
        row = next(iter(rows), None)
        if configured is not None:
            return configured, row["pending_key"] if row else None
        return (row["master_key"], row["pending_key"]) if row else (None, None)

    async def _pins(self, user_ids: list[str]) -> dict[str, str | None]:
        """The pinned master key of each (as `_pin`), in one query for a whole room."""
        stored: dict[str, str | None] = {}
        for i in range(0, len(user_ids), 500):
            chunk = user_ids[i : i + 500]
            rows = await self.store.reader.execute_fetchall(
                f"SELECT user_id, master_key FROM identities WHERE user_id IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            )
            stored.update({r["user_id"]: r["master_key"] for r in rows})
        pins: dict[str, str | None] = {}
        for user_id in user_ids:
            configured = self.settings.trusted_identities.get(user_id)
            pins[user_id] = configured if configured is not None else stored.get(user_id)
        return pins

    async def evaluate(self, user_id: str, *, fresh: bool = False) -> _Cached:
        """This person's verdict, from a cache refreshed every minute (or now, if fresh)."""
        await self.refresh([user_id], fresh=fresh)
        return self._cache[user_id]

    async def refresh(self, user_ids: list[str], *, fresh: bool = False) -> None:
        """Re-query, in one /keys/query, everyone whose verdict is stale or whose pin moved."""
        limit = REFRESH_ON_MISS_SECONDS if fresh else CACHE_SECONDS
        async with self._refresh_lock:
            pins = await self._pins(list(dict.fromkeys(user_ids)))
            now = time.monotonic()
            stale = [
                u
                for u, pin in pins.items()
                if (cached := self._cache.get(u)) is None
                or now - cached.at >= limit
                or cached.trust.pinned_master_key != pin
            ]
            if not stale:
                return
            assert self._http is not None and self.client.access_token
            api = HomeserverKeysAPI(self._http, self.settings.homeserver, self.client.access_token)
            query = await api.keys_query(stale)
            for user_id in stale:
                pin = pins[user_id]
                trust = evaluate_user(user_id, query, pin)
                await self._record(user_id, pin, trust)
                pinned_now, _ = await self._pin(user_id)
                if pinned_now != pin:  # pinned on first sight just now
                    trust = evaluate_user(user_id, query, pinned_now)
                self._cache[user_id] = _Cached(trust, query, time.monotonic())

    async def _record(self, user_id: str, pin: str | None, trust: UserTrust) -> None:
        """Pin on first sight (tofu); note a changed identity once and tell the admins."""
        now = utc_iso(datetime.now(UTC))
        if pin is None:
            if (
                self.settings.trust_mode == "tofu"
                and trust.master_key is not None
                and trust.self_signing_key is not None
            ):
                async with self.store.write() as db:
                    await db.execute(
                        "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by) "
                        "VALUES (?, ?, ?, 'first sight') ON CONFLICT DO NOTHING",
                        (user_id, trust.master_key, now),
                    )
                log.info("pinned the cross-signing identity of %s on first sight", user_id)
            return
        if trust.master_key is None or trust.master_key == pin:
            return
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, pending_key, "
                "pending_since) VALUES (?, ?, ?, 'operator', ?, ?) ON CONFLICT (user_id) DO "
                "UPDATE SET pending_key = excluded.pending_key, pending_since = "
                "excluded.pending_since WHERE identities.pending_key IS NOT excluded.pending_key "
                "RETURNING user_id",
                (user_id, pin, now, trust.master_key, now),
            )
            changed = await cur.fetchone() is not None
            await cur.close()
            if changed:
                log.warning(
                    "the cross-signing identity of %s changed; waiting for an admin", user_id
                )
                text = (
                    f"Security notice: the cross-signing identity of {user_id} changed. "
                    "Until an admin approves the new one, I ignore their messages and send "
                    "them no keys. Check with them (e.g. by phone) that they reset it, then "
                    f"send `{self.settings.command_prefix}trust approve {user_id}`."
                )
                await enqueue(
                    db, [OutMessage(body=text, user_id=a) for a in self.settings.admins], now
                )
        self.metrics.refused.labels("identity_changed").inc()

    # -- incoming ----------------------------------------------------------------------

    async def check_sender(self, event: Event, room_id: str) -> Refusal | None:
        sender = event.sender
        sender_key = getattr(event, "sender_key", None)
        session_id = getattr(event, "session_id", None)
        olm = self.client.olm
        if olm is None or not sender_key or not session_id:
            return Refusal(UNTRUSTED_DEVICE.format(device="unknown"))
        session = olm.inbound_group_store.get(room_id, sender_key, session_id)
        if session is None or session.forwarding_chain:
            return Refusal(UNTRUSTED_DEVICE.format(device="unknown"))
        try:
            return await self._device_for(sender, sender_key, session.ed25519)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot check %s's devices now (%s)", sender, exc)
            return Refusal("I could not check your session's keys just now; send it again.")

    async def _device_for(self, user_id: str, curve: str, ed: str) -> Refusal | None:
        """Find the sending device by its keys, then apply the rule; refresh once on a miss."""
        refusal = Refusal(UNTRUSTED_DEVICE.format(device="unknown"))
        for fresh in (False, True):
            entry = await self.evaluate(user_id, fresh=fresh)
            trust = entry.trust
            devices = (entry.query.get("device_keys") or {}).get(user_id) or {}
            device_id = next(
                (
                    d
                    for d, obj in devices.items()
                    if (obj.get("keys") or {}).get(f"curve25519:{d}") == curve
                    and (obj.get("keys") or {}).get(f"ed25519:{d}") == ed
                ),
                None,
            )
            if device_id is None:
                continue
            if trust.master_key is None:
                refusal = Refusal(NO_IDENTITY, device_id)
            elif trust.pinned_master_key is None and self.settings.trust_mode == "strict":
                refusal = Refusal(NOT_LISTED, device_id)
            elif trust.pin_matches is False:
                text = IDENTITY_CHANGED.format(prefix=self.settings.command_prefix, user=user_id)
                refusal = Refusal(text, device_id)
            elif device_id in trust.trusted_devices:
                return None
            else:
                refusal = Refusal(UNTRUSTED_DEVICE.format(device=device_id), device_id)
        return refusal

    # -- outgoing ----------------------------------------------------------------------

    async def prepare_room(self, room_id: str) -> None:
        """Verify owner-signed devices and blacklist the rest before keys are shared."""
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        rotate = False
        members = list(room.users)
        try:
            await self.refresh(members)  # one query for everyone stale, not one each
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot refresh device trust for %s (%s)", room_id, exc)
        for user_id in members:
            entry = self._cache.get(user_id)
            devices = list(self.client.device_store.active_user_devices(user_id))
            trusted: set[str] = set()
            if entry is not None:
                t = entry.trust
                identity_ok = (
                    t.master_key is not None
                    and t.pin_matches is not False
                    and not (t.pinned_master_key is None and self.settings.trust_mode == "strict")
                )
                if identity_ok:
                    trusted = _matching(entry, user_id, devices)
            for device in devices:
                ok = device.id in trusted
                if ok:
                    if device.blacklisted:
                        self.client.unblacklist_device(device)
                    if not device.verified:
                        self.client.verify_device(device)
                else:
                    if device.verified:
                        self.client.unverify_device(device)
                    if not device.blacklisted:
                        self.client.blacklist_device(device)
                        rotate = True
        if rotate:
            # A session shared before a device was blacklisted must not be used again.
            self.client.invalidate_outbound_session(room_id)


def _matching(entry: _Cached, user_id: str, devices: list[Any]) -> set[str]:
    """Owner-signed devices whose keys in nio's store are the very keys that were signed."""
    listed = (entry.query.get("device_keys") or {}).get(user_id) or {}
    good = set()
    for device in devices:
        keys = (listed.get(device.id) or {}).get("keys") or {}
        if (
            device.id in entry.trust.trusted_devices
            and keys.get(f"ed25519:{device.id}") == device.ed25519
            and keys.get(f"curve25519:{device.id}") == device.curve25519
        ):
            good.add(device.id)
    return good


async def build_policy(
    client: AsyncClient, settings: Settings, store: Store, metrics: Metrics
) -> DeviceTrustPolicy:
    policy = DeviceTrustPolicy(client, settings, store, metrics)
    await policy.start()
    return policy
