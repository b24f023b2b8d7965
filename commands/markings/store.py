"""What the outbox reads and writes for markings: people's nation and clearance, the audit
of every exclusion, and the sender's notice (by name, in the object's thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite

from commands.context import Context, OutMessage
from commands.delivery import note_once, notice_target
from commands.i18n import _, current
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject
from commands.markings.routing import withheld_notice
from commands.readers import reader_language


async def subjects(db: aiosqlite.Connection, user_ids: list[str]) -> list[Subject]:
    """Each person's nation and clearance from the directory, and the key their verification
    is of while the store's pin still matches it; someone the directory does not know has
    neither (and so receives only unmarked items)."""
    known: dict[str, Subject] = {}
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            f"SELECT p.user_id, p.display_name, p.nation, p.clearance, p.language, "
            f"CASE WHEN i.pending_key IS NULL AND i.verified_key = i.master_key "
            f"THEN i.verified_key END FROM people p "
            f"LEFT JOIN identities i ON i.user_id = p.user_id WHERE p.user_id IN ({marks})",
            chunk,
        ) as cur:
            for row in await cur.fetchall():
                known[row[0]] = Subject(
                    row[0], row[2] or None, row[3] or None, row[1] or None, row[4] or None, row[5]
                )
    return [known.get(u, Subject(u)) for u in user_ids]


async def withheld(
    db: aiosqlite.Connection,
    origin: dict[str, Any] | None,
    about: str | None,
    marking: Marking,
    excluded: list[tuple[Subject, str]],
    now_iso: str,
    default_language: str | None = None,
) -> list[OutMessage]:
    """Record each exclusion (audit, and a liaison request's history) and return the
    sender's notice naming the people not yet told about for this object and reason.

    The records stay in English; the notice is in the sender's language (theirs, else
    `default_language`, the deployment's; else the current one)."""
    obj = about or (origin or {}).get("object")
    fresh: list[tuple[str, str]] = []
    for person, reason in excluded:
        detail = f"{marking.banner}: not to {person.user_id}: {reason}"
        history = ("withheld", f"not sent to {person.user_id}: {reason}")
        fresh_one = await note_once(db, "marking.withheld", obj, detail, now_iso, history=history)
        # The sender is never told about themselves (it was theirs to read: a re-mark since).
        if fresh_one and person.user_id != (origin or {}).get("user_id"):
            fresh.append((person.label, reason))
    if not fresh or not origin or not origin.get("user_id"):
        return []
    where = await notice_target(db, origin)
    lang = await reader_language(db, default_language or current(), user_id=origin["user_id"])
    body = withheld_notice(obj, marking, fresh, lang)
    return [OutMessage(body=body, mentions=(origin["user_id"],), **where)]


# -- listings and digests: one message, many objects ------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who a listing or digest reaches, for its marked lines.

    A message that mixes objects cannot carry one marking, so each line is decided here.
    A line not released to the person who asked is left out entirely, wherever they ask (they
    learn nothing of it, and no count includes it). In a direct chat the rest is shown in full;
    in a room, whose members are known only when the outbox sends, a marked line is its ID
    and marking only (ask in a direct chat for the rest) - the simplest rule that never leaks.
    """

    policy: Policy
    person: Subject | None  # who asked (a DM's person); None: nobody, e.g. a room's digest
    room: bool = False  # the message goes to a room (always so when person is None)

    def shows(self, marking: Marking | None) -> str:
        """`full`, `id` (the ID and the marking, nothing of the content) or `none`."""
        if self.policy.covers(marking, Subject("")):  # unmarked: no nation needed
            return "full"
        if self.person is not None and not self.policy.covers(marking, self.person):
            return "none"
        if self.room or self.person is None:
            return "id"
        return "full"


async def reader_for(db: aiosqlite.Connection, settings: Any, user_id: str | None) -> Reader:
    """A reader for a direct message to `user_id`, or for a room when None."""
    person = (await subjects(db, [user_id]))[0] if user_id else None
    return Reader(Policy.from_settings(settings), person, room=user_id is None)


async def reader_here(ctx: Context) -> Reader:
    """The reader of a reply to this command: the sender, in their direct chat with the bot
    or in a room (then also the room)."""
    async with ctx.db.execute(
        "SELECT 1 FROM dm_rooms WHERE user_id = ? AND room_id = ?", (ctx.sender, ctx.room_id)
    ) as cur:
        direct = await cur.fetchone() is not None
    person = (await subjects(ctx.db, [ctx.sender]))[0]
    return Reader(Policy.from_settings(ctx.settings), person, room=not direct)


def withheld_cell(marking: Marking) -> str:
    """What a room sees of a marked object in a listing, instead of its content."""
    return _("({level}: not shown here; ask me in a direct chat)", level=marking.level)
