"""!visit, !meeting and !remind: a new item, its reminders planned, its participants told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from commands.context import Context
from commands.errors import UserError
from commands.examples import day
from commands.i18n import N_, _
from commands.markings.model.policy import marking_example
from commands.markings.parties import refuse_uncovered
from commands.markings.wiring import marking_for
from commands.registry import Handler, Option, Param, command
from commands.schedule.arguments import check_repeat, parse_with
from commands.schedule.model import (
    COMMAND_OF,
    DEFAULT_LEADS,
    DM,
    parse_end,
    parse_leads,
    parse_repeat,
    reads_as_time,
    remind_example,
    split_when_text,
)
from commands.schedule.notices import tell_participants
from commands.schedule.reach import item_room
from commands.schedule.store import Item, record_step, reschedule, save_item
from commands.schedule.views import summary_lines
from commands.time import fmt, parse_when

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
            rule = check_repeat(ctx, rule, when.start, when.zone)
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
            posts=await parse_with(ctx.db, draft.with_) if draft.with_ else [],
            room_id=None if room_id == DM else room_id or ctx.room_id,
        )
        with_ = await parse_with(ctx.db, draft.with_) if draft.with_ else []
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
        participants=await parse_with(ctx.db, draft.with_) if draft.with_ else [],
        marking=mark,
    )
    await save_item(ctx, item)
    scheduled = await reschedule(ctx, item)
    await save_item(ctx, item)
    await record_step(ctx, item, "create", fmt(item.start, item.zone), under=item.marking)
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
        await tell_participants(ctx, item, "invite")


def _creates(kind: str) -> Handler:
    """The handler of !visit (V) or !meeting (M): the same arguments, the same creation."""

    async def create(
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
        await _create(ctx, kind, draft, room_id=_delivery(draft))

    return create


visit = command(
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
)(_creates("V"))


meeting = command(
    "meeting",
    summary=N_("Schedule a meeting (reminders go to this room and mention participants)"),
    # TRANSLATORS: keep "!meeting", "every Monday 09:00", "with=" and "--"; translate the title.
    example=N_("!meeting every Monday 09:00 with=@bob:example.org,FR-PARIS -- Weekly sync"),
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", N_("what it is")),
    details=N_("Times are read in your zone (!tz) unless a zone ends the start."),
)(_creates("M"))


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
