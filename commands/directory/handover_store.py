"""A hand-over in the store: what a person holds, the moves (and their reversal), the H-n rows.

The one write that crosses domains: a person's open requests, action items, meetings and
visits and post memberships change hands in the handler's one transaction. Each domain's
rows are read through its own store; the few UPDATEs that change a holder live here, beside
their reversal, so that undo is the same code run the other way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite

from commands.actions.store import active_items_owned_by, get_summit
from commands.context import utc_iso
from commands.directory.handover import Holding
from commands.directory.service import people_of
from commands.ids import ObjectId
from commands.liaison.store import active_requests_of
from commands.schedule.store import COLUMNS, item_from_row

# -- what a person holds --------------------------------------------------------------------


async def holdings(db: aiosqlite.Connection, old: str, new: str, now: datetime) -> list[Holding]:
    """Every open request `old` made or must answer, every open action item they own, every
    meeting and visit still to come they organise or attend."""
    return [
        *await _requests(db, old, new),
        *await _items(db, old),
        *await _meetings(db, old, new, now),
    ]


async def _requests(db: aiosqlite.Connection, old: str, new: str) -> list[Holding]:
    out = []
    for req in await active_requests_of(db, old):
        oid = ObjectId("LR", req.id)
        if req.requester == old:
            out.append(
                Holding(
                    oid,
                    "requester",
                    req.subject,
                    (req.marking,),
                    req.addressees,
                    other_side=new in req.addressees,
                )
            )
        if old in req.addressees:
            post = None if req.target.startswith("@") else req.target
            out.append(
                Holding(
                    oid,
                    "addressee",
                    req.subject,
                    (req.marking,),
                    (req.requester,),
                    other_side=req.requester == new,
                    via_post=post,
                )
            )
    return out


async def _items(db: aiosqlite.Connection, old: str) -> list[Holding]:
    out = []
    for item in await active_items_owned_by(db, old):
        summit = await get_summit(db, item.summit_id)
        assert summit is not None
        markings = (item.marking, summit.marking)
        out.append(
            Holding(ObjectId("A", item.id), "owner", item.text, markings, (item.created_by,))
        )
    return out


async def _meetings(db: aiosqlite.Connection, old: str, new: str, now: datetime) -> list[Holding]:
    async with db.execute(
        f"SELECT {COLUMNS} FROM schedule_items i WHERE i.kind IN ('M', 'V') "
        "AND i.state = 'active' AND (i.creator = ? OR EXISTS (SELECT 1 FROM "
        "schedule_participants p WHERE p.item_id = i.id AND p.who = ?)) ORDER BY i.id",
        (old, old),
    ) as cur:
        items = [item_from_row(r) for r in await cur.fetchall()]
    out = []
    for item in items:
        if item.next_after(now) is None:
            continue  # over: its story is history, not a contact for anyone
        oid = ObjectId(item.kind, item.number)
        people = await people_of(db, item.participants)
        if item.creator == old:
            out.append(Holding(oid, "organiser", item.title, (item.marking,), tuple(people)))
        if old in item.participants:
            others = tuple(dict.fromkeys([item.creator, *people]))
            out.append(Holding(oid, "participant", item.title, (item.marking,), others))
    return out


# -- moving one holding, and moving it back -------------------------------------------------
# Each move returns what its reversal needs (flags, stored with the hand-over as JSON).


async def move(
    db: aiosqlite.Connection, oid: str, role: str, frm: str, to: str, now: datetime
) -> dict[str, Any]:
    """Give `to` the role `frm` has on this object (a request, item, meeting or visit), or
    `frm`'s membership of a post (role `member`, `oid` the post's code)."""
    if role == "member":
        return await _move_membership(db, oid, frm, to)
    kind, number = _parts(oid)
    stamp = utc_iso(now)
    if role == "requester":
        await db.execute(
            "UPDATE liaison_requests SET requester = ?, updated_at = ? WHERE id = ?",
            (to, stamp, number),
        )
        return {"thread": await _move_thread(db, number, frm, to)}
    if role == "addressee":
        added = await _swap(db, _ADDRESSEES, number, frm, to)
        cur = await db.execute(
            "UPDATE liaison_requests SET target = ?, updated_at = ? WHERE id = ? AND target = ?",
            (to, stamp, number, frm),
        )
        target = cur.rowcount > 0
        await cur.close()
        return {"added": added, "target": target, "thread": await _move_thread(db, number, frm, to)}
    if role == "owner":
        await db.execute(
            "UPDATE action_items SET owner = ?, updated_at = ? WHERE id = ? "
            "AND owner_kind = 'person' AND owner = ?",
            (to, stamp, number, frm),
        )
        return {}
    if role == "organiser":
        await db.execute(
            "UPDATE schedule_items SET creator = ?, updated_at = ? WHERE kind = ? AND number = ?",
            (to, stamp, kind, number),
        )
        return {}
    if role == "participant":
        return {"added": await _swap(db, _PARTICIPANTS, await _item_id(db, kind, number), frm, to)}
    raise ValueError(f"no such hand-over role {role!r}")


async def move_back(
    db: aiosqlite.Connection,
    oid: str,
    role: str,
    frm: str,
    to: str,
    flags: dict[str, Any],
    now: datetime,
) -> None:
    """Reverse `move(oid, role, frm, to)`: `frm` holds it again, as before."""
    if role == "member":
        await _membership_back(db, oid, frm, to, flags)
        return
    kind, number = _parts(oid)
    if role in ("owner", "organiser"):
        await move(db, oid, role, to, frm, now)  # one holder: the same move the other way
        return
    if role == "requester":
        await db.execute(
            "UPDATE liaison_requests SET requester = ?, updated_at = ? WHERE id = ?",
            (frm, utc_iso(now), number),
        )
        await _thread_back(db, number, frm, to, flags.get("thread"))
        return
    if role == "addressee":
        await _unswap(db, _ADDRESSEES, number, frm, to, bool(flags.get("added")))
        if flags.get("target"):
            await db.execute(
                "UPDATE liaison_requests SET target = ?, updated_at = ? WHERE id = ?",
                (frm, utc_iso(now), number),
            )
        await _thread_back(db, number, frm, to, flags.get("thread"))
        return
    if role == "participant":
        item_id = await _item_id(db, kind, number)
        await _unswap(db, _PARTICIPANTS, item_id, frm, to, bool(flags.get("added")))
        return
    raise ValueError(f"no such hand-over role {role!r}")


def _parts(oid: str) -> tuple[str, int]:
    parsed = ObjectId.parse(oid)
    return parsed.kind, parsed.number


async def _item_id(db: aiosqlite.Connection, kind: str, number: int) -> int:
    async with db.execute(
        "SELECT id FROM schedule_items WHERE kind = ? AND number = ?", (kind, number)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


# A set of people on an object: (table, the object's column, the person's column).
_ADDRESSEES = ("liaison_addressees", "request_id", "user_id")
_PARTICIPANTS = ("schedule_participants", "item_id", "who")
_MEMBERS = ("post_members", "post", "user_id")


async def _swap(
    db: aiosqlite.Connection, where: tuple[str, str, str], key: int | str, frm: str, to: str
) -> bool:
    """`to` instead of `frm` in the set; False when `to` was in it already (`frm` leaves)."""
    table, obj, who = where
    async with db.execute(f"SELECT 1 FROM {table} WHERE {obj} = ? AND {who} = ?", (key, to)) as cur:
        present = await cur.fetchone() is not None
    if present:
        await db.execute(f"DELETE FROM {table} WHERE {obj} = ? AND {who} = ?", (key, frm))
        return False
    await db.execute(f"UPDATE {table} SET {who} = ? WHERE {obj} = ? AND {who} = ?", (to, key, frm))
    return True


async def _unswap(
    db: aiosqlite.Connection,
    where: tuple[str, str, str],
    key: int | str,
    frm: str,
    to: str,
    added: bool,
) -> None:
    """`frm` back in the set; `to` leaves it only if the hand-over put them there."""
    table, obj, who = where
    if added:
        await db.execute(
            f"UPDATE {table} SET {who} = ? WHERE {obj} = ? AND {who} = ?", (frm, key, to)
        )
    else:
        await db.execute(f"INSERT INTO {table} ({obj}, {who}) VALUES (?, ?)", (key, frm))


# -- a request's thread: the side's DM thread goes with the side ------------------------------
# A thread is keyed `LR-n:@person`; the key moves to the successor, and the outbox starts the
# thread again in their DM with the next message on it (bot/outbox/content.py: a root in
# another room), so their replies there reach the request.


async def _move_thread(db: aiosqlite.Connection, number: int, frm: str, to: str) -> str | None:
    """`renamed` (the thread is the successor's now), `dropped:<side>` (they had one on
    this request already: the leaving person's is removed), or None (no DM thread: a post's
    room holds this side)."""
    async with db.execute(
        "SELECT key, side FROM liaison_threads WHERE request_id = ? AND user_id = ?",
        (number, frm),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    key, side = str(row[0]), str(row[1])
    async with db.execute(
        "SELECT 1 FROM liaison_threads WHERE request_id = ? AND user_id = ?", (number, to)
    ) as cur:
        theirs = await cur.fetchone() is not None
    if theirs:
        await db.execute("DELETE FROM liaison_threads WHERE key = ?", (key,))
        return f"dropped:{side}"
    await _rekey(db, key, f"LR-{number}:{to}", to)
    return "renamed"


async def _thread_back(
    db: aiosqlite.Connection, number: int, frm: str, to: str, how: str | None
) -> None:
    if how == "renamed":
        await _rekey(db, f"LR-{number}:{to}", f"LR-{number}:{frm}", frm)
    elif how is not None and how.startswith("dropped:"):
        await db.execute(
            "INSERT INTO liaison_threads (key, request_id, side, user_id) VALUES (?, ?, ?, ?)",
            (f"LR-{number}:{frm}", number, how.split(":", 1)[1], frm),
        )


async def _rekey(db: aiosqlite.Connection, key: str, new_key: str, user_id: str) -> None:
    # An earlier message of that key (a thread the person had before) lets go of it.
    await db.execute("UPDATE outbox SET key = NULL WHERE key = ?", (new_key,))
    await db.execute("UPDATE outbox SET key = ? WHERE key = ?", (new_key, key))
    await db.execute(
        "UPDATE liaison_threads SET key = ?, user_id = ? WHERE key = ?", (new_key, user_id, key)
    )


# -- post memberships ------------------------------------------------------------------------


async def _move_membership(
    db: aiosqlite.Connection, post: str, frm: str, to: str
) -> dict[str, Any]:
    added = await _swap(db, _MEMBERS, post, frm, to)
    # The person's own post (people.post, shown by !whois) follows, where it was this one.
    cur = await db.execute(
        "UPDATE people SET post = NULL WHERE user_id = ? AND post = ?", (frm, post)
    )
    primary = cur.rowcount > 0
    await cur.close()
    cur = await db.execute(
        "UPDATE people SET post = ? WHERE user_id = ? AND post IS NULL", (post, to)
    )
    theirs = cur.rowcount > 0
    await cur.close()
    return {"added": added, "primary": primary, "theirs": theirs}


async def _membership_back(
    db: aiosqlite.Connection, post: str, frm: str, to: str, flags: dict[str, Any]
) -> None:
    await _unswap(db, _MEMBERS, post, frm, to, bool(flags.get("added")))
    if flags.get("theirs"):
        await db.execute("UPDATE people SET post = NULL WHERE user_id = ? AND post = ?", (to, post))
    if flags.get("primary"):
        await db.execute("UPDATE people SET post = ? WHERE user_id = ?", (post, frm))
