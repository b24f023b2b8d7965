"""Writing the directory: people and posts, by command or from the YAML seed loaded at start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import yaml

from commands.context import utc_iso
from commands.directory.service import (
    parse_language,
    parse_post_code,
    parse_roles,
    parse_room_id,
    parse_user_id,
    post_exists,
    post_members,
)
from commands.errors import UserError
from commands.i18n import _
from commands.markings.model.nations import parse_nation
from commands.people import parse_zone

# -- writes --------------------------------------------------------------------------------


async def set_person(
    db: aiosqlite.Connection,
    user_id: str,
    now: datetime,
    *,
    name: str | None = None,
    roles: list[str] | None = None,
    post: str | None = None,
    timezone: str | None = None,
    nation: str | None = None,
    clearance: str | None = None,
    language: str | None = None,
) -> None:
    """Upsert the fields given (None = leave as is, "" = clear). A post must exist.

    nation (ISO alpha-3) and clearance (a marking level) are checked by the caller
    (commands/markings); the outbox reads them when it routes a marked message."""
    stamp = utc_iso(now)
    await db.execute(
        "INSERT INTO people (user_id, updated_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
        (user_id, stamp),
    )
    changes: dict[str, Any] = {}
    if name is not None:
        changes["display_name"] = name or None
    if roles is not None:
        changes["roles"] = ",".join(roles)
    if timezone is not None:
        changes["timezone"] = timezone or None
    if nation is not None:
        changes["nation"] = nation or None
    if clearance is not None:
        changes["clearance"] = clearance or None
    if language is not None:
        changes["language"] = language or None
    if post is not None:
        if post and not await post_exists(db, post):
            raise UserError(
                _(
                    "No post {post} in the directory. Create it first: {command}",
                    post=post,
                    command="!dir post " + post,
                )
            )
        async with db.execute("SELECT post FROM people WHERE user_id = ?", (user_id,)) as cur:
            row = await cur.fetchone()
        old = row[0] if row else None
        if old and old != post:
            await db.execute(
                "DELETE FROM post_members WHERE post = ? AND user_id = ?", (old, user_id)
            )
        if post:
            await db.execute(
                "INSERT INTO post_members (post, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (post, user_id),
            )
        changes["post"] = post or None
    if changes:
        sets = ", ".join(f"{k} = ?" for k in changes)
        await db.execute(
            f"UPDATE people SET {sets}, updated_at = ? WHERE user_id = ?",
            (*changes.values(), stamp, user_id),
        )


async def set_post(
    db: aiosqlite.Connection,
    code: str,
    now: datetime,
    *,
    name: str | None = None,
    room_id: str | None = None,
    members: list[str] | None = None,
    add: list[str] | None = None,
    remove: list[str] | None = None,
    nation: str | None = None,
    marking: str | None = None,
    language: str | None = None,
) -> None:
    """Upsert a post; `members` replaces the membership, `add`/`remove` adjust it.

    nation: "" clears; marking: the post's default marking as JSON, "" clears; language:
    what goes to the post's room is written in it ("" clears: the deployment's)."""
    stamp = utc_iso(now)
    await db.execute(
        "INSERT INTO posts (code, name, created_at, updated_at) VALUES (?, '', ?, ?) "
        "ON CONFLICT (code) DO NOTHING",
        (code, stamp, stamp),
    )
    if name is not None:
        await db.execute("UPDATE posts SET name = ? WHERE code = ?", (name, code))
    if room_id is not None:
        await db.execute("UPDATE posts SET room_id = ? WHERE code = ?", (room_id or None, code))
    if nation is not None:
        await db.execute("UPDATE posts SET nation = ? WHERE code = ?", (nation or None, code))
    if marking is not None:
        await db.execute("UPDATE posts SET marking = ? WHERE code = ?", (marking or None, code))
    if language is not None:
        await db.execute("UPDATE posts SET language = ? WHERE code = ?", (language or None, code))
    await db.execute("UPDATE posts SET updated_at = ? WHERE code = ?", (stamp, code))
    current = set(await post_members(db, code))
    wanted = set(members) if members is not None else set(current)
    wanted |= set(add or ())
    wanted -= set(remove or ())
    for user in sorted(current - wanted):
        await db.execute("DELETE FROM post_members WHERE post = ? AND user_id = ?", (code, user))
        await db.execute(
            "UPDATE people SET post = NULL, updated_at = ? WHERE user_id = ? AND post = ?",
            (stamp, user, code),
        )
    for user in sorted(wanted - current):
        await db.execute(
            "INSERT INTO people (user_id, post, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET post = COALESCE(people.post, excluded.post)",
            (user, code, stamp),
        )
        await db.execute("INSERT INTO post_members (post, user_id) VALUES (?, ?)", (code, user))


# -- seed file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    posts: int
    people: int


async def load_seed(
    db: aiosqlite.Connection, path: Path, now: datetime, levels: list[str] | None = None
) -> SeedResult:
    """Apply a YAML seed (posts, then people); loading it twice changes nothing more.

    Call it inside a write transaction at start. A bad file raises ValueError naming the
    entry and field, before anything is written (it is checked whole first).

        posts:
          - code: FR-PARIS
            name: French defence attaché, Paris
            room: "!abc:example.org"        # optional
            members: ["@alice:example.org"]  # replaces the post's members
            nation: FRA                      # optional, ISO 3166-1 alpha-3
            lang: fr                         # optional: what goes to its room, en/fr/de
        people:
          - id: "@alice:example.org"
            name: Alice Martin
            roles: [attache, secretariat]
            post: FR-PARIS
            timezone: Europe/Paris
            nation: FRA                      # optional
            clearance: RESTRICTED            # optional, one of marking_levels
            lang: fr                         # optional: the bot writes to them in it
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"directory_seed: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"posts", "people"}:
        raise ValueError("directory_seed: the file must be a mapping with `posts:` and `people:`")
    posts = [_seed_post(i, e) for i, e in enumerate(data.get("posts") or [])]
    people = [_seed_person(i, e, levels) for i, e in enumerate(data.get("people") or [])]
    known = {p["code"] for p in posts}
    for person in people:
        post = person.get("post")
        if post and post not in known and not await post_exists(db, post):
            raise ValueError(f"directory_seed: people[{person['id']}].post: no post {post}")
    for post in posts:
        await set_post(
            db,
            post["code"],
            now,
            name=post["name"],
            room_id=post["room"],
            members=post["members"],
            nation=post["nation"],
            language=post["lang"],
        )
    for person in people:
        await set_person(
            db,
            person["id"],
            now,
            name=person["name"],
            roles=person["roles"],
            post=person["post"],
            timezone=person["timezone"],
            nation=person["nation"],
            clearance=person["clearance"],
            language=person["lang"],
        )
    return SeedResult(posts=len(posts), people=len(people))


