"""Summit commands: !summit open/edit/close and !edit S-n."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands import delivery, i18n
from commands.actions.access import (
    DIGEST,
    NUDGE_OVERDUE,
    NUDGE_SOON,
    SECRETARIAT,
    not_released,
    require_open,
    require_secretariat,
    sender_zone,
    visible_summit,
)
from commands.actions.jobs import plan_digest
from commands.actions.model import parse_day, parse_summit_id
from commands.actions.store import get_summit, insert_summit
from commands.context import Context, utc_iso
from commands.directory.service import parse_room_id
from commands.errors import UserError
from commands.examples import day
from commands.i18n import N_, _, ngettext
from commands.ids import ObjectId
from commands.markings.model.marking import Marking
from commands.markings.model.policy import marking_example
from commands.markings.parties import refuse_uncovered
from commands.markings.store import reader_here
from commands.markings.wiring import marking_for
from commands.people import parse_zone
from commands.registry import Option, Param, command, handles


def _summit_example(now: datetime) -> str:
    return f'!summit open "NATO Defence Ministers" from={day(now, 30)} to={day(now, 32)}'


def _summit_dates(ctx: Context, args: dict[str, Any], zone: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, column in (("from", "starts_on"), ("to", "ends_on")):
        if args.get(key) is not None:
            try:
                out[column] = parse_day(args[key], zone, ctx.now).isoformat()
            except ValueError as exc:
                raise UserError(
                    _("{option}: {error}", option=key, error=exc), example=_summit_example(ctx.now)
                ) from None
    start, end = out.get("starts_on"), out.get("ends_on")
    if start and end and end < start:
        raise UserError(
            _("to: the summit ends before it starts."), example=_summit_example(ctx.now)
        )
    return out


def _language(text: str, example: str) -> str:
    """A summit's language from lang= (fr, FR, français ...); refused with the choices."""
    code = i18n.normalise(text)
    if code is None:
        shipped = ", ".join(f"{c} ({i18n.name(c)})" for c in i18n.available())
        raise UserError(
            _(
                "lang: I do not speak {language!r}. Available: {shipped}.",
                language=text[:20],
                shipped=shipped,
            ),
            example=example,
        )
    return code


@command(
    "summit open",
    summary=N_("Open a summit; its room gets the daily action digest (secretariat)"),
    example=_summit_example,
    params=[Param("name", N_("the summit's name"), rest=True)],
    options=[
        Option("from", N_("first day")),
        Option("to", N_("last day")),
        Option("tz", N_("the summit's time zone (digest time); default yours"), parse_zone),
        Option("room", N_("the summit room's ID; default this room"), parse_room_id),
        Option("marking", N_("default marking of its action items, e.g. RESTRICTED")),
        Option("rel", N_("default releasability of its items: nations or groups (FRA,DEU)")),
        Option("lang", N_("the language of what goes to its room: en, fr, de; default the bot's")),
    ],
    roles=SECRETARIAT,
)
async def summit_open(
    ctx: Context,
    *,
    name: str,
    from_: str | None,
    to: str | None,
    tz: str | None,
    room: str | None,
    marking: str | None,
    rel: str | None,
    lang: str | None,
) -> None:
    default = await _summit_marking(ctx, None, marking, rel, _summit_example(ctx.now))
    code = _language(lang, f"{_summit_example(ctx.now)} lang=fr") if lang else None
    zone = tz or sender_zone(ctx)
    dates = _summit_dates(ctx, {"from": from_, "to": to}, zone)
    if room:
        example = f"{_summit_example(ctx.now)} room=!encrypted-room:example.org"
        await delivery.require_encrypted_room(ctx.db, room, example)
    room = room or ctx.room_id
    name = name.strip()[:200]
    summit = await insert_summit(
        ctx.db,
        name=name,
        room_id=room,
        timezone=zone,
        created_by=ctx.sender,
        now=ctx.now,
        starts_on=dates.get("starts_on"),
        ends_on=dates.get("ends_on"),
        marking=default,
        language=code,
    )
    await plan_digest(ctx, summit)
    await ctx.audit("summit.open", summit.ref, name)
    values = {
        "ref": summit.ref,
        "name": name,
        "room": room,
        "time": ctx.settings.actions_digest_time,
        "zone": zone,
        "command": f"{ctx.prefix}actions add {summit.ref} <owner> due=<date> -- <text>",
        "help": f"{ctx.prefix}help actions add",
    }
    lines = [_("{ref} opened: {name}.", **values)]
    if default:
        lines.append(
            _("Its items are marked {banner} unless they say otherwise.", banner=default.shown())
        )
    lines.append(
        _("Digest of open items to this room on working days at {time} ({zone}).", **values)
        if room == ctx.room_id
        else _("Digest of open items to {room} on working days at {time} ({zone}).", **values)
    )
    if code:
        lines.append(
            _(
                "What goes to its room is in {language}.",
                language=i18n.name(code) + " (" + code + ")",
            )
        )
    lines.append(_("Add items: {command} ({help})", **values))
    ctx.reply(" ".join(lines))


