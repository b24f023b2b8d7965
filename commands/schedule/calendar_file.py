"""`!ics`: one scheduled item, or the reader's agenda, as an iCalendar file carrying the
combined marking of what it holds, each attendee with their answer (PARTSTAT)."""

from __future__ import annotations

import asyncio
import re

from commands import ics
from commands.context import Attachment, Context
from commands.directory.service import people_of_each
from commands.errors import UserError
from commands.i18n import N_, _, ngettext
from commands.markings.model.policy import Policy
from commands.markings.store import reader_here
from commands.registry import Param, command
from commands.schedule.rsvp_rules import ANSWER_KINDS, PARTSTAT
from commands.schedule.rsvp_store import answers_for
from commands.schedule.store import Item
from commands.schedule.views import agenda_entries, visible_item


@command(
    "ics",
    summary=N_("An iCalendar file of one item, or of your agenda"),
    example="!ics M-3",
    params=[
        Param("what", N_("an ID (V-n, M-n, R-n) or the word agenda")),
        Param("days", N_("for agenda: days ahead (default 30)"), convert=int, optional=True),
    ],
    reads_only=True,
)
async def ics_(ctx: Context, *, what: str, days: int | None) -> None:
    what = what.strip()
    if what.lower() == "agenda":
        days = days or 30
        if not 1 <= days <= 366:
            raise UserError(
                _("days: give a number from {low} to {high}.", low=1, high=366),
                example="!ics agenda 30",
            )
        seen: dict[str, Item] = {}
        reader = await reader_here(ctx)
        for _occ, item in await agenda_entries(ctx, days, reader, rows_max=1_000, per_item=1):
            if reader.shows(item.marking) == "full":  # a calendar of what you may hold
                seen.setdefault(item.code, item)
        items = list(seen.values())
        name = "agenda.ics"
        if not items:
            ctx.reply(
                ngettext(
                    "Nothing scheduled in the next {n} day; no file sent.",
                    "Nothing scheduled in the next {n} days; no file sent.",
                    days,
                )
            )
            return
    else:
        match = re.fullmatch(r"([VMRvmr])-(\d{1,9})", what)
        if not match:
            raise UserError(
                _("{what} is not an ID like M-3, or the word agenda.", what=repr(what[:30])),
                example="!ics M-3",
            )
        items = [await visible_item(ctx, match[1].upper(), int(match[2]))]
        name = f"{items[0].code}.ics"
    host = ctx.settings.user_id.split(":", 1)[1]
    partstats = await _partstats(ctx, items)
    # The file carries the combined marking of what it holds, and is routed by it (by the
    # items' markings as they are when it is sent).
    combined = Policy.from_settings(ctx.settings).combine(item.marking for item in items)
    # Made in a thread: ~15 ms for a year's file on a quiet machine, during which the event
    # loop stays free for other rooms (and, reads_only, no write transaction is held).
    data = await asyncio.to_thread(
        ics.calendar,
        [
            ics.IcsEvent(
                uid=f"{item.code}@{host}",
                code=item.code,
                title=item.title,
                start=item.start,
                end=item.end,
                zone=item.zone,
                place=item.place,
                rrule=item.rrule,
                attendees=item.participants,
                stamp=ctx.now,
                cancelled=item.state == "cancelled",
                leads=item.leads,
                marking=item.marking.banner if item.marking else None,
                partstats=partstats.get(item.id),
            )
            for item in items
        ],
        marking=combined.banner if combined is not None else None,
    )
    text = ngettext("{name}: {n} item", "{name}: {n} items", len(items), name=name)
    marked = (
        items[0].marked
        if len(items) == 1
        else {"marking": combined, "about": name, "holds": tuple(i.code for i in items)}
    )
    ctx.reply(text, attachment=Attachment(name, "text/calendar", data), **marked)


async def _partstats(ctx: Context, items: list[Item]) -> dict[int, tuple[tuple[str, str], ...]]:
    """Each answered item's (Matrix ID, PARTSTAT) pairs for its ATTENDEE lines: its
    participants' answers (the members of a post among them); unanswered items are absent."""
    answers = await answers_for(ctx.db, [i.id for i in items if i.kind in ANSWER_KINDS])
    answered = [item for item in items if answers.get(item.id)]
    # The participants of every answered item in one query (a year's file holds hundreds).
    people_lists = await people_of_each(ctx.db, [item.participants for item in answered])
    found: dict[int, tuple[tuple[str, str], ...]] = {}
    for item, people in zip(answered, people_lists, strict=True):
        mine = answers[item.id]
        pairs = tuple((u, PARTSTAT[mine[u].state]) for u in people if u in mine)
        if pairs:
            found[item.id] = pairs
    return found
