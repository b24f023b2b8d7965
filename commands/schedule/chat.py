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
from commands.i18n import N_, _, language, pgettext
from commands.ids import ObjectId
from commands.markings.model import Marking, Policy, marking_example, remarked_notice
from commands.markings.parties import refuse_uncovered
from commands.markings.routing import remark_messages
from commands.markings.store import subjects
from commands.markings.wiring import marking_for
from commands.registry import Option, Param, command, handles
from commands.render import person
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
    remind_example,
    split_when_text,
)
from commands.schedule.reach import item_room
from commands.schedule.store import Item, record_step, reschedule, save_item, unschedule_item
from commands.schedule.views import summary_lines, visible_item, zones_for
from commands.time import (
    fmt,
    parse_when,
)
from commands.time.recurrence import check_rule


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
    # TRANSLATORS: an example command: keep "!meeting", "with=" and "--"; the time must be
    # one the bot reads in your language (demain 10:00, morgen 10:00).
    example = _("!meeting tomorrow 10:00 with=@alice:example.org,FR-PARIS -- Review")
    found: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            kind, key = canonical_target(part)
        except ValueError as exc:
            raise UserError(_("with: {error}.", error=exc), example=example) from None
        if kind == "post" and not await post_exists(db, key):
            raise UserError(
                _(
                    "with: {target} is neither a Matrix ID nor a known post. "
                    "Check it with !whois <code>, or write a full ID like @alice:example.org.",
                    target=repr(part[:40]),
                ),
                example=example,
            )
        found.append(key)
    return list(dict.fromkeys(found))


# -- commands ------------------------------------------------------------------------------------

_WHEN_HELP = N_(
    "start, read in your zone: tomorrow 09:30, next Tuesday 14:00, "
    "YYYY-MM-DD 10:00 Europe/Berlin, in 2h, every Monday 09:00"
)
_ITEM_OPTIONS = [
    Option("end", N_("end time: 15:30, a duration like 1h30m, or a full date and time")),
    Option("place", N_('where; quote it if it has spaces: place="NATO HQ, room 3"')),
    Option("with", N_("participants: Matrix IDs and/or post codes, comma-separated")),
    Option("lead", N_("reminders before the start, e.g. 1d,1h,15m (default) or none")),
    Option("repeat", N_('recurrence: "every Monday", weekly, "every 2 weeks", or an RRULE')),
    Option("marking", N_("handling marking, e.g. RESTRICTED (default: the deployment's)")),
    Option("rel", N_("releasable to: nations or groups, e.g. FRA,DEU or FVEY")),
    Option(
        "to",
        N_(
            "here (default): reminders in this room, or in a direct message with me in each "
            "person's own DM; dm: in each person's own DM wherever it is created. Either way "
            "each participant is told in their DM when added, of changes and of a cancellation"
        ),
    ),
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
    to: str | None = None


def _delivery(draft: Draft) -> str | None:
    """to=dm: reminders and notices in each person's DM (DM); to=here or none: this room."""
    target = (draft.to or "here").strip().lower()
    if target not in ("here", "dm"):
        raise UserError(
            _("to= takes here or dm."),
            example=_("!meeting tomorrow 10:00 with=@alice:example.org to=dm -- Review"),
        )
    return DM if target == "dm" else None


async def _create(ctx: Context, kind: str, draft: Draft, room_id: str | None = None) -> None:
    assert ctx.person is not None
    if kind != "R":  # a reminder is the person's own: to=me or here, as typed
        room_id = await item_room(ctx.db, room_id, ctx.room_id) or DM
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
            raise ValueError(_("lead: {error}", error=exc)) from None
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
            example=_(
                "{prefix}{command} {day} 10:00 -- Liaison visit marking={marking} rel=FRA,DEU",
                prefix=ctx.prefix,
                command=COMMAND_OF[kind],
                day=day(ctx.now, 10),
                marking=marking_example(ctx.settings),
            ),
            posts=await _parse_with(ctx.db, draft.with_) if draft.with_ else [],
            room_id=None if room_id == DM else room_id or ctx.room_id,
        )
        with_ = await _parse_with(ctx.db, draft.with_) if draft.with_ else []
        await refuse_uncovered(ctx, mark, with_, what=COMMAND_OF[kind], role="participant")
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
    lines = [
        _("Scheduled {code}: {title}", code=item.code, title=item.title),
        *summary_lines(item, ctx.person.timezone),
    ]
    if scheduled == 0 and item.leads:
        lines.append(_("No reminder: every lead time is already past."))
    lines.append(
        _(
            "Change it with {prefix}edit {code} …, drop it with {prefix}cancel {code}.",
            prefix=ctx.prefix,
            code=item.code,
        )
    )
    ctx.reply("\n".join(lines), **item.marked)
    if item.participants:
        await _tell_participants(ctx, item, "invite")


