"""Summit commands: !summit open/edit/close/list, and !show/!edit S-n."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands import delivery
from commands.actions.access import (
    DIGEST,
    NUDGE_OVERDUE,
    NUDGE_SOON,
    SECRETARIAT,
    is_secretariat,
    require_open,
    require_secretariat,
    sender_zone,
    visible_summit,
)
from commands.actions.jobs import field_lines, plan_digest
from commands.actions.model import STATUSES, parse_day, parse_summit_id, shown_status
from commands.actions.store import Summit, get_summit, insert_summit, summits_in_room
from commands.context import Context, utc_iso
from commands.directory.service import parse_room_id
from commands.errors import UserError
from commands.examples import day
from commands.ids import ObjectId
from commands.markings.model import Marking, marking_example
from commands.markings.wiring import marking_for
from commands.people import parse_zone
from commands.registry import Option, Param, command, handles
from commands.render import table

# -- summits -------------------------------------------------------------------------------


def _summit_example(now: datetime) -> str:
    return f'!summit open "NATO Defence Ministers" from={day(now, 30)} to={day(now, 32)}'


def _summit_dates(ctx: Context, args: dict[str, Any], zone: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, column in (("from", "starts_on"), ("to", "ends_on")):
        if args.get(key) is not None:
            try:
                out[column] = parse_day(args[key], zone, ctx.now).isoformat()
            except ValueError as exc:
                raise UserError(f"{key}: {exc}", example=_summit_example(ctx.now)) from None
    start, end = out.get("starts_on"), out.get("ends_on")
    if start and end and end < start:
        raise UserError("to: the summit ends before it starts.", example=_summit_example(ctx.now))
    return out


@command(
    "summit open",
    summary="Open a summit; its room gets the daily action digest (secretariat)",
    example=_summit_example,
    params=[Param("name", "the summit's name", rest=True)],
    options=[
        Option("from", "first day"),
        Option("to", "last day"),
        Option("tz", "the summit's time zone (digest time); default yours", parse_zone),
        Option("room", "the summit room's ID; default this room", parse_room_id),
        Option("marking", "default marking of its action items, e.g. RESTRICTED"),
        Option("rel", "default releasability of its items: nations or groups (FRA,DEU)"),
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
) -> None:
    default = await _summit_marking(ctx, None, marking, rel, _summit_example(ctx.now))
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
    )
    await plan_digest(ctx, summit)
    await ctx.audit("summit.open", summit.ref, name)
    where = "this room" if room == ctx.room_id else room
    marked = f" Its items are marked {default.banner} unless they say otherwise." if default else ""
    ctx.reply(
        f"{summit.ref} opened: {name}.{marked} Digest of open items to {where} on working days at "
        f"{ctx.settings.actions_digest_time} ({zone}). Add items: "
        f"{ctx.prefix}actions add {summit.ref} <owner> due=<date> -- <text> "
        f"({ctx.prefix}help actions add)"
    )


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
    require_secretariat(ctx, "edit a summit")
    summit = await visible_summit(ctx, number)
    example = f'{ctx.prefix}summit edit {summit.ref} name="New name" to={day(ctx.now, 60)}'
    allowed = {"name", "from", "to", "tz", "room", "marking", "rel"}
    unknown = sorted(set(changes) - allowed)
    if unknown or not changes:
        raise UserError(
            f"Nothing to change{': unknown ' + ', '.join(unknown) if unknown else ''}. "
            "You can change name, from, to, tz, room, marking, rel.",
            example=example,
        )
    updates: dict[str, Any] = {}
    if "marking" in changes or "rel" in changes:
        # The default for items added from now on; each item keeps its own marking
        # (re-mark one with !edit A-n marking=... rel=...).
        default = await _summit_marking(
            ctx, summit.marking, changes.get("marking"), changes.get("rel"), example
        )
        updates["marking"] = Marking.column(default)
    zone = summit.timezone
    if "tz" in changes:
        try:
            zone = updates["timezone"] = parse_zone(changes["tz"])
        except ValueError as exc:
            raise UserError(f"tz: {exc}", example=example) from None
    if "room" in changes:
        try:
            updates["room_id"] = parse_room_id(changes["room"])
        except ValueError as exc:
            raise UserError(f"room: {exc}", example=example) from None
        await delivery.require_encrypted_room(ctx.db, updates["room_id"], example)
    if "name" in changes:
        if not changes["name"].strip():
            raise UserError("name: give a name.", example=example)
        updates["name"] = changes["name"].strip()[:200]
    updates.update(_summit_dates(ctx, changes, zone))
    start = updates.get("starts_on", summit.starts_on)
    end = updates.get("ends_on", summit.ends_on)
    if start and end and end < start:
        raise UserError("to: the summit ends before it starts.", example=example)
    sets = ", ".join(f"{k} = ?" for k in updates)
    await ctx.db.execute(f"UPDATE summits SET {sets} WHERE id = ?", (*updates.values(), number))
    fresh = await get_summit(ctx.db, number)
    assert fresh is not None
    if "timezone" in updates:
        await plan_digest(ctx, fresh)
    await ctx.audit("summit.edit", summit.ref, ",".join(sorted(changes)))
    ctx.reply(f"{summit.ref} changed: {', '.join(sorted(changes))}.")


@command(
    "summit edit",
    summary="Change a summit's name, dates, time zone or room (secretariat)",
    example=lambda now: f'!summit edit S-1 name="NATO DefMin" to={day(now, 60)}',
    params=[Param("summit", "e.g. S-1", convert=parse_summit_id)],
    options=[
        Option("name", "new name"),
        Option("from", "first day"),
        Option("to", "last day"),
        Option("tz", "time zone of the digest"),
        Option("room", "the summit room's ID"),
        Option("marking", "default marking of items added from now on; - clears"),
        Option("rel", "default releasability of items added from now on"),
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
) -> None:
    given = {
        "name": name,
        "from": from_,
        "to": to,
        "tz": tz,
        "room": room,
        "marking": marking,
        "rel": rel,
    }
    await _edit_summit(ctx, summit, {k: v for k, v in given.items() if v is not None})


@handles(
    "edit",
    "S",
    keys=("name", "from", "to", "tz", "room", "marking", "rel"),
    example=lambda now, oid: f'!edit {oid} name="New name" to={day(now, 60)}',
    roles=SECRETARIAT,
)
async def edit_summit_generic(ctx: Context, oid: ObjectId, *, changes: dict[str, str]) -> None:
    await _edit_summit(ctx, oid.number, changes)


@command(
    "summit close",
    summary="Close a summit: no more changes, no more digests (secretariat)",
    example="!summit close S-1 -- all items handed over",
    params=[Param("summit", "e.g. S-1", convert=parse_summit_id)],
    body=Param("note", "why, for the record", optional=True),
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
    await ctx.audit("summit.close", found.ref, note or "")
    ctx.reply(f"{found.ref} closed. {len(left)} item(s) were still open; nudges stopped.")


@command("summit list", summary="List the summits you can see", example="!summit list")
async def summit_list(ctx: Context) -> None:
    if is_secretariat(ctx):
        async with ctx.db.execute("SELECT * FROM summits ORDER BY id") as cur:
            summits = [Summit.from_row(r) for r in await cur.fetchall()]
    else:
        summits = await summits_in_room(ctx.db, ctx.room_id)
    if not summits:
        ctx.reply("No summits you can see here. Ask in the summit's room.")
        return
    rows = [
        (s.ref, s.name, f"{s.starts_on or '?'} – {s.ends_on or '?'}", s.state, s.timezone)
        for s in summits
    ]
    ctx.reply(table("Summits", ["id", "name", "dates", "state", "zone"], rows))


@handles("show", "S")
async def show_summit(ctx: Context, oid: ObjectId) -> None:
    number = oid.number
    summit = await visible_summit(ctx, number)
    async with ctx.db.execute(
        "SELECT status, COUNT(*) FROM action_items WHERE summit_id = ? GROUP BY status",
        (number,),
    ) as cur:
        counts = {r[0]: int(r[1]) for r in await cur.fetchall()}
    async with ctx.db.execute(
        "SELECT COUNT(*) FROM action_items WHERE summit_id = ? AND status IN "
        "('open', 'in_progress') AND due_at < ?",
        (number, utc_iso(ctx.now)),
    ) as cur:
        row = await cur.fetchone()
    overdue = int(row[0]) if row else 0
    tally = ", ".join(f"{counts.get(s, 0)} {shown_status(s)}" for s in STATUSES)
    lines = [
        ("summit", f"{summit.ref} {summit.name}"),
        ("dates", f"{summit.starts_on or '?'} – {summit.ends_on or '?'}"),
        ("state", summit.state),
        ("time zone", summit.timezone),
        ("items", f"{tally}; {overdue} overdue"),
        ("default marking", summit.marking.banner if summit.marking else "-"),
    ]
    ctx.reply(field_lines(lines))
