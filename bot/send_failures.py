"""What happens to a message the outbox gives up on: nobody is left wondering.

A row fails when its deadline passed while the homeserver was busy or unreachable, or when
the homeserver refused it for good (bot/send_policy.py). Then, in one transaction:

- the row, and every other row queued for the same room or person that is past its own
  deadline too (a burst expires together), is marked `failed` with the reason;
- the person who asked is told, in their language, once per burst: for answers, the
  sender of the command (from the ledger), as a reply to their newest command; for
  requests, relays and reminders, the person they were sent for (their origin);
- the admins are told once per episode (not again until an hour passes without a
  failure), with what to do about a rate limit;
- each row is counted: `attache_send_giveups_total{kind,reason}`.

There is no path for a notice that the homeserver's limit does not apply to (every event
an account sends counts), so the notices are queued like any message and go out as soon
as the limit lets one through; they are notices themselves, worth sending for a day, and
a notice that fails is counted and logged but never reported in turn (no loops).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.clock import Clock
from bot.metrics import Metrics
from bot.outbox.queue import enqueue
from bot.send_policy import EXPIRED, NOTICE, REPLY, SendPolicy, kind_of
from bot.store import Store
from commands.context import OutMessage, parse_utc, utc_iso
from commands.delivery import name_of, notice_target, record_undelivered
from commands.i18n import _, language, ngettext
from commands.outbox_row import Queued
from commands.readers import languages_of, reader_language

log = logging.getLogger(__name__)

ADMINS_QUIET = timedelta(hours=1)  # admins hear of a new episode after this long without one
_LAST_FAILURE = "send_failures:last"


@dataclass(frozen=True)
class Failed:
    """One row given up on."""

    row_id: int
    kind: str
    meta: Queued
    room_id: str | None
    user_id: str | None


def why(reason: str, rate_limited: bool) -> str:
    """The cause as its reader reads it (current language)."""
    if reason != EXPIRED:
        return _("the homeserver refused my message")
    if rate_limited:
        return _("the homeserver is limiting how fast I can send")
    return _("the homeserver was unreachable")


class SendFailures:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        policy: SendPolicy,
        *,
        admins: tuple[str, ...] = (),
        default_language: str = "en",
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.policy = policy
        self.admins = admins
        self.default_language = default_language

    async def give_up(
        self, row: Any, meta: Queued, reason: str, error: str, *, rate_limited: bool
    ) -> list[OutMessage]:
        """Fail this row (and its target's other expired rows), tell who must know.

        Returns the notices queued (the caller wakes the outbox)."""
        now = self.clock.now()
        now_iso = utc_iso(now)
        first = Failed(int(row["id"]), kind_of(meta.kind), meta, row["room_id"], row["user_id"])
        async with self.store.write() as db:
            failed = [first, *await self._expired_with(db, first, now)]
            text = f"{reason}: {error}" if reason == EXPIRED else error
            behind = f"{EXPIRED}: behind row {first.row_id}"
            for item in failed:
                await db.execute(
                    "UPDATE outbox SET state = 'failed', error = ? WHERE id = ? "
                    "AND state = 'pending'",
                    (text if item is first else behind, item.row_id),
                )
            notices = await self._tell_askers(db, failed, reason, rate_limited, now_iso)
            notices += await self._tell_admins(db, len(failed), reason, rate_limited, now)
            await enqueue(db, notices, now_iso)
        for item in failed:
            self.metrics.send_giveups.labels(item.kind, reason).inc()
            log.error(
                "outbox: gave up on row %d (%s, %s): %s",
                item.row_id,
                item.kind,
                reason,
                text if item is first else f"behind row {first.row_id}",
            )
        return notices

    async def _expired_with(
        self, db: aiosqlite.Connection, first: Failed, now: datetime
    ) -> list[Failed]:
        """The other rows for the same target already past their deadline."""
        where, value = (
            ("user_id = ?", first.user_id)
            if first.user_id
            else ("room_id = ? AND user_id IS NULL", first.room_id)
        )
        async with db.execute(
            f"SELECT id, room_id, user_id, content, created_at FROM outbox "
            f"WHERE state = 'pending' AND id != ? AND {where} ORDER BY id",
            (first.row_id, value),
        ) as cur:
            rows = await cur.fetchall()
        out = []
        for row in rows:
            meta = Queued.loads(row[3])
            kind = kind_of(meta.kind)
            if self.policy.expired(kind, row[4], now):
                out.append(Failed(int(row[0]), kind, meta, row[1], row[2]))
        return out

    async def _tell_askers(
        self,
        db: aiosqlite.Connection,
        failed: list[Failed],
        reason: str,
        rate_limited: bool,
        now_iso: str,
    ) -> list[OutMessage]:
        notices: list[OutMessage] = []
        # Answers: one notice per person and room, as a reply to their newest command.
        answers: dict[tuple[str, str], list[str]] = defaultdict(list)
        for item in failed:
            if item.kind == REPLY and item.meta.reply_to and item.room_id:
                asker = await _sender_of(db, item.meta.reply_to)
                if asker is not None:
                    commands = answers[(asker, item.room_id)]
                    if item.meta.reply_to not in commands:
                        commands.append(item.meta.reply_to)
        for (asker, room_id), commands in answers.items():
            with language(await reader_language(db, self.default_language, user_id=asker)):
                body = ngettext(
                    "I could not answer your command in time: {why}. It was carried out all "
                    "the same; send it again if you need its answer.",
                    "I could not answer {n} of your commands in time: {why}. They were "
                    "carried out all the same; send again any whose answer you need.",
                    len(commands),
                    why=why(reason, rate_limited),
                )
            notices.append(
                OutMessage(body=body, room_id=room_id, reply_to=commands[-1], mentions=(asker,))
            )
        # Requests, relays, reminders: the person they were sent for, where they asked.
        told: set[tuple[str, str | None]] = set()
        for item in failed:
            origin = item.meta.origin
            if item.kind in (REPLY, NOTICE) or not origin or not origin.get("user_id"):
                continue
            recipient = item.user_id or item.room_id or "?"
            obj = origin.get("object")
            if (recipient, obj) in told:
                continue
            told.add((recipient, obj))
            fresh = await record_undelivered(db, obj, recipient, reason, now_iso)
            if not fresh or origin["user_id"] == item.user_id:
                continue
            name = await name_of(db, recipient) if item.user_id else recipient
            asker = origin["user_id"]
            with language(await reader_language(db, self.default_language, user_id=asker)):
                cause = why(reason, rate_limited)
                if obj:
                    body = _(
                        "I could not deliver {object} to {name} in time: {why}. Reach them "
                        "another way, or send it again later.",
                        object=obj,
                        name=name,
                        why=cause,
                    )
                else:
                    body = _(
                        "I could not deliver a message to {name} in time: {why}. Reach them "
                        "another way, or send it again later.",
                        name=name,
                        why=cause,
                    )
            where = await notice_target(db, origin)
            notices.append(OutMessage(body=body, mentions=(asker,), **where))
        return notices

    async def _tell_admins(
        self,
        db: aiosqlite.Connection,
        count: int,
        reason: str,
        rate_limited: bool,
        now: datetime,
    ) -> list[OutMessage]:
        """Once per episode: the first failure after an hour without any."""
        async with db.execute("SELECT value FROM kv WHERE key = ?", (_LAST_FAILURE,)) as cur:
            last = await cur.fetchone()
        await db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_LAST_FAILURE, utc_iso(now)),
        )
        if last is not None and now - parse_utc(str(last[0])) < ADMINS_QUIET:
            return []
        admins = list(dict.fromkeys(self.admins))
        langs = await languages_of(db, admins, self.default_language)
        out = []
        for admin in admins:
            with language(langs[admin]):
                body = ngettext(
                    "Delivery problem: I gave up on a message ({why}); the person it was "
                    "for is told where I can reach them.",
                    "Delivery problem: I gave up on {n} messages ({why}); the people they "
                    "were for are told where I can reach them.",
                    count,
                    why=why(reason, rate_limited),
                )
                if rate_limited:
                    body += " " + _(
                        "Ask the homeserver's admin to lift my rate limit (Synapse: POST "
                        "/_synapse/admin/v1/users/<my Matrix ID>/override_ratelimit, see "
                        "docs/OPERATIONS.md)."
                    )
                body += " " + _(
                    "I tell admins again only after an hour without failures; "
                    "attache_send_giveups_total counts each one."
                )
            out.append(OutMessage(body=body, user_id=admin))
        return out


async def _sender_of(db: aiosqlite.Connection, event_id: str) -> str | None:
    async with db.execute(
        "SELECT sender FROM handled_events WHERE event_id = ?", (event_id,)
    ) as cur:
        row = await cur.fetchone()
    return str(row[0]) if row is not None else None