def _seed_field(where: str, convert: Any, value: Any) -> Any:
    try:
        return convert(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"directory_seed: {where}: {exc}") from None


def _seed_post(i: int, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or "code" not in entry:
        raise ValueError(f"directory_seed: posts[{i}] needs at least `code:`")
    where = f"posts[{i}]"
    members = entry.get("members")
    return {
        "code": _seed_field(f"{where}.code", parse_post_code, str(entry["code"])),
        "name": str(entry.get("name") or ""),
        "room": _seed_field(f"{where}.room", parse_room_id, str(entry["room"]))
        if entry.get("room")
        else None,
        "members": None
        if members is None
        else _seed_field(f"{where}.members", lambda v: [parse_user_id(str(m)) for m in v], members),
        "nation": _seed_nation(where, entry),
        "lang": _seed_language(where, entry),
    }


def _seed_language(where: str, entry: dict[str, Any]) -> str | None:
    """`lang: fr` (a code or a language's name); checked with the rest before any write."""
    if entry.get("lang") is None:
        return None
    return str(_seed_field(f"{where}.lang", parse_language, str(entry["lang"])))


def _seed_nation(where: str, entry: dict[str, Any]) -> str | None:
    if entry.get("nation") is None:
        return None
    return str(_seed_field(f"{where}.nation", parse_nation, str(entry["nation"])))


def _seed_clearance(where: str, entry: dict[str, Any], levels: list[str] | None) -> str | None:
    if entry.get("clearance") is None:
        return None
    level = str(entry["clearance"]).strip().upper()
    if levels is not None and level not in levels:
        raise ValueError(
            f"directory_seed: {where}.clearance: {level!r} is not one of marking_levels "
            f"({', '.join(levels)})"
        )
    return level


def _seed_person(i: int, entry: Any, levels: list[str] | None = None) -> dict[str, Any]:
    if not isinstance(entry, dict) or "id" not in entry:
        raise ValueError(f"directory_seed: people[{i}] needs at least `id:`")
    where = f"people[{i}]"
    roles = entry.get("roles")
    if isinstance(roles, list):
        roles = ",".join(str(r) for r in roles)
    return {
        "id": _seed_field(f"{where}.id", parse_user_id, str(entry["id"])),
        "name": str(entry["name"]) if entry.get("name") is not None else None,
        "roles": _seed_field(f"{where}.roles", parse_roles, roles) if roles is not None else None,
        "post": _seed_field(f"{where}.post", parse_post_code, str(entry["post"]))
        if entry.get("post")
        else None,
        "timezone": _seed_field(f"{where}.timezone", parse_zone, str(entry["timezone"]))
        if entry.get("timezone")
        else None,
        "nation": _seed_nation(where, entry),
        "clearance": _seed_clearance(where, entry, levels),
        "lang": _seed_language(where, entry),
    }
