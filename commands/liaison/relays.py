"""Messages on a request: !reply, and replies in its threads, relayed to the other side."""

from __future__ import annotations

from commands.context import Context, Incoming
from commands.errors import UserError
from commands.i18n import N_, _
from commands.liaison.model import TERMINAL, status_name
from commands.liaison.render import REQUEST_ID, notify_sides
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
from commands.registry import Param, command, listener


@command(
    "reply",
    summary=N_("Add a message to a liaison request (relayed to the other side)"),
    # TRANSLATORS: an example command: translate the message after {command}.
    example=lambda now: _("{command} Could you add the hotel details?", command="!reply LR-3"),
    params=[REQUEST_ID, Param("text", N_("the message"), rest=True)],
)
async def reply(ctx: Context, *, id: int, text: str) -> None:
    req = await visible_request(ctx, id)
    await _relay(ctx, req, ctx.sender, text)
    ctx.reply(_("Relayed on {id}.", id=req.label))


async def _relay(ctx: Context, req: Request, sender: str, text: str) -> None:
    """Relay a message to the other parties; an addressee's first reply also acknowledges."""
    if req.status in TERMINAL:
        raise UserError(
            _(
                "{id} is {status}; messages are no longer relayed. Make a new request with "
                "{command}, or see this one: {show}.",
                id=req.label,
                status=status_name(req.status),
                command=ctx.prefix + "request",
                show=ctx.prefix + "request " + req.label,
            )
        )
    side = req.side(sender)
    name = await name_of(ctx.db, sender)
    status = req.status
    if side == "addressee" and status == "open":
        status = "acknowledged"
        await set_status(ctx, req, status)
        await record_step(ctx, req, "ack", status, "by replying", "by replying")
    await record_step(ctx, req, "reply", status, text)
    acknowledged = status != req.status

    def relayed() -> str:  # in each reader's language
        if side == "addressee":  # for a post, the post too
            who = name if req.target.startswith("@") else f"{name}, {req.target}"
        elif side == "requester":
            who = _("{name}, requester", name=name)
        else:
            who = _("{name}, admin", name=name)
        if acknowledged:
            head = _("{who} on {id} (acknowledged):", who=who, id=req.label)
        else:
            head = _("{who} on {id}:", who=who, id=req.label)
        return f"{head}\n{text}"

    await notify_sides(ctx, req, relayed)


# -- listeners: thread replies, plain replies to a root, ✅ reactions ----------------------


async def _relay_from_thread(ctx: Context, incoming: Incoming, root: str | None) -> bool:
    if root is None or not incoming.body.strip():
        return False
    found = await thread_of_event(ctx.db, root, incoming.room_id)
    if found is None:
        return False
    req = await load_request(ctx.db, found[0])
    assert req is not None
    if not await released_to_sender(ctx, [req.marking]):
        return False  # as for a thread that is no request's: no trace of it
    side = req.side(incoming.sender)
    if side is None and not ctx.is_admin:
        ctx.reply(_("You are not a party to {id}; your message was not relayed.", id=req.label))
        return True
    await _relay(ctx, req, incoming.sender, incoming.body.strip())
    return True


@listener("thread_reply")
async def on_thread_reply(ctx: Context, incoming: Incoming) -> bool:
    return await _relay_from_thread(ctx, incoming, incoming.thread_root)


@listener("reply")
async def on_reply(ctx: Context, incoming: Incoming) -> bool:
    return await _relay_from_thread(ctx, incoming, incoming.reply_to)
