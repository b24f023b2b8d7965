"""Scheduled-item jobs: a reminder at each lead time, and the next occurrence of a repeat."""

from __future__ import annotations

from datetime import datetime

from commands.context import Context, Job, parse_utc, utc_iso
from commands.directory.service import people_of
from commands.i18n import _, language
from commands.ids import ObjectId
from commands.registry import job
from commands.render import person, plain
from commands.schedule.model import KIND_NAMES, LEAD_JOB, NEXT_JOB, span
from commands.schedule.rsvp_store import DECLINED, answers_for
from commands.schedule.store import Item, load_item, save_item, schedule_occurrence
from commands.schedule.views import zones_for
from commands.time import (
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
    # Who declined the invitation gets no further reminders for it (commands/schedule/rsvp.py).
    answers = (await answers_for(ctx.db, [item.id])).get(item.id, {})
    declined = {user for user, answer in answers.items() if answer.state == DECLINED}
    mentions = [m for m in dict.fromkeys([item.creator, *people]) if m not in declined]
    zones = await zones_for(ctx, mentions)
    # Past this, the job was held up (the bot was down), not merely run a moment late.
    late = job_.late_seconds >= ctx.settings.schedule_late_after
    # Held up after this point (homeserver unreachable), the message itself says it is late.
    note_after = None if late else float(ctx.settings.schedule_late_after)
    if item.room_id is None:
        # In each person's DM: their language, their zone first and the item's beside it.
        by_user = dict(zip(mentions, zones, strict=True))
        await ctx.send_each(
            mentions,
            lambda user_id: _reminder(ctx, job_, item, occ, [], late, reader=by_user[user_id]),
            late_note_after=note_after,
            **item.marked,
        )
        return
    with language(await ctx.language_for(room_id=item.room_id)):
        text = _reminder(ctx, job_, item, occ, zones, late)
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


def _reminder(
    ctx: Context,
    job_: Job,
    item: Item,
    occ: datetime,
    zones: list[str],
    late: bool,
    reader: str | None = None,
) -> str:
    """The reminder's text in the current language: what, when (to one reader, in their
    zone then the item's; to a room, in the item's zone then the readers'), how soon, and
    whether it is late."""
    first, others = (reader, [item.zone]) if reader is not None else (item.zone, zones)
    when = fmt_zones(occ, first, others)
    if item.kind == "R":
        if late:
            return _(
                "⏰ Late reminder {code} (was due {due}; I was offline): {title}",
                code=item.code,
                due=when,
                title=item.title,
            )
        return _("⏰ Reminder {code}: {title}", code=item.code, title=item.title)
    if item.place:
        when = _("{when}, {place}", when=when, place=item.place)
    left = occ - ctx.now
    values = {"code": item.code, "title": item.title, "when": when, "span": span(left)}
    if left.total_seconds() <= -30:
        text = _("⏰ {code} {title} started {span} ago: {when}", **values)
    elif left.total_seconds() >= 30:
        text = _("⏰ {code} {title} starts in {span}: {when}", **values)
    else:
        text = _("⏰ {code} {title} starts now: {when}", **values)
    if late:
        due = fmt_zones(job_.due_at, first, others)
        return _("Late reminder (was due {due}; I was offline). {text}", due=due, text=text)
    return text
