"""Liaison output and input: sending into a side's thread, the texts, argument conversion."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from commands.context import Context
from commands.directory.service import canonical_target
from commands.ids import ObjectId, looks_like_id
from commands.liaison.store import Request, Thread, party_of, threads_of
from commands.render import Rendered, esc, paragraph_html
from commands.timeparse import show_instant
from config.settings import LIAISON_PRECEDENCES

# -- sending into threads ------------------------------------------------------------------


def to_thread(
    ctx: Context,
    thread: Thread,
    text: str | Rendered,
    mentions: tuple[str, ...] = (),
    req: Request | None = None,
) -> None:
    target: dict[str, Any] = (
        {"room_id": thread.room_id} if thread.room_id else {"user_id": thread.user_id}
    )
    if req is not None:
        target["origin"] = origin_of(ctx, req)
        target.update(req.marked)
    ctx.send(text, thread_key=thread.key, mentions=mentions, **target)


def origin_of(ctx: Context, req: Request) -> dict[str, Any]:
    """Who hears it if a message about this request cannot reach its person: the person
    who acted, where they wrote; for the bot's own nudges, the requester in their thread."""
    if ctx.person is not None:
        return ctx.origin(req.label)
    key = f"{req.label}:{req.requester}"
    return {"user_id": req.requester, "thread_key": key, "object": req.label}


async def notify_sides(
    ctx: Context,
    req: Request,
    text: str,
    *,
    sides: tuple[str, ...] = ("requester", "addressee"),
    mention: bool = False,
) -> None:
    """Tell every thread of these sides, except the actor's own and the one they wrote in."""
    actor = ctx.person.user_id if ctx.person else None
    origin = ctx.incoming.thread_root if ctx.incoming else None
    for thread in await threads_of(ctx.db, req.id):
        if thread.side not in sides or (actor and thread.user_id == actor):
            continue
        if origin and thread.event_id == origin:
            continue
        mentions: tuple[str, ...] = ()
        if mention:
            mentions = (thread.user_id,) if thread.user_id else req.addressees
        to_thread(ctx, thread, text, mentions, req)


# -- formatting ----------------------------------------------------------------------------


def ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 86400 == 0 and seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def root_text(req: Request, requester: str, zone: ZoneInfo, for_side: str, prefix: str) -> str:
    head = f"{req.label} · {req.precedence} · from {requester} to {party_of(req.target)}"
    lines = [head, f"Subject: {req.subject}"]
    if req.body:
        lines.append(req.body)
    if req.due_at:
        lines.append(f"Due: {show_instant(req.due_at, zone)}")
    if for_side == "addressee":
        lines.append(
            f"Reply in this thread to answer. React ✅ or send {prefix}ack {req.label} to "
            f"acknowledge; {prefix}answer, {prefix}decline {req.label} <reason> when done."
        )
    else:
        lines.append(
            f"Answers will appear in this thread; reply here to add to the request. "
            f"{prefix}close {req.label} when you are satisfied, {prefix}cancel {req.label} "
            "to withdraw it."
        )
    return "\n".join(lines)


def rendered_root(text: str) -> Rendered:
    first, _, rest = text.partition("\n")
    return Rendered(text, f"<p><b>{esc(first)}</b><br>{paragraph_html(rest)}</p>")


# -- parsing -------------------------------------------------------------------------------


def parse_lr(text: str) -> int:
    """`LR-3`, or the bare number in the request's own commands (`!ack 3`)."""
    if text.strip().isdigit() and len(text.strip()) <= 9:
        return int(text)
    return ObjectId.parse(text, "LR").number


def parse_target(text: str) -> tuple[str, str | int]:
    """`LR-3` (show it), `@anna:example.org` (a person) or `DE-BERLIN` (a post)."""
    text = text.strip()
    if looks_like_id(text) and (found := ObjectId.parse(text)).kind == "LR":
        return "lr", found.number
    return canonical_target(text)


def parse_precedence(text: str) -> str:
    value = text.strip().lower()
    if value not in LIAISON_PRECEDENCES:
        raise ValueError(f"{text[:20]!r} is not one of {', '.join(LIAISON_PRECEDENCES)}")
    return value
