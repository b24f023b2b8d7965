"""Scheduling commands: !visit, !meeting, !remind, and !cancel / !edit V/M/R-n."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiosqlite

from commands.context import Context
from commands.directory.service import canonical_target, people_of, post_exists
from commands.errors import UserError
from commands.examples import day
from commands.ids import ObjectId
from commands.markings.model import Marking, Policy, marking_example
from commands.markings.routing import remark_messages
from commands.markings.store import subjects
from commands.markings.wiring import marking_for
from commands.recurrence import check_rule
from commands.registry import Option, Param, command, handles
from commands.schedule.model import (
    COMMAND_OF,
    DEFAULT_LEADS,
    DM,
    EDIT_KEYS,
    KIND_NAMES,
    parse_end,
    parse_leads,
    parse_repeat,
    reads_as_time,
    split_when_text,
)
from commands.schedule.store import Item, record_step, reschedule, save_item, unschedule_item
from commands.schedule.views import summary_lines, visible_item
from commands.timeparse import (
    fmt,
    parse_when,
)


def _check_repeat(ctx: Context, rule: str, start: datetime, zone: str) -> str:
    """Every rule, typed or built from words, passes the same checks before it is stored."""
    tz = ZoneInfo(zone)
    return check_rule(
        rule,
        start.astimezone(tz).replace(tzinfo=None),
        ctx.now.astimezone(tz).replace(tzinfo=None),
        timedelta(seconds=ctx.settings.min_recurrence_interval),
    )


async def _parse_with(db: aiosqlite.Connection, text: str) -> list[str]:
    """Participants: people and posts, read by the directory's one target parser."""
    example = "!meeting tomorrow 10:00 with=@alice:example.org,FR-PARIS -- Review"
    found: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            kind, key = canonical_target(part)
        except ValueError as exc:
            raise UserError(f"with: {exc}.", example=example) from None
        if kind == "post" and not await post_exists(db, key):
            raise UserError(
                f"with: {part[:40]!r} is neither a Matrix ID nor a known post. "
                "Check it with !whois <code>, or write a full ID like @alice:example.org.",
                example=example,
            )
        found.append(key)
    return list(dict.fromkeys(found))


# -- commands ------------------------------------------------------------------------------------

_WHEN_HELP = (
    "start, read in your zone: tomorrow 09:30, next Tuesday 14:00, "
    "YYYY-MM-DD 10:00 Europe/Berlin, in 2h, every Monday 09:00"
)
_ITEM_OPTIONS = [
    Option("end", "end time: 15:30, a duration like 1h30m, or a full date and time"),
    Option("place", 'where; quote it if it has spaces: place="NATO HQ, room 3"'),
    Option("with", "participants: Matrix IDs and/or post codes, comma-separated"),
    Option("lead", "reminders before the start, e.g. 1d,1h,15m (default) or none"),
    Option("repeat", 'recurrence: "every Monday", weekly, "every 2 weeks", or an RRULE'),
    Option("marking", "handling marking, e.g. RESTRICTED (default: the deployment's)"),
    Option("rel", "releasable to: nations or groups, e.g. FRA,DEU or FVEY"),
]


@dataclass(frozen=True)
class Draft:
    """What a visit, meeting or reminder command typed, before it is read."""

    when: str
    title: str
    end: str | None = None
    place: str | None = None
    with_: str | None = None
    lead: str | None = None
    repeat: str | None = None
    marking: str | None = None
    rel: str | None = None


