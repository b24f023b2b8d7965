"""Others' cross-signing identities: the master key pinned on first sight (tofu) or
configured by the operator (strict, or for listed users in tofu); each person's verdict
from one /keys/query (bot/crypto/trust.py), cached a minute; a changed identity held until
an admin approves it, and the admins told when it changes and when it reverts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import AsyncClient

from bot.clock import Clock, SystemClock
from bot.crypto.keys_api import HomeserverKeysAPI
from bot.crypto.trust import UserTrust, evaluate_user
from bot.keyed_locks import KeyedLocks
from bot.metrics import Metrics
from bot.outbox.notices import tell_each
from bot.store import Store
from commands.context import utc_iso
from commands.fingerprints import fingerprint
from commands.i18n import _
from commands.verified import Verified, verification_of, verifier_shown
from config import Settings

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0


@dataclass
class Cached:
    trust: UserTrust
    query: dict[str, Any]
    at: float


class Identities:
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
        self._cache: dict[str, Cached] = {}
        # One /keys/query per person at a time; someone else's slow one (a hung server,
        # a second look: bot/crypto/key_refresh.py) never holds up a person's verdict.
        self._locks = KeyedLocks()
        self._forgotten: dict[str, int] = {}  # times forgotten, while a query may be in flight
        self._http: aiohttp.ClientSession | None = None

    def open(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def cached(self, user_id: str) -> Cached | None:
        """The verdict last fetched for this person, however old (None: never fetched)."""
        return self._cache.get(user_id)

    def forget(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            self._cache.pop(user_id, None)
            if user_id in self._forgotten:  # a query for them is in flight: its answer
                self._forgotten[user_id] += 1  # predates the change and is not cached

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

    async def evaluate(self, user_id: str, *, max_age: float | None = None) -> Cached:
        """This person's verdict, from a cache refreshed every minute (or older than
        max_age seconds)."""
        return (await self.refresh([user_id], max_age=max_age))[user_id]

    async def refresh(
        self, user_ids: list[str], *, max_age: float | None = None
    ) -> dict[str, Cached]:
        """Everyone's verdict, re-querying in one /keys/query those whose verdict is stale
        or whose pin moved.

        Judge by the verdicts returned, never by the cache read back afterwards: the sync
        loop forgets people (`forget`, on a device-list change) at any await here, and a
        fresh verdict evicted while someone else was being queried was once read back as
        none, so bot/crypto/room_keys.py blacklisted an allow-listed device for one send.
        A verdict fetched before such a change is returned (as if the change had come a
        moment later) but not cached, so the next refresh asks again.
        """
        limit = CACHE_SECONDS if max_age is None else max_age
        pins = await self._pins(list(dict.fromkeys(user_ids)))
        verdicts, stale = self._fresh(pins, limit)
        if not stale:
            return verdicts
        async with self._locks.hold(stale):
            # Someone may have fetched (and pinned) them while this waited for their locks.
            pins.update(await self._pins(stale))
            fetched, stale = self._fresh({u: pins[u] for u in stale}, limit)
            verdicts.update(fetched)
            if stale:
                verdicts.update(await self._query(stale, pins))
        return verdicts

    def _fresh(
        self, pins: dict[str, str | None], limit: float
    ) -> tuple[dict[str, Cached], list[str]]:
        """(cached verdicts still good, people to query): stale ones, or whose pin moved."""
        now = time.monotonic()
        fresh: dict[str, Cached] = {}
        stale: list[str] = []
        for u, pin in pins.items():
            cached = self._cache.get(u)
            if cached is None or now - cached.at >= limit or cached.trust.pinned_master_key != pin:
                stale.append(u)
            else:
                fresh[u] = cached
        return fresh, stale

    async def _query(self, stale: list[str], pins: dict[str, str | None]) -> dict[str, Cached]:
        """One /keys/query for `stale` (their locks held): each verdict, pinned on first sight."""
        assert self._http is not None and self.client.access_token
        api = HomeserverKeysAPI(self._http, self.settings.homeserver, self.client.access_token)
        for user_id in stale:
            self._forgotten[user_id] = 0
        verdicts: dict[str, Cached] = {}
        try:
            query = await api.keys_query(stale)
            for user_id in stale:
                pin = pins[user_id]
                trust = evaluate_user(user_id, query, pin)
                await self._record(user_id, pin, trust)
                pinned_now, _pending = await self._pin(user_id)
                if pinned_now != pin:  # pinned on first sight just now
                    trust = evaluate_user(user_id, query, pinned_now)
                verdicts[user_id] = Cached(trust, query, time.monotonic())
                if not self._forgotten[user_id]:
                    self._cache[user_id] = verdicts[user_id]
        finally:
            for user_id in stale:
                del self._forgotten[user_id]
        return verdicts

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
            was = await verification_of(db, user_id, self.settings)  # lost by the change
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
                await tell_each(
                    db,
                    self.settings.admins,
                    self.settings.language,
                    lambda _admin: identity_changed_notice(
                        user_id, pin, new_key, prefix, configured, was
                    ),
                    now,
                )
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
            back = await verification_of(db, user_id, self.settings)  # of the pinned key
            await tell_each(
                db,
                self.settings.admins,
                self.settings.language,
                lambda _admin: reverted_notice(user_id, pin, back),
                now,
            )
        log.warning("the cross-signing identity of %s reverted; pending key dropped", user_id)


def reverted_notice(user_id: str, pin: str, verified: Verified | None) -> str:
    """What admins read when the server shows the pinned key again (current language)."""
    text = _(
        "Security notice: the cross-signing identity of {user} is back to the "
        "pinned one ({key}). The changed key I saw meanwhile can no longer be "
        "approved; nothing needs doing unless they tell you otherwise.",
        user=user_id,
        key=fingerprint(pin),
    )
    if verified is not None:
        text += " " + _(
            "Their verification of that key (by {by}) counts again.",
            by=verifier_shown(verified.by),
        )
    return text


def identity_changed_notice(
    user_id: str,
    old: str,
    new: str,
    prefix: str,
    configured: bool,
    verified: Verified | None = None,
) -> str:
    """What admins read (in the current language): both keys in full, so they compare the
    new one with the person; and that a verification of the old key no longer counts."""
    text = _changed_notice(user_id, old, new, prefix, configured)
    if verified is not None:
        text += "\n" + _(
            "They were verified (by {by}); that verification was of the old key and no "
            "longer counts: the new key, once approved, is not verified until they are "
            "verified again ({command}).",
            by=verifier_shown(verified.by),
            command=prefix + "verify " + user_id,
        )
    return text


def _changed_notice(user_id: str, old: str, new: str, prefix: str, configured: bool) -> str:
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
