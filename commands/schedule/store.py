"""Visits, meetings and reminders in the store: the item row, its jobs, its history."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands import history
from commands.context import Context, parse_utc, utc_iso
from commands.ids import ObjectId
from commands.markings.entries import written_under
from commands.markings.model.marking import Marking
from commands.schedule.model import KIND_NAMES, LEAD_JOB, NEXT_JOB
from commands.time import (
    next_occurrence,
    occurrences_between,
)

log = logging.getLogger(__name__)


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
    marking: Marking | None = None

    @property
    def code(self) -> str:
        return f"{self.kind}-{self.number}"

    @property
    def marked(self) -> dict[str, Any]:
        """What every message about this item carries (the outbox banners and routes it)."""
        return {"marking": self.marking, "about": self.code}

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


async def load_item(db: aiosqlite.Connection, kind: str, number: int) -> Item | None:
    async with db.execute(
        f"SELECT {COLUMNS} FROM schedule_items i WHERE kind = ? AND number = ?", (kind, number)
    ) as cur:
        row = await cur.fetchone()
    return item_from_row(row) if row is not None else None


# The participants come along in the same query (one round trip per reminder fired).
COLUMNS = (
    "i.*, (SELECT group_concat(who, '\n') FROM (SELECT who FROM schedule_participants "
    "p WHERE p.item_id = i.id ORDER BY who) AS w) AS who_list"
)


def item_from_row(row: Any) -> Item:
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
        marking=Marking.from_column(row["marking"]),
    )


async def save_item(ctx: Context, item: Item) -> None:
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
        Marking.column(item.marking),
    )
    if item.id == 0:
        async with ctx.db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM schedule_items WHERE kind = ?", (item.kind,)
        ) as cur:
            row = await cur.fetchone()
        item.number = int(row[0]) if row else 1
        async with ctx.db.execute(
            "INSERT INTO schedule_items (title, start_at, end_at, timezone, rrule, place, "
            "lead_seconds, room_id, state, next_at, updated_at, marking, kind, number, creator, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (*values, item.kind, item.number, item.creator, utc_iso(ctx.now)),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        item.id = int(row[0])
    else:
        await ctx.db.execute(
            "UPDATE schedule_items SET title=?, start_at=?, end_at=?, timezone=?, rrule=?, "
            "place=?, lead_seconds=?, room_id=?, state=?, next_at=?, updated_at=?, marking=? "
            "WHERE id=?",
            (*values, item.id),
        )
    await ctx.db.execute("DELETE FROM schedule_participants WHERE item_id = ?", (item.id,))
    await ctx.db.executemany(
        "INSERT INTO schedule_participants (item_id, who) VALUES (?, ?)",
        [(item.id, who) for who in item.participants],
    )


# -- jobs: only the next occurrence is scheduled ---------------------------------------------


async def schedule_occurrence(ctx: Context, item: Item, occ: datetime, not_before: datetime) -> int:
    """Reminders for one occurrence (those due at or after not_before), and the 'next' job."""
    ref = f"{item.code}@{utc_iso(occ)}"
    count = 0
    for lead in item.leads:
        due = occ - lead
        if due < not_before:
            continue
        await ctx.schedule(LEAD_JOB, ref, due, {"occ": utc_iso(occ), "lead": lead.total_seconds()})
        count += 1
    if item.rrule:
        await ctx.schedule(NEXT_JOB, ref, occ, {"occ": utc_iso(occ)})
    item.next_at = occ
    return count


async def unschedule_item(ctx: Context, item: Item) -> None:
    async with ctx.db.execute(
        "UPDATE jobs SET state = 'cancelled' WHERE kind IN (?, ?) AND ref LIKE ? "
        "AND state = 'pending' RETURNING id",
        (LEAD_JOB, NEXT_JOB, f"{item.code}@%"),
    ) as cur:
        ctx.unscheduled.extend(int(r[0]) for r in await cur.fetchall())


async def reschedule(ctx: Context, item: Item) -> int:
    """After create or edit: cancel what is pending, schedule the next occurrence from now."""
    await unschedule_item(ctx, item)
    occ = item.next_after(ctx.now)
    item.next_at = None
    if occ is None:
        return 0
    return await schedule_occurrence(ctx, item, occ, ctx.now)


async def record_step(
    ctx: Context, item: Item, action: str, detail: str | None, *, under: Marking | None
) -> None:
    """A step in the item's history, written under the marking `under` (the item's, or the
    stricter of two for a re-marking: commands/markings/entries.py), and the same command
    in the audit log."""
    actor = ctx.person.user_id if ctx.person else "bot"
    event_id = ctx.incoming.event_id if ctx.incoming else None
    oid = ObjectId(item.kind, item.number)
    await history.record(
        ctx.db,
        oid,
        ctx.now,
        actor,
        action,
        detail=detail,
        event_id=event_id,
        marking=written_under(under),
    )
    await ctx.audit(f"{KIND_NAMES[item.kind]}.{action}", item.code, detail or "")