async def _create(ctx: Context, kind: str, draft: Draft, room_id: str | None = None) -> None:
    assert ctx.person is not None
    spec = ctx.registry.find(COMMAND_OF[kind])
    example = spec.example_at(ctx.now, ctx.prefix) if spec else None
    try:
        when = parse_when(draft.when or "", ctx.person.timezone, ctx.now)
        rule = when.rrule
        if draft.repeat:
            rule = parse_repeat(draft.repeat)
        try:
            leads = parse_leads(draft.lead) if draft.lead else list(DEFAULT_LEADS)
        except ValueError as exc:
            raise ValueError(f"lead: {exc}") from None
        end = parse_end(draft.end, when.start, when.zone, ctx.now) if draft.end else None
        if rule:
            rule = _check_repeat(ctx, rule, when.start, when.zone)
    except ValueError as exc:
        raise UserError(str(exc), example=example) from None
    mark = None
    if kind != "R":  # a reminder is the person's own note
        mark = await marking_for(
            ctx,
            draft.marking,
            draft.rel,
            what=COMMAND_OF[kind],
            example=f"{ctx.prefix}{COMMAND_OF[kind]} {day(ctx.now, 10)} 10:00 -- Liaison "
            f"visit marking={marking_example(ctx.settings)} rel=FRA,DEU",
            posts=await _parse_with(ctx.db, draft.with_) if draft.with_ else [],
            room_id=None if room_id == DM else room_id or ctx.room_id,
        )
    item = Item(
        id=0,
        kind=kind,
        number=0,
        title=draft.title,
        start=when.start,
        end=end,
        zone=when.zone,
        rrule=rule,
        place=(draft.place or "").strip(),
        leads=leads if kind != "R" else [timedelta(0)],
        room_id=None if room_id == DM else room_id or ctx.room_id,
        creator=ctx.sender,
        state="active",
        next_at=None,
        participants=await _parse_with(ctx.db, draft.with_) if draft.with_ else [],
        marking=mark,
    )
    await save_item(ctx, item)
    scheduled = await reschedule(ctx, item)
    await save_item(ctx, item)
    await record_step(ctx, item, "create", fmt(item.start, item.zone))
    lines = [f"Scheduled {item.code}: {item.title}", *summary_lines(item, ctx.person.timezone)]
    if scheduled == 0 and item.leads:
        lines.append("No reminder: every lead time is already past.")
    lines.append(
        f"Change it with {ctx.prefix}edit {item.code} …, drop it with "
        f"{ctx.prefix}cancel {item.code}."
    )
    ctx.reply("\n".join(lines), **item.marked)


@command(
    "visit",
    summary="Schedule a visit (reminders go to this room)",
    example=lambda now: (
        f'!visit {day(now, 10)} 10:00 Europe/Berlin end=16:00 place="Bundeswehr HQ" '
        "-- Liaison visit"
    ),
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", "what it is"),
    details="Times are read in your zone (!tz) unless a zone ends the start.",
)
async def visit(
    ctx: Context,
    *,
    when: str,
    end: str | None,
    place: str | None,
    with_: str | None,
    lead: str | None,
    repeat: str | None,
    title: str,
    marking: str | None,
    rel: str | None,
) -> None:
    await _create(ctx, "V", Draft(when, title, end, place, with_, lead, repeat, marking, rel))


@command(
    "meeting",
    summary="Schedule a meeting (reminders go to this room and mention participants)",
    example="!meeting every Monday 09:00 with=@bob:example.org,FR-PARIS -- Weekly sync",
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", "what it is"),
    details="Times are read in your zone (!tz) unless a zone ends the start.",
)
async def meeting(
    ctx: Context,
    *,
    when: str,
    end: str | None,
    place: str | None,
    with_: str | None,
    lead: str | None,
    repeat: str | None,
    title: str,
    marking: str | None,
    rel: str | None,
) -> None:
    await _create(ctx, "M", Draft(when, title, end, place, with_, lead, repeat, marking, rel))


@command(
    "remind",
    summary="Remind you (here, or in your DM with to=me) at a time",
    example="!remind tomorrow 09:30 -- call Paris",
    params=[Param("when", "the time, then the text (or put the text after --)", rest=True)],
    options=[
        Option("to", "me: in your DM with the bot; here (default): in this room"),
        Option("repeat", 'recurrence: "every Monday", daily, or an RRULE'),
    ],
    body=Param("text", "what to remind you of", optional=True),
    details="Without --, the longest start of the text that reads as a time is the time: "
    "!remind in 2h call Paris.",
)
async def remind(
    ctx: Context, *, when: str, to: str | None, repeat: str | None, text: str | None
) -> None:
    assert ctx.person is not None
    words = (when or "").split()
    example = "!remind tomorrow 09:30 -- call Paris"
    if text is None:
        if words and reads_as_time(" ".join(words), ctx.person.timezone, ctx.now):
            raise UserError(
                "What should I remind you of? Put the text after the time.", example=example
            )
        when_text, text = split_when_text(words, ctx.person.timezone, ctx.now)
        if not text:
            raise UserError(
                "What should I remind you of? Put the text after the time.", example=example
            )
        when = when_text
    if not words:
        raise UserError("Missing the time.", example=example)
    target = (to or "here").lower()
    if target not in ("me", "here"):
        raise UserError("to= takes me or here.", example="!remind in 2h to=me -- call Paris")
    draft = Draft(when, text, repeat=repeat)
    await _create(ctx, "R", draft, room_id=DM if target == "me" else None)


def _may_change(ctx: Context, item: Item, verb: str) -> None:
    if not (ctx.is_admin or ctx.sender == item.creator):
        raise UserError(
            f"Only {item.creator} (who created {item.code}) or an admin may {verb} it. "
            f"Ask them; {ctx.prefix}show {item.code} shows it."
        )


