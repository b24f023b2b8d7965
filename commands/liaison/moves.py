"""A request's status moves: !ack, !answer, !close, !decline, !cancel LR-n, and a ✅ on a root."""

from __future__ import annotations

from commands.context import Context, Incoming
from commands.errors import UserError
from commands.i18n import N_, _, language
from commands.ids import ObjectId
from commands.liaison.model import ACK_KEYS, IllegalMove, explain, next_status
from commands.liaison.render import REQUEST_ID, notify_sides, thread_language
from commands.liaison.store import (
    Request,
    load_request,
    name_of,
    record_step,
    set_status,
    thread_of_event,
    visible_request,
)
from commands.markings.access import released_to_sender
from commands.registry import Param, command, handles, listener

_MOVED = {
    "acknowledged": N_("{id} acknowledged by {who}."),
    "answered": N_("{id} answered by {who}."),
    "closed": N_("{id} closed by {who}."),
    "declined": N_("{id} declined by {who}."),
    "cancelled": N_("{id} cancelled by {who}."),
}


async def _move(ctx: Context, req: Request, action: str, detail: str = "") -> str:
    """Apply one status move by the sender, relay it to the other side, record it."""
    side = req.side(ctx.sender)
    try:
        status = next_status(
            req.status, action, side, admin=ctx.is_admin and side is None, label=req.label
        )
    except IllegalMove as exc:
        raise UserError(explain(exc, req.label)) from None
    await set_status(ctx, req, status)
    await record_step(ctx, req, action, status, detail)
    name = await name_of(ctx.db, ctx.sender)

    def text() -> str:  # in each reader's language
        who = name if side is not None else _("{name} (admin)", name=name)
        lines = [_(_MOVED[status], id=req.label, who=who)]
        if detail and action in ("decline", "cancel"):
            lines.append(_("Reason: {text}", text=detail))
        elif detail:
            lines.append(_("Note: {text}", text=detail))
        return "\n".join(lines)

    await notify_sides(ctx, req, text)
    return status


@command(
    "ack",
    summary=N_("Acknowledge a liaison request addressed to you"),
    example="!ack LR-3",
    params=[REQUEST_ID],
)
async def ack(ctx: Context, *, id: int) -> None:
    req = await visible_request(ctx, id)
    await _move(ctx, req, "ack")
    ctx.reply(
        _(
            "{id} acknowledged; {person} is told.",
            id=req.label,
            person=await name_of(ctx.db, req.requester),
        )
    )


@command(
    "answer",
    summary=N_("Mark a liaison request answered (optionally with the answer)"),
    # TRANSLATORS: an example command: translate the text after --.
    example=lambda now: _("{command} -- Dates confirmed: 12-14 May.", command="!answer LR-3"),
    params=[REQUEST_ID],
    body=Param("answer", N_("the answer, relayed to the requester"), optional=True),
)
async def answer(ctx: Context, *, id: int, answer: str | None) -> None:
    req = await visible_request(ctx, id)
    await _move(ctx, req, "answer", answer or "")
    ctx.reply(_("{id} marked answered; the requester is told.", id=req.label))


@command(
    "close",
    summary=N_("Close a liaison request you made, once it is dealt with"),
    example="!close LR-3",
    params=[REQUEST_ID],
    body=Param("note", N_("a closing note for the addressees"), optional=True),
)
async def close(ctx: Context, *, id: int, note: str | None) -> None:
    req = await visible_request(ctx, id)
    await _move(ctx, req, "close", note or "")
    ctx.reply(_("{id} closed.", id=req.label))


@command(
    "decline",
    summary=N_("Decline a liaison request addressed to you, saying why"),
    # TRANSLATORS: an example command: translate the reason after {command}.
    example=lambda now: _(
        "{command} not our area; ask {post}", command="!decline LR-3", post="NATO-HQ-DATT"
    ),
    params=[REQUEST_ID, Param("reason", N_("why, shown to the requester"), rest=True)],
)
async def decline(ctx: Context, *, id: int, reason: str) -> None:
    req = await visible_request(ctx, id)
    await _move(ctx, req, "decline", reason)
    ctx.reply(_("{id} declined; the requester is told why.", id=req.label))


@handles("cancel", "LR")
async def cancel_request(ctx: Context, oid: ObjectId, *, reason: str | None) -> None:
    number = oid.number
    req = await visible_request(ctx, number)
    await _move(ctx, req, "cancel", reason or "")
    ctx.reply(_("{id} cancelled; the addressees are told.", id=req.label))


@listener("reaction")
async def on_reaction(ctx: Context, incoming: Incoming) -> bool:
    if incoming.reaction_key not in ACK_KEYS or incoming.reaction_target is None:
        return False
    found = await thread_of_event(ctx.db, incoming.reaction_target, incoming.room_id)
    if found is None:
        return False
    req = await load_request(ctx.db, found[0])
    assert req is not None
    if not await released_to_sender(ctx, [req.marking]):
        return False  # as for a reaction on any other message: no trace of it
    if req.side(incoming.sender) != "addressee" or req.status != "open":
        return False  # nothing to do: a ✅ from the requester, or already acknowledged
    await set_status(ctx, req, "acknowledged")
    await record_step(ctx, req, "ack", "acknowledged", "by reaction", "by reaction")
    reactor = await name_of(ctx.db, incoming.sender)
    await notify_sides(ctx, req, lambda: _(_MOVED["acknowledged"], id=req.label, who=reactor))
    # A reaction gets no reply of its own in Element: confirm in the thread reacted in
    # (in the post's language if that thread is in its room).
    requester = await name_of(ctx.db, req.requester)
    with language(await thread_language(ctx, found[1])):
        ctx.send(
            _(
                "{id} acknowledged by your ✅; {person} is told. Reply in this thread to "
                "answer, or {command} when done.",
                id=req.label,
                person=requester,
                command=ctx.prefix + "answer " + req.label,
            ),
            room_id=incoming.room_id,
            thread_root=incoming.reaction_target,
            **req.marked,
        )
    return True
