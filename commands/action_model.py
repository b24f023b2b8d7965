"""Summits and action items in the store: rows, due dates, who may do what, history.

Kept apart from the chat commands so exports, nudges, the benchmark and the tests share one
reading of the tables. Overdue is derived here (status active and deadline passed), never
stored, so it is right in every time zone and after every restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands.context import Context, parse_utc, utc_iso
from commands.directory import canonical_target, display_name, post_exists, posts_of
from commands.errors import NotFound, UserError
from commands.examples import day
from commands.render import person
from commands.timeparse import check_time_length

STATUSES = ("open", "in_progress", "done", "cancelled")
ACTIVE = ("open", "in_progress")
STATUS_WORDS = {
    "open": "open",
    "in_progress": "in_progress",
    "inprogress": "in_progress",
    "progress": "in_progress",
    "started": "in_progress",
    "done": "done",
    "closed": "done",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
# Who may move an item from one status to another: the owner moves their own work along;
# cancelling and bringing back a cancelled item is the secretariat's call.
OWNER_MOVES = {
    ("open", "in_progress"),
    ("open", "done"),
    ("in_progress", "open"),
    ("in_progress", "done"),
    ("done", "open"),
    ("done", "in_progress"),
}
SECRETARIAT_MOVES = OWNER_MOVES | {
    ("open", "cancelled"),
    ("in_progress", "cancelled"),
    ("done", "cancelled"),
    ("cancelled", "open"),
}

_SUMMIT_ID = re.compile(r"^[Ss]-(\d{1,9})$")
_ITEM_ID = re.compile(r"^[Aa]-(\d{1,9})$")


def shown_status(status: str) -> str:
    return status.replace("_", " ")


def parse_status(text: str) -> str:
    word = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if word in STATUS_WORDS:
        return STATUS_WORDS[word]
    if word.replace("_", "") in STATUS_WORDS:
        return STATUS_WORDS[word.replace("_", "")]
    raise ValueError(f"{text[:30]!r} is not a status; use open, in-progress, done or cancelled")


def parse_summit_id(text: str) -> int:
    match = _SUMMIT_ID.match(text.strip())
    if not match:
        raise ValueError(f"{text[:30]!r} is not a summit ID like S-1")
    return int(match[1])


def parse_item_id(text: str) -> int:
    match = _ITEM_ID.match(text.strip())
    if not match:
        raise ValueError(f"{text[:30]!r} is not an action item ID like A-7")
    return int(match[1])


# -- dates ---------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}$")


@dataclass(frozen=True)
class Due:
    """A deadline: the instant (UTC) and how it was given (a whole day in a zone, or a time)."""

    at: datetime
    zone: str
    all_day: bool


def end_of_day(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=ZoneInfo(zone))


def _natural(text: str, zone: str, now: datetime) -> tuple[datetime, bool] | None:
    """dateparser on simple natural forms ('friday', 'in 3 days', '1 dec 17:00')."""
    # Imported on first use: ~4 MiB and ~25 ms of start-up that most runs never need.
    from dateparser.date import DateDataParser

    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    parser = DateDataParser(
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RETURN_TIME_AS_PERIOD": True,
            "RELATIVE_BASE": local_now,
        },
    )
    data = parser.get_date_data(text)
    if data is None or data.date_obj is None:
        return None
    return data.date_obj.replace(tzinfo=None), data.period == "time"


def parse_due(text: str, zone: str, now: datetime) -> Due:
    """An ISO date (end of that day), an ISO date and time, or a simple natural form."""
    value = text.strip()
    if not value:
        raise ValueError(f"give a date, e.g. {day(now, 7)} or friday")
    try:
        if _ISO_DATE.match(value):
            return Due(end_of_day(date.fromisoformat(value), zone), zone, True)
        if _ISO_TIME.match(value):
            local = datetime.fromisoformat(value.replace(" ", "T"))
            return Due(local.replace(tzinfo=ZoneInfo(zone)), zone, False)
    except ValueError:
        raise ValueError(f"{value[:30]!r} is not a real date; e.g. {day(now, 7)}") from None
    check_time_length(value, f'{day(now, 7)}, "{day(now, 7)} 17:00", friday or "in 3 days"')
    found = _natural(value, zone, now)
    if found is None:
        raise ValueError(
            f"{value[:30]!r} is not a date I understand; write {day(now, 7)}, "
            f'"{day(now, 7)} 17:00", friday or "in 3 days"'
        )
    moment, timed = found
    if timed:
        return Due(moment.replace(tzinfo=ZoneInfo(zone)), zone, False)
    return Due(end_of_day(moment.date(), zone), zone, True)


def parse_day(text: str, zone: str, now: datetime) -> date:
    return parse_due(text, zone, now).at.astimezone(ZoneInfo(zone)).date()


def show_due(due_at: datetime, due_zone: str, all_day: bool, viewer_zone: str) -> str:
    """A deadline as the viewer reads it: a date if given as a day in their zone, else time."""
    if all_day:
        day = due_at.astimezone(ZoneInfo(due_zone)).date().isoformat()
        return day if due_zone == viewer_zone else f"{day} ({due_zone})"
    local = due_at.astimezone(ZoneInfo(viewer_zone))
    return local.strftime("%Y-%m-%d %H:%M")


# -- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summit:
    id: int
    name: str
    starts_on: str | None
    ends_on: str | None
    room_id: str
    timezone: str
    state: str
    created_by: str

    @property
    def ref(self) -> str:
        return f"S-{self.id}"

    @classmethod
    def from_row(cls, row: Any) -> Summit:
        return cls(
            id=row["id"],
            name=row["name"],
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            room_id=row["room_id"],
            timezone=row["timezone"],
            state=row["state"],
            created_by=row["created_by"],
        )


@dataclass(frozen=True)
class Item:
    id: int
    summit_id: int
    text: str
    owner_kind: str
    owner: str
    due_at: datetime
    due_zone: str
    all_day: bool
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> str:
        return f"A-{self.id}"

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE and now > self.due_at

    def due_for(self, viewer_zone: str) -> str:
        return show_due(self.due_at, self.due_zone, self.all_day, viewer_zone)

    def status_for(self, now: datetime) -> str:
        text = shown_status(self.status)
        return f"{text}, OVERDUE" if self.overdue(now) else text

    @classmethod
    def from_row(cls, row: Any) -> Item:
        return cls(
            id=row["id"],
            summit_id=row["summit_id"],
            text=row["text"],
            owner_kind=row["owner_kind"],
            owner=row["owner"],
            due_at=parse_utc(row["due_at"]),
            due_zone=row["due_zone"],
            all_day=bool(row["all_day"]),
            status=row["status"],
            created_by=row["created_by"],
            created_at=parse_utc(row["created_at"]),
            updated_at=parse_utc(row["updated_at"]),
        )


async def get_summit(db: aiosqlite.Connection, number: int) -> Summit | None:
    async with db.execute("SELECT * FROM summits WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    return Summit.from_row(row) if row else None


async def summits_in_room(db: aiosqlite.Connection, room_id: str | None) -> list[Summit]:
    if room_id is None:
        return []
    async with db.execute("SELECT * FROM summits WHERE room_id = ? ORDER BY id", (room_id,)) as cur:
        return [Summit.from_row(r) for r in await cur.fetchall()]


async def get_item(db: aiosqlite.Connection, number: int) -> Item | None:
    async with db.execute("SELECT * FROM action_items WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    return Item.from_row(row) if row else None


async def insert_item(
    db: aiosqlite.Connection,
    summit_id: int,
    text: str,
    owner_kind: str,
    owner: str,
    due: Due,
    actor: str,
    now: datetime,
    event_id: str | None,
) -> int:
    """One new item and its first history line; returns its number (A-n)."""
    stamp = utc_iso(now)
    cur = await db.execute(
        "INSERT INTO action_items (summit_id, text, owner_kind, owner, due_at, due_zone, "
        "all_day, status, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id",
        (
            summit_id,
            text,
            owner_kind,
            owner,
            utc_iso(due.at),
            due.zone,
            int(due.all_day),
            actor,
            stamp,
            stamp,
        ),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    number = int(row[0])
    await add_history(db, number, actor, now, "created", None, "open", None, event_id)
    return number


async def add_history(
    db: aiosqlite.Connection,
    item_id: int,
    actor: str,
    now: datetime,
    field: str,
    old: str | None,
    new: str | None,
    comment: str | None,
    event_id: str | None,
) -> None:
    await db.execute(
        "INSERT INTO action_history (item_id, at, actor, field, old, new, comment, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (item_id, utc_iso(now), actor, field, old, new, comment, event_id),
    )


async def history(db: aiosqlite.Connection, item_id: int) -> list[Any]:
    async with db.execute(
        "SELECT at, actor, field, old, new, comment FROM action_history WHERE item_id = ? "
        "ORDER BY id",
        (item_id,),
    ) as cur:
        return list(await cur.fetchall())


# -- owners --------------------------------------------------------------------------------


async def resolve_owner(db: aiosqlite.Connection, text: str) -> tuple[str, str]:
    """("person", "@x:srv") or ("post", "FR-PARIS") for an owner; the post must exist."""
    try:
        kind, key = canonical_target(text)
    except ValueError as exc:
        raise UserError(
            f"owner: {exc}", example="!actions add S-1 FR-PARIS due=friday -- …"
        ) from None
    if kind == "post" and not await post_exists(db, key):
        raise UserError(
            f"owner: no post {key} in the directory (an admin adds it: !dir post {key}).",
            example="!actions add S-1 @alice:example.org due=friday -- …",
        )
    return kind, key


async def owner_label(db: aiosqlite.Connection, kind: str, owner: str) -> str:
    """The owner in a chat reply: a post by code, a person by name with a pill."""
    return owner if kind == "post" else person(owner)


async def owner_text(db: aiosqlite.Connection, kind: str, owner: str) -> str:
    """The owner in an exported file: plain text, `Name (@id)`."""
    if kind == "post":
        return owner
    name = await display_name(db, owner)
    return f"{name} ({owner})" if name else owner


async def owner_people(db: aiosqlite.Connection, kind: str, owner: str) -> list[str]:
    if kind == "person":
        return [owner]
    async with db.execute(
        "SELECT user_id FROM post_members WHERE post = ? ORDER BY user_id", (owner,)
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def owned_keys(db: aiosqlite.Connection, user_id: str) -> list[str]:
    """The owner values that mean this person: their ID and their posts' codes."""
    return [user_id, *await posts_of(db, user_id)]