async def _summit_marking(
    ctx: Context, current: Marking | None, marking: str | None, rel: str | None, example: str
) -> Marking | None:
    """A summit's default marking for its items (from the options, on top of `current`)."""
    if marking is None and rel is None:
        return current
    level = marking_example(ctx.settings)
    example = f"{example} marking={level} rel=FRA,DEU"
    if (marking or "").strip() == "-":
        return None
    return await marking_for(ctx, marking, rel, what="summit", example=example, own=current)


async def _edit_summit(ctx: Context, number: int, changes: dict[str, str]) -> None:
    require_secretariat(ctx, _("Only the secretariat may edit a summit."))
    summit = await visible_summit(ctx, number)
    example = f'{ctx.prefix}summit edit {summit.ref} name="New name" to={day(ctx.now, 60)}'
    allowed = {"name", "from", "to", "tz", "room", "marking", "rel", "lang"}
    unknown = sorted(set(changes) - allowed)
    if unknown or not changes:
        keys = "name, from, to, tz, room, marking, rel, lang"
        raise UserError(
            _(
                "Nothing to change: unknown {unknown}. You can change {keys}.",
                unknown=", ".join(unknown),
                keys=keys,
            )
            if unknown
            else _("Nothing to change. You can change {keys}.", keys=keys),
            example=example,
        )
    updates: dict[str, Any] = {}
    if "lang" in changes:
        updates["language"] = _language(changes["lang"], f"{ctx.prefix}edit {summit.ref} lang=de")
    if "marking" in changes or "rel" in changes:
        # The default for items added from now on; each item keeps its own marking
        # (re-mark one with !edit A-n marking=... rel=...).
        default = await _summit_marking(
            ctx, summit.marking, changes.get("marking"), changes.get("rel"), example
        )
        # An item's owner it would no longer be released to could not see their item.
        async with ctx.db.execute(
            "SELECT DISTINCT owner FROM action_items WHERE summit_id = ? ORDER BY owner",
            (summit.id,),
        ) as cur:
            owners = [r[0] for r in await cur.fetchall()]
        await refuse_uncovered(ctx, default, owners, what="summit", role="item owner")
        updates["marking"] = Marking.column(default)
    zone = summit.timezone
    if "tz" in changes:
        try:
            zone = updates["timezone"] = parse_zone(changes["tz"])
        except ValueError as exc:
            raise UserError(_("tz: {error}", error=exc), example=example) from None
    if "room" in changes:
        try:
            updates["room_id"] = parse_room_id(changes["room"])
        except ValueError as exc:
            raise UserError(_("room: {error}", error=exc), example=example) from None
        await delivery.require_encrypted_room(ctx.db, updates["room_id"], example)
    if "name" in changes:
        if not changes["name"].strip():
            raise UserError(_("name: give a name."), example=example)
        updates["name"] = changes["name"].strip()[:200]
    updates.update(_summit_dates(ctx, changes, zone))
    start = updates.get("starts_on", summit.starts_on)
    end = updates.get("ends_on", summit.ends_on)
    if start and end and end < start:
        raise UserError(_("to: the summit ends before it starts."), example=example)
    sets = ", ".join(f"{k} = ?" for k in updates)
    await ctx.db.execute(f"UPDATE summits SET {sets} WHERE id = ?", (*updates.values(), number))
    fresh = await get_summit(ctx.db, number)
    assert fresh is not None
    if "timezone" in updates:
        await plan_digest(ctx, fresh)
    await ctx.audit("summit.edit", summit.ref, ",".join(sorted(changes)))
    ctx.reply(_("{ref} changed: {keys}.", ref=summit.ref, keys=", ".join(sorted(changes))))


