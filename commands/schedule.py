"""Visits (V-n), meetings (M-n) and reminders (R-n): time-zone aware, recurring, never lost.

The item row is the truth (UTC start with its IANA zone beside, RRULE, lead times); the
jobs table holds only the next occurrence's reminders plus, for a recurring item, one
"next" job at that occurrence's start which schedules the following occurrence. So the
number of pending jobs per item is bounded, and a restart has nothing to rebuild but jobs.
A job due while the bot was down fires at start-up, and its message says it is late and
when it was due; `Dispatcher.run_job` makes every job fire at most once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands import ics
from commands.context import Attachment, Context, Job, parse_utc, utc_iso
from commands.directory import find_post
from commands.errors import NotFound, UserError
from commands.examples import day
from commands.recurrence import check_rule
from commands.registry import Option, Param, command, handles, job
from commands.render import person, plain, table
from commands.timeparse import (
    MAX_WHEN_LENGTH,
    describe_rule,
    format_duration,
    localize,
    next_occurrence,
    occurrences_between,
    parse_duration,
    parse_when,
    recurrence_rule,
    split_zone,
)
from config.settings import MATRIX_ID

log = logging.getLogger(__name__)
LEAD_JOB = "schedule.lead"
NEXT_JOB = "schedule.next"
_DM = "dm"  # reminders to the creator's DM (room_id NULL)
DEFAULT_LEADS = (timedelta(days=1), timedelta(hours=1), timedelta(minutes=15))
MAX_LEADS = 6
MAX_LEAD = timedelta(days=60)
KIND_NAMES = {"V": "visit", "M": "meeting", "R": "reminder"}
_COMMAND_OF = {"V": "visit", "M": "meeting", "R": "remind"}  # the command that makes each
AGENDA_ROWS = 100  # the agenda shows at most this many occurrences (a phone screen or ten)
EDIT_KEYS = ("title", "start", "end", "place", "with", "lead", "repeat")


# -- the item as stored ---------------------------------------------------------------------


@dataclass
class Item:
    id: int
    kind: str
    number: int
    title: str
    start: datetime  # UTC, first occurrence
    end: datetime | None
    zone: str
    rrule: str | None
    place: str
    leads: list[timedelta]
    room_id: str | None
    creator: str
    state: str
    next_at: datetime | None
    participants: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return f"{self.kind}-{self.number}"

    @property
    def duration(self) -> timedelta | None:
        return self.end - self.start if self.end else None

    def anchor_local(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.zone)).replace(tzinfo=None)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment`."""
        if self.rrule is None:
            return self.start if self.start > moment else None
        try:
            return next_occurrence(self.rrule, self.anchor_local(), self.zone, moment)
        except ValueError:
            # A rule stored before rules were parsed (e.g. FREQ given twice) stops here.
            log.warning("%s: stored rule no longer accepted; no further occurrence", self.code)
            return None

    def occurrences(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """Occurrences in [start, end); none for a stored rule that is no longer accepted."""
        try:
            return occurrences_between(self.rrule, self.start, self.zone, start, end, limit)
        except ValueError:
            log.warning("%s: stored rule no longer accepted; left out of the agenda", self.code)
            return []


async def _load(db: aiosqlite.Connection, kind: str, number: int) -> Item | None:
    async with db.execute(
        f"SELECT {_COLUMNS} FROM schedule_items i WHERE kind = ? AND number = ?", (kind, number)
    ) as cur:
        row = await cur.fetchone()
    return _item(row) if row is not None else None


# The participants come along in the same query (one round trip per reminder fired).
_COLUMNS = (
    "i.*, (SELECT group_concat(who, '\n') FROM (SELECT who FROM schedule_participants "
    "p WHERE p.item_id = i.id ORDER BY who) AS w) AS who_list"
)


def _item(row: Any) -> Item:
    who = row["who_list"].split("\n") if row["who_list"] else []
    return Item(
        id=row["id"],
        kind=row["kind"],
        number=row["number"],
        title=row["title"],
        start=parse_utc(row["start_at"]),
        end=parse_utc(row["end_at"]) if row["end_at"] else None,
        zone=row["timezone"],
        rrule=row["rrule"],
        place=row["place"],
        leads=[timedelta(seconds=int(s)) for s in row["lead_seconds"].split(",") if s],
        room_id=row["room_id"],
        creator=row["creator"],
        state=row["state"],
        next_at=parse_utc(row["next_at"]) if row["next_at"] else None,
        participants=who,
    )


async def _save(ctx: Context, item: Item) -> None:
    values = (
        item.title,
        utc_iso(item.start),
        utc_iso(item.end) if item.end else None,
        item.zone,
        item.rrule,
        item.place,
        ",".join(str(int(d.total_seconds())) for d in item.leads),
        item.room_id,
        item.state,
        utc_iso(item.next_at) if item.next_at else None,
        utc_iso(ctx.now),
    )
    if item.id == 0:
        async with ctx.db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM schedule_items WHERE kind = ?", (item.kind,)
        ) as cur:
            row = await cur.fetchone()
        item.number = int(row[0]) if row else 1
        async with ctx.db.execute(
            "INSERT INTO schedule_items (title, start_at, end_at, timezone, rrule, place, "
            "lead_seconds, room_id, state, next_at, updated_at, kind, number, creator, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (*values, item.kind, item.number, item.creator, utc_iso(ctx.now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        item.id = int(row[0])
    else:
        await ctx.db.execute(
            "UPDATE schedule_items SET title=?, start_at=?, end_at=?, timezone=?, rrule=?, "
            "place=?, lead_seconds=?, room_id=?, state=?, next_at=?, updated_at=? WHERE id=?",
            (*values, item.id),
        )
    await ctx.db.execute("DELETE FROM schedule_participants WHERE item_id = ?", (item.id,))
    await ctx.db.executemany(
        "INSERT INTO schedule_participants (item_id, who) VALUES (?, ?)",
        [(item.id, who) for who in item.participants],
    )


# -- jobs: only the next occurrence is scheduled ---------------------------------------------


async def _schedule_occurrence(
    ctx: Context, item: Item, occ: datetime, not_before: datetime
) -> int:
    """Reminders for one occurrence (those due at or after not_before), and the 'next' job."""
    ref = f"{item.code}@{utc_iso(occ)}"
    count = 0
    for lead in item.leads:
        due = occ - lead
        if due < not_before:
            continue
        await _add_job(ctx, LEAD_JOB, ref, due, {"occ": utc_iso(occ), "lead": lead.total_seconds()})
        count += 1
    if item.rrule:
        await _add_job(ctx, NEXT_JOB, ref, occ, {"occ": utc_iso(occ)})
    item.next_at = occ
    return count


async def _add_job(ctx: Context, kind: str, ref: str, due: datetime, payload: dict) -> None:
    # A job cancelled by an earlier edit holds the (kind, ref, due_at) key: free it first.
    await ctx.db.execute(
        "DELETE FROM jobs WHERE kind = ? AND ref = ? AND due_at = ? AND state = 'cancelled'",
        (kind, ref, utc_iso(due)),
    )
    await ctx.schedule(kind, ref, due, payload)


async def _unschedule(ctx: Context, item: Item) -> None:
    async with ctx.db.execute(
        "UPDATE jobs SET state = 'cancelled' WHERE kind IN (?, ?) AND ref LIKE ? "
        "AND state = 'pending' RETURNING id",
        (LEAD_JOB, NEXT_JOB, f"{item.code}@%"),
    ) as cur:
        ctx.unscheduled.extend(int(r[0]) for r in await cur.fetchall())


async def _reschedule(ctx: Context, item: Item) -> int:
    """After create or edit: cancel what is pending, schedule the next occurrence from now."""
    await _unschedule(ctx, item)
    occ = item.next_after(ctx.now)
    item.next_at = None
    if occ is None:
        return 0
    return await _schedule_occurrence(ctx, item, occ, ctx.now)


# -- reading options ---------------------------------------------------------------------------


def parse_leads(text: str) -> list[timedelta]:
    """'1d,1h,15m' or 'none' -> lead times, longest first."""
    cleaned = text.strip().lower()
    if cleaned in ("none", "no", "0", "-"):
        return []
    leads = sorted({parse_duration(part) for part in cleaned.split(",") if part}, reverse=True)
    if len(leads) > MAX_LEADS:
        raise ValueError(f"at most {MAX_LEADS} lead times")
    if leads and leads[0] > MAX_LEAD:
        raise ValueError("a lead time can be at most 60d")
    return leads


def _check_repeat(ctx: Context, rule: str, start: datetime, zone: str) -> str:
    """Every rule, typed or built from words, passes the same checks before it is stored."""
    tz = ZoneInfo(zone)
    return check_rule(
        rule,
        start.astimezone(tz).replace(tzinfo=None),
        ctx.now.astimezone(tz).replace(tzinfo=None),
        timedelta(seconds=ctx.settings.min_recurrence_interval),
    )


def _parse_repeat(text: str) -> str | None:
    cleaned = text.strip()
    if cleaned.lower() in ("none", "no", "never", "once"):
        return None
    return recurrence_rule(cleaned)


async def _parse_with(db: aiosqlite.Connection, text: str) -> list[str]:
    found: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        if part.startswith("@"):
            if not MATRIX_ID.match(part):
                raise UserError(
                    f"with: {part[:40]!r} is not a Matrix ID like @alice:example.org.",
                    example="!meeting tomorrow 10:00 with=@alice:example.org,FR-PARIS -- Review",
                )
            found.append(part)
            continue
        post = await find_post(db, part)
        if post is None:
            raise UserError(
                f"with: {part[:40]!r} is neither a Matrix ID nor a known post. "
                "Check it with !whois <code>, or write a full ID like @alice:example.org.",
                example="!meeting tomorrow 10:00 with=@alice:example.org,FR-PARIS -- Review",
            )
        found.append(post[0])
    return list(dict.fromkeys(found))


def _parse_end(text: str, start: datetime, zone: str, now: datetime) -> datetime:
    """end=15:30 (same day), end=1h30m (a duration) or a full date and time."""
    cleaned = text.strip()
    try:
        end = start + parse_duration(cleaned)
    except ValueError:
        if re.fullmatch(r"\d{1,2}[:h.]\d{2}", cleaned):
            hour, minute = (int(x) for x in re.split(r"[:h.]", cleaned))
            if hour > 23 or minute > 59:
                raise ValueError(f"{cleaned!r} is not a time of day") from None
            local = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            end = localize(local.replace(hour=hour, minute=minute), zone, strict=False)
        else:
            body, explicit = split_zone(cleaned)
            end = parse_when(body, explicit or zone, now).start
    if end <= start:
        raise ValueError("the end must be after the start; write e.g. end=1h or end=15:30")
    return end


# -- formatting ----------------------------------------------------------------------------------


def fmt(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M") + f" {zone}"


def fmt_zones(moment: datetime, first: str, others: list[str] | tuple[str, ...] = ()) -> str:
    """The time in the first zone, then in each other zone that differs (date if it differs)."""
    text = fmt(moment, first)
    main = moment.astimezone(ZoneInfo(first))
    extra = []
    for zone in dict.fromkeys(others):
        if zone == first:
            continue
        local = moment.astimezone(ZoneInfo(zone))
        shown = (
            local.strftime("%H:%M")
            if local.date() == main.date()
            else local.strftime("%a %d %b %H:%M")
        )
        extra.append(f"{shown} {zone}")
    return text + (f" ({'; '.join(extra)})" if extra else "")


def _span(delta: timedelta) -> str:
    """Rounded to the nearest minute: a job runs a moment after it is due, and 'lead=2m' must
    still read 'in 2m', not 'in 1m'."""
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 1:
        return "less than a minute"
    return format_duration(timedelta(minutes=minutes))


async def _zones_of(ctx: Context, users: list[str]) -> list[str]:
    if not users:
        return []
    marks = ",".join("?" * len(users))
    async with ctx.db.execute(
        f"SELECT user_id, timezone FROM people WHERE user_id IN ({marks})", users
    ) as cur:
        known = {r[0]: r[1] for r in await cur.fetchall()}
    return [known.get(u) or ctx.settings.timezone for u in users]


async def _people_of(db: aiosqlite.Connection, participants: list[str]) -> list[str]:
    """Matrix IDs to mention: people named, and the members of posts named."""
    people = [p for p in participants if p.startswith("@")]
    posts = [p for p in participants if not p.startswith("@")]
    if posts:
        marks = ",".join("?" * len(posts))
        async with db.execute(
            f"SELECT user_id FROM post_members WHERE post IN ({marks}) ORDER BY user_id", posts
        ) as cur:
            people += [r[0] for r in await cur.fetchall()]
    return list(dict.fromkeys(people))


async def _may_see(ctx: Context, item: Item) -> bool:
    if ctx.is_admin or ctx.sender == item.creator or ctx.sender in item.participants:
        return True
    if item.room_id is not None and ctx.room_id == item.room_id:
        return True
    return ctx.sender in await _people_of(ctx.db, item.participants)


async def _visible(ctx: Context, kind: str, number: int) -> Item:
    item = await _load(ctx.db, kind, number)
    if item is None or not await _may_see(ctx, item):
        raise NotFound(f"No {kind}-{number} that you can see. Send !agenda for what is coming up.")
    return item


def _who(participant: str) -> str:
    """A participant: a person by name (pill), a post by its code."""
    return person(participant) if participant.startswith("@") else participant


def _summary(item: Item, reader_zone: str) -> list[str]:
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
        lines.append(f"With: {', '.join(_who(p) for p in item.participants)}")
    leads = ", ".join(format_duration(d) for d in item.leads) or "none"
    if item.kind != "R":
        lines.append(f"Reminders: {leads} before")
    return lines


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
]


async def _create(
    ctx: Context, kind: str, args: dict[str, Any], room_id: str | None = None
) -> None:
    assert ctx.person is not None
    spec = ctx.registry.find(_COMMAND_OF[kind])
    example = spec.example_at(ctx.now, ctx.prefix) if spec else None
    try:
        when = parse_when(args["when"] or "", ctx.person.timezone, ctx.now)
        rule = when.rrule
        if args.get("repeat"):
            rule = _parse_repeat(args["repeat"])
        try:
            leads = parse_leads(args["lead"]) if args.get("lead") else list(DEFAULT_LEADS)
        except ValueError as exc:
            raise ValueError(f"lead: {exc}") from None
        end = _parse_end(args["end"], when.start, when.zone, ctx.now) if args.get("end") else None
        if rule:
            rule = _check_repeat(ctx, rule, when.start, when.zone)
    except ValueError as exc:
        raise UserError(str(exc), example=example) from None
    item = Item(
        id=0,
        kind=kind,
        number=0,
        title=args["title"],
        start=when.start,
        end=end,
        zone=when.zone,
        rrule=rule,
        place=(args.get("place") or "").strip(),
        leads=leads if kind != "R" else [timedelta(0)],
        room_id=None if room_id == _DM else room_id or ctx.room_id,
        creator=ctx.sender,
        state="active",
        next_at=None,
        participants=await _parse_with(ctx.db, args["with"]) if args.get("with") else [],
    )
    await _save(ctx, item)
    scheduled = await _reschedule(ctx, item)
    await _save(ctx, item)
    await ctx.audit(f"{KIND_NAMES[kind]}.create", item.code, fmt(item.start, item.zone))
    lines = [f"Scheduled {item.code}: {item.title}", *_summary(item, ctx.person.timezone)]
    if scheduled == 0 and item.leads:
        lines.append("No reminder: every lead time is already past.")
    lines.append(
        f"Change it with {ctx.prefix}edit {item.code} …, drop it with "
        f"{ctx.prefix}cancel {item.code}."
    )
    ctx.reply("\n".join(lines))


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
async def visit(ctx: Context, args: dict[str, Any]) -> None:
    await _create(ctx, "V", args)


@command(
    "meeting",
    summary="Schedule a meeting (reminders go to this room and mention participants)",
    example="!meeting every Monday 09:00 with=@bob:example.org,FR-PARIS -- Weekly sync",
    params=[Param("when", _WHEN_HELP, rest=True)],
    options=_ITEM_OPTIONS,
    body=Param("title", "what it is"),
    details="Times are read in your zone (!tz) unless a zone ends the start.",
)
async def meeting(ctx: Context, args: dict[str, Any]) -> None:
    await _create(ctx, "M", args)


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
async def remind(ctx: Context, args: dict[str, Any]) -> None:
    assert ctx.person is not None
    words = (args["when"] or "").split()
    text = args["text"]
    example = "!remind tomorrow 09:30 -- call Paris"
    if text is None:
        if words and _reads_as_time(" ".join(words), ctx.person.timezone, ctx.now):
            raise UserError(
                "What should I remind you of? Put the text after the time.", example=example
            )
        when_text, text = _split_when_text(words, ctx.person.timezone, ctx.now)
        if not text:
            raise UserError(
                "What should I remind you of? Put the text after the time.", example=example
            )
        args = {**args, "when": when_text}
    if not words:
        raise UserError("Missing the time.", example=example)
    target = (args.get("to") or "here").lower()
    if target not in ("me", "here"):
        raise UserError("to= takes me or here.", example="!remind in 2h to=me -- call Paris")
    fields = {**args, "title": text, "lead": None, "end": None, "with": None}
    await _create(ctx, "R", fields, room_id=_DM if target == "me" else None)


def _reads_as_time(text: str, zone: str, now: datetime) -> bool:
    try:
        parse_when(text, zone, now)
    except ValueError:
        return False
    return True


# A time is at most this many words ("every Monday, Wednesday and Friday at 09:00 UTC"): only
# cuts within them are tried, so one message costs at most this many dateparser calls.
MAX_WHEN_WORDS = 8


def _split_when_text(words: list[str], zone: str, now: datetime) -> tuple[str, str]:
    """The longest leading words that read as a time; the rest (minus a leading 'to') is text."""
    first_error: ValueError | None = None
    for cut in range(min(len(words) - 1, MAX_WHEN_WORDS), 0, -1):
        candidate = " ".join(words[:cut])
        if len(candidate) > MAX_WHEN_LENGTH:
            continue
        try:
            parse_when(candidate, zone, now)
        except ValueError as exc:
            if cut <= 3 and first_error is None:
                first_error = exc
            continue
        rest = words[cut:]
        if rest and rest[0].lower() in ("to", "that", "-", "–", ":"):
            rest = rest[1:]
        return candidate, " ".join(rest)
    if first_error is not None and not str(first_error).startswith("I could not read"):
        raise UserError(str(first_error), example="!remind tomorrow 09:30 -- call Paris")
    raise UserError(
        "I could not find a time at the start. Write the time, then --, then the text.",
        example="!remind tomorrow 09:30 -- call Paris",
    )


@command(
    "agenda",
    summary="What is coming up, in your time zone",
    example="!agenda 14",
    params=[Param("days", "how many days ahead (1–90, default 7)", convert=int, optional=True)],
)
async def agenda(ctx: Context, args: dict[str, Any]) -> None:
    assert ctx.person is not None
    days = args["days"] or 7
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
    rows = []
    for occ, item in entries:
        there = _local_there(occ, item.zone, zone)
        rows.append([item.code, fmt(occ, zone).rsplit(" ", 1)[0], there, item.title, item.place])
    ctx.reply(
        table(
            f"Agenda: {shown_days} (times in {zone})",
            ["id", "when", "local time there", "what", "where"],
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
        f"SELECT {_COLUMNS} FROM schedule_items i WHERE state = 'active' ORDER BY id"
    ) as cur:
        rows = await cur.fetchall()
    entries: list[tuple[datetime, Item]] = []
    for row in rows:
        item = _item(row)
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
async def ics_(ctx: Context, args: dict[str, Any]) -> None:
    what = args["what"].strip()
    if what.lower() == "agenda":
        days = args["days"] or 30
        if not 1 <= days <= 366:
            raise UserError("days: give a number from 1 to 366.", example="!ics agenda 30")
        seen: dict[str, Item] = {}
        for _, item in await _agenda(ctx, days, rows_max=1_000, per_item=1):
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
        items = [await _visible(ctx, match[1].upper(), int(match[2]))]
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
            )
            for item in items
        ]
    )
    count = f"{len(items)} item{'s' if len(items) != 1 else ''}"
    ctx.reply(f"{name}: {count}", attachment=Attachment(name, "text/calendar", data))


