"""Showing scheduled items: who may see one, the summary, !agenda and !show V/M/R-n (the
`!ics` file: calendar_file.py)."""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands.context import Context
from commands.directory.service import people_of
from commands.errors import NotFound, UserError
from commands.history_page import clipped, page_of
from commands.i18n import N_, _, ngettext, pgettext
from commands.ids import ObjectId
from commands.markings.access import resolve
from commands.markings.entries import entry_filter
from commands.markings.store import Reader, reader_here, withheld_cell
from commands.readers import zones_of
from commands.registry import Param, command, handles
from commands.render import person, table, without_unmarked_column
from commands.schedule.model import AGENDA_ROWS, KIND_NAMES, who
from commands.schedule.rsvp_rules import (
    ANSWER_KINDS,
    ICON,
    compact_tally,
    state_name,
    tally,
)
from commands.schedule.rsvp_store import answers_for
from commands.schedule.store import Item, load_item
from commands.schedule.window import in_window
from commands.time import (
    describe_rule,
    fmt,
    fmt_zones,
    format_duration,
    show_wall,
)
from commands.time.recurrence import parse_rule, shortest_gap


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
    return await resolve(
        ctx,
        await load_item(ctx.db, kind, number),
        may_see=lambda item: _may_see(ctx, item),
        missing=lambda: NotFound(
            _(
                "No {code} that you can see. Send !agenda for what is coming up.",
                code=ObjectId(kind, number),
            )
        ),
    )


def _action(name: str) -> str:
    """A history line's verb (stored in English) as the reader says it."""
    names = {
        "create": pgettext("history action", "create"),
        "edit": pgettext("history action", "edit"),
        "cancel": pgettext("history action", "cancel"),
        "handover": pgettext("history", "hand-over"),
        "handover undone": pgettext("history", "hand-over undone"),
    }
    return names.get(name, name)


_HEADERS = {
    "V": N_("{code} visit: {title}"),
    "M": N_("{code} meeting: {title}"),
    "R": N_("{code} reminder: {title}"),
}
_HEADERS_CANCELLED = {
    "V": N_("{code} visit (cancelled): {title}"),
    "M": N_("{code} meeting (cancelled): {title}"),
    "R": N_("{code} reminder (cancelled): {title}"),
}


def summary_lines(item: Item, reader_zone: str) -> list[str]:
    """What an item is, for its reader: in their language, times in their zone first."""
    zones = [item.zone]
    when = fmt_zones(item.next_at or item.start, reader_zone, zones)
    if item.duration:
        lines = [
            _("When: {when}, for {duration}", when=when, duration=format_duration(item.duration))
        ]
    else:
        lines = [_("When: {when}", when=when)]
    if item.rrule:
        lines.append(
            _("Repeats: {rule} (in {zone})", rule=describe_rule(item.rrule), zone=item.zone)
        )
    if item.place:
        lines.append(_("Place: {place}", place=item.place))
    if item.participants:
        lines.append(_("With: {who}", who=", ".join(who(p) for p in item.participants)))
    if item.kind != "R":
        if item.leads:
            leads = ", ".join(format_duration(d) for d in item.leads)
            lines.append(_("Reminders: {leads} before", leads=leads))
        else:
            lines.append(_("Reminders: none"))
    return lines


@command(
    "agenda",
    summary=N_("What is coming up, in your time zone"),
    example="!agenda 14",
    params=[Param("days", N_("how many days ahead (1–90, default 7)"), convert=int, optional=True)],
    reads_only=True,
)
async def agenda(ctx: Context, *, days: int | None) -> None:
    assert ctx.person is not None
    days = 7 if days is None else days
    if not 1 <= days <= 90:
        raise UserError(
            _("days: give a number from {low} to {high}.", low=1, high=90), example="!agenda 14"
        )
    zone = ctx.person.timezone
    reader = await reader_here(ctx)
    entries = await agenda_entries(ctx, days, reader)
    if not entries:
        ctx.reply(
            ngettext(
                "Nothing scheduled in the next {n} day.",
                "Nothing scheduled in the next {n} days.",
                days,
            )
        )
        return
    title = ngettext(
        "Agenda: next {n} day (times in {zone})",
        "Agenda: next {n} days (times in {zone})",
        days,
        zone=zone,
    )
    if len(entries) >= AGENDA_ROWS:
        last = fmt(entries[-1][0], zone).rsplit(" ", 1)[0]
        title = _(
            "Agenda: the first {rows} entries, up to {last}; for less, ask fewer days, "
            "e.g. {prefix}agenda 2 (times in {zone})",
            rows=AGENDA_ROWS,
            last=last,
            prefix=ctx.prefix,
            zone=zone,
        )
    rows = []
    answered = await _answer_cells(ctx, [item for _occ, item in entries])
    holds: dict[str, None] = {}  # marked items shown in full: routed by their markings at send
    for occ, item in entries:
        mark = item.marking.banner if item.marking else "-"
        if reader.shows(item.marking) == "id" and item.marking is not None:
            rows.append([item.code, mark, "", "", withheld_cell(item.marking), ""])  # a room
            continue
        if item.marking is not None:
            holds[item.code] = None
        there = _local_there(occ, item.zone, zone)
        what, where = item.title, item.place
        if answered.get(item.id):
            what = f"{what} ({answered[item.id]})"
        rows.append([item.code, mark, fmt(occ, zone).rsplit(" ", 1)[0], there, what, where])
    head = [
        pgettext("agenda column", "id"),
        pgettext("agenda column", "marking"),
        pgettext("agenda column", "when"),
        pgettext("agenda column", "local time there"),
        pgettext("agenda column", "what"),
        pgettext("agenda column", "where"),
    ]
    head, rows = without_unmarked_column(head, rows)
    ctx.reply(
        table(
            title,
            head,
            rows,
            footer=_(
                "{prefix}show <id> for details, {prefix}ics agenda for a calendar.",
                prefix=ctx.prefix,
            ),
        ),
        holds=tuple(holds),
    )


