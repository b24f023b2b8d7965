"""What a network accumulates in a year, written straight into the store (issue 25): many
visits, meetings and reminders (most of them past), action items, liaison requests, and one
request with hundreds of long thread replies. Rows are written as the bot writes them, so
the bot then reads them as it would in production; this is only faster than sending each
command. Used by bench/hostile.py (in process) and bench/scale.py (a real bot on Synapse).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.context import utc_iso

PARIS = ZoneInfo("Europe/Paris")  # the zone every item is written in
REPLY_CHARS = 32_000  # the longest thread reply the bot accepts (max_body_length)


@dataclass(frozen=True)
class Load:
    items: int = 1_000  # schedule items: a third past one-offs, a third ahead, a third repeating
    actions: int = 1_000
    requests: int = 1_000
    replies: int = 500  # thread replies of the longest request
    people: tuple[str, ...] = ("@alice:test",)
    creator: str = "@sec:test"


def reply_text(number: int) -> str:
    paragraph = ("lorem ipsum dolor sit amet " * 40).strip() + "\n\n"
    text = f"reply {number} " + paragraph * (REPLY_CHARS // len(paragraph) + 1)
    return text[:REPLY_CHARS]


async def grow(db: Any, now: datetime, load: Load, *, summit_id: int = 1) -> int:
    """Write `load` into the store; returns the ID number of the long request (LR-n)."""
    people = load.people
    async with db.execute("SELECT COALESCE(MAX(number), 0) FROM schedule_items") as cur:
        row = await cur.fetchone()
    base = max(10_000, int(row[0]) + 1)
    for n in range(load.items):
        who = people[n % len(people)]
        part = n % 3
        if part == 0:  # a past one-off (next_at stays at its start, as the bot leaves it)
            start, rule = now - timedelta(days=1 + n % 365, hours=n % 24), None
        elif part == 1:  # ahead, over the next 90 days
            start, rule = now + timedelta(days=n % 90, hours=1 + n % 12), None
        else:  # weekly, started some time this year, at any hour (not all at now's time
            # of day: a seventh of them would fall due together just after `now` and, with no
            # job written to move them on, stay overdue in a running bot; issue 25)
            start, rule = now - timedelta(days=n % 300, hours=n % 24), "FREQ=WEEKLY"
        next_at = start
        if rule is not None:  # the first occurrence from now, in Paris wall time as the bot
            local = start.astimezone(PARIS)  # expands it (a summer start stays at its hour)
            next_at = local + timedelta(weeks=max(0, (now - start).days // 7 - 1))
            while next_at < now:
                next_at += timedelta(weeks=1)  # aware + timedelta: the same wall time
            next_at = next_at.astimezone(start.tzinfo)
        async with db.execute(
            "INSERT INTO schedule_items (kind, number, title, start_at, timezone, rrule, "
            "creator, state, next_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'Europe/Paris', ?, ?, 'active', ?, ?, ?) RETURNING id",
            (
                "M",
                base + n,
                f"Meeting {n}",
                utc_iso(start),
                rule,
                load.creator,
                utc_iso(next_at),
                utc_iso(now),
                utc_iso(now),
            ),
        ) as cur:
            row = await cur.fetchone()
        await db.execute(
            "INSERT INTO schedule_participants (item_id, who) VALUES (?, ?)", (row[0], who)
        )
    for n in range(load.actions):
        status = ("open", "in_progress", "done", "cancelled")[n % 4]
        await db.execute(
            "INSERT INTO action_items (summit_id, text, owner_kind, owner, due_at, due_zone, "
            "all_day, status, created_by, created_at, updated_at) "
            "VALUES (?, ?, 'person', ?, ?, 'Europe/Paris', 1, ?, ?, ?, ?)",
            (
                summit_id,
                f"item {n}",
                people[n % len(people)],
                utc_iso(now + timedelta(days=n % 200 - 100)),
                status,
                load.creator,
                utc_iso(now),
                utc_iso(now),
            ),
        )
    long_request = 0
    for n in range(load.requests + 1):
        status = ("open", "acknowledged", "answered", "closed", "declined")[n % 5]
        requester, addressee = people[n % len(people)], people[(n + 1) % len(people)]
        async with db.execute(
            "INSERT INTO liaison_requests (requester, target, subject, body, precedence, "
            "status, created_at, updated_at) VALUES (?, ?, ?, 'body', 'routine', ?, ?, ?) "
            "RETURNING id",
            (
                requester,
                addressee,
                f"Subject {n}",
                status if n else "open",
                utc_iso(now - timedelta(hours=n)),
                utc_iso(now),
            ),
        ) as cur:
            row = await cur.fetchone()
        await db.execute(
            "INSERT INTO liaison_addressees (request_id, user_id) VALUES (?, ?)",
            (row[0], addressee),
        )
        await db.execute(
            "INSERT INTO history (object, at, actor, action, new) VALUES (?, ?, ?, 'created', ?)",
            (f"LR-{row[0]}", utc_iso(now), requester, "open"),
        )
        if n == 0:
            long_request = int(row[0])
    for n in range(load.replies):
        await db.execute(
            "INSERT INTO history (object, at, actor, action, new, detail) "
            "VALUES (?, ?, ?, 'reply', 'acknowledged', ?)",
            (f"LR-{long_request}", utc_iso(now), people[n % len(people)], reply_text(n)),
        )
    return long_request