# -- generic verbs ---------------------------------------------------------------------------------


def _show_handler(kind: str):  # type: ignore[no-untyped-def]
    async def show(ctx: Context, number: int, args: dict[str, Any]) -> None:
        assert ctx.person is not None
        item = await _visible(ctx, kind, number)
        state = "" if item.state == "active" else f" ({item.state})"
        lines = [f"{item.code} {KIND_NAMES[kind]}{state}: {item.title}"]
        lines += _summary(item, ctx.person.timezone)
        where = "your DM" if item.room_id is None else "the room it was scheduled in"
        lines.append(f"Created by {person(item.creator)}; reminders go to {where}.")
        async with ctx.db.execute(
            "SELECT at, actor, action, detail FROM audit WHERE object = ? ORDER BY id",
            (item.code,),
        ) as cur:
            history = await cur.fetchall()
        if history:
            lines.append("History:")
            for row in history:
                at = fmt(parse_utc(row[0]), ctx.person.timezone)
                who = person(row[1]) if row[1].startswith("@") else row[1]
                lines.append(f"  {at} {who} {row[2].split('.', 1)[1]} {row[3] or ''}".rstrip())
        ctx.reply("\n".join(lines))

    return show


def _may_change(ctx: Context, item: Item, verb: str) -> None:
    if not (ctx.is_admin or ctx.sender == item.creator):
        raise UserError(
            f"Only {item.creator} (who created {item.code}) or an admin may {verb} it. "
            f"Ask them; {ctx.prefix}show {item.code} shows it."
        )