async def _tell_participants(
    ctx: Context, item: Item, what: str, reason: str = "", invited: frozenset[str] = frozenset()
) -> None:
    """Each participant (people, and the members of posts) is told in their own DM, in their
    own language and zone, that they are in it, that it changed, or that it is off: wherever
    the item was created and wherever its reminders go (commands/schedule/reach.py)."""
    people = [p for p in await people_of(ctx.db, item.participants) if p != ctx.sender]
    zones = dict(zip(people, await zones_for(ctx, people), strict=True))

    def build(user_id: str) -> str:
        if what == "cancel":
            return _cancelled(item, reason)
        if what == "invite" or user_id in invited:
            first = _(
                "{organiser} added you to {code}: {title}",
                organiser=person(item.creator),
                code=item.code,
                title=item.title,
            )
        else:
            first = _(
                "{organiser} changed {code}: {title}",
                organiser=person(ctx.sender),
                code=item.code,
                title=item.title,
            )
        return "\n".join([first, *summary_lines(item, zones[user_id])])

    await ctx.send_each(people, build, origin=ctx.origin(item.code), **item.marked)


def _cancelled(item: Item, reason: str) -> str:
    values = {"code": item.code, "title": item.title, "reason": reason}
    if item.kind == "R":  # German cancels a meeting (absagen), not a reminder (abbrechen)
        if reason:
            return pgettext("reminder", "Cancelled {code}: {title} — {reason}", **values)
        return pgettext("reminder", "Cancelled {code}: {title}", **values)
    if reason:
        return _("Cancelled {code}: {title} — {reason}", **values)
    return _("Cancelled {code}: {title}", **values)


@command(
    "visit",
    summary=N_("Schedule a visit (reminders go to this room)"),
    example=lambda now: _(
        '!visit {day} 10:00 Europe/Berlin end=16:00 place="Bundeswehr HQ" -- Liaison visit',
        day=day(now, 10),
    ),
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", N_("what it is")),
    details=N_("Times are read in your zone (!tz) unless a zone ends the start."),
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
    to: str | None,
) -> None:
    draft = Draft(when, title, end, place, with_, lead, repeat, marking, rel, to)
    await _create(ctx, "V", draft, room_id=_delivery(draft))


@command(
    "meeting",
    summary=N_("Schedule a meeting (reminders go to this room and mention participants)"),
    # TRANSLATORS: keep "!meeting", "every Monday 09:00", "with=" and "--"; translate the title.
    example=N_("!meeting every Monday 09:00 with=@bob:example.org,FR-PARIS -- Weekly sync"),
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", N_("what it is")),
    details=N_("Times are read in your zone (!tz) unless a zone ends the start."),
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
    to: str | None,
) -> None:
    draft = Draft(when, title, end, place, with_, lead, repeat, marking, rel, to)
    await _create(ctx, "M", draft, room_id=_delivery(draft))


