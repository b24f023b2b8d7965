"""Scheduled liaison work: escalation when nobody acknowledges, and overdue nudges."""

from __future__ import annotations

from datetime import timedelta

from commands.context import Context, Job
from commands.liaison.render import ago, notify_sides, origin_of, to_thread
from commands.liaison.store import (
    liaison_admins,
    load_request,
    name_of,
    party_of,
    record_step,
    threads_of,
    zone_of,
)
from commands.registry import job
from commands.timeparse import show_instant

# -- scheduled: escalation and overdue nudges ---------------------------------------------


def _number(ref: str) -> int:
    return int(ref.removeprefix("LR-"))


def _late_note(job: Job) -> str:
    if job.late_seconds < 60:
        return ""
    return f" (This reminder is {ago(round(job.late_seconds / 60) * 60)} late: I was offline.)"


@job("lr.escalate")
async def escalate(ctx: Context, job: Job) -> None:
    """First miss: re-send to the addressees and tell the requester; second: tell admins too."""
    req = await load_request(ctx.db, _number(job.ref))
    if req is None or req.status != "open":
        return
    rnd = int(job.payload.get("round", 1))
    delay = ctx.settings.liaison_escalation_seconds[req.precedence]
    waited = ago(delay * rnd)
    late = _late_note(job)
    requester = await name_of(ctx.db, req.requester)
    await notify_sides(
        ctx,
        req,
        f"Reminder: {req.label} ({req.precedence}) from {requester} is not acknowledged after "
        f"{waited}.\nSubject: {req.subject}\nReact ✅ or send {ctx.prefix}ack {req.label}.{late}",
        sides=("addressee",),
        mention=True,
    )
    told = (
        f"{req.label} is not acknowledged after {waited}; I have reminded {party_of(req.target)}."
    )
    if rnd >= 2:
        admins = [a for a in await liaison_admins(ctx) if a != req.requester]
        for admin in admins:
            ctx.send(
                f"Escalation: {req.label} ({req.precedence}) from {requester} to "
                f"{party_of(req.target)} "
                f"is not acknowledged after {waited} and {rnd} reminders.\n"
                f"Subject: {req.subject}\nSend {ctx.prefix}request {req.label} for details.{late}",
                user_id=admin,
                origin=origin_of(ctx, req),
                **req.marked,
            )
        told += " The admins are told." if admins else ""
    else:
        await ctx.schedule(
            "lr.escalate", req.label, ctx.now + timedelta(seconds=delay), {"round": rnd + 1}
        )
    await notify_sides(ctx, req, told + late, sides=("requester",))
    what = f"reminder {rnd}" + (", admins told" if rnd >= 2 else "")
    await record_step(ctx, req, "escalated", req.status, what, what)


@job("lr.due")
async def due_nudge(ctx: Context, job: Job) -> None:
    req = await load_request(ctx.db, _number(job.ref))
    if req is None or req.status not in ("open", "acknowledged") or req.due_at is None:
        return
    late = _late_note(job)
    for thread in await threads_of(ctx.db, req.id):
        zone = await zone_of(ctx, thread.user_id)
        text = (
            f"{req.label} was due {show_instant(req.due_at, zone)} and is still {req.status}.\n"
            f"Subject: {req.subject}{late}"
        )
        mentions = (thread.user_id,) if thread.user_id else req.addressees
        to_thread(ctx, thread, text, mentions, req)
    await record_step(ctx, req, "overdue", req.status, "both sides nudged", "both sides nudged")
