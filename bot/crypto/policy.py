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
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nio import AsyncClient
from nio.events import Event

from bot.clock import Clock, SystemClock
from bot.crypto.cross_signing import (
    CrossSigningError,
    CrossSigningStatus,
    HomeserverKeysAPI,
    ensure_cross_signed,
)
from bot.crypto.key_refresh import Requery
from bot.crypto.trust import UserTrust, evaluate_user
from bot.metrics import Metrics
from bot.outbox.notices import each_in_their_language
from bot.outbox.queue import enqueue
from bot.store import Store
from commands.context import utc_iso
from commands.fingerprints import fingerprint
from commands.i18n import N_, _
from config import Settings

log = logging.getLogger(__name__)

KEYS_FILE = "cross_signing.keys"
CACHE_SECONDS = 60.0
REFRESH_ON_MISS_SECONDS = 5.0

# Refusals: English templates, rendered in the sender's language where they are told
# (bot/sync.py _tell_refused), with the Refusal's values.
UNTRUSTED_DEVICE = N_(
    "I did not act on your message: it came from a session ({device}) that your own "
    "cross-signing identity has not verified, and I only take instructions from verified "
    "sessions. In Element: Settings → Sessions → verify this session (or send from one "
    "that is verified), then send the command again."
)
# The same, when the sending device could not be told (its keys are not on the server).
UNTRUSTED_UNKNOWN_DEVICE = N_(
    "I did not act on your message: it came from a session (unknown) that your own "
    "cross-signing identity has not verified, and I only take instructions from verified "
    "sessions. In Element: Settings → Sessions → verify this session (or send from one "
    "that is verified), then send the command again."
)
IDENTITY_CHANGED = N_(
    "I did not act on your message: your cross-signing identity changed since I first "
    "saw it, and I wait for an admin to confirm the new one. Ask an admin to check your "
    "new master key with you and approve it (`{prefix}trust approve {user} <key>`)."
)
IDENTITY_CHANGED_CONFIGURED = N_(
    "I did not act on your message: your cross-signing identity is not the one the "
    "operator configured for you. If you reset it, ask them to check the new key with you "
    "and put it in the bot's configuration (trusted_identities)."
)
NOT_LISTED = N_(
    "I did not act on your message: this bot only trusts people whose cross-signing "
    "identity an operator has configured, and yours is not among them. Ask an operator "
    "to add it (trusted_identities)."
)
NO_IDENTITY = N_(
    "I did not act on your message: your account has no cross-signing identity yet, so "
    "I cannot tell your sessions from an impostor's. In Element: Settings → Security & "
    "Privacy → set up cross-signing (secure backup), then send the command again."
)
KEYS_UNCHECKED = N_("I could not check your session's keys just now; send it again.")
# Verdicts a homeserver still catching up on someone's keys can give: looked at again
# (bounded, bot/crypto/key_refresh.py) before the person is refused.
TRANSIENT = frozenset({NO_IDENTITY, UNTRUSTED_UNKNOWN_DEVICE, UNTRUSTED_DEVICE})


