"""The marking each object has now, read at send time: a message queued about an object is
routed by the object's marking when it leaves, not by the one it had when queued (a re-mark
applies to what is already queued). An object that cannot be found is reported as missing,
and its messages are withheld (fail closed)."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from commands.ids import ObjectId
from commands.markings.model.marking import Marking

# Where each kind keeps its marking: (table, the WHERE clause naming one object).
_TABLES: dict[str, tuple[str, str]] = {
    "LR": ("liaison_requests", "id = ?"),
    "A": ("action_items", "id = ?"),
    "S": ("summits", "id = ?"),
    "V": ("schedule_items", "kind = 'V' AND number = ?"),
    "M": ("schedule_items", "kind = 'M' AND number = ?"),
    "R": ("schedule_items", "kind = 'R' AND number = ?"),
}


def object_id(text: str | None) -> ObjectId | None:
    """An object ID of a kind that carries a marking, or None (e.g. `S-1 export`)."""
    if not text:
        return None
    try:
        oid = ObjectId.parse(text)
    except ValueError:
        return None
    return oid if oid.kind in _TABLES else None


async def markings_now(
    db: aiosqlite.Connection, ids: Iterable[ObjectId]
) -> tuple[dict[str, Marking | None], list[str]]:
    """(marking of each object found, IDs of those not found)."""
    found: dict[str, Marking | None] = {}
    missing: list[str] = []
    for oid in dict.fromkeys(ids):
        table, where = _TABLES[oid.kind]
        async with db.execute(f"SELECT marking FROM {table} WHERE {where}", (oid.number,)) as cur:
            row = await cur.fetchone()
        if row is None:
            missing.append(str(oid))
        else:
            found[str(oid)] = Marking.from_column(row[0])
    return found, missing