def _cancel_handler(kind: str):  # type: ignore[no-untyped-def]
    async def cancel(ctx: Context, number: int, args: dict[str, Any]) -> None:
        item = await _visible(ctx, kind, number)
        _may_change(ctx, item, "cancel")
        if item.state == "cancelled":
            raise UserError(
                f"{item.code} is already cancelled. {ctx.prefix}show {item.code} shows its history."
            )
        await _unschedule(ctx, item)
        item.state = "cancelled"
        item.next_at = None
        await _save(ctx, item)
        reason = args.get("reason") or ""
        await ctx.audit(f"{KIND_NAMES[kind]}.cancel", item.code, reason)
        text = f"Cancelled {item.code}: {item.title}" + (f" — {reason}" if reason else "")
        ctx.reply(text)
        if item.room_id and item.room_id != ctx.room_id:
            mentions = await _people_of(ctx.db, item.participants)
            ctx.send(text, room_id=item.room_id, mentions=tuple(mentions))

    return cancel


def _split_changes(text: str) -> dict[str, str]:
    """'start=next Tuesday 10:00 place=Room 3' -> {start: ..., place: ...} (values hold spaces)."""
    keys = "|".join(EDIT_KEYS)
    parts = re.split(rf"(?:^|\s)({keys})=", text.strip(), flags=re.IGNORECASE)
    if parts[0].strip():
        raise ValueError(f"{parts[0].strip()[:30]!r} is not key=value")
    return {k.lower(): v.strip() for k, v in zip(parts[1::2], parts[2::2], strict=True)}


