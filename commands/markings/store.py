"""What the outbox reads and writes for markings: people's nation and clearance, the audit
of every exclusion, and the sender's notice (by name, in the object's thread)."""

from __future__ import annotations

from typing import Any

import aiosqlite

from commands.context import OutMessage
from commands.delivery import notice_target
from commands.ids import ObjectId
from commands.markings.model import Marking, Subject
from commands.markings.routing import withheld_notice


async def subjects(db: aiosqlite.Connection, user_ids: list[str]) -> list[Subject]:
    """Each person's nation and clearance from the directory; someone it does not know has
    neither (and so receives only unmarked items)."""
    known: dict[str, Subject] = {}
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        async with db.execute(
            f"SELECT user_id, display_name, nation, clearance FROM people "
            f"WHERE user_id IN ({marks})",
            chunk,
        ) as cur:
            for row in await cur.fetchall():
                known[row[0]] = Subject(row[0], row[2] or None, row[3] or None, row[1] or None)
    return [known.get(u, Subject(u)) for u in user_ids]


async def withheld(
    db: aiosqlite.Connection,
    origin: dict[str, Any] | None,
    about: str | None,
    marking: Marking,
    excluded: list[tuple[Subject, str]],
    now_iso: str,
) -> list[OutMessage]:
    """Record each exclusion (audit, and a liaison request's history) and return the
    sender's notice naming the people not yet told about for this object and reason."""
    obj = about or (origin or {}).get("object")
    fresh: list[tuple[str, str]] = []
    for person, reason in excluded:
        detail = f"{marking.banner}: not to {person.user_id}: {reason}"
        told_before = False
        if obj is not None:  # one notice per object, person and reason
            async with db.execute(
                "SELECT 1 FROM audit WHERE action = 'marking.withheld' AND object = ? "
                "AND detail = ?",
                (obj, detail),
            ) as cur:
                told_before = await cur.fetchone() is not None
        await db.execute(
            "INSERT INTO audit (at, actor, action, object, detail) VALUES (?, 'bot', ?, ?, ?)",
            (now_iso, "marking.withheld", obj, detail),
        )
        if told_before:
            continue
        fresh.append((person.label, reason))
        request = ObjectId.find(obj)
        if request is not None and request.kind == "LR" and str(request) == obj:
            await db.execute(
                "INSERT INTO history (object, at, actor, action, new, detail) "
                "SELECT ?, ?, 'bot', 'withheld', status, ? FROM liaison_requests WHERE id = ?",
                (obj, now_iso, f"not sent to {person.user_id}: {reason}", request.number),
            )
    if not fresh or not origin or not origin.get("user_id"):
        return []
    where = await notice_target(db, origin)
    body = withheld_notice(obj, marking, fresh)
    return [OutMessage(body=body, mentions=(origin["user_id"],), **where)]