@dataclass(frozen=True)
class Refusal:
    """Why a sender's device is not trusted; device_id lets the bot explain it to them.

    `reason` is an English template (N_); `text()` renders it with `values` in the current
    language (the sync loop sets the sender's)."""

    reason: str
    device_id: str | None = None
    values: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def text(self) -> str:
        return _(self.reason, **self.values)


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
        self,
        client: AsyncClient,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.clock: Clock = clock or SystemClock()
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.own: CrossSigningStatus | None = None
        self._cache: dict[str, _Cached] = {}
        self._refresh_lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None
        self._told: set[str] = set()  # outsider notices already given (also in kv)
        self._requery = Requery()

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
        """(pinned master key, pending changed key) — configured pins win over the store.

        In strict mode the store's pins (first sight in an earlier tofu run, approvals,
        people since removed from trusted_identities) do not count at all: the
        configuration, read afresh at every start, is the only source.
        """
        configured = self.settings.trusted_identities.get(user_id)
        if configured is None and self.settings.trust_mode == "strict":
            return None, None
        rows = await self.store.reader.execute_fetchall(  # one round trip, not three
            "SELECT master_key, pending_key FROM identities WHERE user_id = ?", (user_id,)
        )
        row = next(iter(rows), None)
        if configured is not None:
            pending = row["pending_key"] if row and row["master_key"] == configured else None
            return configured, pending
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
            if configured is not None:
                pins[user_id] = configured
            else:  # strict: the store's pins do not count (see _pin)
                strict = self.settings.trust_mode == "strict"
                pins[user_id] = None if strict else stored.get(user_id)
        return pins

    async def evaluate(self, user_id: str, *, max_age: float | None = None) -> _Cached:
        """This person's verdict, from a cache refreshed every minute (or older than
        max_age seconds)."""
        await self.refresh([user_id], max_age=max_age)
        return self._cache[user_id]

    async def refresh(self, user_ids: list[str], *, max_age: float | None = None) -> None:
        """Re-query, in one /keys/query, everyone whose verdict is stale or whose pin moved."""
        limit = CACHE_SECONDS if max_age is None else max_age
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
                pinned_now, _pending = await self._pin(user_id)
                if pinned_now != pin:  # pinned on first sight just now
                    trust = evaluate_user(user_id, query, pinned_now)
                self._cache[user_id] = _Cached(trust, query, time.monotonic())

    async def _record(self, user_id: str, pin: str | None, trust: UserTrust) -> None:
        """Pin on first sight (tofu); note a changed identity once and tell the admins."""
        now = utc_iso(self.clock.now())
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
        if trust.master_key is None:
            return
        if trust.master_key == pin:
            await self._clear_pending(user_id, pin, now)
            return
        configured = user_id in self.settings.trusted_identities
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, pending_key, "
                "pending_since) VALUES (?, ?, ?, 'operator', ?, ?) ON CONFLICT (user_id) DO "
                "UPDATE SET master_key = excluded.master_key, pending_key = excluded.pending_key, "
                "pending_since = excluded.pending_since WHERE identities.pending_key IS DISTINCT "
                "FROM excluded.pending_key OR identities.master_key IS DISTINCT FROM "
                "excluded.master_key "
                "RETURNING user_id",
                (user_id, pin, now, trust.master_key, now),
            )
            changed = await cur.fetchone() is not None
            await cur.close()
            if changed:
                log.warning(
                    "the cross-signing identity of %s changed; waiting for an admin", user_id
                )
                new_key, prefix = trust.master_key, self.settings.command_prefix
                notices = await each_in_their_language(
                    db,
                    self.settings.admins,
                    self.settings.language,
                    lambda _admin: identity_changed_notice(
                        user_id, pin, new_key, prefix, configured
                    ),
                )
                await enqueue(db, notices, now)
        self.metrics.refused.labels("identity_changed").inc()

    async def _clear_pending(self, user_id: str, pin: str, now: str) -> None:
        """The server shows the pinned key again: a key seen meanwhile is no longer approvable.

        Otherwise a forged identity shown once (by a hostile server) would stay in the
        table, waiting for an admin's approval long after the person's real key is back.
        """
        async with self.store.reader.execute(
            "SELECT 1 FROM identities WHERE user_id = ? AND pending_key IS NOT NULL", (user_id,)
        ) as cur:
            if await cur.fetchone() is None:
                return
        async with self.store.write() as db:
            await db.execute(
                "UPDATE identities SET pending_key = NULL, pending_since = NULL WHERE user_id = ?",
                (user_id,),
            )
            notices = await each_in_their_language(
                db,
                self.settings.admins,
                self.settings.language,
                lambda _admin: _(
                    "Security notice: the cross-signing identity of {user} is back to the "
                    "pinned one ({key}). The changed key I saw meanwhile can no longer be "
                    "approved; nothing needs doing unless they tell you otherwise.",
                    user=user_id,
                    key=fingerprint(pin),
                ),
            )
            await enqueue(db, notices, now)
        log.warning("the cross-signing identity of %s reverted; pending key dropped", user_id)

    # -- incoming ----------------------------------------------------------------------

    async def check_sender(self, event: Event, room_id: str) -> Refusal | None:
        sender = event.sender
        sender_key = getattr(event, "sender_key", None)
        session_id = getattr(event, "session_id", None)
        olm = self.client.olm
        if olm is None or not sender_key or not session_id:
            return Refusal(UNTRUSTED_UNKNOWN_DEVICE)
        session = olm.inbound_group_store.get(room_id, sender_key, session_id)
        if session is None or session.forwarding_chain:
            return Refusal(UNTRUSTED_UNKNOWN_DEVICE)
        try:
            return await self._device_for(sender, sender_key, session.ed25519)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot check %s's devices now (%s)", sender, exc)
            return Refusal(KEYS_UNCHECKED)

    async def _device_for(self, user_id: str, curve: str, ed: str) -> Refusal | None:
        """The verdict on the sending device; one the server's lag explains is re-checked."""
        refusal = await self._device_verdict(user_id, curve, ed, (None, REFRESH_ON_MISS_SECONDS))

        async def again() -> Refusal | None:
            return await self._device_verdict(user_id, curve, ed, (0.0,))

        return await self._requery.settle(
            user_id, refusal, lambda r: r is not None and r.reason in TRANSIENT, again
        )

    async def _device_verdict(
        self, user_id: str, curve: str, ed: str, ages: tuple[float | None, ...]
    ) -> Refusal | None:
        """Find the sending device by its keys (cache ages to try, None = the usual one),
        then apply the rule."""
        refusal = Refusal(UNTRUSTED_UNKNOWN_DEVICE)
        for max_age in ages:
            entry = await self.evaluate(user_id, max_age=max_age)
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
                if user_id in self.settings.trusted_identities:
                    refusal = Refusal(IDENTITY_CHANGED_CONFIGURED, device_id)
                else:
                    values = {"prefix": self.settings.command_prefix, "user": user_id}
                    refusal = Refusal(IDENTITY_CHANGED, device_id, values)
            elif device_id in trust.trusted_devices:
                return None
            else:
                refusal = Refusal(UNTRUSTED_DEVICE, device_id, {"device": device_id})
        return refusal

    # -- outgoing ----------------------------------------------------------------------

    async def prepare_room(self, room_id: str) -> None:
        """Verify owner-signed devices of allow-listed people; blacklist all the rest
        (outsiders too, however well cross-signed) before keys are shared."""
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        rotate = False
        members = list(room.users)
        try:
            # One query for everyone stale; outsiders are never queried, so never pinned.
            await self.refresh(
                [u for u in members if u == self.client.user_id or self.settings.is_allowed(u)]
            )
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot refresh device trust for %s (%s)", room_id, exc)
        for user_id in members:
            entry = self._cache.get(user_id)
            devices = list(self.client.device_store.active_user_devices(user_id))
            trusted: set[str] = set()
            outsider = user_id != self.client.user_id and not self.settings.is_allowed(user_id)
            if outsider:  # no keys for anyone outside the allow-list, cross-signed or not
                await self._tell_outsider(room_id, user_id)
            elif entry is not None:
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

    async def _tell_outsider(self, room_id: str, user_id: str) -> None:
        """Admins hear once per room and person that someone outside the allow-list is in
        a room the bot writes to (they get no keys: the bot's messages are unreadable to them)."""
        key = f"told_outsider:{room_id}:{user_id}"
        if key in self._told:  # no store write per send once told
            return
        self._told.add(key)
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                (key, now),
            )
            first = await cur.fetchone() is not None
            await cur.close()
            if first:
                notices = await each_in_their_language(
                    db,
                    self.settings.admins,
                    self.settings.language,
                    lambda _admin: _(
                        "Security notice: {user}, who is not on the allow-list, is in room "
                        "{room}. I send them no keys, so they cannot read what I write there. "
                        "Remove them from the room, or add them to allowed_users if they "
                        "belong.",
                        user=user_id,
                        room=room_id,
                    ),
                )
                await enqueue(db, notices, now)
        if first:
            self.metrics.refused.labels("outsider_in_room").inc()
            log.warning("an outsider is in %s; withholding room keys from them", room_id)


