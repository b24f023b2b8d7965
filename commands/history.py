"""One history for every object: who did what to it, and when (table `history`, by ObjectId).

Every domain records its steps here and shows them from here; the audit log (Context.audit)
is the separate security record of commands and never holds the people's words.

Each entry keeps the marking its object had when it was written (`marking`: the object's
marking column, UNMARKED, or None where it is not known): an entry is shown only to
readers that marking covers (commands/markings/entries.py), so widening an object's
releasability does not show its new readers what was written before they were covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from commands.context import parse_utc, utc_iso
from commands.ids import ObjectId

UNMARKED = ""  # an entry written while its object was unmarked (NULL: not known)
COLUMNS = "at, actor, action, old, new, detail, event_id, marking"


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    old: str | None
    new: str | None
    detail: str | None
    event_id: str | None
    marking: str | None = None  # in force when written: a marking column, UNMARKED or None

    @classmethod
    def from_row(cls, row: Any) -> Entry:
        return cls(parse_utc(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], row[7])


async def record(
    db: aiosqlite.Connection,
    obj: ObjectId,
    at: datetime,
    actor: str,
    action: str,
    *,
    old: str | None = None,
    new: str | None = None,
    marking: str | None,
    detail: str | None = None,
    event_id: str | None = None,
) -> None:
    """One step; `marking` is the object's marking in force as it is written (as its
    column holds it, UNMARKED when unmarked; commands/markings/entries.py `written_under`)."""
    await db.execute(
        "INSERT INTO history (object, at, actor, action, old, new, detail, event_id, marking) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (str(obj), utc_iso(at), actor, action, old, new, detail, event_id, marking),
    )


async def of(db: aiosqlite.Connection, obj: ObjectId) -> list[Entry]:
    """The object's history, oldest first."""
    async with db.execute(
        f"SELECT {COLUMNS} FROM history WHERE object = ? ORDER BY id",
        (str(obj),),
    ) as cur:
        return [Entry.from_row(row) for row in await cur.fetchall()]
