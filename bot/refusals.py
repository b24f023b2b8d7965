"""What a refused sender is told, and how often: one explanation per person, device and
room per quiet period; an unencrypted room's command once per room, in the person's DM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nio.events import Event

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.store import Store
from commands.context import OutMessage, utc_iso
from commands.i18n import N_, _, language
from commands.readers import reader_language
from config import Settings

UNENCRYPTED_REFUSAL = N_(
    "I only work in end-to-end encrypted rooms, so I will not act on anything in the "
    "unencrypted room {room} (and I never write there). Use this encrypted chat instead, "
    "or enable encryption in that room."
)


@dataclass
class Refusals:
    store: Store
    settings: Settings
    metrics: Metrics
    clock: Clock
    kick: Callable[[], None] | None = None  # wakes the outbox
    # When each (room, person, device) was last told why it is refused (monotonic seconds).
    _told: dict[tuple[str, str, str | None], float] = field(default_factory=dict)

    def forget_room(self, room_id: str) -> None:
        """The bot left the room: its notes go (bot/roomgc.py)."""
        self._told = {k: at for k, at in self._told.items() if k[0] != room_id}

    async def tell(
        self,
        room_id: str,
        sender: str,
        event_id: str,
        reason: str,
        device: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """One explanation per person, device and room per quiet period (a session still
        unverified an hour later is told again), readable by the refused device.

        `reason` is an English template (N_), rendered with `values` in the sender's
        language: the explanation is for them, whichever room it lands in."""
        key, now = (room_id, sender, device), self.clock.monotonic()
        told = self._told.get(key)
        if told is not None and now - told < self.settings.refusal_repeat_after:
            return
        self._told[key] = now
        reveal = (sender, device) if device else None
        async with self.store.write() as db:
            with language(await reader_language(db, self.settings.language, user_id=sender)):
                text = _(reason, **(values or {}))
            await enqueue(
                db,
                [OutMessage(body=text, room_id=room_id, reply_to=event_id, reveal_to=reveal)],
                utc_iso(self.clock.now()),
            )
        if self.kick is not None:
            self.kick()

    async def unencrypted(self, room_id: str, event: Event) -> None:
        body = getattr(event, "body", "") or ""
        if not body.startswith(self.settings.command_prefix):
            return
        async with self.store.write() as db:
            cur = await db.execute(
                "INSERT INTO refused_rooms (room_id, reason, at) VALUES (?, 'unencrypted', ?) "
                "ON CONFLICT DO NOTHING RETURNING room_id",
                (room_id, utc_iso(self.clock.now())),
            )
            first_time = await cur.fetchone() is not None
            await cur.close()
            if first_time:
                # Told in the person's encrypted DM: the bot never writes into a plain room.
                sender_language = await reader_language(
                    db, self.settings.language, user_id=event.sender
                )
                with language(sender_language):
                    text = _(UNENCRYPTED_REFUSAL, room=room_id)
                await enqueue(
                    db,
                    [OutMessage(body=text, user_id=event.sender)],
                    utc_iso(self.clock.now()),
                )
        self.metrics.refused.labels("unencrypted_room").inc()
        if first_time and self.kick is not None:
            self.kick()
