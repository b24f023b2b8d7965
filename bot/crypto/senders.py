"""Who may command the bot: a message is acted on only if the Megolm session that
decrypted it was delivered (not forwarded) by a device whose curve25519 and ed25519 keys
match a device that is owner-signed under the sender's trusted identity
(bot/crypto/identities.py). A verdict the homeserver's lag explains is looked at again
(bot/crypto/key_refresh.py), off the sync loop (bot/second_looks.py), before the person
is refused."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from nio import AsyncClient
from nio.events import Event

from bot.crypto.errors import CrossSigningError
from bot.crypto.identities import Identities
from bot.crypto.key_refresh import Requery
from bot.crypto.refusals import (
    IDENTITY_CHANGED,
    IDENTITY_CHANGED_CONFIGURED,
    KEYS_UNCHECKED,
    NO_IDENTITY,
    NOT_LISTED,
    TRANSIENT,
    UNTRUSTED_DEVICE,
    UNTRUSTED_UNKNOWN_DEVICE,
    Refusal,
)
from config import Settings

log = logging.getLogger(__name__)

REFRESH_ON_MISS_SECONDS = 5.0


class Senders:
    def __init__(self, client: AsyncClient, settings: Settings, identities: Identities) -> None:
        self.client = client
        self.settings = settings
        self.identities = identities
        self._requery = Requery()

    async def check_sender(self, event: Event, room_id: str) -> Refusal | None:
        """The verdict from the keys known now (at most one /keys/query). A refusal the
        server's lag may explain deserves a second look (`look_again`)."""
        try:
            keys = self._keys_of(event, room_id)
            if keys is None:
                return Refusal(UNTRUSTED_UNKNOWN_DEVICE)
            return await self._device_verdict(event.sender, *keys, (None, REFRESH_ON_MISS_SECONDS))
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot check %s's devices now (%s)", event.sender, exc)
            return Refusal(KEYS_UNCHECKED)

    def look_again(
        self, event: Event, room_id: str, refusal: Refusal
    ) -> Callable[[], Coroutine[Any, Any, Refusal | None]] | None:
        """The final verdict, re-querying for a few seconds (bot/crypto/key_refresh.py), if
        `refusal` is one a lagging server explains and a second look is due; else None."""
        keys = self._keys_of(event, room_id)
        if refusal.reason not in TRANSIENT or keys is None or not self._requery.due(event.sender):
            return None
        return functools.partial(self._settle, event.sender, keys, refusal)

    async def _settle(
        self, user_id: str, keys: tuple[str, str], refusal: Refusal
    ) -> Refusal | None:
        async def again() -> Refusal | None:
            return await self._device_verdict(user_id, *keys, (0.0,))

        try:
            return await self._requery.settle(
                user_id, refusal, lambda r: r is not None and r.reason in TRANSIENT, again
            )
        except (CrossSigningError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("cannot check %s's devices now (%s)", user_id, exc)
            return Refusal(KEYS_UNCHECKED)

    def _keys_of(self, event: Event, room_id: str) -> tuple[str, str] | None:
        """(curve25519, ed25519) of the device that delivered the event's Megolm session;
        None for a session forwarded or unknown (never trusted)."""
        sender_key = getattr(event, "sender_key", None)
        session_id = getattr(event, "session_id", None)
        olm = self.client.olm
        if olm is None or not sender_key or not session_id:
            return None
        session = olm.inbound_group_store.get(room_id, sender_key, session_id)
        if session is None or session.forwarding_chain:
            return None
        return sender_key, session.ed25519

    async def _device_verdict(
        self, user_id: str, curve: str, ed: str, ages: tuple[float | None, ...]
    ) -> Refusal | None:
        """Find the sending device by its keys (cache ages to try, None = the usual one),
        then apply the rule."""
        refusal = Refusal(UNTRUSTED_UNKNOWN_DEVICE)
        for max_age in ages:
            entry = await self.identities.evaluate(user_id, max_age=max_age)
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
