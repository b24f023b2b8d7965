"""People as the bot knows them: roles and time zone, with defaults from settings."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from commands.context import OutMessage, Person, utc_iso
from commands.i18n import N_
from commands.render import expand_people, people_in
from commands.verified import verification_of
from config import Settings

ROLES = ("attache", "secretariat")  # roles the directory stores
ADMINS_ARE_CONFIGURED = N_(
    "admin is not a directory role: admins are set in the bot's configuration only "
    "(ATTACHE_ADMINS, or admins: in the config file), so removing someone there removes "
    "them everywhere"
)


async def load_person(db: aiosqlite.Connection, user_id: str, settings: Settings) -> Person:
    # One round trip to the database thread (execute_fetchall), on every command.
    rows = await db.execute_fetchall(
        "SELECT display_name, roles, timezone, language FROM people WHERE user_id = ?",
        (user_id,),
    )
    row = next(iter(rows), None)
    roles = {"attache"}
    name, zone, lang = None, settings.timezone, settings.language
    if row is not None:
        name = row["display_name"]
        roles |= {r for r in (row["roles"] or "").split(",") if r in ROLES}
        zone = row["timezone"] or zone
        lang = row["language"] or lang
    if user_id in settings.admins:
        roles.add("admin")
    withheld = roles & set(settings.verified_for_roles)
    if withheld and await verification_of(db, user_id, settings) is not None:
        withheld = set()
    return Person(
        user_id=user_id,
        display_name=name,
        roles=frozenset(roles - withheld),
        timezone=zone,
        language=lang,
        withheld_roles=frozenset(withheld),
    )


async def set_language(db: aiosqlite.Connection, user_id: str, code: str, now: datetime) -> None:
    await _set(db, "language", user_id, code, now)


async def set_timezone(db: aiosqlite.Connection, user_id: str, zone: str, now: datetime) -> None:
    await _set(db, "timezone", user_id, zone, now)


async def _set(
    db: aiosqlite.Connection, column: str, user_id: str, value: str, now: datetime
) -> None:
    """A person's own setting (!tz, !lang), creating them in the table if need be."""
    await db.execute(
        f"INSERT INTO people (user_id, {column}, updated_at) VALUES (?, ?, ?) "
        f"ON CONFLICT (user_id) DO UPDATE SET {column} = excluded.{column}, "
        "updated_at = excluded.updated_at",
        (user_id, value, utc_iso(now)),
    )


async def display_names(db: aiosqlite.Connection, user_ids: set[str]) -> dict[str, str | None]:
    """Names as Element shows them: the directory's, else the one from their Matrix profile
    (remembered from the member events the bot sees in sync), else none."""
    if not user_ids:
        return {}
    ids = sorted(user_ids)
    marks = ",".join("?" * len(ids))
    names: dict[str, str | None] = dict.fromkeys(ids)
    async with db.execute(
        f"SELECT user_id, display_name FROM profile_names WHERE user_id IN ({marks})", ids
    ) as cur:
        names.update({r[0]: r[1] for r in await cur.fetchall() if r[1]})
    async with db.execute(
        f"SELECT user_id, display_name FROM people WHERE user_id IN ({marks})", ids
    ) as cur:
        names.update({r[0]: r[1] for r in await cur.fetchall() if r[1]})
    return names


async def render_people(db: aiosqlite.Connection, messages: list[OutMessage]) -> None:
    """Turn the person markers in queued replies into names and pills (one query each)."""
    wanted = set().union(*(people_in(m.body, m.html) for m in messages)) if messages else set()
    if not wanted:
        return
    names = await display_names(db, wanted)
    for message in messages:
        message.body, message.html = expand_people(message.body, message.html, names)
