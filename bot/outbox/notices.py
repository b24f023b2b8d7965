"""What the outbox tells people when a row cannot go: the person it was sent for (a
person unreachable, a room that is not encrypted) and the admins (once per unsafe room).
The wording is here and in commands/delivery.py; each notice reads in its reader's
language."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.outbox.readers import Readers
from bot.store import Store
from commands import delivery
from commands.context import OutMessage, utc_iso
from commands.i18n import _, language
from commands.outbox_row import WIPED
from commands.readers import languages_of

log = logging.getLogger(__name__)


async def each_in_their_language(
    db: aiosqlite.Connection,
    users: Iterable[str],
    default: str,
    build: Callable[[str], str],
) -> list[OutMessage]:
    """One DM to each person (admins' security notices), `build(user_id)` called inside
    that person's language."""
    people = list(dict.fromkeys(users))
    langs = await languages_of(db, people, default)
    out = []
    for user in people:
        with language(langs[user]):
            out.append(OutMessage(body=build(user), user_id=user))
    return out


class Notices:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        readers: Readers,
        admins: tuple[str, ...],
        kick: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.readers = readers
        self.admins = admins
        self.kick = kick  # new rows are queued: wake the outbox

    async def undeliverable(
        self, row_id: int, user_id: str | None, origin: dict[str, Any] | None, reason: str
    ) -> None:
        """Fail the row and tell the person it was sent for, in their thread, by name."""
        now = utc_iso(self.clock.now())
        sender_language = await self.readers.sender_language(origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                (f"undeliverable: {reason}", WIPED, row_id),
            )
            with language(sender_language):
                notices = await delivery.undeliverable(db, origin, user_id or "?", reason, now)
            await enqueue(db, notices, now)
        self.metrics.undeliverable.inc()
        log.warning("outbox: row %d cannot reach its person: %s", row_id, reason)
        if notices:
            self.kick()

    async def refuse_unsafe(
        self,
        row_id: int,
        room_id: str | None,
        reason: str,
        origin: dict[str, Any] | None = None,
    ) -> None:
        """Never plaintext: fail the row, count it, tell the admins once per room (and the
        person it was sent for, if any)."""
        now = utc_iso(self.clock.now())
        sender_language = await self.readers.sender_language(origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ? WHERE id = ?",
                (f"not sent: {reason}", row_id),
            )
            if origin and room_id:
                with language(sender_language):
                    told = await delivery.undeliverable(
                        db, origin, room_id, delivery.UNENCRYPTED_ROOM, now
                    )
                await enqueue(db, told, now)
            cur = await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                (f"told_unsafe:{room_id}", now),
            )
            first = await cur.fetchone() is not None
            await cur.close()
            if first:
                notices = await each_in_their_language(
                    db,
                    self.admins,
                    self.readers.default_language,
                    lambda _admin: _(
                        "Security notice: I refused to send into room {room} because {reason}; "
                        "I never send anything unencrypted. Messages for that room are kept as "
                        "failed. Enable encryption there, or point the post or summit at an "
                        "encrypted room.",
                        room=room_id,
                        reason=_(reason),
                    ),
                )
                await enqueue(db, notices, now)
        self.metrics.unsafe_refused.inc()
        log.error("outbox: row %d not sent to %s: %s", row_id, room_id, reason)
        self.kick()
