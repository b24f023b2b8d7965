"""The hand-over itself (H-n) in the store: its row, what moved, the history of every moved
object, and whether anything has moved on since (then it can no longer be undone)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from commands import history
from commands.context import parse_utc, utc_iso
from commands.ids import ObjectId
from commands.markings.current import markings_now
from commands.markings.entries import written_under
from commands.markings.model.policy import Policy

HANDOVER = "handover"  # the history action of a moved object, and of the H-n itself
UNDONE = "handover undone"


@dataclass(frozen=True)
class Step:
    """One move: an object's ID (or a post's code for `member`), the role that moved, and
    what its reversal needs (handover_store.move's flags)."""

    oid: str
    role: str
    flags: dict[str, Any]


@dataclass(frozen=True)
class Record:
    number: int
    old: str
    new: str
    actor: str
    post: str | None
    note: str | None
    steps: tuple[Step, ...]
    created_at: datetime
    undone_at: datetime | None

    @property
    def label(self) -> str:
        return f"H-{self.number}"

    @classmethod
    def from_row(cls, row: Any) -> Record:
        steps = tuple(Step(s["oid"], s["role"], s.get("flags", {})) for s in json.loads(row[6]))
        return cls(
            number=int(row[0]),
            old=row[1],
            new=row[2],
            actor=row[3],
            post=row[4],
            note=row[5],
            steps=steps,
            created_at=parse_utc(row[7]),
            undone_at=parse_utc(row[8]) if row[8] else None,
        )


_COLUMNS = "id, old_user, new_user, actor, post, note, moves, created_at, undone_at"


async def insert_record(
    db: aiosqlite.Connection,
    *,
    old: str,
    new: str,
    actor: str,
    post: str | None,
    note: str | None,
    steps: list[Step],
    now: datetime,
    event_id: str | None,
) -> int:
    moves = json.dumps([{"oid": s.oid, "role": s.role, "flags": s.flags} for s in steps])
    cur = await db.execute(
        "INSERT INTO handovers (old_user, new_user, actor, post, note, moves, created_at, "
        "event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (old, new, actor, post, note, moves, utc_iso(now), event_id),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    return int(row[0])


async def load_record(db: aiosqlite.Connection, number: int) -> Record | None:
    async with db.execute(f"SELECT {_COLUMNS} FROM handovers WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    return Record.from_row(row) if row is not None else None


async def recent_records(
    db: aiosqlite.Connection, user_id: str | None, limit: int = 15
) -> list[Record]:
    """The newest hand-overs: all of them (user_id None), or those this person made, gave or
    received."""
    if user_id is None:
        sql = f"SELECT {_COLUMNS} FROM handovers ORDER BY id DESC LIMIT ?"
        args: tuple[Any, ...] = (limit,)
    else:
        sql = (
            f"SELECT {_COLUMNS} FROM handovers WHERE old_user = ? OR new_user = ? OR actor = ? "
            "ORDER BY id DESC LIMIT ?"
        )
        args = (user_id, user_id, user_id, limit)
    async with db.execute(sql, args) as cur:
        return [Record.from_row(r) for r in await cur.fetchall()]


async def mark_undone(db: aiosqlite.Connection, number: int, now: datetime) -> None:
    await db.execute("UPDATE handovers SET undone_at = ? WHERE id = ?", (utc_iso(now), number))


async def record_history(
    db: aiosqlite.Connection,
    label: str,
    steps: list[Step] | tuple[Step, ...],
    *,
    frm: str,
    to: str,
    actor: str,
    now: datetime,
    event_id: str | None,
    policy: Policy,
    action: str = HANDOVER,
) -> None:
    """One line in each moved object's history (`H-3: requester, participant`), and the
    hand-over's own."""
    roles: dict[str, list[str]] = {}
    for step in steps:
        if step.role != "member":
            roles.setdefault(step.oid, []).append(step.role)
    # Each line is written under its object's effective marking now (an item's combined
    # with its summit's; unknown, shown to no one, if the object is gone: fail closed).
    ids = [ObjectId.parse(oid) for oid in roles]
    markings, _missing = await markings_now(db, ids, policy)
    for oid, held in roles.items():
        detail = f"{label}: {', '.join(held)}"
        await history.record(
            db,
            ObjectId.parse(oid),
            now,
            actor,
            action,
            old=frm,
            new=to,
            detail=detail,
            event_id=event_id,
            marking=written_under(markings[oid]) if oid in markings else None,
        )
    posts = ",".join(s.oid for s in steps if s.role == "member")
    await history.record(
        db,
        ObjectId.parse(label),
        now,
        actor,
        action,
        old=frm,
        new=to,
        detail=posts or None,
        event_id=event_id,
        marking=history.UNMARKED,  # a hand-over names posts only; its objects' lines are marked
    )


# -- has anything moved on since? -----------------------------------------------------------

_HOLDS = {
    "requester": "SELECT 1 FROM liaison_requests WHERE id = ? AND requester = ?",
    "addressee": "SELECT 1 FROM liaison_addressees WHERE request_id = ? AND user_id = ?",
    "owner": "SELECT 1 FROM action_items WHERE id = ? AND owner_kind = 'person' AND owner = ?",
    "organiser": "SELECT 1 FROM schedule_items WHERE number = ? AND creator = ? AND kind = ?",
    "participant": "SELECT 1 FROM schedule_participants p JOIN schedule_items i ON "
    "i.id = p.item_id WHERE i.number = ? AND p.who = ? AND i.kind = ?",
    "member": "SELECT 1 FROM post_members WHERE post = ? AND user_id = ?",
}


async def moved_on(db: aiosqlite.Connection, record: Record) -> list[str]:
    """The objects (and posts) that changed since the hand-over: someone acted on them, or
    their holder is no longer the successor alone. Empty: it can be undone as it was."""
    changed: list[str] = []
    for step in record.steps:
        if step.oid in changed:
            continue
        if not await _held(db, step, record.new) or await _held(db, step, record.old):
            changed.append(step.oid)
        elif step.role != "member" and await _acted_on_since(db, step.oid, record.label):
            changed.append(step.oid)
    return changed


async def _held(db: aiosqlite.Connection, step: Step, user_id: str) -> bool:
    if step.role == "member":
        args: tuple[Any, ...] = (step.oid, user_id)
    else:
        oid = ObjectId.parse(step.oid)
        args = (oid.number, user_id)
        if step.role in ("organiser", "participant"):
            args = (*args, oid.kind)
    async with db.execute(_HOLDS[step.role], args) as cur:
        return await cur.fetchone() is not None


async def _acted_on_since(db: aiosqlite.Connection, oid: str, label: str) -> bool:
    """A person's step on the object after the hand-over's (the bot's own notes aside)."""
    async with db.execute(
        "SELECT 1 FROM history WHERE object = ? AND actor != 'bot' AND id > (SELECT "
        "COALESCE(MAX(id), 0) FROM history WHERE object = ? AND action = ? AND detail LIKE ?)",
        (oid, oid, HANDOVER, f"{label}:%"),
    ) as cur:
        return await cur.fetchone() is not None