def _edit_handler(kind: str):  # type: ignore[no-untyped-def]
    async def edit(ctx: Context, number: int, args: dict[str, Any]) -> None:
        assert ctx.person is not None
        item = await _visible(ctx, kind, number)
        _may_change(ctx, item, "edit")
        if item.state != "active":
            raise UserError(f"{item.code} is {item.state}; it cannot be edited.")
        example = f"{ctx.prefix}edit {item.code} start=tomorrow 10:00 place=Room 3"
        keys = ", ".join(EDIT_KEYS)
        try:
            changes = _split_changes(args.get("changes") or "")
            if not changes:
                raise ValueError(f"nothing to change; use key=value with keys {keys}")
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
                    else _parse_end(changes["end"], item.start, item.zone, ctx.now)
                )
            if "place" in changes:
                item.place = changes["place"]
            if "lead" in changes:
                if kind == "R":
                    raise ValueError("a reminder fires at its time; lead= is for visits/meetings")
                item.leads = parse_leads(changes["lead"])
            if "repeat" in changes:
                item.rrule = _parse_repeat(changes["repeat"])
            if item.rrule and ("repeat" in changes or "start" in changes):
                item.rrule = _check_repeat(ctx, item.rrule, item.start, item.zone)
        except ValueError as exc:
            raise UserError(f"{exc}.".replace("..", "."), example=example) from None
        if "with" in changes:
            item.participants = await _parse_with(ctx.db, changes["with"])
        await _reschedule(ctx, item)
        await _save(ctx, item)
        await ctx.audit(f"{KIND_NAMES[kind]}.edit", item.code, ", ".join(sorted(changes)))
        text = "\n".join(
            [f"Updated {item.code}: {item.title}", *_summary(item, ctx.person.timezone)]
        )
        ctx.reply(text)
        if item.room_id and item.room_id != ctx.room_id:
            ctx.send(text, room_id=item.room_id)

    return edit