@handles("cancel", *KIND_NAMES)
async def cancel_scheduled(ctx: Context, oid: ObjectId, *, reason: str | None) -> None:
    kind, number = oid.kind, oid.number
    item = await visible_item(ctx, kind, number)
    _may_change(ctx, item, "cancel")
    if item.state == "cancelled":
        raise UserError(
            f"{item.code} is already cancelled. {ctx.prefix}show {item.code} shows its history."
        )
    await unschedule_item(ctx, item)
    item.state = "cancelled"
    item.next_at = None
    await save_item(ctx, item)
    reason = reason or ""
    await record_step(ctx, item, "cancel", reason)
    text = f"Cancelled {item.code}: {item.title}" + (f" — {reason}" if reason else "")
    ctx.reply(text, **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        mentions = await people_of(ctx.db, item.participants)
        ctx.send(text, room_id=item.room_id, mentions=tuple(mentions), **item.marked)


@handles(
    "edit",
    *KIND_NAMES,
    keys=EDIT_KEYS,
    example=lambda now, oid: f"!edit {oid} start=tomorrow 10:00 place=Room 3",
)
async def edit_scheduled(ctx: Context, oid: ObjectId, *, changes: dict[str, str]) -> None:
    kind, number = oid.kind, oid.number
    assert ctx.person is not None
    item = await visible_item(ctx, kind, number)
    _may_change(ctx, item, "edit")
    if item.state != "active":
        raise UserError(f"{item.code} is {item.state}; it cannot be edited.")
    example = f"{ctx.prefix}edit {item.code} start=tomorrow 10:00 place=Room 3"
    try:
        duration = item.duration
        if "title" in changes:
            if not changes["title"]:
                raise ValueError("the title cannot be empty")
            item.title = changes["title"]
        if "start" in changes:
            when = parse_when(changes["start"], ctx.person.timezone, ctx.now)
            item.start, item.zone = when.start, when.zone
            if when.rrule:
                item.rrule = when.rrule
            item.end = item.start + duration if duration else None
        if "end" in changes:
            item.end = (
                None
                if changes["end"].lower() == "none"
                else parse_end(changes["end"], item.start, item.zone, ctx.now)
            )
        if "place" in changes:
            item.place = changes["place"]
        if "lead" in changes:
            if kind == "R":
                raise ValueError("a reminder fires at its time; lead= is for visits/meetings")
            item.leads = parse_leads(changes["lead"])
        if "repeat" in changes:
            item.rrule = parse_repeat(changes["repeat"])
        if item.rrule and ("repeat" in changes or "start" in changes):
            item.rrule = _check_repeat(ctx, item.rrule, item.start, item.zone)
    except ValueError as exc:
        raise UserError(f"{exc}.".replace("..", "."), example=example) from None
    if "with" in changes:
        item.participants = await _parse_with(ctx.db, changes["with"])
    old_marking = item.marking
    if ("marking" in changes or "rel" in changes) and kind != "R":
        item.marking = await marking_for(
            ctx,
            changes.get("marking"),
            changes.get("rel"),
            what=COMMAND_OF[kind],
            example=f"{ctx.prefix}edit {item.code} marking={marking_example(ctx.settings)} "
            "rel=FRA,DEU",
            own=item.marking,
        )
    await reschedule(ctx, item)
    await save_item(ctx, item)
    await record_step(ctx, item, "edit", ", ".join(sorted(changes)))
    text = "\n".join(
        [f"Updated {item.code}: {item.title}", *summary_lines(item, ctx.person.timezone)]
    )
    ctx.reply(text, **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        ctx.send(text, room_id=item.room_id, **item.marked)
    if item.marking != old_marking:
        await _remark(ctx, item, old_marking, text)


async def _remark(ctx: Context, item: Item, old: Marking | None, text: str) -> None:
    """Re-check everyone who already has the item (its creator and participants): those no
    longer covered are told it was re-marked, nothing more; the newly covered get it now.
    The item's room is checked again by the outbox with each message about it."""
    policy = Policy.from_settings(ctx.settings)
    concerned = sorted({item.creator, *await people_of(ctx.db, item.participants)} - {ctx.sender})
    people = await subjects(ctx.db, concerned)
    holders = [p for p in people if policy.covers(old, p)]
    told, newly = remark_messages(policy, item.code, old, item.marking, holders, people)
    for message in told:
        ctx.send(message.body, user_id=message.user_id, origin=ctx.origin(item.code))
    for subject in newly:
        ctx.send(
            f"{item.code} is now releasable to you.\n{text}",
            user_id=subject.user_id,
            origin=ctx.origin(item.code),
            **item.marked,
        )
