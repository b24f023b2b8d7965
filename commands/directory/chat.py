"""Directory commands: !dir person, !dir post, !dir show, !dir list (admins) and !whois."""

from __future__ import annotations

import aiosqlite

from commands import delivery
from commands.brief.plan import replan_if_planned
from commands.context import Context
from commands.directory.service import (
    canonical_target,
    optional_of,
    parse_language,
    parse_members,
    parse_post_code,
    parse_roles,
    parse_room_id,
    parse_user_id,
    post_exists,
    post_marking,
    post_members,
    posts_of,
)
from commands.directory.store import set_person, set_post
from commands.errors import NotFound, UserError
from commands.i18n import N_, _, ngettext, pgettext
from commands.i18n import name as language_name
from commands.markings.model.marking import Marking
from commands.markings.model.nations import nation_name, parse_nation
from commands.markings.model.policy import Policy, marking_example
from commands.people import ROLES, display_names
from commands.registry import Option, Param, command, role_name
from commands.render import Rendered, colon, esc, table
from commands.render import person as person_marker
from commands.time import parse_zone
from commands.verified import identity_shown, verification_of

# -- commands ------------------------------------------------------------------------------

_ADMIN = ["admin"]


@command(
    "dir person",
    summary=N_("Add or change a person in the directory (admin)"),
    example='!dir person @alice:example.org role=secretariat post=FR-PARIS name="Alice Martin" '
    "lang=fr",
    params=[Param("user", N_("a Matrix ID"), convert=parse_user_id)],
    options=[
        Option(
            "role",
            N_("comma list of attache, secretariat; empty clears (admins: configuration)"),
            optional_of(parse_roles),
        ),
        Option("post", N_("a post code; - clears"), optional_of(parse_post_code)),
        Option("name", N_("display name, quoted if it has spaces")),
        Option("tz", N_("IANA time zone"), optional_of(parse_zone)),
        Option("nation", N_("ISO 3166-1 alpha-3 code (FRA, DEU, USA); - clears"), parse_nation),
        Option("clearance", N_("one of the marking levels; - clears")),
        Option(
            "lang",
            N_("the language the bot writes to them in: en, fr, de; - clears (the default)"),
            optional_of(parse_language),
        ),
    ],
    roles=_ADMIN,
)
async def dir_person(
    ctx: Context,
    *,
    user: str,
    role: list[str] | None,
    post: str | None,
    name: str | None,
    tz: str | None,
    nation: str | None,
    clearance: str | None,
    lang: str | None,
) -> None:
    if clearance is not None:
        example = f"{ctx.prefix}dir person {user} clearance={_level(ctx)}"
        clearance = Policy.from_settings(ctx.settings).clearance(clearance, example)
    await set_person(
        ctx.db,
        user,
        ctx.now,
        name=name,
        roles=(role or []) if role is not None else None,
        post=post,
        timezone=tz,
        nation=nation,
        clearance=clearance,
        language=lang,
    )
    given = {
        "role": role,
        "post": post,
        "name": name,
        "tz": tz,
        "nation": nation,
        "clearance": clearance,
        "lang": lang,
    }
    changed = [k for k, v in given.items() if v is not None]
    await ctx.audit("dir.person", user, ",".join(changed))
    await replan_if_planned(ctx, user)  # their zone, or a newcomer under brief_default=on
    ctx.reply(await describe_person(ctx.db, user, ctx.settings.timezone, ctx.settings.language))


