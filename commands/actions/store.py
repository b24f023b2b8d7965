"""Summits and action items in the store: rows (one from_row each), owners, history.

Overdue is derived (status active and deadline passed), never stored, so it is right in every
time zone and after every restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from commands import history
from commands.actions.model import ACTIVE, shown_status
from commands.context import parse_utc, utc_iso
from commands.directory.service import (
    canonical_target,
    display_name,
    post_exists,
    post_members,
    posts_of,
)
from commands.errors import UserError
from commands.i18n import _
from commands.ids import ObjectId
from commands.markings.current import effective
from commands.markings.entries import written_under
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.render import person
from commands.time import Due, show_due

# -- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summit:
    id: int
    name: str
    starts_on: str | None
    ends_on: str | None
    room_id: str
    timezone: str
    state: str
    created_by: str
    marking: Marking | None = None  # the default for its items
    language: str | None = None  # what goes to its room (lang=); None: ATTACHE_LANGUAGE

    @property
    def ref(self) -> str:
        return f"S-{self.id}"

    @classmethod
    def from_row(cls, row: Any) -> Summit:
        return cls(
            id=row["id"],
            name=row["name"],
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            room_id=row["room_id"],
            timezone=row["timezone"],
            state=row["state"],
            created_by=row["created_by"],
            marking=Marking.from_column(row["marking"]),
            language=row["language"],
        )


@dataclass(frozen=True)
class Item:
    id: int
    summit_id: int
    text: str
    owner_kind: str
    owner: str
    due_at: datetime
    due_zone: str
    all_day: bool
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    marking: Marking | None = None

    @property
    def ref(self) -> str:
        return f"A-{self.id}"

    @property
    def marked(self) -> dict[str, Any]:
        """What every message about this item carries (the outbox banners and routes it)."""
        return {"marking": self.marking, "about": self.ref}

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE and now > self.due_at

    def due_for(self, viewer_zone: str) -> str:
        return show_due(Due(self.due_at, self.due_zone, self.all_day), viewer_zone)

    def status_for(self, now: datetime) -> str:
        text = shown_status(self.status)
        return _("{status}, OVERDUE", status=text) if self.overdue(now) else text

    @classmethod
    def from_row(cls, row: Any) -> Item:
        return cls(
            id=row["id"],
            summit_id=row["summit_id"],
            text=row["text"],
            owner_kind=row["owner_kind"],
            owner=row["owner"],
            due_at=parse_utc(row["due_at"]),
            due_zone=row["due_zone"],
            all_day=bool(row["all_day"]),
            status=row["status"],
            created_by=row["created_by"],
            created_at=parse_utc(row["created_at"]),
            updated_at=parse_utc(row["updated_at"]),
            marking=Marking.from_column(row["marking"]),
        )


async def get_summit(db: aiosqlite.Connection, number: int) -> Summit | None:
    async with db.execute("SELECT * FROM summits WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    return Summit.from_row(row) if row else None


async def insert_summit(
    db: aiosqlite.Connection,
    *,
    name: str,
    room_id: str | None,
    timezone: str,
    created_by: str,
    now: datetime,
    starts_on: str | None = None,
    ends_on: str | None = None,
    marking: Marking | None = None,
    language: str | None = None,
) -> Summit:
    """A new open summit (the caller plans its digest and records the step)."""
    cur = await db.execute(
        "INSERT INTO summits (name, starts_on, ends_on, room_id, timezone, created_by, "
        "created_at, marking, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            name,
            starts_on,
            ends_on,
            room_id,
            timezone,
            created_by,
            utc_iso(now),
            Marking.column(marking),
            language,
        ),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    summit = await get_summit(db, int(row[0]))
    assert summit is not None
    return summit


async def summits_in_room(db: aiosqlite.Connection, room_id: str | None) -> list[Summit]:
    if room_id is None:
        return []
    async with db.execute("SELECT * FROM summits WHERE room_id = ? ORDER BY id", (room_id,)) as cur:
        return [Summit.from_row(r) for r in await cur.fetchall()]


async def get_item(db: aiosqlite.Connection, number: int) -> Item | None:
    async with db.execute("SELECT * FROM action_items WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    return Item.from_row(row) if row else None


async def active_items_owned_by(db: aiosqlite.Connection, user_id: str) -> list[Item]:
    """The items this person owns by name (not through a post) that are still to do."""
    states = sorted(ACTIVE)
    marks = ",".join("?" * len(states))
    async with db.execute(
        f"SELECT * FROM action_items WHERE owner_kind = 'person' AND owner = ? "
        f"AND status IN ({marks}) ORDER BY id",
        (user_id, *states),
    ) as cur:
        return [Item.from_row(r) for r in await cur.fetchall()]


async def insert_item(
    db: aiosqlite.Connection,
    summit_id: int,
    text: str,
    owner_kind: str,
    owner: str,
    due: Due,
    actor: str,
    now: datetime,
    event_id: str | None,
    marking: Marking | None = None,
    *,
    policy: Policy,
    step: str = "created",
) -> int:
    """One new item and its first history line (`step`: created, or imported from
    minutes); returns its number (A-n)."""
    stamp = utc_iso(now)
    cur = await db.execute(
        "INSERT INTO action_items (summit_id, text, owner_kind, owner, due_at, due_zone, "
        "all_day, status, created_by, created_at, updated_at, marking) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?) RETURNING id",
        (
            summit_id,
            text,
            owner_kind,
            owner,
            utc_iso(due.at),
            due.zone,
            int(due.all_day),
            actor,
            stamp,
            stamp,
            Marking.column(marking),
        ),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    number = int(row[0])
    await add_history(
        db, number, actor, now, step, None, "open", None, event_id, marking=marking, policy=policy
    )
    return number


async def add_history(
    db: aiosqlite.Connection,
    item_id: int,
    actor: str,
    now: datetime,
    field: str,
    old: str | None,
    new: str | None,
    comment: str | None,
    event_id: str | None,
    *,
    marking: Marking | None,
    policy: Policy,
) -> None:
    """One step of an item's story, in the shared history (commands.history), written under
    the item's effective marking: `marking` (the item's own, or the stricter of two for a
    re-marking) combined with its summit's as it is now (commands/markings/current.py).
    Widening the summit later then shows its new readers nothing written before; an item
    whose summit is not found is written under no known marking (shown to no one)."""
    async with db.execute(
        "SELECT s.marking FROM action_items i JOIN summits s ON s.id = i.summit_id WHERE i.id = ?",
        (item_id,),
    ) as cur:
        row = await cur.fetchone()
    under = (
        written_under(effective(policy, marking, Marking.from_column(row[0])))
        if row is not None
        else None
    )
    await history.record(
        db,
        ObjectId("A", item_id),
        now,
        actor,
        field,
        old=old,
        new=new,
        detail=comment,
        event_id=event_id,
        marking=under,
    )


# -- owners --------------------------------------------------------------------------------


async def resolve_owner(db: aiosqlite.Connection, text: str) -> tuple[str, str]:
    """("person", "@x:srv") or ("post", "FR-PARIS") for an owner; the post must exist."""
    try:
        kind, key = canonical_target(text)
    except ValueError as exc:
        raise UserError(
            _("owner: {error}", error=exc), example="!actions add S-1 FR-PARIS due=friday -- …"
        ) from None
    if kind == "post" and not await post_exists(db, key):
        raise UserError(
            _(
                "owner: no post {code} in the directory (an admin adds it: {command}).",
                code=key,
                command="!dir post " + key,
            ),
            example="!actions add S-1 @alice:example.org due=friday -- …",
        )
    return kind, key


async def owner_label(db: aiosqlite.Connection, kind: str, owner: str) -> str:
    """The owner in a chat reply: a post by code, a person by name with a pill."""
    return owner if kind == "post" else person(owner)


async def owner_text(db: aiosqlite.Connection, kind: str, owner: str) -> str:
    """The owner in an exported file: plain text, `Name (@id)`."""
    if kind == "post":
        return owner
    name = await display_name(db, owner)
    return f"{name} ({owner})" if name else owner


async def owner_people(db: aiosqlite.Connection, kind: str, owner: str) -> list[str]:
    if kind == "person":
        return [owner]
    return await post_members(db, owner)


async def owned_keys(db: aiosqlite.Connection, user_id: str) -> list[str]:
    """The owner values that mean this person: their ID and their posts' codes."""
    return [user_id, *await posts_of(db, user_id)]
