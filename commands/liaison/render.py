"""Liaison output and input: sending into a side's thread, the texts, argument conversion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from commands.context import Context
from commands.directory.service import canonical_target
from commands.i18n import N_, _, language, pgettext
from commands.ids import ObjectId, looks_like_id
from commands.liaison.store import Request, Thread, party_of, threads_of
from commands.registry import Param
from commands.render import Rendered, esc, paragraph_html
from commands.time import show_instant
from config.fields import LIAISON_PRECEDENCES

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


async def thread_language(ctx: Context, thread: Thread) -> str:
    """Who reads a thread: the post's room (its language) or the person in their DM."""
    if thread.room_id:
        return await ctx.language_for(room_id=thread.room_id)
    return await ctx.language_for(user_id=thread.user_id)


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
    text: Callable[[], str],
    *,
    sides: tuple[str, ...] = ("requester", "addressee"),
    mention: bool = False,
) -> None:
    """Tell every thread of these sides, except the actor's own and the one they wrote in.

    `text()` is called once per thread, in the language of whoever reads that thread."""
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
        with language(await thread_language(ctx, thread)):
            to_thread(ctx, thread, text(), mentions, req)


# -- formatting ----------------------------------------------------------------------------


def ago(seconds: float) -> str:
    """A duration as the reader writes it short: `3 d`, `2 h`, `30 min`, `5 s`."""
    seconds = int(seconds)
    if seconds % 86400 == 0 and seconds >= 86400:
        return _("{n} d", n=seconds // 86400)
    if seconds % 3600 == 0 and seconds >= 3600:
        return _("{n} h", n=seconds // 3600)
    if seconds % 60 == 0 and seconds >= 60:
        return _("{n} min", n=seconds // 60)
    return _("{n} s", n=seconds)


def precedence_name(precedence: str) -> str:
    """routine, priority, immediate as the reader reads them (people type the English)."""
    names = {
        "routine": pgettext("precedence", "routine"),
        "priority": pgettext("precedence", "priority"),
        "immediate": pgettext("precedence", "immediate"),
    }
    return names.get(precedence, precedence)


def root_text(req: Request, requester: str, zone: ZoneInfo, for_side: str, prefix: str) -> str:
    """A side's thread root, in the current reader's language."""
    head = _(
        "{id} · {precedence} · from {requester} to {party}",
        id=req.label,
        precedence=precedence_name(req.precedence),
        requester=requester,
        party=party_of(req.target),
    )
    lines = [head, _("Subject: {subject}", subject=req.subject)]
    if req.body:
        lines.append(req.body)
    if req.due_at:
        lines.append(_("Due: {due}", due=show_instant(req.due_at, zone)))
    if for_side == "addressee":
        lines.append(
            _(
                "Reply in this thread to answer. React ✅ or send {ack} to acknowledge; "
                "{answer}, {decline} <reason> when done.",
                ack=prefix + "ack " + req.label,
                answer=prefix + "answer",
                decline=prefix + "decline " + req.label,
            )
        )
    else:
        lines.append(
            _(
                "Answers will appear in this thread; reply here to add to the request. "
                "{close} when you are satisfied, {cancel} to withdraw it.",
                close=prefix + "close " + req.label,
                cancel=prefix + "cancel " + req.label,
            )
        )
    return "\n".join(lines)


def rendered_root(text: str) -> Rendered:
    first, _sep, rest = text.partition("\n")
    return Rendered(text, f"<p><b>{esc(first)}</b><br>{paragraph_html(rest)}</p>")


# -- parsing -------------------------------------------------------------------------------


def parse_lr(text: str) -> int:
    """`LR-3`, or the bare number in the request's own commands (`!ack 3`)."""
    if text.strip().isdigit() and len(text.strip()) <= 9:
        return int(text)
    return ObjectId.parse(text, "LR").number


# The request a command acts on (!ack, !answer, !close, !decline, !reply).
REQUEST_ID = Param("id", N_("the request, e.g. LR-3"), convert=parse_lr)


def parse_target(text: str) -> tuple[str, str | int]:
    """`LR-3` (show it), `@anna:example.org` (a person) or `DE-BERLIN` (a post)."""
    text = text.strip()
    if looks_like_id(text) and (found := ObjectId.parse(text)).kind == "LR":
        return "lr", found.number
    return canonical_target(text)


def parse_precedence(text: str) -> str:
    value = text.strip().lower()
    if value not in LIAISON_PRECEDENCES:
        raise ValueError(
            _(
                "{text!r} is not one of {allowed}",
                text=text[:20],
                allowed=", ".join(LIAISON_PRECEDENCES),
            )
        )
    return value
