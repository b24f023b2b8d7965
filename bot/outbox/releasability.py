"""What the outbox does with a row at send time about who may read it (bot/recipients.py
decides who may): mentions only of allow-listed people; a marked DM withheld from a person
its marking does not cover; a row rendered for one person moved to their DM when the room
is no longer one; a marked row split into a room notice and DMs to the covered members;
a row about an object the store lacks withheld from everyone (fail closed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.outbox.readers import Readers
from bot.recipients import Recipients, Verdict, with_note
from bot.store import Store
from commands.context import OutMessage, utc_iso
from commands.i18n import _, language
from commands.markings import Marking
from commands.markings import routing as marked
from commands.markings import store as marked_store
from commands.outbox_row import WIPED, Queued

log = logging.getLogger(__name__)


class Releasability:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        recipients: Recipients,
        readers: Readers,
        is_allowed: Callable[[str], bool] | None,
        kick: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.recipients = recipients
        self.readers = readers
        # The allow-list, applied to every mention at send time: one rule below every
        # command (None only in tests of the retry logic).
        self.is_allowed = is_allowed
        self.kick = kick  # new rows are queued: wake the outbox

    def only_allowed_mentions(self, content: dict[str, Any]) -> None:
        """Nobody outside the allow-list is notified by a mention."""
        mentions = content.get("m.mentions")
        if self.is_allowed is None or not isinstance(mentions, dict):
            return
        if mentions.get("user_ids"):
            mentions["user_ids"] = [u for u in mentions["user_ids"] if self.is_allowed(u)]

    async def in_room(
        self,
        row_id: int,
        room_id: str,
        meta: Queued,
        marking: Marking | None,
        attachment: bytes | None,
    ) -> tuple[Queued, Marking | None, bytes | None] | None:
        """What goes into this room now: the row, or its notice when it was split (the
        file went by DM); None when nothing does (redirected or withheld here)."""
        verdict = await self.recipients.in_room(room_id, marking, meta.reader)
        if verdict.action == "redirect":
            await self._redirect(row_id, meta, str(verdict.reader))
            return None
        if verdict.action == "withhold" and marking is not None:
            person, reason = verdict.excluded[0]
            await self._withhold_dm(row_id, person.user_id, meta, marking, reason)
            return None
        if verdict.action == "split":
            meta, marking = await self._marked_room(row_id, meta, verdict)
            if marking is None:  # the room gets the notice, the file went by DM
                attachment = None
        return meta, marking, attachment

    async def withheld_from(
        self, row_id: int, user_id: str, meta: Queued, marking: Marking | None
    ) -> bool:
        """Withhold a DM row from a person its marking (as it is now) does not cover."""
        reason = await self.recipients.exclusion(marking, user_id)
        if marking is None or reason is None:
            return False
        await self._withhold_dm(row_id, user_id, meta, marking, reason)
        return True

    async def withhold_missing(self, row_id: int, meta: Queued, missing: str) -> None:
        """A row about an object the store does not have: its marking is unknown, so it
        goes to nobody (fail closed), audited and counted."""
        now = utc_iso(self.clock.now())
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                ("withheld: its object is not in the store", WIPED, row_id),
            )
            await db.execute(
                "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, 'bot', ?, ?, ?)",
                (now, "marking.withheld", meta.about, f"not sent to anyone: {missing} not found"),
            )
        self.metrics.marking_withheld.inc()
        log.warning("outbox: row %d withheld: the object it is about is not in the store", row_id)

    async def _withhold_dm(
        self, row_id: int, user_id: str, meta: Queued, marking: Marking, reason: str
    ) -> None:
        """A marked DM for someone it does not cover: never sent, wiped, recorded, and the
        person it was sent for told by name."""
        now = utc_iso(self.clock.now())
        sender_language = await self.readers.sender_language(meta.origin)
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET state = 'failed', error = ?, content = ?, "
                "attachment = NULL WHERE id = ?",
                ("withheld: not releasable to the recipient", WIPED, row_id),
            )
            people = await marked_store.subjects(db, [user_id])
            with language(sender_language):
                notices = await marked_store.withheld(
                    db, meta.origin, meta.about, marking, [(people[0], reason)], now
                )
            await enqueue(db, notices, now)
        self.metrics.marking_withheld.inc()
        log.warning("outbox: row %d withheld: its marking does not cover its recipient", row_id)
        if notices:
            self.kick()

    async def _redirect(self, row_id: int, meta: Queued, reader: str) -> None:
        """A row rendered for one person, for a room that is no longer their DM (someone
        else joined or was invited): nothing goes into the room; it goes to their DM
        instead (a fresh one if need be), saying why."""
        with language(await self.readers.language_of(user_id=reader)):
            note = _("(You asked in a room where someone else is now, so I answer you here.)")
        moved = meta.replace(
            reply_to=None,
            thread_root=None,
            thread_key=None,
            restart_thread=None,
            reader=None,
            content=with_note({**meta.content, "m.mentions": {}}, note),
        )
        async with self.store.write() as db:
            await db.execute(
                "UPDATE outbox SET user_id = ?, room_id = NULL, content = ? "
                "WHERE id = ? AND state = 'pending'",
                (reader, moved.dumps(), row_id),
            )
        log.info(
            "outbox: row %d was for one person, whose room is not a DM now: to their DM", row_id
        )
        self.kick()

    async def _marked_room(
        self, row_id: int, meta: Queued, decision: Verdict
    ) -> tuple[Queued, Marking | None]:
        """A room gets a marked message only if every member (joined or invited) is
        covered. Otherwise the row becomes a one-line notice (object and marking, no
        content), the covered members get the message by DM, and the sender is told who
        was left out and why. Returns what to send into the room."""
        assert decision.marking is not None
        marking = decision.marking
        now = utc_iso(self.clock.now())
        notice = OutMessage(
            body=marked.room_notice(meta.about, marking),
            reply_to=meta.reply_to,
            thread_root=meta.thread_root,
            thread_key=meta.thread_key,
        ).to_row()
        sender_language = await self.readers.sender_language(meta.origin)
        # The DM copies: the same message without the room's thread (its root is elsewhere).
        copy = meta.replace(
            reply_to=None,
            thread_root=None,
            thread_key=None,
            restart_thread=None,
            content={**meta.content, "m.mentions": {}},
        )
        async with self.store.write() as db:
            # Read again under the write lock: a worker on a stale read must not split the
            # same row twice (the covered members would get it twice).
            async with db.execute("SELECT content FROM outbox WHERE id = ?", (row_id,)) as cur:
                current = await cur.fetchone()
            now_meta = Queued.loads(current[0] if current is not None else None)
            if not (now_meta.marking or now_meta.about or now_meta.holds):
                # already split (or sent): the notice, at most
                return (now_meta if now_meta.content else Queued.loads(notice["content"])), None
            # The content leaves the room's row in the same transaction as the DMs appear:
            # after a crash there is nothing marked left queued for the room.
            await db.execute(
                "UPDATE outbox SET content = ? WHERE id = ?", (notice["content"], row_id)
            )
            for person in decision.covered:
                await db.execute(
                    "INSERT INTO outbox (room_id, user_id, content, attachment, key, "
                    "created_at) SELECT NULL, ?, ?, attachment, NULL, ? FROM outbox "
                    "WHERE id = ?",
                    (person.user_id, copy.dumps(), now, row_id),
                )
            await db.execute("UPDATE outbox SET attachment = NULL WHERE id = ?", (row_id,))
            with language(sender_language):
                told = await marked_store.withheld(
                    db, meta.origin, meta.about, marking, list(decision.excluded), now
                )
            await enqueue(db, told, now)
        self.metrics.marking_withheld.inc(len(decision.excluded))
        log.info(
            "outbox: row %d is marked and %d member(s) of its room are not covered: notice "
            "to the room, %d DM(s)",
            row_id,
            len(decision.excluded),
            len(decision.covered),
        )
        self.kick()
        return Queued.loads(notice["content"]), None
