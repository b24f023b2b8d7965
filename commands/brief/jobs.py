"""The weekly brief as a scheduled job: one DM on Monday at 08:00 in the person's zone.

Exactly once: the job is marked done in the transaction that queues the brief, records the
week briefed and plans the next Monday (bot/dispatch.run_job), so a restart never sends it
again. A brief due while the bot was down fires at start, once, marked late; after an
outage of weeks only one is sent (the next is planned from now on, never for a week past).
"""

from __future__ import annotations

from datetime import date

from commands.brief.contents import gather
from commands.brief.model import BRIEF_JOB, brief_at, week_span, week_to_brief
from commands.brief.plan import plan, weekly_on
from commands.brief.render import compose, title
from commands.brief.store import load_choice, set_briefed
from commands.context import Context, Job
from commands.i18n import _, language
from commands.markings.store import reader_for
from commands.people import load_person
from commands.registry import job


@job(BRIEF_JOB)
async def weekly_brief(ctx: Context, job_: Job) -> None:
    user_id = job_.ref
    if not await weekly_on(ctx, user_id):
        return  # turned off since (its job is cancelled then; this is belt and braces)
    if not ctx.settings.is_allowed(user_id):
        await plan(ctx, user_id)  # off the allow-list: nothing is sent; back on, it goes on
        return
    due_week = date.fromisoformat(str(job_.payload["week"]))
    choice = await load_choice(ctx.db, user_id)
    if choice.briefed_week is not None and choice.briefed_week >= due_week:
        await plan(ctx, user_id)  # that week had its brief already
        return
    person = await load_person(ctx.db, user_id, ctx.settings)
    zone = person.timezone
    if zone != job_.payload.get("zone") and brief_at(due_week, zone) > ctx.now:
        # Their zone changed in a way no command saw (the directory seed, the default
        # zone): 08:00 on their wall clock is still to come this Monday.
        await ctx.schedule(
            BRIEF_JOB, user_id, brief_at(due_week, zone), {"zone": zone, "week": str(due_week)}
        )
        return
    late = job_.late_seconds >= ctx.settings.schedule_late_after
    monday = week_to_brief(ctx.now, zone, due_week)
    reader = await reader_for(ctx.db, ctx.settings, user_id)
    with language(person.language):
        note = " " + _("(sent late: I was offline when it was due)") if late else ""
        sections = await gather(
            ctx.db, user_id, zone, week_span(monday, zone), ctx.now, reader, ctx.prefix
        )
        footer = _(
            "Sent each Monday at 08:00 your time; {command} stops it.",
            command=ctx.prefix + "brief weekly off",
        )
        rendered, holds = compose(title(monday, zone, note), sections, footer)
    ctx.send(
        rendered,
        user_id=user_id,
        holds=holds,
        late_note_after=None if late else float(ctx.settings.schedule_late_after),
    )
    await set_briefed(ctx.db, user_id, monday, ctx.now)
    await plan(ctx, user_id)
