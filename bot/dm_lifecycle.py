"""A person's DM with the bot, from invitation to goodbye.

A DM invite that the bot joined is only a candidate: it becomes the room the bot writes to
the person in once its state shows it encrypted and holding only the bot and them. It stops
being their DM when someone else joins or is invited (a room now), or when they leave or
reject it (forgotten; what was sent there unread is failed and reported to whoever it was
sent for; the next message makes a new DM).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nio import AsyncClient

from bot import joins, kv
from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.room_members import server_members
from bot.send_error import SendError
from bot.store import Store
from commands import delivery
from commands.context import OutMessage, utc_iso
from commands.i18n import language
from commands.outbox_row import Queued
from commands.readers import reader_language
from config import Settings

log = logging.getLogger(__name__)


@dataclass
class DmLifecycle:
    client: AsyncClient
    settings: Settings
    store: Store
    metrics: Metrics
    clock: Clock
    kick: Callable[[], None] | None = None  # wakes the outbox

    async def candidate(self, room_id: str, inviter: str) -> None:
        """The bot joined a DM invite: perhaps the person's own DM with the bot."""
        # It becomes the room the bot writes to them in only once its state shows it
        # encrypted and private (settle_candidates), never on the say-so of an invite.
        async with self.store.write() as db:
            await db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (f"dm_candidate:{room_id}", inviter),
            )
            # They came back: the bot may write to them again.
            await db.execute("DELETE FROM unreachable_people WHERE user_id = ?", (inviter,))

    async def settle_candidates(self) -> None:
        """A joined DM invite becomes the person's DM if it is encrypted and holds only
        the bot and them; an unencrypted or shared one never does (and is never written to)."""
        for room_id, user_id in await kv.under(self.store, "dm_candidate:"):
            key = f"dm_candidate:{room_id}"
            room = self.client.rooms.get(room_id)
            if room is None:
                if room_id not in self.client.invited_rooms:
                    await kv.delete(self.store, key)
                continue
            # The server's members, not nio's lazily loaded ones: someone invited before
            # the bot joined makes it a room, never a DM (bot/recipients.py); after a remote
            # (partial-state) join the first syncs list only the bot.
            try:  # bounded: a partial-state room waits on the remote server
                others = await asyncio.wait_for(
                    server_members(self.client, room_id), joins.STATE_TIMEOUT
                )
            except TimeoutError:
                continue  # asked again after the next sync
            except SendError as exc:
                if not exc.permanent:
                    continue
                others = None  # unreadable: not a DM (fail closed)
            usable = bool(room.encrypted) and others == [user_id]
            async with self.store.write() as db:
                await db.execute("DELETE FROM kv WHERE key = ?", (key,))
                if usable:  # the person's newest DM with the bot is where it writes to them
                    await db.execute(
                        "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) "
                        "ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
                        (user_id, room_id),
                    )
            if not usable:
                self.metrics.refused.labels("dm_not_private_or_encrypted").inc()
                log.warning("a DM invite to %s is not encrypted and private; not a DM", room_id)

    async def no_longer_a_dm(self, room_id: str, user_id: str) -> None:
        """Someone other than its person joined or was invited into a DM: it is a room now
        (commands read it as one); what was queued for its person goes to a new DM
        (bot/recipients.py decides that at send time)."""
        if user_id == self.client.user_id:
            return
        async with self.store.write() as db:
            cur = await db.execute(
                "DELETE FROM dm_rooms WHERE room_id = ? AND user_id != ? RETURNING user_id",
                (room_id, user_id),
            )
            was_dm = await cur.fetchone() is not None
            await cur.close()
        if was_dm:
            log.info("someone else joined or was invited into a DM; it is a room now")
            self.metrics.refused.labels("dm_shared").inc()

    async def person_left(self, room_id: str, user_id: str, prev: str | None, ts_ms: int) -> None:
        """A person left (or rejected) a room: if it was their DM, it is forgotten, and a
        rejection makes them unreachable until they contact the bot."""
        rejected = prev == "invite"
        reason = delivery.REJECTED if rejected else delivery.LEFT
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            cur = await db.execute(
                "DELETE FROM dm_rooms WHERE user_id = ? AND room_id = ? RETURNING room_id",
                (user_id, room_id),
            )
            was_dm = await cur.fetchone() is not None
            await cur.close()
            if not was_dm:
                return
            await delivery.dm_abandoned(db, user_id, room_id)
            if rejected:
                await db.execute(
                    "INSERT INTO unreachable_people (user_id, reason, since) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason",
                    (user_id, reason, now),
                )
            # Never joined: nothing there was read. Left: what was sent after they left.
            left_at = utc_iso(datetime.fromtimestamp(ts_ms / 1000, UTC))
            async with db.execute(
                "SELECT id, content FROM outbox WHERE user_id = ? AND room_id = ? "
                "AND state = 'sent' AND (? OR sent_at >= ?) ORDER BY id",
                (user_id, room_id, rejected, left_at),
            ) as cur2:
                unread = await cur2.fetchall()
            notices: list[OutMessage] = []
            for row_id, content in unread:
                origin = Queued.loads(content).origin
                await db.execute(
                    "UPDATE outbox SET state = 'failed', error = ? WHERE id = ?",
                    (f"undeliverable: {reason}", row_id),
                )
                # The notice is for the person it was sent for: in their language.
                sender = (origin or {}).get("user_id")
                with language(await reader_language(db, self.settings.language, user_id=sender)):
                    notices += await delivery.undeliverable(db, origin, user_id, reason, now)
            await enqueue(db, notices, now)
        log.info("a person %s their DM; it is forgotten", "rejected" if rejected else "left")
        self.metrics.refused.labels("dm_left").inc()
        # Nobody is left to read it; leaving also makes any late send fail loudly.
        try:
            await self.client.room_leave(room_id)
        except Exception as exc:
            log.warning("could not leave an abandoned DM: %s", type(exc).__name__)
        if self.kick is not None:
            self.kick()
