"""Who receives the bot's room keys: before every encrypted send, each device in the room
is either verified in nio (owner-signed under its allow-listed owner's trusted identity,
with the very keys that were signed) or blacklisted, so room keys go only to the former;
admins hear once per room and person of someone outside the allow-list in it."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from nio import AsyncClient

from bot.clock import Clock
from bot.crypto.errors import CrossSigningError
from bot.crypto.identities import Cached, Identities
from bot.crypto.key_refresh import Requery
from bot.metrics import Metrics
from bot.outbox.notices import tell_each_once
from bot.store import Store
from commands.context import utc_iso
from commands.i18n import _
from config import Settings

log = logging.getLogger(__name__)


class RoomKeys:
    def __init__(
        self,
        client: AsyncClient,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        clock: Clock,
        identities: Identities,
    ) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.identities = identities
        self._told: set[str] = set()  # outsider notices already given (also in kv)
        self._requery = Requery()

    async def prepare_room(self, room_id: str) -> None:
        """Verify owner-signed devices of allow-listed people; blacklist all the rest
        (outsiders too, however well cross-signed) before keys are shared."""
        room = self.client.rooms.get(room_id)
        if room is None or not room.encrypted:
            return
        rotate = False
        members = list(room.users)
        verdicts = await self._second_look(
            await self._verdicts(
                room_id,
                [u for u in members if u == self.client.user_id or self.settings.is_allowed(u)],
            )
        )
        for user_id in members:
            entry = verdicts.get(user_id)
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

    async def _verdicts(self, room_id: str, allowed: list[str]) -> dict[str, Cached]:
        """The verdict on each allow-listed member, as this refresh found it (one query for
        everyone stale; outsiders are never queried, so never pinned).

        If the query fails, the last verdicts stand; someone with none yet (after a restart
        the cache is empty) fails the send, which the outbox retries: blacklisting them
        would send a message they can never read and rotate the room's session twice.
        """
        try:
            return await self.identities.refresh(allowed)
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            last = {u: c for u in allowed if (c := self.identities.cached(u)) is not None}
            if len(last) < len(allowed):
                log.warning(
                    "cannot judge device trust for %s yet (%s); sending later", room_id, exc
                )
                raise
            log.warning("cannot refresh device trust for %s (%s)", room_id, exc)
            return last

    async def _second_look(self, verdicts: dict[str, Cached]) -> dict[str, Cached]:
        """Someone shown without a cross-signing identity may be someone the server is
        still fetching (right after the bot first shares a room with them): look again,
        bounded (bot/crypto/key_refresh.py), before their devices are left without the
        room key. In the send path, so only this room's send waits."""
        for user_id, entry in list(verdicts.items()):
            if user_id == self.client.user_id or entry.trust.master_key is not None:
                continue

            async def again(person: str = user_id) -> Cached:
                return await self.identities.evaluate(person, max_age=0.0)

            try:
                verdicts[user_id] = await self._requery.settle(
                    user_id, entry, lambda c: c.trust.master_key is None, again
                )
            except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("cannot look again at %s's keys (%s)", user_id, exc)
        return verdicts

    async def _tell_outsider(self, room_id: str, user_id: str) -> None:
        """Admins hear once per room and person that someone outside the allow-list is in
        a room the bot writes to (they get no keys: the bot's messages are unreadable to them)."""
        key = f"told_outsider:{room_id}:{user_id}"
        if key in self._told:  # no store write per send once told
            return
        self._told.add(key)
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            first = await tell_each_once(
                db,
                key,
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
                now,
            )
        if first:
            self.metrics.refused.labels("outsider_in_room").inc()
            log.warning("an outsider is in %s; withholding room keys from them", room_id)


def _matching(entry: Cached, user_id: str, devices: list[Any]) -> set[str]:
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
