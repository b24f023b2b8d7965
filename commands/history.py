"""One history for every object: who did what to it, and when (table `history`, by ObjectId).

Every domain records its steps here and shows them from here; the audit log (Context.audit)
is the separate security record of commands and never holds the people's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from commands.context import parse_utc, utc_iso
from commands.ids import ObjectId


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    old: str | None
    new: str | None
    detail: str | None
    event_id: str | None

    @classmethod
    def from_row(cls, row: Any) -> Entry:
        return cls(parse_utc(row[0]), row[1], row[2], row[3], row[4], row[5], row[6])


async def record(
    db: aiosqlite.Connection,
    obj: ObjectId,
    at: datetime,
    actor: str,
    action: str,
    *,
    old: str | None = None,
    new: str | None = None,
    detail: str | None = None,
    event_id: str | None = None,
) -> None:
    await db.execute(
        "INSERT INTO history (object, at, actor, action, old, new, detail, event_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (str(obj), utc_iso(at), actor, action, old, new, detail, event_id),
    )


async def of(db: aiosqlite.Connection, obj: ObjectId) -> list[Entry]:
    """The object's history, oldest first."""
    async with db.execute(
        "SELECT at, actor, action, old, new, detail, event_id FROM history WHERE object = ? "
        "ORDER BY id",
        (str(obj),),
    ) as cur:
        return [Entry.from_row(row) for row in await cur.fetchall()]
