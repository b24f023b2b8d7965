"""Scheduled action-item work: nudges before and after a deadline, and the daily digest."""

from __future__ import annotations

from datetime import timedelta

from commands.actions.access import (
    DIGEST,
    LATE_NOTE_AFTER,
    NUDGE_OVERDUE,
    NUDGE_SOON,
    as_judged,
)
from commands.actions.model import ACTIVE, next_digest_at, parse_item_id, parse_summit_id
from commands.actions.store import Item, Summit, get_item, get_summit, owner_label, owner_people
from commands.context import Context, Job, utc_iso
from commands.i18n import _, language, ngettext
from commands.markings.store import reader_for, withheld_cell
from commands.people import load_person
from commands.registry import job
from commands.render import Rendered, colon, esc

# -- scheduling nudges ---------------------------------------------------------------------


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
        await ctx.schedule(NUDGE_SOON, item.ref, soon, payload)
    await ctx.schedule(NUDGE_OVERDUE, item.ref, item.due_at, payload)


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


# -- nudges and the digest (scheduled jobs) ------------------------------------------------


def _late(job: Job) -> str:
    """A note for a job that ran late, in the current reader's language (or nothing)."""
    if job.late_seconds < LATE_NOTE_AFTER:
        return ""
    return " " + _("(sent late: I was offline when it was due)")


def _nudge_text(kind: str, item: Item, summit: Summit, due: str, late: str, command: str) -> str:
    """One nudge, whole sentences in the reader's language (called inside theirs)."""
    values = {
        "ref": item.ref,
        "due": due,
        "late": late,
        "text": item.text,
        "summit": summit.ref,
        "name": summit.name,
        "command": command,
    }
    if kind == NUDGE_SOON:
        return _(
            "Reminder: {ref} is due {due}{late}: {text} ({summit} {name}). "
            "When it is done: {command}",
            **values,
        )
    return _(
        "{ref} is now overdue (it was due {due}){late}: {text} ({summit} {name}). "
        "When it is done: {command}",
        **values,
    )


async def _nudge(ctx: Context, job: Job, kind: str) -> None:
    number = parse_item_id(job.ref)
    item = await get_item(ctx.db, number)
    if item is None or item.status not in ACTIVE or utc_iso(item.due_at) != job.payload.get("due"):
        return  # done, cancelled, or its deadline moved (the new deadline has its own job)
    summit = await get_summit(ctx.db, item.summit_id)
    if summit is None or summit.state != "open":
        return
    command = f"{ctx.prefix}actions done {item.ref}"
    for user in await owner_people(ctx.db, item.owner_kind, item.owner):
        person = await load_person(ctx.db, user, ctx.settings)  # their zone and language
        with language(person.language):
            due = item.due_for(person.timezone)
            ctx.send(
                _nudge_text(kind, item, summit, due, _late(job), command),
                user_id=user,
                **item.marked,
            )
    await ctx.audit(job.kind, item.ref, "nudged")


@job(NUDGE_SOON)
async def nudge_soon(ctx: Context, job: Job) -> None:
    await _nudge(ctx, job, NUDGE_SOON)


@job(NUDGE_OVERDUE)
async def nudge_overdue(ctx: Context, job: Job) -> None:
    await _nudge(ctx, job, NUDGE_OVERDUE)


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
        # Each line judged by its item's marking combined with the summit's.
        items = await as_judged(ctx, [Item.from_row(r) for r in await cur.fetchall()])
    if items:
        # The summit room reads in the summit's language (lang=), else the room's default.
        room_language = summit.language or await ctx.language_for(room_id=summit.room_id)
        with language(room_language):
            # A marked summit's name is routed by its marking (the room's members, at send).
            held = {"holds": (summit.ref,)} if summit.marking else {}
            digest = await render_digest(ctx, summit, items, _late(job))
            ctx.send(digest, room_id=summit.room_id, **held)
    await plan_digest(ctx, summit)


async def render_digest(ctx: Context, summit: Summit, items: list[Item], late: str) -> Rendered:
    reader = await reader_for(ctx.db, ctx.settings, None)  # the summit room
    # A marked item's state is not shown in a room: not in the overdue count either.
    overdue = sum(1 for i in items if i.overdue(ctx.now) and reader.shows(i.marking) == "full")
    title = ngettext(
        "{ref} {name}: {n} open item(s), {overdue} overdue{late}",
        "{ref} {name}: {n} open item(s), {overdue} overdue{late}",
        len(items),
        ref=summit.ref,
        name=summit.name,
        overdue=overdue,
        late=late,
    )
    groups: dict[tuple[str, str], list[Item]] = {}
    marked: list[Item] = []  # in a room: the ID and marking only, not under an owner
    for item in items:
        if reader.shows(item.marking) == "full":
            groups.setdefault((item.owner_kind, item.owner), []).append(item)
        else:
            marked.append(item)
    text = [title]
    html = [f"<p><b>{esc(title)}</b></p>"]
    sections = [
        (
            await owner_label(ctx.db, *key),
            [
                _(
                    "{ref} due {due} [{status}] {text}",
                    ref=i.ref,
                    due=i.due_for(summit.timezone),
                    status=i.status_for(ctx.now),
                    text=i.text,
                )
                for i in groups[key]
            ],
        )
        for key in sorted(groups, key=lambda k: k[1].lower())
    ]
    if marked:
        sections.append((_("Marked items"), [f"{i.ref} {_withheld(i)}" for i in marked]))
    for label, lines in sections:
        text.append(label)
        text += [f"  • {line}" for line in lines]
        html.append(
            f"<p>{esc(label)}</p><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"
        )
    return Rendered("\n".join(text), "".join(html))


def _withheld(item: Item) -> str:
    """A marked item's line in a room's digest: its ID and marking, never its text."""
    assert item.marking is not None
    return f"{item.marking.shown()}: {withheld_cell(item.marking)}"


def labelled(label: str, value: str, *, html: bool = False) -> str:
    """One `label: value` line (French puts a space before the colon)."""
    if html:
        return f"<b>{esc(label)}</b>{esc(colon())}{esc(value)}"
    return f"{label}{colon()}{value}"


def field_lines(lines: list[tuple[str, str]]) -> Rendered:
    body = "\n".join(labelled(k, v) for k, v in lines)
    html = "<br>".join(labelled(k, v, html=True) for k, v in lines)
    return Rendered(body, html)
