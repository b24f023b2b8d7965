"""Scheduled-item jobs: a reminder at each lead time, and the next occurrence of a repeat."""

from __future__ import annotations

from commands.context import Context, Job, parse_utc, utc_iso
from commands.directory.service import people_of
from commands.ids import ObjectId
from commands.registry import job
from commands.render import person, plain
from commands.schedule.model import KIND_NAMES, LEAD_JOB, NEXT_JOB, span
from commands.schedule.store import Item, load_item, save_item, schedule_occurrence
from commands.schedule.views import zones_for
from commands.timeparse import (
    fmt_zones,
)

# -- jobs ----------------------------------------------------------------------------------------


async def _job_item(ctx: Context, ref: str) -> Item | None:
    oid = ObjectId.find(ref)
    if oid is None or oid.kind not in KIND_NAMES:
        return None
    item = await load_item(ctx.db, oid.kind, oid.number)
    return item if item is not None and item.state == "active" else None


@job(LEAD_JOB)
async def fire_reminder(ctx: Context, job_: Job) -> None:
    """One reminder: to the item's room (mentioning who is concerned) or the creator's DM."""
    item = await _job_item(ctx, job_.ref)
    if item is None:
        return
    occ = parse_utc(job_.payload["occ"])
    if await _later_reminder_also_due(ctx, job_):
        return  # after a downtime, one late reminder per occurrence speaks for all its leads
    people = await people_of(ctx.db, item.participants)
    mentions = list(dict.fromkeys([item.creator, *people]))
    zones = await zones_for(ctx, mentions)
    # Past this, the job was held up (the bot was down), not merely run a moment late.
    late = job_.late_seconds >= ctx.settings.schedule_late_after
    if item.kind == "R":
        text = f"⏰ Reminder {item.code}: {item.title}"
        if late:
            text = (
                f"⏰ Late reminder {item.code} (was due {fmt_zones(occ, item.zone, zones)}; "
                f"I was offline): {item.title}"
            )
    else:
        left = occ - ctx.now
        soon = f"in {span(left)}" if left.total_seconds() >= 30 else "now"
        if left.total_seconds() <= -30:
            soon = f"{span(left)} ago"
        verb = "started" if left.total_seconds() <= -30 else "starts"
        text = f"⏰ {item.code} {item.title} {verb} {soon}: {fmt_zones(occ, item.zone, zones)}"
        if item.place:
            text += f", {item.place}"
        if late:
            due = fmt_zones(job_.due_at, item.zone, zones)
            text = f"Late reminder (was due {due}; I was offline). {text}"
    # Held up after this point (homeserver unreachable), the message itself says it is late.
    note_after = None if late else float(ctx.settings.schedule_late_after)
    if item.room_id is None:
        ctx.send(text, user_id=item.creator, late_note_after=note_after, **item.marked)
        return
    ctx.send(
        plain(f"{text}\n" + " ".join(person(m) for m in mentions)),
        room_id=item.room_id,
        mentions=tuple(mentions),
        late_note_after=note_after,
        origin={"user_id": item.creator, "room_id": item.room_id, "object": item.code},
        **item.marked,
    )


async def _later_reminder_also_due(ctx: Context, job_: Job) -> bool:
    if job_.late_seconds < ctx.settings.schedule_late_after:
        return False
    async with ctx.db.execute(
        "SELECT 1 FROM jobs WHERE kind = ? AND ref = ? AND state = 'pending' "
        "AND due_at > ? AND due_at <= ? LIMIT 1",
        (LEAD_JOB, job_.ref, utc_iso(job_.due_at), utc_iso(ctx.now)),
    ) as cur:
        return await cur.fetchone() is not None


@job(NEXT_JOB)
async def schedule_next(ctx: Context, job_: Job) -> None:
    """At an occurrence's start: schedule the following one (only one ahead, ever)."""
    item = await _job_item(ctx, job_.ref)
    if item is None or item.rrule is None:
        return
    occ = parse_utc(job_.payload["occ"])
    following = item.next_after(max(occ, ctx.now))
    item.next_at = None
    if following is not None:
        # Reminders of the next occurrence that fell due while the bot was down fire late.
        await schedule_occurrence(ctx, item, following, occ)
    await save_item(ctx, item)