@command(
    "dir post",
    summary=N_("Add or change a post and its people (admin)"),
    example='!dir post FR-PARIS name="Paris DATT" members=@a:example.org,@b:example.org lang=fr',
    params=[Param("code", N_("e.g. FR-PARIS"), convert=parse_post_code)],
    options=[
        Option("name", N_("the post's name, quoted if it has spaces")),
        Option("members", N_("comma list of Matrix IDs; replaces the members"), parse_members),
        Option("add", N_("comma list of Matrix IDs to add"), parse_members),
        Option("remove", N_("comma list of Matrix IDs to remove"), parse_members),
        Option("room", N_("the post's room ID; - clears"), optional_of(parse_room_id)),
        Option("nation", N_("ISO 3166-1 alpha-3 code (FRA, DEU, USA); - clears"), parse_nation),
        Option("marking", N_("default marking of requests to the post; - clears")),
        Option("rel", N_("default releasability (rel=FRA,DEU or a group)")),
        Option(
            "lang",
            N_("the language of what goes to the post's room: en, fr, de; - clears"),
            optional_of(parse_language),
        ),
    ],
    roles=_ADMIN,
)
async def dir_post(
    ctx: Context,
    *,
    code: str,
    name: str | None,
    members: list[str] | None,
    add: list[str] | None,
    remove: list[str] | None,
    room: str | None,
    nation: str | None,
    marking: str | None,
    rel: str | None,
    lang: str | None,
) -> None:
    stored: str | None = None
    if marking is not None or rel is not None:
        stored = ""
        if (marking or "").strip() != "-":
            example = f"{ctx.prefix}dir post {code} marking={_level(ctx)} rel=FRA,DEU"
            default = Policy.from_settings(ctx.settings).parse(
                marking, rel, example=example, default=await post_marking(ctx.db, code)
            )
            stored = Marking.column(default) or ""
    if room:  # "" clears it
        example = f"{ctx.prefix}dir post {code} room=!encrypted-room:example.org"
        await delivery.require_encrypted_room(ctx.db, room, example)
    await set_post(
        ctx.db,
        code,
        ctx.now,
        name=name,
        room_id=room,
        members=members,
        add=add,
        remove=remove,
        nation=nation,
        marking=stored,
        language=lang,
    )
    given = {
        "name": name,
        "members": members,
        "add": add,
        "remove": remove,
        "room": room,
        "nation": nation,
        "marking": stored,
        "lang": lang,
    }
    changed = [k for k, v in given.items() if v is not None]
    await ctx.audit("dir.post", code, ",".join(changed))
    ctx.reply(await describe_post(ctx.db, code, ctx.settings.language))


@command(
    "dir show",
    summary=N_("Show a person's or a post's directory entry (admin)"),
    example="!dir show FR-PARIS",
    params=[Param("target", N_("a Matrix ID or a post code"))],
    roles=_ADMIN,
)
async def dir_show(ctx: Context, *, target: str) -> None:
    ctx.reply(await _describe(ctx, target))


@command(
    "dir list",
    summary=N_("List the posts and how many people each has (admin)"),
    example="!dir list",
    roles=_ADMIN,
)
async def dir_list(ctx: Context) -> None:
    async with ctx.db.execute(
        "SELECT p.code, p.name, p.room_id, COUNT(m.user_id) FROM posts p "
        "LEFT JOIN post_members m ON m.post = p.code GROUP BY p.code ORDER BY p.code"
    ) as cur:
        rows = [(r[0], r[1] or "", r[3], r[2] or "") for r in await cur.fetchall()]
    async with ctx.db.execute("SELECT COUNT(*) FROM people") as cur:
        row = await cur.fetchone()
    people = int(row[0]) if row else 0
    ctx.reply(
        table(
            _("Posts"),
            [
                pgettext("field", "post"),
                pgettext("field", "name"),
                pgettext("field", "people"),
                pgettext("field", "room"),
            ],
            rows,
            footer=ngettext("{n} person known.", "{n} people known.", people),
        )
    )


@command(
    "whois",
    summary=N_("Look up a person or a post (yourself without an argument)"),
    example="!whois FR-PARIS",
    params=[Param("target", N_("a Matrix ID or a post code"), optional=True)],
)
async def whois(ctx: Context, *, target: str | None) -> None:
    ctx.reply(await _describe(ctx, target or ctx.sender))


async def _describe(ctx: Context, text: str) -> Rendered:
    try:
        kind, key = canonical_target(text)
    except ValueError as exc:
        raise UserError(str(exc), example=f"{ctx.prefix}whois FR-PARIS") from None
    if kind == "post":
        if not await post_exists(ctx.db, key):
            raise NotFound(
                _(
                    "No post {post} in the directory. Send {command} for all of them.",
                    post=key,
                    command="!dir list",
                )
            )
        return await describe_post(ctx.db, key, ctx.settings.language)
    return await describe_person(
        ctx.db,
        key,
        ctx.settings.timezone,
        ctx.settings.language,
        admins=ctx.settings.admins,
        clearance=await _clearance_shown(ctx, key),
        identity=await identity_shown(
            ctx.db,
            key,
            ctx.settings,
            ctx.person.timezone if ctx.person else ctx.settings.timezone,
            mine=key == ctx.sender,
            prefix=ctx.prefix,
        ),
        pending_roles=(
            frozenset()
            if await verification_of(ctx.db, key, ctx.settings)
            else frozenset(ctx.settings.verified_for_roles)
        ),
    )