@command(
    "summit edit",
    summary=N_("Change a summit's name, dates, time zone, room or language (secretariat)"),
    example=lambda now: f'!summit edit S-1 name="NATO DefMin" to={day(now, 60)}',
    params=[Param("summit", N_("e.g. S-1"), convert=parse_summit_id)],
    options=[
        Option("name", N_("new name")),
        Option("from", N_("first day")),
        Option("to", N_("last day")),
        Option("tz", N_("time zone of the digest")),
        Option("room", N_("the summit room's ID")),
        Option("marking", N_("default marking of items added from now on; - clears")),
        Option("rel", N_("default releasability of items added from now on")),
        Option("lang", N_("the language of what goes to its room: en, fr, de")),
    ],
    roles=SECRETARIAT,
)
async def summit_edit(
    ctx: Context,
    *,
    summit: int,
    name: str | None,
    from_: str | None,
    to: str | None,
    tz: str | None,
    room: str | None,
    marking: str | None,
    rel: str | None,
    lang: str | None,
) -> None:
    given = {
        "name": name,
        "from": from_,
        "to": to,
        "tz": tz,
        "room": room,
        "marking": marking,
        "rel": rel,
        "lang": lang,
    }
    await _edit_summit(ctx, summit, {k: v for k, v in given.items() if v is not None})


@handles(
    "edit",
    "S",
    keys=("name", "from", "to", "tz", "room", "marking", "rel", "lang"),
    example=lambda now, oid: f'!edit {oid} name="New name" to={day(now, 60)}',
    roles=SECRETARIAT,
)
async def edit_summit_generic(ctx: Context, oid: ObjectId, *, changes: dict[str, str]) -> None:
    await _edit_summit(ctx, oid.number, changes)


@command(
    "summit close",
    summary=N_("Close a summit: no more changes, no more digests (secretariat)"),
    # TRANSLATORS: an example command: translate only the free text after --.
    example=N_("!summit close S-1 -- all items handed over"),
    params=[Param("summit", N_("e.g. S-1"), convert=parse_summit_id)],
    body=Param("note", N_("why, for the record"), optional=True),
    roles=SECRETARIAT,
)
async def summit_close(ctx: Context, *, summit: int, note: str | None) -> None:
    found = await visible_summit(ctx, summit)
    require_open(found)
    await ctx.db.execute(
        "UPDATE summits SET state = 'closed', closed_at = ? WHERE id = ?",
        (utc_iso(ctx.now), found.id),
    )
    await ctx.unschedule(DIGEST, found.ref)
    async with ctx.db.execute(
        "SELECT id FROM action_items WHERE summit_id = ? AND status IN ('open', 'in_progress')",
        (found.id,),
    ) as cur:
        left = [int(r[0]) for r in await cur.fetchall()]
    for number in left:
        await ctx.unschedule(NUDGE_SOON, f"A-{number}")
        await ctx.unschedule(NUDGE_OVERDUE, f"A-{number}")
    hidden = set(await not_released(ctx.db, await reader_here(ctx)))
    left = [n for n in left if n not in hidden]  # the count says nothing of those
    await ctx.audit("summit.close", found.ref, note or "")
    ctx.reply(
        ngettext(
            "{ref} closed. {n} item(s) were still open; nudges stopped.",
            "{ref} closed. {n} item(s) were still open; nudges stopped.",
            len(left),
            ref=found.ref,
        )
    )