for _kind in KIND_NAMES:
    globals()[f"show_{_kind}"] = handles("show", _kind)(_show_handler(_kind))
    globals()[f"cancel_{_kind}"] = handles("cancel", _kind)(_cancel_handler(_kind))
    globals()[f"edit_{_kind}"] = handles("edit", _kind)(_edit_handler(_kind))


# -- jobs ----------------------------------------------------------------------------------------


async def _job_item(ctx: Context, ref: str) -> Item | None:
    code = ref.split("@", 1)[0]
    kind, _, number = code.partition("-")
    item = await _load(ctx.db, kind, int(number))
    return item if item is not None and item.state == "active" else None


@job(LEAD_JOB)
async def fire_reminder(ctx: Context, job_: Job) -> None:
    """One reminder: to the item's room (mentioning who is concerned) or the creator's DM."""
    item = await _job_item(ctx, job_.ref)
    if item is None:
        return
    occ = parse_utc(job_.payload["occ"])
    if await _later_reminder_also_due(ctx, job_):
        return  # after a downtime, one late reminder per occurrence speaks for all its leads
    people = await _people_of(ctx.db, item.participants)
    mentions = list(dict.fromkeys([item.creator, *people]))
    zones = await _zones_of(ctx, mentions)
    # Past this, the job was held up (the bot was down), not merely run a moment late.
    late = job_.late_seconds >= ctx.settings.schedule_late_after
    if item.kind == "R":
        text = f"⏰ Reminder {item.code}: {item.title}"
        if late:
            text = (
                f"⏰ Late reminder {item.code} (was due {fmt_zones(occ, item.zone, zones)}; "
                f"I was offline): {item.title}"
            )
    else:
        left = occ - ctx.now
        soon = f"in {_span(left)}" if left.total_seconds() >= 30 else "now"
        if left.total_seconds() <= -30:
            soon = f"{_span(left)} ago"
        verb = "started" if left.total_seconds() <= -30 else "starts"
        text = f"⏰ {item.code} {item.title} {verb} {soon}: {fmt_zones(occ, item.zone, zones)}"
        if item.place:
            text += f", {item.place}"
        if late:
            due = fmt_zones(job_.due_at, item.zone, zones)
            text = f"Late reminder (was due {due}; I was offline). {text}"
    # Held up after this point (homeserver unreachable), the message itself says it is late.
    note_after = None if late else float(ctx.settings.schedule_late_after)
    if item.room_id is None:
        ctx.send(text, user_id=item.creator, late_note_after=note_after)
        return
    ctx.send(
        plain(f"{text}\n" + " ".join(person(m) for m in mentions)),
        room_id=item.room_id,
        mentions=tuple(mentions),
        late_note_after=note_after,
    )


async def _later_reminder_also_due(ctx: Context, job_: Job) -> bool:
    if job_.late_seconds < ctx.settings.schedule_late_after:
        return False
    async with ctx.db.execute(
        "SELECT 1 FROM jobs WHERE kind = ? AND ref = ? AND state = 'pending' "
        "AND due_at > ? AND due_at <= ? LIMIT 1",
        (LEAD_JOB, job_.ref, utc_iso(job_.due_at), utc_iso(ctx.now)),
    ) as cur:
        return await cur.fetchone() is not None


@job(NEXT_JOB)
async def schedule_next(ctx: Context, job_: Job) -> None:
    """At an occurrence's start: schedule the following one (only one ahead, ever)."""
    item = await _job_item(ctx, job_.ref)
    if item is None or item.rrule is None:
        return
    occ = parse_utc(job_.payload["occ"])
    following = item.next_after(max(occ, ctx.now))
    item.next_at = None
    if following is not None:
        # Reminders of the next occurrence that fell due while the bot was down fire late.
        await _schedule_occurrence(ctx, item, following, occ)
    await _save(ctx, item)
