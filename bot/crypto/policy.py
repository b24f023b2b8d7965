"""Device-trust policy at run time: the bot's own cross-signing, and the rules that say who
may command the bot (bot/crypto/senders.py) and who receives its room keys
(bot/crypto/room_keys.py), both judged against others' trusted identities
(bot/crypto/identities.py). The runtime holds this one object (bot/app.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from nio import AsyncClient
from nio.events import Event

from bot.clock import Clock, SystemClock
from bot.crypto.cross_signing import CrossSigningStatus, ensure_cross_signed
from bot.crypto.errors import CrossSigningError
from bot.crypto.identities import Identities
from bot.crypto.refusals import Refusal
from bot.crypto.room_keys import RoomKeys
from bot.crypto.senders import Senders
from bot.metrics import Metrics
from bot.store import Store
from config import Settings

log = logging.getLogger(__name__)

KEYS_FILE = "cross_signing.keys"


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
        self.identities = Identities(client, settings, store, metrics, self.clock)
        self.senders = Senders(client, settings, self.identities)
        self.room_keys = RoomKeys(client, settings, store, metrics, self.clock, self.identities)

    async def start(self) -> None:
        self.identities.open()
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
        await self.identities.close()

    async def device_signed(self) -> bool:
        return bool(self.own and self.own.device_signed and not self.own.problem)

    def forget(self, user_ids: list[str]) -> None:
        """Their keys changed on the server: judge them afresh next time."""
        self.identities.forget(user_ids)
        # nio's device-trust answers are cached too (bot/niostore.py): re-read them.
        forget_users = getattr(self.client.store, "forget_users", None)
        if forget_users is not None:
            forget_users(user_ids)

    async def check_sender(self, event: Event, room_id: str) -> Refusal | None:
        """None if the sending device may command the bot (bot/crypto/senders.py)."""
        return await self.senders.check_sender(event, room_id)

    def look_again(
        self, event: Event, room_id: str, refusal: Refusal
    ) -> Callable[[], Coroutine[Any, Any, Refusal | None]] | None:
        """The final verdict on a refusal the server's lag may explain (a few seconds of
        re-queries), or None if `refusal` is final."""
        return self.senders.look_again(event, room_id, refusal)

    async def prepare_room(self, room_id: str) -> None:
        """Room keys only for trusted devices, before a send (bot/crypto/room_keys.py)."""
        await self.room_keys.prepare_room(room_id)


async def build_policy(
    client: AsyncClient, settings: Settings, store: Store, metrics: Metrics, clock: Clock
) -> DeviceTrustPolicy:
    policy = DeviceTrustPolicy(client, settings, store, metrics, clock)
    await policy.start()
    return policy
