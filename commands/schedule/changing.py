"""!edit and !cancel V/M/R-n: the creator (or an admin) changes or drops an item."""

from __future__ import annotations

from commands.context import Context
from commands.directory.service import people_of
from commands.errors import UserError
from commands.i18n import _, language
from commands.ids import ObjectId
from commands.markings.entries import remarked
from commands.markings.model.policy import marking_example
from commands.markings.parties import refuse_uncovered
from commands.markings.wiring import marking_for
from commands.registry import handles
from commands.schedule.arguments import check_repeat, parse_with
from commands.schedule.model import (
    COMMAND_OF,
    EDIT_KEYS,
    KIND_NAMES,
    parse_end,
    parse_leads,
    parse_repeat,
)
from commands.schedule.notices import (
    cancelled_notice,
    tell_participants,
    tell_remarked,
    updated_notice,
)
from commands.schedule.rsvp import reset_for_new_time
from commands.schedule.rsvp_rules import ANSWER_KINDS
from commands.schedule.store import Item, record_step, reschedule, save_item, unschedule_item
from commands.schedule.views import visible_item
from commands.time import parse_when


def _may_change(ctx: Context, item: Item, verb: str) -> None:
    if ctx.is_admin or ctx.sender == item.creator:
        return
    values = {"creator": item.creator, "code": item.code, "prefix": ctx.prefix}
    if verb == "cancel":
        message = _(
            "Only {creator} (who created {code}) or an admin may cancel it. "
            "Ask them; {prefix}show {code} shows it.",
            **values,
        )
    else:
        message = _(
            "Only {creator} (who created {code}) or an admin may edit it. "
            "Ask them; {prefix}show {code} shows it.",
            **values,
        )
    raise UserError(message)


@handles("cancel", *KIND_NAMES)
async def cancel_scheduled(ctx: Context, oid: ObjectId, *, reason: str | None) -> None:
    kind, number = oid.kind, oid.number
    item = await visible_item(ctx, kind, number)
    _may_change(ctx, item, "cancel")
    if item.state == "cancelled":
        raise UserError(
            _(
                "{code} is already cancelled. {prefix}show {code} shows its history.",
                code=item.code,
                prefix=ctx.prefix,
            )
        )
    await unschedule_item(ctx, item)
    item.state = "cancelled"
    item.next_at = None
    await save_item(ctx, item)
    reason = reason or ""
    await record_step(ctx, item, "cancel", reason, under=item.marking)
    ctx.reply(cancelled_notice(item, reason), **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        mentions = await people_of(ctx.db, item.participants)
        with language(await ctx.language_for(room_id=item.room_id)):
            text = cancelled_notice(item, reason)
        ctx.send(text, room_id=item.room_id, mentions=tuple(mentions), **item.marked)
    if item.participants:
        await tell_participants(ctx, item, "cancel", reason)


@handles(
    "edit",
    *KIND_NAMES,
    keys=EDIT_KEYS,
    example=lambda now, oid: _edit_example("!", str(oid)),
)
async def edit_scheduled(ctx: Context, oid: ObjectId, *, changes: dict[str, str]) -> None:
    kind, number = oid.kind, oid.number
    assert ctx.person is not None
    item = await visible_item(ctx, kind, number)
    _may_change(ctx, item, "edit")
    if item.state != "active":
        raise UserError(
            _(
                "{code} is cancelled; it cannot be edited. {prefix}show {code} shows its history.",
                code=item.code,
                prefix=ctx.prefix,
            )
        )
    example = _edit_example(ctx.prefix, item.code)
    times = (item.start, item.end, item.zone, item.rrule)
    try:
        duration = item.duration
        if "title" in changes:
            if not changes["title"]:
                raise ValueError(_("the title cannot be empty"))
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
                raise ValueError(_("a reminder fires at its time; lead= is for visits/meetings"))
            item.leads = parse_leads(changes["lead"])
        if "repeat" in changes:
            item.rrule = parse_repeat(changes["repeat"])
        if item.rrule and ("repeat" in changes or "start" in changes):
            item.rrule = check_repeat(ctx, item.rrule, item.start, item.zone)
    except ValueError as exc:
        raise UserError(f"{exc}.".replace("..", "."), example=example) from None
    had = set(await people_of(ctx.db, item.participants))
    if "with" in changes:
        item.participants = await parse_with(ctx.db, changes["with"])
    old_marking = item.marking
    if ("marking" in changes or "rel" in changes) and kind != "R":
        item.marking = await marking_for(
            ctx,
            changes.get("marking"),
            changes.get("rel"),
            what=COMMAND_OF[kind],
            example=_(
                "{prefix}edit {code} marking={marking} rel=FRA,DEU",
                prefix=ctx.prefix,
                code=item.code,
                marking=marking_example(ctx.settings),
            ),
            own=item.marking,
        )
    if kind != "R" and {"with", "marking", "rel"} & set(changes):
        await refuse_uncovered(
            ctx, item.marking, item.participants, what=COMMAND_OF[kind], role="participant"
        )
    await reschedule(ctx, item)
    await save_item(ctx, item)
    await record_step(
        ctx,
        item,
        "edit",
        ", ".join(sorted(changes)),
        under=remarked(ctx, old_marking, item.marking),
    )
    moved = kind in ANSWER_KINDS and times != (item.start, item.end, item.zone, item.rrule)
    cleared = await reset_for_new_time(ctx, item) if moved else {}
    reply = updated_notice(item, ctx.person.timezone)
    if moved and item.participants:
        reply += "\n" + _(
            "The time changed: earlier answers are cleared and the participants are asked again."
        )
    ctx.reply(reply, **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        with language(await ctx.language_for(room_id=item.room_id)):
            text = updated_notice(item, ctx.person.timezone)
        ctx.send(text, room_id=item.room_id, **item.marked)
    if item.participants and item.marking == old_marking:
        added = frozenset(await people_of(ctx.db, item.participants)) - had
        await tell_participants(ctx, item, "edit", invited=added, reset=cleared)
    if item.marking != old_marking:
        still = await tell_remarked(ctx, item, old_marking)
        if moved and item.participants and still:
            # Re-marked and moved: whoever may still read it is asked again, once.
            await tell_participants(ctx, item, "edit", reset=cleared, only=still)


def _edit_example(prefix: str, code: str) -> str:
    # TRANSLATORS: keep "edit", "start=" and "place="; the time must be one the bot reads in
    # your language (demain 10:00, morgen 10:00); translate "Room 3".
    return _("{prefix}edit {code} start=tomorrow 10:00 place=Room 3", prefix=prefix, code=code)
