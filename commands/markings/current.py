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

# Each kind's key and marking columns: the object's own, then its container's (an item's
# summit), for the objects whose keys fill `{keys}`. An item whose summit cannot be found is
# missing (its messages are withheld).
_QUERIES: dict[str, str] = {
    "LR": "SELECT id, marking FROM liaison_requests WHERE id IN ({keys})",
    "A": "SELECT i.id, i.marking, s.marking FROM action_items i "
    "JOIN summits s ON s.id = i.summit_id WHERE i.id IN ({keys})",
    "S": "SELECT id, marking FROM summits WHERE id IN ({keys})",
    "V": "SELECT number, marking FROM schedule_items WHERE kind = 'V' AND number IN ({keys})",
    "M": "SELECT number, marking FROM schedule_items WHERE kind = 'M' AND number IN ({keys})",
    "R": "SELECT number, marking FROM schedule_items WHERE kind = 'R' AND number IN ({keys})",
}
_CHUNK = 500  # keys per query: a file holding a thousand objects is read in a few queries


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
    """(effective marking of each object found, IDs of those not found), in the order given.

    Read a kind at a time, not an object at a time: an agenda's file holds up to a thousand
    objects, and each query is a round trip to the database thread at send time."""
    wanted = list(dict.fromkeys(ids))
    by_kind: dict[str, list[int]] = {}
    for oid in wanted:
        by_kind.setdefault(oid.kind, []).append(oid.number)
    rows: dict[tuple[str, int], Marking | None] = {}
    for kind, numbers in by_kind.items():
        for at in range(0, len(numbers), _CHUNK):
            chunk = numbers[at : at + _CHUNK]
            sql = _QUERIES[kind].format(keys=",".join("?" * len(chunk)))
            async with db.execute(sql, chunk) as cur:
                for key, *columns in await cur.fetchall():
                    own, *containers = (Marking.from_column(text) for text in columns)
                    rows[kind, int(key)] = effective(policy, own, *containers)
    found: dict[str, Marking | None] = {}
    missing: list[str] = []
    for oid in wanted:
        if (oid.kind, oid.number) in rows:
            found[str(oid)] = rows[oid.kind, oid.number]
        else:
            missing.append(str(oid))
    return found, missing