async def _clearance_shown(ctx: Context, user_id: str) -> str:
    """A clearance is the person's and their admins' business: `full` only to an admin or
    the person themself, in their direct chat with the bot (a room's members read the reply
    too); `ask` to them elsewhere; `none` (no line at all) to anyone else."""
    if not (ctx.is_admin or user_id == ctx.sender):
        return "none"
    async with ctx.db.execute(
        "SELECT 1 FROM dm_rooms WHERE user_id = ? AND room_id = ?", (ctx.sender, ctx.room_id)
    ) as cur:
        direct = await cur.fetchone() is not None
    return "full" if direct else "ask"


def _level(ctx: Context) -> str:
    return marking_example(ctx.settings)


async def describe_person(
    db: aiosqlite.Connection,
    user_id: str,
    default_zone: str,
    default_language: str = "en",
    admins: list[str] | None = None,
    clearance: str = "full",
    identity: str | None = None,
    pending_roles: frozenset[str] = frozenset(),
) -> Rendered:
    """`clearance`: `full` shows it, `ask` says where to ask for it, `none` leaves it out;
    `identity`: the identity line (commands/verified.py); `pending_roles`: roles that count
    only once it is verified (verified_for_roles, while it is not), marked as such."""
    async with db.execute(
        "SELECT display_name, roles, timezone, nation, clearance, language FROM people "
        "WHERE user_id = ?",
        (user_id,),
    ) as cur:
        row = await cur.fetchone()
    roles = {"attache"} | {r for r in ((row[1] if row else "") or "").split(",") if r in ROLES}
    if admins and user_id in admins:
        roles.add("admin")
    name = row[0] if row and row[0] else None
    if name is None:  # the name they gave themselves in Matrix, as Element shows it
        profile = (await display_names(db, {user_id})).get(user_id)
        name = _("{name} (their Matrix profile)", name=profile) if profile else "-"
    zone = row[2] if row and row[2] else _("{value} (default)", value=default_zone)
    posts = ", ".join(await posts_of(db, user_id)) or "-"
    lines = [
        (pgettext("field", "person"), user_id),
        (pgettext("field", "name"), name),
        (pgettext("field", "roles"), _roles(roles, pending_roles)),
        (pgettext("field", "posts"), posts),
        (pgettext("field", "time zone"), zone),
        (pgettext("field", "language"), _language(row[5] if row else None, default_language)),
        (pgettext("field", "nation"), _nation(row[3] if row else None)),
    ]
    if identity is not None:
        lines.append((pgettext("field", "identity"), identity))
    if clearance == "full":
        lines.append((pgettext("field", "clearance"), (row[4] if row else None) or "-"))
    elif clearance == "ask":
        lines.append(
            (
                pgettext("field", "clearance"),
                _("not shown in a shared room; ask me in a direct chat"),
            )
        )
    if row is None:
        lines.append((pgettext("field", "note"), _("not in the directory")))
    return _fields(lines)


async def describe_post(
    db: aiosqlite.Connection, code: str, default_language: str = "en"
) -> Rendered:
    async with db.execute(
        "SELECT name, room_id, nation, marking, language FROM posts WHERE code = ?", (code,)
    ) as cur:
        row = await cur.fetchone()
    default = Marking.from_column(row[3]) if row else None
    members = await post_members(db, code)
    lines = [
        (pgettext("field", "post"), code),
        (pgettext("field", "name"), (row[0] if row else "") or "-"),
        (pgettext("field", "room"), (row[1] if row else None) or "-"),
        (pgettext("field", "people"), ", ".join(person_marker(m) for m in members) or "-"),
        (pgettext("field", "language"), _language(row[4] if row else None, default_language)),
        (pgettext("field", "nation"), _nation(row[2] if row else None)),
        (
            pgettext("field", "default marking"),
            default.banner if default is not None else "-",
        ),
    ]
    return _fields(lines)


def _roles(roles: set[str], pending: frozenset[str]) -> str:
    """`attaché, admin (counts once …)`: a role verified_for_roles names does not count for
    someone not verified yet."""
    return ", ".join(
        _("{role} (counts once their identity is verified)", role=role_name(r))
        if r in pending
        else role_name(r)
        for r in sorted(roles)
    )


def _language(code: str | None, default: str) -> str:
    """`fr (français)`, or the deployment's default marked as such."""
    if code:
        return f"{code} ({language_name(code)})"
    shown = f"{default} ({language_name(default)})"
    return _("{value} (default)", value=shown)


def _nation(code: str | None) -> str:
    return f"{code} ({nation_name(code)})" if code else "-"


def _fields(lines: list[tuple[str, str]]) -> Rendered:
    sep = colon()
    body = "\n".join(f"{k}{sep}{v}" for k, v in lines)
    html = "<br>".join(f"<b>{esc(k)}</b>{esc(sep)}{esc(v)}" for k, v in lines)
    return Rendered(body, html)