# -- permissions ---------------------------------------------------------------------------


def is_secretariat(ctx: Context) -> bool:
    return ctx.person is not None and ctx.person.has_role("secretariat")


def sees_summit(ctx: Context, summit: Summit) -> bool:
    """Everyone in the summit's room (the command came from it), and the secretariat."""
    return is_secretariat(ctx) or (ctx.room_id is not None and ctx.room_id == summit.room_id)


async def is_owner(ctx: Context, item: Item) -> bool:
    if ctx.person is None:
        return False
    if item.owner_kind == "person":
        return item.owner == ctx.sender
    return item.owner in await posts_of(ctx.db, ctx.sender)


async def visible_summit(ctx: Context, number: int) -> Summit:
    summit = await get_summit(ctx.db, number)
    if summit is None or not sees_summit(ctx, summit):
        raise NotFound(
            f"No summit S-{number} that you can see (ask in the summit's room). "
            "Send !summit list for yours."
        )
    return summit


async def visible_item(ctx: Context, number: int) -> tuple[Item, Summit]:
    """The item if the sender may read it; NotFound otherwise (existence is not revealed)."""
    item = await get_item(ctx.db, number)
    summit = await get_summit(ctx.db, item.summit_id) if item else None
    if (
        item is None
        or summit is None
        or not (sees_summit(ctx, summit) or await is_owner(ctx, item))
    ):
        raise NotFound(f"No action item A-{number} that you can see. Send !actions list for yours.")
    return item, summit


def require_secretariat(ctx: Context, what: str) -> None:
    if not is_secretariat(ctx):
        raise UserError(
            f"Only the secretariat may {what}. Ask the summit's secretariat "
            "(!dir list shows who has that role, for admins)."
        )


def require_open(summit: Summit) -> None:
    if summit.state != "open":
        raise UserError(
            f"{summit.ref} is closed; nothing can be added to it or changed in it. "
            f"See it with !summit list, or open a new one with !summit open."
        )


# -- digest slots --------------------------------------------------------------------------

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_digest_at(now: datetime, zone: str, hhmm: str, days: list[str]) -> datetime:
    """The next working-day HH:MM in the zone strictly after now (DST-safe: wall clock)."""
    tz = ZoneInfo(zone)
    hour, minute = (int(p) for p in hhmm.split(":"))
    local_today = now.astimezone(tz).date()
    for offset in range(0, 15):
        day = local_today + timedelta(days=offset)
        if DAY_NAMES[day.weekday()] not in days:
            continue
        slot = datetime.combine(day, time(hour, minute), tzinfo=tz)
        if slot > now:
            return slot
    raise ValueError("no working day configured")
