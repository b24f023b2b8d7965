"""The brief's SQL: each person's weekly choice and last week briefed (weekly_briefs), and
which requests, action items and scheduled items a person's week concerns (their IDs; each
domain's own store loads the objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import aiosqlite

from commands.context import utc_iso
from commands.markings.model.marking import Marking

# -- the person's choice -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """`weekly`: True (on), False (off) or None (the deployment's default)."""

    weekly: bool | None
    briefed_week: date | None


async def load_choice(db: aiosqlite.Connection, user_id: str) -> Choice:
    async with db.execute(
        "SELECT weekly, briefed_week FROM weekly_briefs WHERE user_id = ?", (user_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return Choice(None, None)
    weekly = None if row[0] is None else bool(row[0])
    return Choice(weekly, date.fromisoformat(row[1]) if row[1] else None)


async def set_weekly(db: aiosqlite.Connection, user_id: str, on: bool, now: datetime) -> None:
    await db.execute(
        "INSERT INTO weekly_briefs (user_id, weekly, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET weekly = excluded.weekly, "
        "updated_at = excluded.updated_at",
        (user_id, int(on), utc_iso(now)),
    )


async def set_briefed(db: aiosqlite.Connection, user_id: str, monday: date, now: datetime) -> None:
    await db.execute(
        "INSERT INTO weekly_briefs (user_id, briefed_week, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET briefed_week = excluded.briefed_week, "
        "updated_at = excluded.updated_at",
        (user_id, monday.isoformat(), utc_iso(now)),
    )


async def people_choosing(db: aiosqlite.Connection, default_on: bool) -> list[str]:
    """Everyone whose weekly brief is on: by their own choice, or by the deployment's
    default for the people the directory knows who chose neither."""
    sql = "SELECT user_id FROM weekly_briefs WHERE weekly = 1"
    if default_on:
        sql += (
            " UNION SELECT p.user_id FROM people p WHERE NOT EXISTS (SELECT 1 FROM "
            "weekly_briefs b WHERE b.user_id = p.user_id AND b.weekly IS NOT NULL)"
        )
    async with db.execute(f"SELECT user_id FROM ({sql}) AS chosen ORDER BY user_id") as cur:
        return [str(r[0]) for r in await cur.fetchall()]


async def pending_briefs(db: aiosqlite.Connection, kind: str) -> dict[str, str]:
    """Each person's pending brief job: user ID -> its payload (JSON text)."""
    async with db.execute(
        "SELECT ref, payload FROM jobs WHERE kind = ? AND state = 'pending'", (kind,)
    ) as cur:
        return {str(r[0]): str(r[1]) for r in await cur.fetchall()}


# -- what a week concerns (IDs only) --------------------------------------------------------


# Each query returns (ID, marking column(s)): a listing counts what is released to its reader
# from these alone and loads only the objects it shows (a person with a thousand open
# requests costs one query, not two thousand).
Found = list[tuple[int, Marking | None]]


async def requests_waiting_for(
    db: aiosqlite.Connection, user_id: str, statuses: tuple[str, ...]
) -> Found:
    """Requests addressed to the person (directly or through a post), oldest first."""
    marks = ",".join("?" * len(statuses))
    async with db.execute(
        "SELECT r.id, r.marking FROM liaison_requests r WHERE r.status IN "
        f"({marks}) AND r.id IN (SELECT request_id FROM liaison_addressees WHERE user_id = ?) "
        "AND r.requester <> ? ORDER BY r.created_at, r.id",
        (*statuses, user_id, user_id),
    ) as cur:
        return [(int(r[0]), Marking.from_column(r[1])) for r in await cur.fetchall()]


async def requests_made_by(
    db: aiosqlite.Connection, user_id: str, statuses: tuple[str, ...]
) -> Found:
    """Requests the person made that others have not answered yet, oldest first."""
    marks = ",".join("?" * len(statuses))
    async with db.execute(
        f"SELECT id, marking FROM liaison_requests WHERE requester = ? AND status IN ({marks}) "
        "ORDER BY created_at, id",
        (user_id, *statuses),
    ) as cur:
        return [(int(r[0]), Marking.from_column(r[1])) for r in await cur.fetchall()]


async def items_due_by(
    db: aiosqlite.Connection, owners: list[str], statuses: tuple[str, ...], until: datetime
) -> list[tuple[int, Marking | None, Marking | None]]:
    """Open action items these owners (a person and their posts) hold, due before `until`
    (overdue ones included), in open summits, earliest due first; with the item's and its
    summit's markings (both must be released to a reader)."""
    owner_marks = ",".join("?" * len(owners))
    marks = ",".join("?" * len(statuses))
    async with db.execute(
        "SELECT i.id, i.marking, s.marking FROM action_items i "
        "JOIN summits s ON s.id = i.summit_id "
        f"WHERE i.owner IN ({owner_marks}) AND i.status IN ({marks}) AND i.due_at < ? "
        "AND s.state = 'open' ORDER BY i.due_at, i.id",
        (*owners, *statuses, utc_iso(until)),
    ) as cur:
        return [
            (int(r[0]), Marking.from_column(r[1]), Marking.from_column(r[2]))
            for r in await cur.fetchall()
        ]


async def scheduled_for(
    db: aiosqlite.Connection,
    user_id: str,
    kinds: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> list[tuple[str, int]]:
    """(kind, number) of the active visits and meetings the person made or takes part in
    (themselves or through a post) that may occur in [start, end): one-offs that start
    then, repeating ones whose next occurrence is before `end` (their rule decides)."""
    marks = ",".join("?" * len(kinds))
    async with db.execute(
        f"SELECT i.kind, i.number FROM schedule_items i WHERE i.state = 'active' "
        f"AND i.kind IN ({marks}) AND ((i.rrule IS NULL AND i.start_at >= ? AND i.start_at < ?) "
        "OR (i.rrule IS NOT NULL AND i.next_at < ?)) "
        "AND (i.creator = ? OR EXISTS (SELECT 1 FROM schedule_participants p "
        "WHERE p.item_id = i.id AND (p.who = ? OR upper(p.who) IN "
        "(SELECT m.post FROM post_members m WHERE m.user_id = ?)))) ORDER BY i.id",
        (*kinds, utc_iso(start), utc_iso(end), utc_iso(end), user_id, user_id, user_id),
    ) as cur:
        return [(str(r[0]), int(r[1])) for r in await cur.fetchall()]
