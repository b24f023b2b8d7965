"""Messages the bot cannot decrypt yet: kept until their room key arrives (also across a
restart), the key asked for, and after a while given up and the sender told.

Each undecryptable message costs its sender a token of the one rate budget
(bot/ratelimit.py): key requests to their devices and a notice are not free.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nio import AsyncClient, MegolmEvent, RoomGetEventResponse
from nio.events import Event

from bot import kv, ratelimit
from bot.clock import Clock
from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.refusals import Refusals
from bot.store import Store
from commands.i18n import N_
from config import Settings

log = logging.getLogger(__name__)

UNDECRYPTABLE = N_(
    "I could not decrypt a message you sent, so I did not act on it. Make sure your session "
    "is verified (Element: Settings → Sessions), then send it again."
)

Route = Callable[[str, Event], Awaitable[None]]  # (room_id, decrypted event)


@dataclass
class PendingDecryption:
    event: MegolmEvent
    room_id: str
    since: float
    requested: bool = False


@dataclass
class Undecrypted:
    client: AsyncClient
    settings: Settings
    store: Store
    dispatcher: Dispatcher
    metrics: Metrics
    clock: Clock
    refusals: Refusals
    # Commands the homeserver shows were answered before a restore (bot/recovery.py): not
    # run again, and not reported as unreadable when the fresh device cannot decrypt them.
    answered: set[str] = field(default_factory=set)
    kick: Callable[[], None] | None = None  # wakes the outbox
    _pending: dict[str, PendingDecryption] = field(default_factory=dict)

    async def hold(self, room_id: str, event: MegolmEvent) -> None:
        """Keep an undecryptable message from an allowed sender until its key arrives."""
        if event.event_id in self.answered or event.event_id in self._pending:
            return
        # Each costs key requests to the sender's devices and a notice: one token.
        if not self.dispatcher.limiter.allow(event.sender):
            await self._over_limit(room_id, event.sender, event.event_id)
            return
        self._pending[event.event_id] = PendingDecryption(event, room_id, self.clock.monotonic())
        # Remembered in the store: the sync token moves on, and a restart before the room
        # key arrives must not make the bot forget the message.
        await kv.put(self.store, f"undecrypted:{event.event_id}", room_id)

    async def _over_limit(self, room_id: str, sender: str, event_id: str) -> None:
        """An event over the person's rate limit (bot/ratelimit.py): ignored, told once."""
        self.metrics.refused.labels("rate_limited").inc()
        if not self.dispatcher.limiter.first_refusal(sender):
            return
        async with self.store.write() as db:
            await ratelimit.tell(
                db,
                self.settings,
                sender,
                lambda: ratelimit.over_limit_text(self.settings),
                self.clock.now(),
                room_id=room_id,
                reply_to=event_id,
            )
        if self.kick is not None:
            self.kick()

    async def retry(self, route: Route) -> None:
        """Room keys can arrive after the message; retry, ask for them, count the losses."""
        now = self.clock.monotonic()
        for event_id, pending in list(self._pending.items()):
            try:
                decrypted = self.client.decrypt_event(pending.event)
            except Exception:
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent):
                del self._pending[event_id]
                await route(pending.room_id, decrypted)
                await kv.delete(self.store, f"undecrypted:{event_id}")
                continue
            if not pending.requested and now - pending.since > 5:
                pending.requested = True
                try:
                    await self.client.request_room_key(pending.event)
                except Exception as exc:
                    log.debug("room key request failed: %s", type(exc).__name__)
            if now - pending.since > self.settings.undecryptable_give_up:
                del self._pending[event_id]
                await kv.delete(self.store, f"undecrypted:{event_id}")
                self.metrics.decryption_failures.inc()
                log.warning("could not decrypt %s in %s", event_id, pending.room_id)
                await self.refusals.tell(
                    pending.room_id,
                    pending.event.sender,
                    event_id,
                    UNDECRYPTABLE,
                )

    async def reload(self, route: Route) -> None:
        """Messages still undecrypted when the last process stopped: fetch and retry them."""
        for event_id, room_id in await kv.under(self.store, "undecrypted:"):
            key = f"undecrypted:{event_id}"
            resp = await self.client.room_get_event(room_id, event_id)
            event = getattr(resp, "event", None)
            if not isinstance(resp, RoomGetEventResponse) or event is None:
                log.warning("cannot fetch undecrypted %s again; dropping it", event_id)
                await kv.delete(self.store, key)
                continue
            log.info("retrying %s, undecrypted at the last stop", event_id)
            if isinstance(event, MegolmEvent):
                self._pending[event_id] = PendingDecryption(event, room_id, self.clock.monotonic())
            else:
                await kv.delete(self.store, key)
                await route(room_id, event)