def identity_changed_notice(user_id: str, old: str, new: str, prefix: str, configured: bool) -> str:
    """What admins read (in the current language): both keys in full, so they compare the
    new one with the person."""
    if configured:
        return _(
            "Security notice: the cross-signing identity of {user} changed.\n"
            "Old master key: {old}\nNew master key: {new}\n"
            "Until it is approved, I ignore their messages and send them no keys. Their key is "
            "pinned in the configuration (trusted_identities): once you have checked the new "
            "key with them over a channel you trust (e.g. by phone), an operator sets it there "
            "and restarts the bot.",
            user=user_id,
            old=fingerprint(old),
            new=fingerprint(new),
        )
    return _(
        "Security notice: the cross-signing identity of {user} changed.\n"
        "Old master key: {old}\nNew master key: {new}\n"
        "Until it is approved, I ignore their messages and send them no keys. Check the new "
        "key with them over a channel you trust (e.g. by phone, group by group), then send "
        "`{prefix}trust approve {user} <the new master key>`.",
        user=user_id,
        old=fingerprint(old),
        new=fingerprint(new),
        prefix=prefix,
    )


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
    client: AsyncClient, settings: Settings, store: Store, metrics: Metrics, clock: Clock
) -> DeviceTrustPolicy:
    policy = DeviceTrustPolicy(client, settings, store, metrics, clock)
    await policy.start()
    return policy
