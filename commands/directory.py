"""The directory: people (roles, post, time zone) and posts (FR-PARIS -> its people).

Admins manage it by command (`!dir ...`) or by a YAML seed loaded at start; everyone may
look someone up with `!whois`. The query helpers at the bottom are what other domains
(action items, liaison requests) use to turn "@x:srv" or "FR-PARIS" into people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
import yaml

from commands import delivery
from commands.context import Context, utc_iso
from commands.errors import NotFound, UserError
from commands.people import ADMINS_ARE_CONFIGURED, ROLES, display_names, parse_zone
from commands.registry import Option, Param, command
from commands.render import Rendered, esc, table
from commands.render import person as person_marker
from config.settings import MATRIX_ID

_POST = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$")
_TYPED_ID = re.compile(r"^[A-Z]{1,3}-\d+$")
_ROOM_ID = re.compile(r"^![^\s:]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")


# -- parsing -------------------------------------------------------------------------------


def parse_user_id(text: str) -> str:
    value = text.strip()
    if not MATRIX_ID.match(value):
        raise ValueError(f"{value[:40]!r} is not a Matrix ID like @alice:example.org")
    return value


def parse_post_code(text: str) -> str:
    """Post codes are upper-case words joined by '-', e.g. FR-PARIS; never like A-7."""
    code = text.strip().upper()
    if not (2 <= len(code) <= 40 and _POST.match(code)) or _TYPED_ID.match(code):
        raise ValueError(f"{text[:40]!r} is not a post code like FR-PARIS or NATO-HQ-DATT")
    return code


def parse_roles(text: str) -> list[str]:
    roles = sorted({r.strip().lower() for r in text.split(",") if r.strip()})
    if "admin" in roles:
        raise ValueError(ADMINS_ARE_CONFIGURED)
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise ValueError(f"{bad[0][:20]!r} is not a role; roles are {', '.join(ROLES)}")
    return roles


def parse_room_id(text: str) -> str:
    value = text.strip()
    if not _ROOM_ID.match(value):
        raise ValueError(f"{value[:60]!r} is not a room ID like !abc:example.org")
    return value


def parse_members(text: str) -> list[str]:
    return sorted({parse_user_id(p) for p in text.split(",") if p.strip()})


def _optional(convert: Any) -> Any:
    """`key=` (empty) or `key=-` clears a field; anything else is converted."""

    def conv(text: str) -> Any:
        return "" if text.strip() in ("", "-") else convert(text)

    return conv


# -- queries other domains use -------------------------------------------------------------


async def post_members(db: aiosqlite.Connection, code: str) -> list[str]:
    """The people of a post, sorted; empty for an unknown post."""
    async with db.execute(
        "SELECT user_id FROM post_members WHERE post = ? ORDER BY user_id", (code.upper(),)
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def find_post(db: aiosqlite.Connection, code: str) -> tuple[str, str | None] | None:
    """(stored code, room ID) of a post, matched without regard to case; None if unknown."""
    async with db.execute(
        "SELECT code, room_id FROM posts WHERE upper(code) = upper(?)", (code,)
    ) as cur:
        row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def post_exists(db: aiosqlite.Connection, code: str) -> bool:
    async with db.execute("SELECT 1 FROM posts WHERE code = ?", (code.upper(),)) as cur:
        return await cur.fetchone() is not None


async def posts_of(db: aiosqlite.Connection, user_id: str) -> list[str]:
    """The posts a person belongs to (an owner of a post's items acts for it)."""
    async with db.execute(
        "SELECT post FROM post_members WHERE user_id = ? ORDER BY post", (user_id,)
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def display_name(db: aiosqlite.Connection, user_id: str) -> str | None:
    async with db.execute("SELECT display_name FROM people WHERE user_id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return row[0] if row and row[0] else None


def canonical_target(text: str) -> tuple[str, str]:
    """("person", "@x:srv") or ("post", "FR-PARIS"), or ValueError saying what is wrong."""
    value = text.strip()
    if value.startswith("@"):
        return "person", parse_user_id(value)
    try:
        return "post", parse_post_code(value)
    except ValueError:
        raise ValueError(
            f"{value[:40]!r} is neither a Matrix ID (@alice:example.org) nor a post code (FR-PARIS)"
        ) from None


async def resolve_target(db: aiosqlite.Connection, text: str) -> tuple[str, list[str]]:
    """A person or a post as (kind, members). Unknown posts and empty posts are refused.

    A person needs no directory entry (the dispatcher's allow-list decides who may talk to
    the bot); the canonical form of the target is `canonical_target(text)[1]`.
    """
    try:
        kind, key = canonical_target(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if kind == "person":
        return kind, [key]
    if not await post_exists(db, key):
        raise UserError(f"No post {key} in the directory. An admin adds it with !dir post {key}.")
    members = await post_members(db, key)
    if not members:
        raise UserError(f"Post {key} has nobody in it yet; an admin adds people with !dir post.")
    return kind, members


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
) -> None:
    """Upsert the fields given (None = leave as is, "" = clear). A post must exist."""
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
    if post is not None:
        if post and not await post_exists(db, post):
            raise UserError(f"No post {post} in the directory. Create it first: !dir post {post}")
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
) -> None:
    """Upsert a post; `members` replaces the membership, `add`/`remove` adjust it."""
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


async def load_seed(db: aiosqlite.Connection, path: Path, now: datetime) -> SeedResult:
    """Apply a YAML seed (posts, then people); loading it twice changes nothing more.

    Call it inside a write transaction at start. A bad file raises ValueError naming the
    entry and field, before anything is written (it is checked whole first).

        posts:
          - code: FR-PARIS
            name: French defence attaché, Paris
            room: "!abc:example.org"        # optional
            members: ["@alice:example.org"]  # replaces the post's members
        people:
          - id: "@alice:example.org"
            name: Alice Martin
            roles: [attache, secretariat]
            post: FR-PARIS
            timezone: Europe/Paris
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"directory_seed: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"posts", "people"}:
        raise ValueError("directory_seed: the file must be a mapping with `posts:` and `people:`")
    posts = [_seed_post(i, e) for i, e in enumerate(data.get("posts") or [])]
    people = [_seed_person(i, e) for i, e in enumerate(data.get("people") or [])]
    known = {p["code"] for p in posts}
    for person in people:
        post = person.get("post")
        if post and post not in known and not await post_exists(db, post):
            raise ValueError(f"directory_seed: people[{person['id']}].post: no post {post}")
    for post in posts:
        await set_post(
            db, post["code"], now, name=post["name"], room_id=post["room"], members=post["members"]
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
    }


def _seed_person(i: int, entry: Any) -> dict[str, Any]:
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
    }


# -- commands ------------------------------------------------------------------------------

_ADMIN = ["admin"]


@command(
    "dir person",
    summary="Add or change a person in the directory (admin)",
    example='!dir person @alice:example.org role=secretariat post=FR-PARIS name="Alice Martin"',
    params=[Param("user", "a Matrix ID", convert=parse_user_id)],
    options=[
        Option(
            "role",
            "comma list of attache, secretariat; empty clears (admins: configuration)",
            _optional(parse_roles),
        ),
        Option("post", "a post code; - clears", _optional(parse_post_code)),
        Option("name", "display name, quoted if it has spaces"),
        Option("tz", "IANA time zone", _optional(parse_zone)),
    ],
    roles=_ADMIN,
)
async def dir_person(ctx: Context, args: dict[str, Any]) -> None:
    user = args["user"]
    role = args["role"]
    await set_person(
        ctx.db,
        user,
        ctx.now,
        name=args["name"],
        roles=(role or []) if role is not None else None,
        post=args["post"],
        timezone=args["tz"],
    )
    changed = [k for k in ("role", "post", "name", "tz") if args[k] is not None]
    await ctx.audit("dir.person", user, ",".join(changed))
    ctx.reply(await describe_person(ctx.db, user, ctx.settings.timezone))


@command(
    "dir post",
    summary="Add or change a post and its people (admin)",
    example='!dir post FR-PARIS name="Paris DATT" members=@a:example.org,@b:example.org',
    params=[Param("code", "e.g. FR-PARIS", convert=parse_post_code)],
    options=[
        Option("name", "the post's name, quoted if it has spaces"),
        Option("members", "comma list of Matrix IDs; replaces the members", parse_members),
        Option("add", "comma list of Matrix IDs to add", parse_members),
        Option("remove", "comma list of Matrix IDs to remove", parse_members),
        Option("room", "the post's room ID; - clears", _optional(parse_room_id)),
    ],
    roles=_ADMIN,
)
async def dir_post(ctx: Context, args: dict[str, Any]) -> None:
    code = args["code"]
    if args["room"]:  # "" clears it
        example = f"{ctx.prefix}dir post {code} room=!encrypted-room:example.org"
        await delivery.require_encrypted_room(ctx.db, args["room"], example)
    await set_post(
        ctx.db,
        code,
        ctx.now,
        name=args["name"],
        room_id=args["room"],
        members=args["members"],
        add=args["add"],
        remove=args["remove"],
    )
    changed = [k for k in ("name", "members", "add", "remove", "room") if args[k] is not None]
    await ctx.audit("dir.post", code, ",".join(changed))
    ctx.reply(await describe_post(ctx.db, code))


@command(
    "dir show",
    summary="Show a person's or a post's directory entry (admin)",
    example="!dir show FR-PARIS",
    params=[Param("target", "a Matrix ID or a post code")],
    roles=_ADMIN,
)
async def dir_show(ctx: Context, args: dict[str, Any]) -> None:
    ctx.reply(await _describe(ctx, args["target"]))


@command(
    "dir list",
    summary="List the posts and how many people each has (admin)",
    example="!dir list",
    roles=_ADMIN,
)
async def dir_list(ctx: Context, args: dict[str, Any]) -> None:
    async with ctx.db.execute(
        "SELECT p.code, p.name, p.room_id, COUNT(m.user_id) FROM posts p "
        "LEFT JOIN post_members m ON m.post = p.code GROUP BY p.code ORDER BY p.code"
    ) as cur:
        rows = [(r[0], r[1] or "", r[3], r[2] or "") for r in await cur.fetchall()]
    async with ctx.db.execute("SELECT COUNT(*) FROM people") as cur:
        row = await cur.fetchone()
    people = int(row[0]) if row else 0
    ctx.reply(
        table("Posts", ["post", "name", "people", "room"], rows, footer=f"{people} people known.")
    )


@command(
    "whois",
    summary="Look up a person or a post (yourself without an argument)",
    example="!whois FR-PARIS",
    params=[Param("target", "a Matrix ID or a post code", optional=True)],
)
async def whois(ctx: Context, args: dict[str, Any]) -> None:
    ctx.reply(await _describe(ctx, args["target"] or ctx.sender))


async def _describe(ctx: Context, text: str) -> Rendered:
    try:
        kind, key = canonical_target(text)
    except ValueError as exc:
        raise UserError(str(exc), example=f"{ctx.prefix}whois FR-PARIS") from None
    if kind == "post":
        if not await post_exists(ctx.db, key):
            raise NotFound(f"No post {key} in the directory. Send !dir list for all of them.")
        return await describe_post(ctx.db, key)
    return await describe_person(ctx.db, key, ctx.settings.timezone, admins=ctx.settings.admins)


async def describe_person(
    db: aiosqlite.Connection, user_id: str, default_zone: str, admins: list[str] | None = None
) -> Rendered:
    async with db.execute(
        "SELECT display_name, roles, timezone FROM people WHERE user_id = ?", (user_id,)
    ) as cur:
        row = await cur.fetchone()
    roles = {"attache"} | {r for r in ((row[1] if row else "") or "").split(",") if r in ROLES}
    if admins and user_id in admins:
        roles.add("admin")
    name = row[0] if row and row[0] else None
    if name is None:  # the name they gave themselves in Matrix, as Element shows it
        profile = (await display_names(db, {user_id})).get(user_id)
        name = f"{profile} (their Matrix profile)" if profile else "-"
    zone = row[2] if row and row[2] else f"{default_zone} (default)"
    posts = ", ".join(await posts_of(db, user_id)) or "-"
    lines = [
        ("person", user_id),
        ("name", name),
        ("roles", ", ".join(sorted(roles))),
        ("posts", posts),
        ("time zone", zone),
    ]
    if row is None:
        lines.append(("note", "not in the directory"))
    return _fields(lines)


async def describe_post(db: aiosqlite.Connection, code: str) -> Rendered:
    async with db.execute("SELECT name, room_id FROM posts WHERE code = ?", (code,)) as cur:
        row = await cur.fetchone()
    members = await post_members(db, code)
    lines = [
        ("post", code),
        ("name", (row[0] if row else "") or "-"),
        ("room", (row[1] if row else None) or "-"),
        ("people", ", ".join(person_marker(m) for m in members) or "-"),
    ]
    return _fields(lines)


def _fields(lines: list[tuple[str, str]]) -> Rendered:
    body = "\n".join(f"{k}: {v}" for k, v in lines)
    html = "<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in lines)
    return Rendered(body, html)
