"""Imports waiting for their sender's ✅: one per person and room, kept in the store until
confirmed, cancelled, replaced by a newer import, or a day old.

A pending import is a short-lived value (what its preview showed, to be created on ✅), not
a domain object: it lives in the store's named values (`kv`), under one key per person and
room, so a newer import replaces the older one by construction and a restart keeps it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from commands.context import parse_utc, utc_iso

LIFETIME = timedelta(days=1)  # a preview not confirmed within a day is dropped
_PREFIX = "actions.import:"


@dataclass(frozen=True)
class Pending:
    room_id: str
    sender: str
    summit_id: int
    lines: tuple[tuple[int, str], ...]  # (line number below the command, the line)
    made_at: datetime  # relative dates (friday) are read as of this moment, at confirm too
    preview: str  # the outbox key of the preview: a ✅ on that message confirms
    clean: bool  # no line had a problem: only then may it be confirmed

    def expired(self, now: datetime) -> bool:
        return now >= self.made_at + LIFETIME

    def dumps(self) -> str:
        return json.dumps(
            {
                "summit": self.summit_id,
                "lines": [list(pair) for pair in self.lines],
                "at": utc_iso(self.made_at),
                "preview": self.preview,
                "clean": self.clean,
            }
        )

    @classmethod
    def loads(cls, room_id: str, sender: str, text: str) -> Pending:
        data = json.loads(text)
        return cls(
            room_id=room_id,
            sender=sender,
            summit_id=int(data["summit"]),
            lines=tuple((int(n), str(line)) for n, line in data["lines"]),
            made_at=parse_utc(data["at"]),
            preview=str(data["preview"]),
            clean=bool(data["clean"]),
        )


def _key(room_id: str, sender: str) -> str:
    return f"{_PREFIX}{room_id}|{sender}"


async def save(db: aiosqlite.Connection, pending: Pending) -> None:
    """Store it, replacing the same person's pending import in that room."""
    await db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_key(pending.room_id, pending.sender), pending.dumps()),
    )


async def load(db: aiosqlite.Connection, room_id: str, sender: str) -> Pending | None:
    async with db.execute("SELECT value FROM kv WHERE key = ?", (_key(room_id, sender),)) as cur:
        row = await cur.fetchone()
    return Pending.loads(room_id, sender, str(row[0])) if row else None


async def drop(db: aiosqlite.Connection, room_id: str, sender: str) -> None:
    await db.execute("DELETE FROM kv WHERE key = ?", (_key(room_id, sender),))


async def drop_expired(db: aiosqlite.Connection, now: datetime) -> None:
    """Forget every pending import older than a day (checked when a new one is stored)."""
    async with db.execute("SELECT key, value FROM kv WHERE key LIKE ?", (_PREFIX + "%",)) as cur:
        rows = [(str(k), str(v)) for k, v in await cur.fetchall()]
    for key, value in rows:
        if now >= parse_utc(json.loads(value)["at"]) + LIFETIME:
            await db.execute("DELETE FROM kv WHERE key = ?", (key,))


async def preview_key_of(db: aiosqlite.Connection, event_id: str, room_id: str) -> str | None:
    """The outbox key of the message sent as this event in this room, if it was an
    import's preview."""
    async with db.execute(
        "SELECT key FROM outbox WHERE event_id = ? AND room_id = ? AND key LIKE ?",
        (event_id, room_id, "import:%"),
    ) as cur:
        row = await cur.fetchone()
    return str(row[0]) if row else None
