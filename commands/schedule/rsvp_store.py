"""Answers to invitations (RSVP) in the store: who answered a visit or meeting, how, when.

The read side (`Answer`, `answers_for`) is what other features show (`!show`, `!agenda`,
the ICS file, the Monday brief); the write side is used by commands/schedule/rsvp.py only.
An answer holds for the item (every occurrence of a repeating one) until the person
changes it, withdraws it, or the item's time changes (a new round: every answer is reset).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from commands.context import parse_utc, utc_iso

ACCEPTED = "accepted"
DECLINED = "declined"
TENTATIVE = "tentative"
STATES = (ACCEPTED, DECLINED, TENTATIVE)


@dataclass(frozen=True)
class Answer:
    """One person's current answer to one item."""

    state: str  # ACCEPTED, DECLINED or TENTATIVE
    note: str
    at: datetime  # UTC
    reaction_event: str | None = None  # the reaction that gave it (its removal withdraws it)

    @classmethod
    def from_row(cls, row: Any) -> Answer:
        return cls(row["state"], row["note"], parse_utc(row["at"]), row["reaction_event"])


async def answers_for(
    db: aiosqlite.Connection, item_ids: Iterable[int]
) -> dict[int, dict[str, Answer]]:
    """The current answers to these items (schedule_items.id), by item then Matrix ID.

    Items nobody answered are absent. One query, whatever the number of items."""
    ids = sorted(set(item_ids))
    found: dict[int, dict[str, Answer]] = {}
    for start in range(0, len(ids), 500):  # within SQLite's and asyncpg's parameter limits
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with db.execute(
            "SELECT item_id, user_id, state, note, at, reaction_event FROM schedule_answers "
            f"WHERE item_id IN ({marks}) ORDER BY item_id, user_id",
            chunk,
        ) as cur:
            for row in await cur.fetchall():
                found.setdefault(int(row["item_id"]), {})[row["user_id"]] = Answer.from_row(row)
    return found


async def save_answer(
    db: aiosqlite.Connection, item_id: int, user_id: str, answer: Answer
) -> Answer | None:
    """Record `answer` as the person's current one; returns the one it replaces."""
    previous = (await answers_for(db, [item_id])).get(item_id, {}).get(user_id)
    await db.execute(
        "INSERT INTO schedule_answers (item_id, user_id, state, note, at, reaction_event) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, user_id) DO UPDATE SET "
        "state = excluded.state, note = excluded.note, at = excluded.at, "
        "reaction_event = excluded.reaction_event",
        (item_id, user_id, answer.state, answer.note, utc_iso(answer.at), answer.reaction_event),
    )
    return previous


async def withdraw_reaction(
    db: aiosqlite.Connection, reaction_event: str, sender: str
) -> tuple[int, Answer] | None:
    """Delete the answer this reaction gave, if it is still the sender's current answer:
    (item_id, the answer withdrawn), or None (an answer given since, or no such reaction)."""
    async with db.execute(
        "DELETE FROM schedule_answers WHERE reaction_event = ? AND user_id = ? "
        "RETURNING item_id, user_id, state, note, at, reaction_event",
        (reaction_event, sender),
    ) as cur:
        row = await cur.fetchone()
    return (int(row["item_id"]), Answer.from_row(row)) if row is not None else None


async def reset_answers(db: aiosqlite.Connection, item_id: int) -> dict[str, Answer]:
    """Clear every answer to the item (its time changed) and retire its invitations, so
    that a reaction on one sent before no longer counts. Returns the answers cleared."""
    cleared = (await answers_for(db, [item_id])).get(item_id, {})
    await db.execute("DELETE FROM schedule_answers WHERE item_id = ?", (item_id,))
    await db.execute(
        "UPDATE schedule_invitations SET round = -round WHERE item_id = ? AND round > 0",
        (item_id,),
    )
    return cleared


async def current_round(db: aiosqlite.Connection, item_id: int) -> int:
    """The item's invitation round: 1 at first, one more after each change of time."""
    async with db.execute(
        "SELECT MAX(ABS(round)), MAX(round) FROM schedule_invitations WHERE item_id = ?",
        (item_id,),
    ) as cur:
        row = await cur.fetchone()
    highest, live = (row[0], row[1]) if row is not None else (None, None)
    if highest is None:
        return 1
    return int(highest) if live is not None and int(live) > 0 else int(highest) + 1


async def record_invitation(
    db: aiosqlite.Connection, item_id: int, user_id: str, sent_at: datetime
) -> str:
    """A new invitation for this person (the outbox key its DM is queued with)."""
    number = await current_round(db, item_id)
    async with db.execute(
        "SELECT COUNT(*) FROM schedule_invitations WHERE item_id = ? AND user_id = ?",
        (item_id, user_id),
    ) as cur:
        row = await cur.fetchone()
    key = f"rsvp:{item_id}:{user_id}:{int(row[0]) + 1 if row else 1}"
    await db.execute(
        "INSERT INTO schedule_invitations (key, item_id, user_id, round, sent_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (key, item_id, user_id, number, utc_iso(sent_at)),
    )
    return key


@dataclass(frozen=True)
class Invitation:
    item_id: int
    user_id: str
    current: bool  # False: sent before the item's time changed


async def invitation_of_event(
    db: aiosqlite.Connection, event_id: str, room_id: str
) -> Invitation | None:
    """The invitation that was sent as this event in this room, if any (a reaction in
    another room naming it is not on it: see liaison.store.thread_of_event)."""
    async with db.execute(
        "SELECT i.item_id, i.user_id, i.round FROM outbox o "
        "JOIN schedule_invitations i ON i.key = o.key WHERE o.event_id = ? AND o.room_id = ?",
        (event_id, room_id),
    ) as cur:
        row = await cur.fetchone()
    return Invitation(int(row[0]), row[1], int(row[2]) > 0) if row is not None else None