async def _answer_cells(ctx: Context, items: list[Item]) -> dict[int, str]:
    """What the agenda says of each item's answers (commands/schedule/rsvp.py): the tally
    to its organiser (and admins), their own answer to a participant, nothing to others."""
    asked = {item.id: item for item in items if item.kind in ANSWER_KINDS and item.participants}
    if not asked:
        return {}
    answers = await answers_for(ctx.db, asked)
    cells: dict[int, str] = {}
    for item_id, item in asked.items():
        people = await people_of(ctx.db, item.participants)
        mine = {u: a for u, a in answers.get(item_id, {}).items() if u in people}
        if ctx.is_admin or ctx.sender == item.creator:
            cells[item_id] = compact_tally(mine, people)
        elif ctx.sender in mine:
            cells[item_id] = _("you: {answer}", answer=ICON[mine[ctx.sender].state])
    return cells


async def answer_lines(ctx: Context, item: Item) -> list[str]:
    """The answers in !show: the tally, then each person's answer and note to the organiser
    (and admins), or the reader's own answer to a participant."""
    if item.kind not in ANSWER_KINDS or not item.participants:
        return []
    people = await people_of(ctx.db, item.participants)
    if not people:
        return []
    found = (await answers_for(ctx.db, [item.id])).get(item.id, {})
    answers = {u: a for u, a in found.items() if u in people}
    lines = [_("Answers: {tally}", tally=tally(answers, people))]
    if ctx.is_admin or ctx.sender == item.creator:
        for user in people:
            answer = answers.get(user)
            if answer is None:
                lines.append(f"  … {person(user)}")
            elif answer.note:
                lines.append(f"  {ICON[answer.state]} {person(user)} — {clipped(answer.note)}")
            else:
                lines.append(f"  {ICON[answer.state]} {person(user)}")
    elif ctx.sender in answers:
        lines.append(_("Your answer: {answer}", answer=state_name(answers[ctx.sender].state)))
    elif ctx.sender in people:
        lines.append(rsvp_hint(item.code, ctx.prefix))
    return lines


def rsvp_hint(code: str, prefix: str) -> str:
    command = f"{prefix}rsvp {code}"
    return _("You have not answered yet: {command} yes, no or maybe.", command=command)


def _history_line(action: str, new: str | None, detail: str) -> str:
    """A history step as the reader reads it: an answer names itself and its note."""
    if action != "rsvp":
        return f"{_action(action)} {clipped(detail)}".rstrip()
    if new == "withdrawn":
        return pgettext("history action", "withdrew their answer")
    if new == "reset":
        return pgettext("history action", "answers cleared: the time changed")
    text = pgettext("history action", "answered: {answer}", answer=state_name(new or ""))
    return f"{text} — {clipped(detail)}" if detail else text


def _local_there(occ: datetime, zone: str, reader_zone: str) -> str:
    if zone == reader_zone:
        return ""
    there, here = occ.astimezone(ZoneInfo(zone)), occ.astimezone(ZoneInfo(reader_zone))
    return f"{show_wall(there, same_day=there.date() == here.date())} {zone}"


def _agenda_order(entry: tuple[datetime, Item]) -> tuple[datetime, str, str]:
    """Time, then the ID as text (`M-10` before `M-9`): its kind is one letter, so the
    kind and the number as text order as the code does, without making the code."""
    return entry[0], entry[1].kind, str(entry[1].number)