@command(
    "remind",
    summary=N_("Remind you (here, or in your DM with to=me) at a time"),
    example=lambda now: remind_example(),
    params=[Param("when", N_("the time, then the text (or put the text after --)"), rest=True)],
    options=[
        Option("to", N_("me: in your DM with the bot; here (default): in this room")),
        Option("repeat", N_('recurrence: "every Monday", daily, or an RRULE')),
    ],
    body=Param("text", N_("what to remind you of"), optional=True),
    details=N_(
        "Without --, the longest start of the text that reads as a time is the time: "
        "!remind in 2h call Paris."
    ),
)
async def remind(
    ctx: Context, *, when: str, to: str | None, repeat: str | None, text: str | None
) -> None:
    assert ctx.person is not None
    words = (when or "").split()
    example = remind_example()
    if text is None:
        if words and reads_as_time(" ".join(words), ctx.person.timezone, ctx.now):
            raise UserError(
                _("What should I remind you of? Put the text after the time."), example=example
            )
        when_text, text = split_when_text(words, ctx.person.timezone, ctx.now)
        if not text:
            raise UserError(
                _("What should I remind you of? Put the text after the time."), example=example
            )
        when = when_text
    if not words:
        raise UserError(_("Missing the time."), example=example)
    target = (to or "here").lower()
    if target not in ("me", "here"):
        raise UserError(
            _("to= takes me or here."),
            # TRANSLATORS: keep "!remind", "in 2h", "to=me" and "--"; translate the text.
            example=_("!remind in 2h to=me -- call Paris"),
        )
    draft = Draft(when, text, repeat=repeat)
    await _create(ctx, "R", draft, room_id=DM if target == "me" else None)


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
    await record_step(ctx, item, "cancel", reason)
    ctx.reply(_cancelled(item, reason), **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        mentions = await people_of(ctx.db, item.participants)
        with language(await ctx.language_for(room_id=item.room_id)):
            text = _cancelled(item, reason)
        ctx.send(text, room_id=item.room_id, mentions=tuple(mentions), **item.marked)
    if item.participants:
        await _tell_participants(ctx, item, "cancel", reason)


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
            item.rrule = _check_repeat(ctx, item.rrule, item.start, item.zone)
    except ValueError as exc:
        raise UserError(f"{exc}.".replace("..", "."), example=example) from None
    had = set(await people_of(ctx.db, item.participants))
    if "with" in changes:
        item.participants = await _parse_with(ctx.db, changes["with"])
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
    await record_step(ctx, item, "edit", ", ".join(sorted(changes)))
    ctx.reply(_updated(item, ctx.person.timezone), **item.marked)
    if item.room_id and item.room_id != ctx.room_id:
        with language(await ctx.language_for(room_id=item.room_id)):
            text = _updated(item, ctx.person.timezone)
        ctx.send(text, room_id=item.room_id, **item.marked)
    if item.participants and item.marking == old_marking:
        added = frozenset(await people_of(ctx.db, item.participants)) - had
        await _tell_participants(ctx, item, "edit", invited=added)
    if item.marking != old_marking:
        await _remark(ctx, item, old_marking)


def _edit_example(prefix: str, code: str) -> str:
    # TRANSLATORS: keep "edit", "start=" and "place="; the time must be one the bot reads in
    # your language (demain 10:00, morgen 10:00); translate "Room 3".
    return _("{prefix}edit {code} start=tomorrow 10:00 place=Room 3", prefix=prefix, code=code)


def _updated(item: Item, zone: str) -> str:
    return "\n".join(
        [_("Updated {code}: {title}", code=item.code, title=item.title), *summary_lines(item, zone)]
    )


async def _remark(ctx: Context, item: Item, old: Marking | None) -> None:
    """Re-check everyone who already has the item (its creator and participants): those no
    longer covered are told it was re-marked, nothing more; the newly covered get it now.
    The item's room is checked again by the outbox with each message about it."""
    policy = Policy.from_settings(ctx.settings)
    concerned = sorted({item.creator, *await people_of(ctx.db, item.participants)} - {ctx.sender})
    people = await subjects(ctx.db, concerned)
    holders = [p for p in people if policy.covers(old, p)]
    told, newly = remark_messages(policy, item.code, old, item.marking, holders, people)
    # Each in their own language (the notices were built in the editor's).
    await ctx.send_each(
        [m.user_id for m in told if m.user_id],
        lambda _user: remarked_notice(item.code, item.marking),
        origin=ctx.origin(item.code),
    )
    zones = dict(zip(concerned, await zones_for(ctx, concerned), strict=True))

    def releasable(user_id: str) -> str:
        return "\n".join(
            [
                _("{code} is now releasable to you.", code=item.code),
                *_updated(item, zones.get(user_id, ctx.settings.timezone)).split("\n"),
            ]
        )

    await ctx.send_each(
        [s.user_id for s in newly], releasable, origin=ctx.origin(item.code), **item.marked
    )
