"""Whose language and time zone a message is read in: the one rule for commands, jobs and
the outbox (a DM reads in its person's language, a post's or summit's room in its `lang=`).

Only lookups, no Context: commands.context asks them on behalf of handlers.
"""

from __future__ import annotations

import aiosqlite


async def zones_of(db: aiosqlite.Connection, users: list[str], default: str) -> dict[str, str]:
    """Each person's time zone (theirs from !tz or the directory, else `default`)."""
    return await _each(db, "timezone", users, default)


async def languages_of(db: aiosqlite.Connection, users: list[str], default: str) -> dict[str, str]:
    """Each person's language (theirs from !lang or the directory, else `default`)."""
    return await _each(db, "language", users, default)


async def _each(
    db: aiosqlite.Connection, column: str, users: list[str], default: str
) -> dict[str, str]:
    """One setting of each person, in one query; `default` for people who have none."""
    if not users:
        return {}
    marks = ",".join("?" * len(users))
    async with db.execute(
        f"SELECT user_id, {column} FROM people WHERE user_id IN ({marks})", users
    ) as cur:
        known = {r[0]: r[1] for r in await cur.fetchall()}
    return {u: known.get(u) or default for u in users}


async def room_language(db: aiosqlite.Connection, room_id: str, default: str) -> str:
    """The language of what goes to a room: its post's or summit's (lang=), else `default`.

    A DM reads in its person's language: callers sending to a DM use languages_of.
    """
    rows = await db.execute_fetchall(
        "SELECT language FROM posts WHERE room_id = ? AND language IS NOT NULL "
        "UNION ALL SELECT language FROM summits WHERE room_id = ? AND language IS NOT NULL",
        (room_id, room_id),
    )
    row = next(iter(rows), None)
    return str(row[0]) if row is not None else default


async def reader_language(
    db: aiosqlite.Connection,
    default: str,
    *,
    user_id: str | None = None,
    room_id: str | None = None,
) -> str:
    """The language of whoever reads a message: the one rule for commands, jobs and the outbox.

    A DM (user_id, or a room that is someone's DM with the bot) reads in its person's
    language; any other room in its post's or summit's (`lang=`); else `default`
    (ATTACHE_LANGUAGE). A notice to the person a message was sent for passes their
    user_id: it goes to them, whichever room it lands in.
    """
    if user_id is None and room_id is not None:
        async with db.execute("SELECT user_id FROM dm_rooms WHERE room_id = ?", (room_id,)) as cur:
            found = await cur.fetchone()
        if found is None:
            return await room_language(db, room_id, default)
        user_id = str(found[0])
    if user_id is None:
        return default
    return (await languages_of(db, [user_id], default))[user_id]