async def agenda_entries(
    ctx: Context,
    days: int,
    reader: Reader,
    rows_max: int = AGENDA_ROWS,
    per_item: int = AGENDA_ROWS,
) -> list[tuple[datetime, Item]]:
    """The first `rows_max` occurrences in the next `days` days, earliest first, of what
    the sender may see and is released to (`reader`: nothing else is there, not in a count).

    Each item is expanded only up to the latest entry still among the first `rows_max`, so
    many hourly items cost about what one does, not items × days × 24. A repeating item
    is first placed by its next_at (`_first_known`) and its rule expanded only if that row
    is still kept once every item that could come earlier has been read: with thousands
    of weekly items, ~100 expansions instead of one per item read (issue 25). Placing by
    next_at alone keeps too many rows, never too few, so the items read are a superset of
    those needed, and the expansion at the end makes the rows exact.
    """
    until = ctx.now + timedelta(days=days)
    entries: list[tuple[datetime, Item]] = []
    placed: dict[int, Item] = {}  # by next_at only, not expanded yet (by item ID)
    # Only items with an occurrence in the window that the sender may see, by next_at.
    async for item in in_window(ctx, until):
        cutoff = entries[-1][0] + timedelta(seconds=1) if len(entries) >= rows_max else until
        if item.next_at is not None and item.next_at >= cutoff:
            break  # every later item's occurrences are after the last row kept
        if reader.shows(item.marking) == "none" or not await _may_see(ctx, item):
            continue
        end = min(cutoff, until)
        known = _first_known(ctx, item, end)
        if known is not None and per_item > 1 and known:
            placed[item.id] = item
        if known is None:
            known = item.occurrences(ctx.now, end, per_item)
        for occ in known:  # kept in order as they come: no sort of all per item
            insort(entries, (occ, item), key=_agenda_order)
        del entries[rows_max:]
    if not placed:
        return entries
    end = min(entries[-1][0] + timedelta(seconds=1), until) if len(entries) >= rows_max else until
    for item_id in [item.id for _occ, item in entries if item.id in placed]:
        kept = [entry for entry in entries if entry[1].id != item_id]
        if len(kept) == len(entries):
            continue  # pushed out by an earlier expansion: its later occurrences would be too
        item = placed.pop(item_id)
        assert item.rrule is not None and item.next_at is not None  # placed: see _first_known
        if item.next_at + shortest_gap(item.rrule) >= end:
            continue  # its next occurrence is past the last row: its one row is exact
        entries = kept
        for occ in item.occurrences(ctx.now, end, per_item):
            insort(entries, (occ, item), key=_agenda_order)
        del entries[rows_max:]
    return entries


def _first_known(ctx: Context, item: Item, end: datetime) -> list[datetime] | None:
    """A repeating item's first occurrence from now, as the store keeps it, or None when it
    must be expanded. `next_at` is the first occurrence after the last one fired, or after
    the create or edit (store.schedule_occurrence), so when it is not overdue no occurrence
    lies between now and it. Reading it costs nothing; expanding the rule costs ~0.1 ms,
    which over a year's calendar of hundreds of weekly items was most of `!ics agenda`
    (issue 25). A rule the bot no longer accepts is expanded as before (and left out). The
    one difference: an occurrence at exactly now whose job has already run is not counted
    (the item is then placed by its next one)."""
    if item.rrule is None or item.next_at is None or item.next_at < ctx.now:
        return None
    try:
        parse_rule(item.rrule)  # cached per rule text
    except ValueError:
        return None
    return [item.next_at] if item.next_at < end else []


# -- generic verbs ---------------------------------------------------------------------------------


@handles("show", *KIND_NAMES)
async def show_scheduled(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    kind, number = oid.kind, oid.number
    assert ctx.person is not None
    item = await visible_item(ctx, kind, number)
    if item.state == "cancelled":
        lines = [_(_HEADERS_CANCELLED[kind], code=item.code, title=item.title)]
    else:
        lines = [_(_HEADERS[kind], code=item.code, title=item.title)]
    lines += summary_lines(item, ctx.person.timezone)
    if item.marking:
        lines.append(_("Marking: {banner}", banner=item.marking.banner))
    creator = person(item.creator)
    if item.room_id is None and item.kind == "R":
        lines.append(_("Created by {creator}; reminders go to your DM.", creator=creator))
    elif item.room_id is None:
        lines.append(
            _("Created by {creator}; reminders go to each participant's DM.", creator=creator)
        )
    else:
        lines.append(
            _(
                "Created by {creator}; reminders go to the room it was scheduled in.",
                creator=creator,
            )
        )
    lines += await answer_lines(ctx, item)
    shown = await entry_filter(ctx, item.marking)
    steps = await page_of(ctx.db, ObjectId(kind, number), page, ctx.prefix, shown)
    if steps.entries:
        lines.append(_("History:"))
        for h in steps.entries:
            who = person(h.actor) if h.actor.startswith("@") else h.actor
            at = fmt(h.at, ctx.person.timezone)
            step = _history_line(h.action, h.new, h.detail or "")
            lines.append(f"  {at} {who} {step}".rstrip())
    hint = steps.hint(ctx.prefix)
    lines += [hint] if hint else []
    ctx.reply("\n".join(lines), **item.marked)
