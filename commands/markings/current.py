"""The marking each object has now, read at send time: a message queued about an object is
routed by the object's marking when it leaves, not by the one it had when queued (a re-mark
applies to what is already queued). An object that cannot be found is reported as missing,
and its messages are withheld (fail closed).

An object's marking here is its *effective* marking: its own combined with that of the
object it belongs to. An action item belongs to its summit (what is shown with an item
names its summit, and `!show A-n` requires both), so re-marking a summit re-routes every
message queued about its items, and widening it shows no one an item its own marking
alone would have released. The same rule writes history entries (`effective`).
"""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from commands.ids import ObjectId
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy

# Each kind's marking columns: the object's own, then its container's (an item's summit).
# An item whose summit cannot be found is missing (its messages are withheld).
_QUERIES: dict[str, str] = {
    "LR": "SELECT marking FROM liaison_requests WHERE id = ?",
    "A": "SELECT i.marking, s.marking FROM action_items i "
    "JOIN summits s ON s.id = i.summit_id WHERE i.id = ?",
    "S": "SELECT marking FROM summits WHERE id = ?",
    "V": "SELECT marking FROM schedule_items WHERE kind = 'V' AND number = ?",
    "M": "SELECT marking FROM schedule_items WHERE kind = 'M' AND number = ?",
    "R": "SELECT marking FROM schedule_items WHERE kind = 'R' AND number = ?",
}


def object_id(text: str | None) -> ObjectId | None:
    """An object ID of a kind that carries a marking, or None (e.g. `S-1 export`)."""
    if not text:
        return None
    try:
        oid = ObjectId.parse(text)
    except ValueError:
        return None
    return oid if oid.kind in _QUERIES else None


def effective(policy: Policy, own: Marking | None, *containers: Marking | None) -> Marking | None:
    """An object's marking as its readers are judged by: its own combined with its
    containers' (an item's summit). What an item's history entries are written under."""
    if not containers:
        return own
    return policy.combine([own, *containers])


async def markings_now(
    db: aiosqlite.Connection, ids: Iterable[ObjectId], policy: Policy
) -> tuple[dict[str, Marking | None], list[str]]:
    """(effective marking of each object found, IDs of those not found)."""
    found: dict[str, Marking | None] = {}
    missing: list[str] = []
    for oid in dict.fromkeys(ids):
        async with db.execute(_QUERIES[oid.kind], (oid.number,)) as cur:
            row = await cur.fetchone()
        if row is None:
            missing.append(str(oid))
        else:
            own, *containers = (Marking.from_column(text) for text in row)
            found[str(oid)] = effective(policy, own, *containers)
    return found, missing
