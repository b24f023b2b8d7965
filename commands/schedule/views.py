"""Showing scheduled items: who may see one, the summary, !agenda, !ics and !show V/M/R-n."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands import history, ics
from commands.context import Attachment, Context
from commands.directory.service import people_of
from commands.errors import NotFound, UserError
from commands.ids import ObjectId
from commands.markings.store import reader_here, withheld_cell
from commands.people import zones_of
from commands.registry import Param, command, handles
from commands.render import person, table
from commands.schedule.model import AGENDA_ROWS, KIND_NAMES, who
from commands.schedule.store import COLUMNS, Item, item_from_row, load_item
from commands.timeparse import (
    describe_rule,
    fmt,
    fmt_zones,
    format_duration,
)


async def zones_for(ctx: Context, users: list[str]) -> list[str]:
    zones = await zones_of(ctx.db, users, ctx.settings.timezone)
    return [zones[u] for u in users]


async def _may_see(ctx: Context, item: Item) -> bool:
    if ctx.is_admin or ctx.sender == item.creator or ctx.sender in item.participants:
        return True
    if item.room_id is not None and ctx.room_id == item.room_id:
        return True
    return ctx.sender in await people_of(ctx.db, item.participants)


async def visible_item(ctx: Context, kind: str, number: int) -> Item:
    item = await load_item(ctx.db, kind, number)
    if item is None or not await _may_see(ctx, item):
        raise NotFound(f"No {kind}-{number} that you can see. Send !agenda for what is coming up.")
    return item


def summary_lines(item: Item, reader_zone: str) -> list[str]:
    zones = [item.zone]
    when = fmt_zones(item.next_at or item.start, reader_zone, zones)
    lines = [f"When: {when}"]
    if item.duration:
        lines[-1] += f", for {format_duration(item.duration)}"
    if item.rrule:
        lines.append(f"Repeats: {describe_rule(item.rrule)} (in {item.zone})")
    if item.place:
        lines.append(f"Place: {item.place}")
    if item.participants:
        lines.append(f"With: {', '.join(who(p) for p in item.participants)}")
    leads = ", ".join(format_duration(d) for d in item.leads) or "none"
    if item.kind != "R":
        lines.append(f"Reminders: {leads} before")
    return lines


@command(
    "agenda",
    summary="What is coming up, in your time zone",
    example="!agenda 14",
    params=[Param("days", "how many days ahead (1–90, default 7)", convert=int, optional=True)],
)
async def agenda(ctx: Context, *, days: int | None) -> None:
    assert ctx.person is not None
    days = days or 7
    if not 1 <= days <= 90:
        raise UserError("days: give a number from 1 to 90.", example="!agenda 14")
    zone = ctx.person.timezone
    entries = await _agenda(ctx, days)
    if not entries:
        ctx.reply(f"Nothing scheduled in the next {days} days.")
        return
    shown_days = f"next {days} days"
    if len(entries) >= AGENDA_ROWS:
        last = fmt(entries[-1][0], zone).rsplit(" ", 1)[0]
        shown_days = (
            f"the first {AGENDA_ROWS} entries, up to {last}; for less, ask fewer days, "
            f"e.g. {ctx.prefix}agenda 2"
        )
    reader = await reader_here(ctx)
    rows = []
    for occ, item in entries:
        shown = reader.shows(item.marking)
        if shown == "none":
            continue  # not releasable to the reader: not even its existence
        there = _local_there(occ, item.zone, zone)
        what, where = item.title, item.place
        if shown == "id" and item.marking is not None:
            what, where = withheld_cell(item.marking), ""
        mark = item.marking.banner if item.marking else "-"
        rows.append([item.code, mark, fmt(occ, zone).rsplit(" ", 1)[0], there, what, where])
    head = ["id", "marking", "when", "local time there", "what", "where"]
    if all(r[1] == "-" for r in rows):  # an unmarked deployment's agenda stays as it was
        head.pop(1)
        rows = [[r[0], *r[2:]] for r in rows]
    ctx.reply(
        table(
            f"Agenda: {shown_days} (times in {zone})",
            head,
            rows,
            footer=f"{ctx.prefix}show <id> for details, {ctx.prefix}ics agenda for a calendar.",
        )
    )


def _local_there(occ: datetime, zone: str, reader_zone: str) -> str:
    if zone == reader_zone:
        return ""
    there, here = occ.astimezone(ZoneInfo(zone)), occ.astimezone(ZoneInfo(reader_zone))
    shown = (
        there.strftime("%H:%M") if there.date() == here.date() else there.strftime("%a %d %b %H:%M")
    )
    return f"{shown} {zone}"


async def _agenda(
    ctx: Context, days: int, rows_max: int = AGENDA_ROWS, per_item: int = AGENDA_ROWS
) -> list[tuple[datetime, Item]]:
    """The first `rows_max` occurrences in the next `days` days, earliest first.

    Each item is expanded only up to the latest entry still among the first `rows_max`, so
    many hourly items cost about what one does, not items × days × 24.
    """
    until = ctx.now + timedelta(days=days)
    async with ctx.db.execute(
        f"SELECT {COLUMNS} FROM schedule_items i WHERE state = 'active' ORDER BY id"
    ) as cur:
        rows = await cur.fetchall()
    entries: list[tuple[datetime, Item]] = []
    for row in rows:
        item = item_from_row(row)
        if not await _may_see(ctx, item):
            continue
        cutoff = entries[-1][0] + timedelta(seconds=1) if len(entries) >= rows_max else until
        occurrences = item.occurrences(ctx.now, min(cutoff, until), per_item)
        entries += [(occ, item) for occ in occurrences]
        entries.sort(key=lambda e: (e[0], e[1].code))
        del entries[rows_max:]
    return entries


@command(
    "ics",
    summary="An iCalendar file of one item, or of your agenda",
    example="!ics M-3",
    params=[
        Param("what", "an ID (V-n, M-n, R-n) or the word agenda"),
        Param("days", "for agenda: days ahead (default 30)", convert=int, optional=True),
    ],
)
async def ics_(ctx: Context, *, what: str, days: int | None) -> None:
    what = what.strip()
    if what.lower() == "agenda":
        days = days or 30
        if not 1 <= days <= 366:
            raise UserError("days: give a number from 1 to 366.", example="!ics agenda 30")
        seen: dict[str, Item] = {}
        reader = await reader_here(ctx)
        for _, item in await _agenda(ctx, days, rows_max=1_000, per_item=1):
            if reader.shows(item.marking) == "full":  # a calendar of what you may hold
                seen.setdefault(item.code, item)
        items = list(seen.values())
        name = "agenda.ics"
        if not items:
            ctx.reply(f"Nothing scheduled in the next {days} days; no file sent.")
            return
    else:
        match = re.fullmatch(r"([VMRvmr])-(\d{1,9})", what)
        if not match:
            raise UserError(
                f"{what[:30]!r} is not an ID like M-3, or the word agenda.", example="!ics M-3"
            )
        items = [await visible_item(ctx, match[1].upper(), int(match[2]))]
        name = f"{items[0].code}.ics"
    host = ctx.settings.user_id.split(":", 1)[1]
    data = ics.calendar(
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
            )
            for item in items
        ]
    )
    count = f"{len(items)} item{'s' if len(items) != 1 else ''}"
    # One item's file carries its marking (the outbox routes it like any message about it).
    marked = items[0].marked if len(items) == 1 else {}
    ctx.reply(f"{name}: {count}", attachment=Attachment(name, "text/calendar", data), **marked)


# -- generic verbs ---------------------------------------------------------------------------------


@handles("show", *KIND_NAMES)
async def show_scheduled(ctx: Context, oid: ObjectId) -> None:
    kind, number = oid.kind, oid.number
    assert ctx.person is not None
    item = await visible_item(ctx, kind, number)
    state = "" if item.state == "active" else f" ({item.state})"
    lines = [f"{item.code} {KIND_NAMES[kind]}{state}: {item.title}"]
    lines += summary_lines(item, ctx.person.timezone)
    if item.marking:
        lines.append(f"Marking: {item.marking.banner}")
    where = "your DM" if item.room_id is None else "the room it was scheduled in"
    lines.append(f"Created by {person(item.creator)}; reminders go to {where}.")
    steps = await history.of(ctx.db, ObjectId(kind, number))
    if steps:
        lines.append("History:")
        for h in steps:
            who = person(h.actor) if h.actor.startswith("@") else h.actor
            at = fmt(h.at, ctx.person.timezone)
            lines.append(f"  {at} {who} {h.action} {h.detail or ''}".rstrip())
    ctx.reply("\n".join(lines), **item.marked)
