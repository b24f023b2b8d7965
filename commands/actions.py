"""Summit action items by chat: summits (S-n), items (A-n), status, listing, nudges.

Who may do what (deny by default):
- secretariat/admin: open, edit, close summits; add, edit, reassign, cancel items.
- an item's owner (the person, or anyone in the owning post): move its status, comment.
- everyone in the summit's room: list and show its items; an owner sees their own items
  anywhere (e.g. in their DM with the bot).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands import delivery
from commands.action_model import (
    ACTIVE,
    OWNER_MOVES,
    SECRETARIAT_MOVES,
    STATUSES,
    Due,
    Item,
    Summit,
    add_history,
    get_item,
    get_summit,
    history,
    insert_item,
    is_owner,
    is_secretariat,
    next_digest_at,
    owned_keys,
    owner_label,
    owner_people,
    parse_day,
    parse_due,
    parse_item_id,
    parse_status,
    parse_summit_id,
    require_open,
    require_secretariat,
    resolve_owner,
    sees_summit,
    shown_status,
    summits_in_room,
    visible_item,
    visible_summit,
)
from commands.context import Context, Job, utc_iso
from commands.directory import parse_room_id
from commands.errors import NotFound, UserError
from commands.examples import day
from commands.people import load_person, parse_zone
from commands.registry import Option, Param, command, handles, job
from commands.render import Rendered, esc, person, plain, table

SECRETARIAT = ["secretariat"]  # admins pass every role check
NUDGE_SOON = "action.soon"
NUDGE_OVERDUE = "action.overdue"
DIGEST = "action.digest"
LATE_NOTE_AFTER = 300.0  # seconds; a job later than this says the bot was offline


def _event_id(ctx: Context) -> str | None:
    return ctx.incoming.event_id if ctx.incoming else None


def _zone(ctx: Context) -> str:
    return ctx.person.timezone if ctx.person else ctx.settings.timezone


def _due(ctx: Context, text: str, example: str) -> Due:
    try:
        due = parse_due(text, _zone(ctx), ctx.now)
    except ValueError as exc:
        raise UserError(f"due: {exc}", example=example) from None
    if due.at <= ctx.now:
        raise UserError(
            f"due: {due.at.astimezone(ctx.person.zone if ctx.person else None):%Y-%m-%d %H:%M} "
            "is already past; give a future date.",
            example=example,
        )
    return due


# -- scheduling nudges ---------------------------------------------------------------------


async def _schedule_once(
    ctx: Context, kind: str, ref: str, at: datetime, payload: dict[str, Any]
) -> None:
    """Schedule a nudge; one cancelled by an earlier change comes back, one sent stays sent."""
    if await ctx.schedule(kind, ref, at, payload) is not None:
        return
    cur = await ctx.db.execute(
        "UPDATE jobs SET state = 'pending' WHERE kind = ? AND ref = ? AND due_at = ? "
        "AND state = 'cancelled' RETURNING id",
        (kind, ref, utc_iso(at)),
    )
    ctx.scheduled.extend(int(r[0]) for r in await cur.fetchall())
    await cur.close()


async def plan_nudges(ctx: Context, item: Item) -> None:
    """(Re)plan the owner's DMs for an item: N days before due, and when it becomes overdue.

    Each nudge is a job keyed by (kind, item, deadline): the store records it done when it
    fires, so it goes once, even across restarts; a new deadline gets its own nudges.
    """
    await ctx.unschedule(NUDGE_SOON, item.ref)
    await ctx.unschedule(NUDGE_OVERDUE, item.ref)
    if item.status not in ACTIVE:
        return
    payload = {"due": utc_iso(item.due_at)}
    days = ctx.settings.actions_nudge_days
    soon = item.due_at - timedelta(days=days)
    if days > 0 and soon > ctx.now:
        await _schedule_once(ctx, NUDGE_SOON, item.ref, soon, payload)
    await _schedule_once(ctx, NUDGE_OVERDUE, item.ref, item.due_at, payload)


async def plan_digest(ctx: Context, summit: Summit) -> None:
    await ctx.unschedule(DIGEST, summit.ref)
    if summit.state != "open":
        return
    at = next_digest_at(
        ctx.now,
        summit.timezone,
        ctx.settings.actions_digest_time,
        ctx.settings.actions_working_days,
    )
    await ctx.schedule(DIGEST, summit.ref, at, {})


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


def _room_option(text: str) -> str:
    return parse_room_id(text)


@command(
    "summit open",
    summary="Open a summit; its room gets the daily action digest (secretariat)",
    example=_summit_example,
    params=[Param("name", "the summit's name", rest=True)],
    options=[
        Option("from", "first day"),
        Option("to", "last day"),
        Option("tz", "the summit's time zone (digest time); default yours", parse_zone),
        Option("room", "the summit room's ID; default this room", _room_option),
    ],
    roles=SECRETARIAT,
)
async def summit_open(ctx: Context, args: dict[str, Any]) -> None:
    zone = args["tz"] or _zone(ctx)
    dates = _summit_dates(ctx, args, zone)
    room = args["room"] or ctx.room_id
    if args["room"]:
        example = f"{_summit_example(ctx.now)} room=!encrypted-room:example.org"
        await delivery.require_encrypted_room(ctx.db, args["room"], example)
    name = args["name"].strip()[:200]
    cur = await ctx.db.execute(
        "INSERT INTO summits (name, starts_on, ends_on, room_id, timezone, created_by, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            name,
            dates.get("starts_on"),
            dates.get("ends_on"),
            room,
            zone,
            ctx.sender,
            utc_iso(ctx.now),
        ),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    summit = await get_summit(ctx.db, int(row[0]))
    assert summit is not None
    await plan_digest(ctx, summit)
    await ctx.audit("summit.open", summit.ref, name)
    where = "this room" if room == ctx.room_id else room
    ctx.reply(
        f"{summit.ref} opened: {name}. Digest of open items to {where} on working days at "
        f"{ctx.settings.actions_digest_time} ({zone}). Add items: "
        f"{ctx.prefix}actions add {summit.ref} <owner> due=<date> -- <text> "
        f"({ctx.prefix}help actions add)"
    )


async def _edit_summit(ctx: Context, number: int, changes: dict[str, str]) -> None:
    require_secretariat(ctx, "edit a summit")
    summit = await visible_summit(ctx, number)
    example = f'{ctx.prefix}summit edit {summit.ref} name="New name" to={day(ctx.now, 60)}'
    allowed = {"name", "from", "to", "tz", "room"}
    unknown = sorted(set(changes) - allowed)
    if unknown or not changes:
        raise UserError(
            f"Nothing to change{': unknown ' + ', '.join(unknown) if unknown else ''}. "
            "You can change name, from, to, tz, room.",
            example=example,
        )
    updates: dict[str, Any] = {}
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
    ],
    roles=SECRETARIAT,
)
async def summit_edit(ctx: Context, args: dict[str, Any]) -> None:
    changes = {k: args[k] for k in ("name", "from", "to", "tz", "room") if args[k] is not None}
    await _edit_summit(ctx, args["summit"], changes)


@handles("edit", "S")
async def edit_summit_generic(ctx: Context, number: int, args: dict[str, Any]) -> None:
    await _edit_summit(
        ctx,
        number,
        parse_changes(
            args["changes"],
            {"name", "from", "to", "tz", "room"},
            f'{ctx.prefix}edit S-{number} name="New name" to={day(ctx.now, 60)}',
        ),
    )


@command(
    "summit close",
    summary="Close a summit: no more changes, no more digests (secretariat)",
    example="!summit close S-1 -- all items handed over",
    params=[Param("summit", "e.g. S-1", convert=parse_summit_id)],
    body=Param("note", "why, for the record", optional=True),
    roles=SECRETARIAT,
)
async def summit_close(ctx: Context, args: dict[str, Any]) -> None:
    summit = await visible_summit(ctx, args["summit"])
    require_open(summit)
    await ctx.db.execute(
        "UPDATE summits SET state = 'closed', closed_at = ? WHERE id = ?",
        (utc_iso(ctx.now), summit.id),
    )
    await ctx.unschedule(DIGEST, summit.ref)
    async with ctx.db.execute(
        "SELECT id FROM action_items WHERE summit_id = ? AND status IN ('open', 'in_progress')",
        (summit.id,),
    ) as cur:
        left = [int(r[0]) for r in await cur.fetchall()]
    for number in left:
        await ctx.unschedule(NUDGE_SOON, f"A-{number}")
        await ctx.unschedule(NUDGE_OVERDUE, f"A-{number}")
    await ctx.audit("summit.close", summit.ref, args["note"] or "")
    ctx.reply(f"{summit.ref} closed. {len(left)} item(s) were still open; nudges stopped.")


@command("summit list", summary="List the summits you can see", example="!summit list")
async def summit_list(ctx: Context, args: dict[str, Any]) -> None:
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
async def show_summit(ctx: Context, number: int, args: dict[str, Any]) -> None:
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
    ]
    ctx.reply(_fields(lines))


# -- items: add, show, edit, status --------------------------------------------------------


def _add_example(now: datetime) -> str:
    return f"!actions add S-1 @alice:example.org due={day(now, 14)} -- circulate the draft"


@command(
    "actions add",
    summary="Add an action item to a summit, owned by a person or a post (secretariat)",
    example=_add_example,
    params=[
        Param("summit", "e.g. S-1 (optional in the summit's room)"),
        Param("owner", "a Matrix ID or a post code", optional=True),
    ],
    options=[Option("due", "ISO date, or friday, in 3 days… (your time zone)")],
    body=Param("text", "what is to be done"),
    roles=SECRETARIAT,
)
async def actions_add(ctx: Context, args: dict[str, Any]) -> None:
    first, owner_text = args["summit"], args["owner"]
    if owner_text is None:  # `!actions add @owner due=… -- text` in the summit's room
        summit = await _room_summit(ctx, _add_example(ctx.now))
        owner_text = first
    else:
        try:
            number = parse_summit_id(first)
        except ValueError as exc:
            raise UserError(f"summit: {exc}", example=_add_example(ctx.now)) from None
        summit = await visible_summit(ctx, number)
    require_open(summit)
    if not args["due"]:
        raise UserError("due: every item needs a due date (due=…).", example=_add_example(ctx.now))
    kind, owner = await resolve_owner(ctx.db, owner_text)
    due = _due(ctx, args["due"], _add_example(ctx.now))
    text = args["text"].strip()  # bounded by max_body_length (bot.limits), never cut
    number = await insert_item(
        ctx.db, summit.id, text, kind, owner, due, ctx.sender, ctx.now, _event_id(ctx)
    )
    item = await get_item(ctx.db, number)
    assert item is not None
    await plan_nudges(ctx, item)
    await ctx.audit("action.add", item.ref, f"{summit.ref} owner={owner}")
    label = await owner_label(ctx.db, kind, owner)
    ctx.reply(
        f"{item.ref} added to {summit.ref}: {text} — owner {label}, due {item.due_for(_zone(ctx))}."
    )
    await _tell_owner(ctx, item, summit, f"You own {item.ref} ({summit.ref} {summit.name})")


async def _room_summit(ctx: Context, example: str) -> Summit:
    open_here = [s for s in await summits_in_room(ctx.db, ctx.room_id) if s.state == "open"]
    if len(open_here) != 1:
        what = "no open summit" if not open_here else "several open summits"
        raise UserError(f"This room has {what}; name the summit (S-n).", example=example)
    return open_here[0]


async def _tell_owner(ctx: Context, item: Item, summit: Summit, intro: str) -> None:
    """A DM to the owner(s), except the person who made the change."""
    for user in await owner_people(ctx.db, item.owner_kind, item.owner):
        if ctx.person is not None and user == ctx.sender:
            continue
        person = await load_person(ctx.db, user, ctx.settings)
        ctx.send(
            f"{intro}: {item.text} — due {item.due_for(person.timezone)}. "
            f"When it is done: {ctx.prefix}actions done {item.ref}",
            user_id=user,
            origin=ctx.origin(item.ref) if ctx.person is not None else None,
        )


@handles("show", "A")
async def show_item(ctx: Context, number: int, args: dict[str, Any]) -> None:
    item, summit = await visible_item(ctx, number)
    zone = _zone(ctx)
    lines = [
        ("item", f"{item.ref} ({summit.ref} {summit.name})"),
        ("text", item.text),
        ("owner", await owner_label(ctx.db, item.owner_kind, item.owner)),
        ("due", item.due_for(zone)),
        ("status", item.status_for(ctx.now)),
        ("created by", person(item.created_by)),
    ]
    entries = []
    for h in await history(ctx.db, item.id):
        when = _local(h["at"], zone)
        change = (
            h["field"]
            if h["field"] in ("created", "comment")
            else (f"{h['field']}: {h['old'] or '-'} → {h['new'] or '-'}")
        )
        note = f" — {h['comment']}" if h["comment"] else ""
        actor = person(h["actor"]) if h["actor"].startswith("@") else h["actor"]
        entries.append(f"{when} {actor}: {change}{note}")
    body = (
        "\n".join(f"{k}: {v}" for k, v in lines)
        + "\nhistory:\n"
        + "\n".join(f"• {e}" for e in entries)
    )
    html = (
        "<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in lines)
        + "<br><b>history</b>:<ul>"
        + "".join(f"<li>{esc(e)}</li>" for e in entries)
        + "</ul>"
    )
    ctx.reply(Rendered(body, html))


def _local(stamp: str, zone: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


_EDIT_KEYS = {"text", "due", "owner"}


def parse_changes(text: str, keys: set[str], example: str) -> dict[str, str]:
    """`due=friday text=new words here` -> {"due": "friday", "text": "new words here"}.

    A value runs to the next known `key=`, so free text needs no quotes.
    """
    pattern = re.compile(r"(?:^|\s)(" + "|".join(sorted(keys)) + r")=", re.IGNORECASE)
    marks = list(pattern.finditer(text))
    if not marks or text[: marks[0].start()].strip():
        head = text[: marks[0].start()] if marks else text
        raise UserError(
            f"Not understood: {head.strip()[:40]!r}. Write key=value with key one of "
            f"{', '.join(sorted(keys))}.",
            example=example,
        )
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m[1].lower()] = text[m.end() : end].strip()
    return out


@handles("edit", "A")
async def edit_item(ctx: Context, number: int, args: dict[str, Any]) -> None:
    changes = parse_changes(
        args["changes"], _EDIT_KEYS, f"{ctx.prefix}edit A-{number} due={day(ctx.now, 14)}"
    )
    await apply_edit(ctx, number, changes, None)


async def apply_edit(
    ctx: Context, number: int, changes: dict[str, str], comment: str | None
) -> None:
    item, summit = await visible_item(ctx, number)
    require_secretariat(ctx, "edit an item (owners change its status: !actions status)")
    require_open(summit)
    example = f"{ctx.prefix}edit {item.ref} due={day(ctx.now, 14)} owner=FR-PARIS"
    updates: dict[str, Any] = {}
    log: list[tuple[str, str | None, str | None]] = []
    if "text" in changes:
        text = changes["text"].strip()
        if not text:
            raise UserError("text: give the new text.", example=example)
        if text != item.text:
            updates["text"] = text
            log.append(("text", item.text, text))
    if "due" in changes:
        due = _due(ctx, changes["due"], example)
        if due.at != item.due_at or due.zone != item.due_zone:
            updates.update(due_at=utc_iso(due.at), due_zone=due.zone, all_day=int(due.all_day))
            log.append(("due", item.due_for(item.due_zone), _fmt_due(due)))
    if "owner" in changes:
        kind, owner = await resolve_owner(ctx.db, changes["owner"])
        if (kind, owner) != (item.owner_kind, item.owner):
            updates.update(owner_kind=kind, owner=owner)
            log.append(("owner", item.owner, owner))
    if not updates:
        ctx.reply(f"{item.ref}: nothing changed.")
        return
    updates["updated_at"] = utc_iso(ctx.now)
    sets = ", ".join(f"{k} = ?" for k in updates)
    await ctx.db.execute(
        f"UPDATE action_items SET {sets} WHERE id = ?", (*updates.values(), item.id)
    )
    for field, old, new in log:
        await add_history(
            ctx.db, item.id, ctx.sender, ctx.now, field, old, new, comment, _event_id(ctx)
        )
    fresh = await get_item(ctx.db, item.id)
    assert fresh is not None
    await plan_nudges(ctx, fresh)
    fields = ", ".join(f for f, _, _ in log)
    await ctx.audit("action.edit", item.ref, fields)
    ctx.reply(
        f"{item.ref} changed ({fields}): owner {fresh.owner}, due {fresh.due_for(_zone(ctx))}."
    )
    if "owner" in updates:
        await _tell_owner(ctx, fresh, summit, f"{item.ref} was assigned to you ({summit.ref})")


def _fmt_due(due: Due) -> str:
    local = due.at.astimezone(ZoneInfo(due.zone))
    return local.date().isoformat() if due.all_day else local.strftime("%Y-%m-%d %H:%M")


@command(
    "actions reassign",
    summary="Give an item to another person or post (secretariat)",
    example="!actions reassign A-7 FR-PARIS -- Paris leads on this",
    params=[
        Param("item", "e.g. A-7", convert=parse_item_id),
        Param("owner", "a Matrix ID or a post code"),
    ],
    body=Param("comment", "why, kept in the history", optional=True),
    roles=SECRETARIAT,
)
async def actions_reassign(ctx: Context, args: dict[str, Any]) -> None:
    await apply_edit(ctx, args["item"], {"owner": args["owner"]}, args["comment"])


async def change_status(ctx: Context, number: int, status: str, comment: str | None) -> None:
    item, summit = await visible_item(ctx, number)
    secretariat = is_secretariat(ctx)
    owner = await is_owner(ctx, item)
    if not (secretariat or owner):
        raise UserError(
            f"Only {item.ref}'s owner or the secretariat may change its status. "
            f"{ctx.prefix}show {item.ref} shows its owner.",
        )
    require_open(summit)
    if status == item.status:
        raise UserError(
            f"{item.ref} is already {shown_status(status)}. {ctx.prefix}show {item.ref} "
            "shows its history."
        )
    moves = SECRETARIAT_MOVES if secretariat else OWNER_MOVES
    if (item.status, status) not in moves:
        who = (
            "only the secretariat may do that"
            if (item.status, status) in SECRETARIAT_MOVES
            else "no one may make that change"
        )
        raise UserError(
            f"{item.ref} cannot go from {shown_status(item.status)} to {shown_status(status)} "
            f"({who}). {ctx.prefix}show {item.ref} shows its history."
        )
    await ctx.db.execute(
        "UPDATE action_items SET status = ?, updated_at = ? WHERE id = ?",
        (status, utc_iso(ctx.now), item.id),
    )
    await add_history(
        ctx.db, item.id, ctx.sender, ctx.now, "status", item.status, status, comment, _event_id(ctx)
    )
    fresh = await get_item(ctx.db, item.id)
    assert fresh is not None
    await plan_nudges(ctx, fresh)
    await ctx.audit(f"action.{status}", item.ref, f"{item.status}->{status}")
    ctx.reply(f"{item.ref} is now {shown_status(status)}: {item.text}")


@command(
    "actions done",
    summary="Mark an item done (its owner or the secretariat)",
    example="!actions done A-7 -- sent to all delegations",
    params=[Param("item", "e.g. A-7", convert=parse_item_id)],
    body=Param("comment", "what was done, kept in the history", optional=True),
)
async def actions_done(ctx: Context, args: dict[str, Any]) -> None:
    await change_status(ctx, args["item"], "done", args["comment"])


@command(
    "actions status",
    summary="Set an item's status: open, in-progress, done (owner); cancelled (secretariat)",
    example="!actions status A-7 in-progress -- draft under review",
    params=[
        Param("item", "e.g. A-7", convert=parse_item_id),
        Param("status", "open, in-progress, done or cancelled", convert=parse_status, rest=True),
    ],
    body=Param("comment", "kept in the history", optional=True),
)
async def actions_status(ctx: Context, args: dict[str, Any]) -> None:
    await change_status(ctx, args["item"], args["status"], args["comment"])


@handles("cancel", "A")
async def cancel_item(ctx: Context, number: int, args: dict[str, Any]) -> None:
    await visible_item(ctx, number)  # not found before not allowed: existence stays hidden
    require_secretariat(ctx, "cancel an item")
    await change_status(ctx, number, "cancelled", args.get("reason"))


@command(
    "actions comment",
    summary="Add a comment to an item's history (its owner or the secretariat)",
    example="!actions comment A-7 -- waiting for the Italian input",
    params=[Param("item", "e.g. A-7", convert=parse_item_id)],
    body=Param("comment", "the comment"),
)
async def actions_comment(ctx: Context, args: dict[str, Any]) -> None:
    item, _ = await visible_item(ctx, args["item"])
    if not (is_secretariat(ctx) or await is_owner(ctx, item)):
        raise UserError(
            f"Only {item.ref}'s owner or the secretariat may comment on it. "
            f"{ctx.prefix}show {item.ref} shows its owner."
        )
    text = args["comment"].strip()
    await add_history(
        ctx.db, item.id, ctx.sender, ctx.now, "comment", None, None, text, _event_id(ctx)
    )
    await ctx.db.execute(
        "UPDATE action_items SET updated_at = ? WHERE id = ?", (utc_iso(ctx.now), item.id)
    )
    await ctx.audit("action.comment", item.ref, "")
    ctx.reply(f"Comment added to {item.ref}.")


# -- listing -------------------------------------------------------------------------------

_NO_SUMMIT = (
    "No such summit that you can see (ask in the summit's room). Send !summit list for yours."
)
_LIST_EXAMPLE = "!actions list S-1 status=open owner=FR-PARIS overdue page=2"


def _page(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("a page number from 1, e.g. page=2")
    return int(text)


def _statuses(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("all", "any"):
        return STATUSES
    if text.strip().lower() == "active":
        return ACTIVE
    return tuple(dict.fromkeys(parse_status(p) for p in text.split(",") if p.strip()))


async def query_items(
    db: Any,
    *,
    now: datetime,
    summit_ids: list[int] | None,
    owners: list[str] | None,
    restrict_owners: list[str] | None,
    statuses: tuple[str, ...],
    overdue: bool,
    before: datetime | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Item]]:
    """One filtered page, sorted by due date, and the total; `restrict_owners` is visibility."""
    where = ["TRUE"]
    params: list[Any] = []
    if set(statuses) != set(STATUSES):  # every status is no filter: walk the due index
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += statuses
    if summit_ids is not None:
        where.append(f"summit_id IN ({','.join('?' * len(summit_ids))})")
        params += summit_ids
    for group in (owners, restrict_owners):
        if group is not None:
            where.append(f"owner IN ({','.join('?' * len(group))})")
            params += group
    if overdue:
        where.append("status IN ('open', 'in_progress') AND due_at < ?")
        params.append(utc_iso(now))
    if before is not None:
        where.append("due_at < ?")
        params.append(utc_iso(before))
    clause = " AND ".join(where)
    async with db.execute(f"SELECT COUNT(*) FROM action_items WHERE {clause}", params) as cur:
        row = await cur.fetchone()
    total = int(row[0]) if row else 0
    async with db.execute(
        f"SELECT * FROM action_items WHERE {clause} ORDER BY due_at, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ) as cur:
        items = [Item.from_row(r) for r in await cur.fetchall()]
    return total, items


@command(
    "actions list",
    summary="List action items, by due date: filter by summit, owner, status, overdue, before",
    example=_LIST_EXAMPLE,
    params=[Param("filters", "S-n, overdue, mine", optional=True, rest=True)],
    options=[
        Option("owner", "a Matrix ID, a post code, or me"),
        Option("status", "open, in-progress, done, cancelled, active (default) or all", _statuses),
        Option("before", "due before this date"),
        Option("page", "page number", _page, default=1),
    ],
    details="Everyone in a summit's room sees its items; elsewhere you see the items you own.",
)
async def actions_list(ctx: Context, args: dict[str, Any]) -> None:
    words = (args["filters"] or "").split()
    summit_numbers, overdue, mine = [], False, False
    for word in words:
        low = word.lower()
        if low == "overdue":
            overdue = True
        elif low in ("mine", "my"):
            mine = True
        else:
            try:
                summit_numbers.append(parse_summit_id(word))
            except ValueError:
                raise UserError(
                    f"Not understood: {word[:30]!r}. Filters are S-n, overdue, mine, "
                    "owner=…, status=…, before=…, page=…",
                    example=_LIST_EXAMPLE,
                ) from None
    my_keys = await owned_keys(ctx.db, ctx.sender)
    restrict: list[str] | None = None
    if summit_numbers:
        summits = [await get_summit(ctx.db, n) for n in summit_numbers]
        if any(s is None for s in summits):
            raise NotFound(_NO_SUMMIT)
        if not all(sees_summit(ctx, s) for s in summits if s):
            restrict = my_keys  # an owner outside the room sees just their own items
        summit_ids: list[int] | None = summit_numbers
    elif is_secretariat(ctx) and not await summits_in_room(ctx.db, ctx.room_id):
        summit_ids = None
    else:
        here = await summits_in_room(ctx.db, ctx.room_id)
        summit_ids = [s.id for s in here] or None
        if not here:
            restrict = my_keys
    owners: list[str] | None = None
    if mine or (args["owner"] or "").lower() == "me":
        owners = my_keys
    elif args["owner"]:
        kind, key = await resolve_owner(ctx.db, args["owner"])
        owners = await owned_keys(ctx.db, key) if kind == "person" else [key]
    before = None
    if args["before"]:
        before = _before(ctx, args["before"])
    statuses = args["status"] or ACTIVE
    size = ctx.settings.actions_page_size
    page = args["page"]
    total, items = await query_items(
        ctx.db,
        now=ctx.now,
        summit_ids=summit_ids,
        owners=owners,
        restrict_owners=restrict,
        statuses=statuses,
        overdue=overdue,
        before=before,
        limit=size,
        offset=(page - 1) * size,
    )
    if restrict is not None and summit_numbers and total == 0:
        raise NotFound(_NO_SUMMIT)  # a summit you cannot see looks like one that is not there
    ctx.reply(await render_list(ctx, total, items, page, size))


def _before(ctx: Context, text: str) -> datetime:
    try:
        due = parse_due(text, _zone(ctx), ctx.now)
    except ValueError as exc:
        raise UserError(f"before: {exc}", example=_LIST_EXAMPLE) from None
    # "before 2026-12-01" means due on an earlier day: up to the start of that day.
    return due.at.replace(hour=0, minute=0, second=0) if due.all_day else due.at


async def render_list(
    ctx: Context, total: int, items: list[Item], page: int, size: int
) -> Rendered:
    if total == 0:
        return plain("No action items match.")
    pages = (total + size - 1) // size
    if not items:
        return plain(f"There are {pages} page(s); page {page} is empty.")
    zone = _zone(ctx)
    labels: dict[tuple[str, str], str] = {}
    rows = []
    for item in items:
        key = (item.owner_kind, item.owner)
        if key not in labels:
            labels[key] = await owner_label(ctx.db, *key)
        text = item.text if len(item.text) <= 80 else item.text[:79] + "…"
        rows.append(
            (
                item.ref,
                item.due_for(zone),
                item.status_for(ctx.now),
                labels[key],
                f"S-{item.summit_id}",
                text,
            )
        )
    first = (page - 1) * size + 1
    footer = f"{first}–{first + len(items) - 1} of {total}, page {page} of {pages}."
    if page < pages:
        footer += f" Next: add page={page + 1}."
    return table("Action items", ["id", "due", "status", "owner", "summit", "text"], rows, footer)


# -- nudges and the digest (scheduled jobs) ------------------------------------------------


def _late(job: Job) -> str:
    if job.late_seconds < LATE_NOTE_AFTER:
        return ""
    return " (sent late: I was offline when it was due)"


async def _nudge(ctx: Context, job: Job, intro: str) -> None:
    number = parse_item_id(job.ref)
    item = await get_item(ctx.db, number)
    if item is None or item.status not in ACTIVE or utc_iso(item.due_at) != job.payload.get("due"):
        return  # done, cancelled, or its deadline moved (the new deadline has its own job)
    summit = await get_summit(ctx.db, item.summit_id)
    if summit is None or summit.state != "open":
        return
    for user in await owner_people(ctx.db, item.owner_kind, item.owner):
        person = await load_person(ctx.db, user, ctx.settings)
        ctx.send(
            f"{intro.format(ref=item.ref, due=item.due_for(person.timezone))}{_late(job)}: "
            f"{item.text} ({summit.ref} {summit.name}). "
            f"When it is done: {ctx.prefix}actions done {item.ref}",
            user_id=user,
        )
    await ctx.audit(job.kind, item.ref, "nudged")


@job(NUDGE_SOON)
async def nudge_soon(ctx: Context, job: Job) -> None:
    await _nudge(ctx, job, "Reminder: {ref} is due {due}")


@job(NUDGE_OVERDUE)
async def nudge_overdue(ctx: Context, job: Job) -> None:
    await _nudge(ctx, job, "{ref} is now overdue (it was due {due})")


@job(DIGEST)
async def digest(ctx: Context, job: Job) -> None:
    """Open and overdue items by owner, to the summit room; then plan the next working day."""
    summit = await get_summit(ctx.db, parse_summit_id(job.ref))
    if summit is None or summit.state != "open":
        return
    async with ctx.db.execute(
        "SELECT * FROM action_items WHERE summit_id = ? AND status IN ('open', 'in_progress') "
        "ORDER BY owner, due_at, id",
        (summit.id,),
    ) as cur:
        items = [Item.from_row(r) for r in await cur.fetchall()]
    if items:
        ctx.send(await render_digest(ctx, summit, items, _late(job)), room_id=summit.room_id)
    await plan_digest(ctx, summit)


async def render_digest(ctx: Context, summit: Summit, items: list[Item], late: str) -> Rendered:
    overdue = sum(1 for i in items if i.overdue(ctx.now))
    title = f"{summit.ref} {summit.name}: {len(items)} open item(s), {overdue} overdue{late}"
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.owner_kind, item.owner), []).append(item)
    text = [title]
    html = [f"<p><b>{esc(title)}</b></p>"]
    for key in sorted(groups, key=lambda k: k[1].lower()):
        label = await owner_label(ctx.db, *key)
        lines = [
            f"{i.ref} due {i.due_for(summit.timezone)} [{i.status_for(ctx.now)}] {i.text}"
            for i in groups[key]
        ]
        text.append(label)
        text += [f"  • {line}" for line in lines]
        html.append(
            f"<p>{esc(label)}</p><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"
        )
    return Rendered("\n".join(text), "".join(html))


def _fields(lines: list[tuple[str, str]]) -> Rendered:
    body = "\n".join(f"{k}: {v}" for k, v in lines)
    html = "<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in lines)
    return Rendered(body, html)
