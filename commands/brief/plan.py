"""When each person's next brief is due: one pending job per person whose weekly brief is
on (`brief.weekly`, ref = their Matrix ID), at Monday 08:00 in their zone.

The job is planned again whenever what decides it changes: their choice (!brief weekly),
their zone (!tz, !dir person tz=), and at every start for what changed while the bot was
down (the deployment's default, the directory seed, ATTACHE_TIMEZONE). The week already
briefed is never planned again, so none of this can bring a second brief for a week.
"""

from __future__ import annotations

import json
from datetime import datetime

from commands.brief.model import BRIEF_JOB, next_brief
from commands.brief.store import load_choice, pending_briefs, people_choosing
from commands.context import Context
from commands.people import load_person


def default_on(ctx: Context) -> bool:
    return ctx.settings.brief_default == "on"


async def weekly_on(ctx: Context, user_id: str) -> bool:
    """The person's own choice, else the deployment's default."""
    choice = await load_choice(ctx.db, user_id)
    return default_on(ctx) if choice.weekly is None else choice.weekly


async def plan(ctx: Context, user_id: str) -> datetime | None:
    """Cancel the person's pending brief and, if their brief is on, plan the next one in
    their zone as it is now. Returns when it is due (None: off)."""
    await ctx.unschedule(BRIEF_JOB, user_id)
    choice = await load_choice(ctx.db, user_id)
    if not (default_on(ctx) if choice.weekly is None else choice.weekly):
        return None
    zone = (await load_person(ctx.db, user_id, ctx.settings)).timezone
    at, monday = next_brief(ctx.now, zone, choice.briefed_week)
    await ctx.schedule(BRIEF_JOB, user_id, at, {"zone": zone, "week": monday.isoformat()})
    return at


async def replan_if_planned(ctx: Context, user_id: str) -> None:
    """After a change of the person's zone (or directory entry): plan again if their brief
    is on; a person whose brief is off is left alone (no row is made for them)."""
    if await weekly_on(ctx, user_id):
        await plan(ctx, user_id)


async def reconcile(ctx: Context) -> int:
    """At start: a pending brief for exactly the people whose brief is on, each in the zone
    they have now (what changed while the bot was down). Returns how many were planned."""
    pending = await pending_briefs(ctx.db, BRIEF_JOB)
    planned = 0
    wanted = await people_choosing(ctx.db, default_on(ctx))
    for user_id in wanted:
        zone = (await load_person(ctx.db, user_id, ctx.settings)).timezone
        payload = json.loads(pending.get(user_id) or "null")
        if payload is not None and payload.get("zone") == zone:
            continue
        await plan(ctx, user_id)
        planned += 1
    for user_id in set(pending) - set(wanted):
        await ctx.unschedule(BRIEF_JOB, user_id)
    return planned
