"""The directory as the one service every domain asks about people and posts.

One reading of "who is this" (canonical_target: a Matrix ID or a post code, never an object
ID like A-7), one post-code grammar, and the lookups: a post's people, a person's posts,
names. Roles come from commands.people (admins from configuration only).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

import aiosqlite

from commands.errors import UserError
from commands.i18n import _
from commands.i18n import available as available_languages
from commands.i18n import normalise as normalise_language
from commands.ids import looks_like_id
from commands.markings.model.marking import Marking
from commands.people import ADMINS_ARE_CONFIGURED, ROLES
from config.settings import MATRIX_ID

_POST = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$")
_ROOM_ID = re.compile(r"^![^\s:]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")


# -- parsing -------------------------------------------------------------------------------


def parse_user_id(text: str) -> str:
    value = text.strip()
    if not MATRIX_ID.match(value):
        raise ValueError(
            _(
                "{text!r} is not a Matrix ID like {example}",
                text=value[:40],
                example="@alice:example.org",
            )
        )
    return value


def parse_post_code(text: str) -> str:
    """Post codes are upper-case words joined by '-', e.g. FR-PARIS; never like A-7."""
    code = text.strip().upper()
    if not (2 <= len(code) <= 40 and _POST.match(code)) or looks_like_id(code):
        raise ValueError(
            _("{text!r} is not a post code like FR-PARIS or NATO-HQ-DATT", text=text[:40])
        )
    return code


def parse_roles(text: str) -> list[str]:
    roles = sorted({r.strip().lower() for r in text.split(",") if r.strip()})
    if "admin" in roles:
        raise ValueError(_(ADMINS_ARE_CONFIGURED))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise ValueError(
            _("{text!r} is not a role; roles are {roles}", text=bad[0][:20], roles=", ".join(ROLES))
        )
    return roles


def parse_room_id(text: str) -> str:
    value = text.strip()
    if not _ROOM_ID.match(value):
        raise ValueError(
            _(
                "{text!r} is not a room ID like {example}",
                text=value[:60],
                example="!abc:example.org",
            )
        )
    return value


def parse_language(text: str) -> str:
    """A language the bot speaks (`fr`, `FR`, `fr_FR`, `français`) -> its code."""
    code = normalise_language(text)
    if code is None:
        raise ValueError(
            _(
                "{text!r} is not a language I speak; available: {codes}",
                text=text.strip()[:20],
                codes=", ".join(available_languages()),
            )
        )
    return code


def parse_members(text: str) -> list[str]:
    return sorted({parse_user_id(p) for p in text.split(",") if p.strip()})


def optional_of(convert: Any) -> Any:
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


async def people_of(db: aiosqlite.Connection, targets: list[str]) -> list[str]:
    """Matrix IDs for a list of people and post codes: people as named, posts' members."""
    return (await people_of_each(db, [targets]))[0]


async def people_of_each(
    db: aiosqlite.Connection, target_lists: Sequence[Sequence[str]]
) -> list[list[str]]:
    """`people_of` of each list, with one query for all of them (an export's items)."""
    posts = list(
        dict.fromkeys(t.upper() for ts in target_lists for t in ts if not t.startswith("@"))
    )
    # Each post's members with their place in the query's order, so a list naming several
    # posts gets their members in the order one query for those posts would give.
    members: dict[str, list[tuple[int, str]]] = {}
    if posts:
        marks = ",".join("?" * len(posts))
        async with db.execute(
            f"SELECT post, user_id FROM post_members WHERE post IN ({marks}) ORDER BY user_id",
            posts,
        ) as cur:
            for at, (post, user) in enumerate(await cur.fetchall()):
                members.setdefault(post, []).append((at, user))
    found: list[list[str]] = []
    for targets in target_lists:
        people = [t for t in targets if t.startswith("@")]
        mine = {t.upper() for t in targets if not t.startswith("@")}
        people += [user for _, user in sorted(m for post in mine for m in members.get(post, ()))]
        found.append(list(dict.fromkeys(people)))
    return found


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
    """("person", "@x:srv") or ("post", "FR-PARIS"), or ValueError saying what is wrong.

    The one reading of "who is this" for every domain: request targets, action owners,
    meeting participants and directory lookups all go through it.
    """
    value = text.strip()
    if value.startswith("@"):
        return "person", parse_user_id(value)
    try:
        return "post", parse_post_code(value)
    except ValueError:
        raise ValueError(
            _(
                "{text!r} is neither a Matrix ID ({person}) nor a post code ({post})",
                text=value[:40],
                person="@alice:example.org",
                post="FR-PARIS",
            )
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
        raise UserError(
            _(
                "No post {post} in the directory. An admin adds it with {command}.",
                post=key,
                command="!dir post " + key,
            )
        )
    members = await post_members(db, key)
    if not members:
        raise UserError(
            _(
                "Post {post} has nobody in it yet; an admin adds people with {command}.",
                post=key,
                command="!dir post",
            )
        )
    return kind, members


async def post_marking(db: aiosqlite.Connection, code: str) -> Marking | None:
    """A post's default marking for what is sent to it (None: the deployment's)."""
    async with db.execute("SELECT marking FROM posts WHERE code = ?", (code,)) as cur:
        row = await cur.fetchone()
    return Marking.from_column(row[0]) if row else None


async def in_directory(db: aiosqlite.Connection, user_id: str) -> bool:
    """Whether the directory knows this person (an entry of their own, or a post's member)."""
    async with db.execute(
        "SELECT 1 FROM people WHERE user_id = ? UNION SELECT 1 FROM post_members WHERE user_id = ?",
        (user_id, user_id),
    ) as cur:
        return await cur.fetchone() is not None


async def closest_in_directory(db: aiosqlite.Connection, text: str) -> str | None:
    """The post or person of the directory a mistyped owner most likely meant (did you
    mean): by post code, Matrix ID, its local part, or a word of the person's name."""
    names: dict[str, str] = {}
    async with db.execute("SELECT code FROM posts ORDER BY code") as cur:
        for (code,) in await cur.fetchall():
            names.setdefault(str(code).lower(), str(code))
    async with db.execute(
        "SELECT user_id, display_name FROM people UNION SELECT user_id, NULL FROM post_members "
        "ORDER BY 1"
    ) as cur:
        for user_id, name in await cur.fetchall():
            user = str(user_id)
            for word in (user, user[1:].split(":", 1)[0], *(str(name or "").split())):
                names.setdefault(word.lower(), user)
            if name:
                names.setdefault(str(name).lower(), user)
    needle = text.strip().lower()
    close = difflib.get_close_matches(needle, list(names), n=1, cutoff=0.6)
    if not close and needle.startswith("@"):  # @alcie:example.org: its local part
        local = needle[1:].split(":", 1)[0]
        close = difflib.get_close_matches(local, list(names), n=1, cutoff=0.6)
    return names[close[0]] if close else None
