"""Scheduled liaison work: escalation when nobody acknowledges, and overdue nudges."""

from __future__ import annotations

from datetime import timedelta

from commands.context import Context, Job
from commands.i18n import _, language, ngettext
from commands.liaison.model import status_name
from commands.liaison.render import (
    ago,
    notify_sides,
    origin_of,
    precedence_name,
    thread_language,
    to_thread,
)
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
from commands.time import show_instant

# -- scheduled: escalation and overdue nudges ---------------------------------------------


def _number(ref: str) -> int:
    return int(ref.removeprefix("LR-"))


def _late_note(job: Job) -> str:
    """' (This reminder is 2 h late: I was offline.)', in the current reader's language."""
    if job.late_seconds < 60:
        return ""
    late = ago(round(job.late_seconds / 60) * 60)
    return " " + _("(This reminder is {late} late: I was offline.)", late=late)


@job("lr.escalate")
async def escalate(ctx: Context, job: Job) -> None:
    """First miss: re-send to the addressees and tell the requester; second: tell admins too."""
    req = await load_request(ctx.db, _number(job.ref))
    if req is None or req.status != "open":
        return
    rnd = int(job.payload.get("round", 1))
    delay = ctx.settings.liaison_escalation_seconds[req.precedence]
    requester = await name_of(ctx.db, req.requester)
    # Jobs run for nobody in particular: each message is built in its reader's language.

    def reminder() -> str:
        lines = [
            _(
                "Reminder: {id} ({precedence}) from {requester} is not acknowledged after "
                "{waited}.",
                id=req.label,
                precedence=precedence_name(req.precedence),
                requester=requester,
                waited=ago(delay * rnd),
            ),
            _("Subject: {subject}", subject=req.subject),
            _("React ✅ or send {command}.", command=ctx.prefix + "ack " + req.label),
        ]
        return "\n".join(lines) + _late_note(job)

    await notify_sides(ctx, req, reminder, sides=("addressee",), mention=True)
    admins: list[str] = []
    if rnd >= 2:
        admins = [a for a in await liaison_admins(ctx) if a != req.requester]

        def escalation(admin: str) -> str:
            lines = [
                ngettext(
                    "Escalation: {id} ({precedence}) from {requester} to {party} is not "
                    "acknowledged after {waited} and {n} reminder.",
                    "Escalation: {id} ({precedence}) from {requester} to {party} is not "
                    "acknowledged after {waited} and {n} reminders.",
                    rnd,
                    id=req.label,
                    precedence=precedence_name(req.precedence),
                    requester=requester,
                    party=party_of(req.target),
                    waited=ago(delay * rnd),
                ),
                _("Subject: {subject}", subject=req.subject),
                _(
                    "Send {command} for details.",
                    command=ctx.prefix + "request " + req.label,
                ),
            ]
            return "\n".join(lines) + _late_note(job)

        await ctx.send_each(admins, escalation, origin=origin_of(ctx, req), **req.marked)
    else:
        await ctx.schedule(
            "lr.escalate", req.label, ctx.now + timedelta(seconds=delay), {"round": rnd + 1}
        )

    def told() -> str:
        text = _(
            "{id} is not acknowledged after {waited}; I have reminded {party}.",
            id=req.label,
            waited=ago(delay * rnd),
            party=party_of(req.target),
        )
        if admins:
            text += " " + _("The admins are told.")
        return text + _late_note(job)

    await notify_sides(ctx, req, told, sides=("requester",))
    what = f"reminder {rnd}" + (", admins told" if rnd >= 2 else "")
    await record_step(ctx, req, "escalated", req.status, what, what)


@job("lr.due")
async def due_nudge(ctx: Context, job: Job) -> None:
    req = await load_request(ctx.db, _number(job.ref))
    if req is None or req.status not in ("open", "acknowledged") or req.due_at is None:
        return
    for thread in await threads_of(ctx.db, req.id):
        zone = await zone_of(ctx, thread.user_id)
        with language(await thread_language(ctx, thread)):
            text = "\n".join(
                [
                    _(
                        "{id} was due {due} and is still {status}.",
                        id=req.label,
                        due=show_instant(req.due_at, zone),
                        status=status_name(req.status),
                    ),
                    _("Subject: {subject}", subject=req.subject),
                ]
            ) + _late_note(job)
        mentions = (thread.user_id,) if thread.user_id else req.addressees
        to_thread(ctx, thread, text, mentions, req)
    await record_step(ctx, req, "overdue", req.status, "both sides nudged", "both sides nudged")
