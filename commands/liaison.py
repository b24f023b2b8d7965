"""Liaison requests LR-n: routed to a post or a person, tracked through their status, relayed.

Each side of a request has its own thread: the requester's in their DM with the bot, each
addressee's in theirs (or one in the post's room when the directory names one). Replies in a
thread are relayed, attributed, into the other side's threads; a ✅ on a root acknowledges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from commands import examples
from commands.context import Context, Incoming, Job, parse_utc, utc_iso
from commands.directory import find_post, post_members
from commands.errors import NotFound, UserError
from commands.liaison_status import ACTIVE, TERMINAL, IllegalMove, Side, explain, next_status
from commands.registry import Option, Param, command, handles, job, listener
from commands.render import Rendered, bullets, esc, paragraph_html, person, table
from commands.timeparse import check_time_length
from config.settings import LIAISON_PRECEDENCES, MATRIX_ID

ACK_KEYS = frozenset({"✅", "✔️", "✔", "☑️"})
_LR = re.compile(r"^(?:LR-)?(\d{1,9})$", re.IGNORECASE)
_LR_STRICT = re.compile(r"^LR-(\d{1,9})$", re.IGNORECASE)
_POST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SUBJECT_MAX = 200


# -- what a request is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: int
    requester: str
    target: str  # a post code or a Matrix ID
    subject: str
    body: str | None
    precedence: str
    status: str
    due_at: datetime | None
    due_zone: str | None
    created_at: datetime
    addressees: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"LR-{self.id}"

    def side(self, user_id: str | None) -> Side | None:
        if user_id == self.requester:
            return "requester"
        if user_id in self.addressees:
            return "addressee"
        return None


@dataclass(frozen=True)
class Thread:
    key: str
    side: str
    user_id: str | None
    room_id: str | None
    event_id: str | None  # the root's event ID once the outbox has sent it


# -- reading the directory ------------------------------------------------------------------


async def _post_members(db: aiosqlite.Connection, code: str) -> tuple[str, str | None, list[str]]:
    """A post's stored code, its room (if any) and members; NotFound if there is no such post."""
    post = await find_post(db, code)
    if post is None:
        raise NotFound(
            f"No post {code[:40]} in the directory. Check the code, or address a person "
            "by Matrix ID.",
            example="!request DE-BERLIN Visit of the CHOD -- dates and programme?",
        )
    return post[0], post[1], await post_members(db, post[0])


async def _name(db: aiosqlite.Connection, user_id: str) -> str:
    """A person as Element shows them (name, pill); see commands.render.person."""
    return person(user_id)


def _party(target: str) -> str:
    """A request's target: a person by name, a post by its code."""
    return person(target) if target.startswith("@") else target


async def _zone(ctx: Context, user_id: str | None) -> ZoneInfo:
    if user_id is not None:
        async with ctx.db.execute("SELECT timezone FROM people WHERE user_id = ?", (user_id,)) as c:
            row = await c.fetchone()
        if row and row[0]:
            return ZoneInfo(row[0])
    return ZoneInfo(ctx.settings.timezone)


async def _admins(ctx: Context) -> list[str]:
    """The configured admins: the directory cannot make anyone an admin."""
    return sorted(set(ctx.settings.admins))


# -- store ---------------------------------------------------------------------------------


async def _load(db: aiosqlite.Connection, number: int) -> Request | None:
    async with db.execute("SELECT * FROM liaison_requests WHERE id = ?", (number,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    async with db.execute(
        "SELECT user_id FROM liaison_addressees WHERE request_id = ? ORDER BY user_id", (number,)
    ) as cur:
        addressees = tuple(r[0] for r in await cur.fetchall())
    return Request(
        id=row["id"],
        requester=row["requester"],
        target=row["target"],
        subject=row["subject"],
        body=row["body"],
        precedence=row["precedence"],
        status=row["status"],
        due_at=parse_utc(row["due_at"]) if row["due_at"] else None,
        due_zone=row["due_zone"],
        created_at=parse_utc(row["created_at"]),
        addressees=addressees,
    )


async def _visible(ctx: Context, number: int) -> Request:
    """The request if the reader is a party or an admin; otherwise it does not exist for them."""
    req = await _load(ctx.db, number)
    if req is None or (req.side(ctx.sender) is None and not ctx.is_admin):
        raise NotFound(f"No such request: LR-{number}. Send !requests for yours.")
    return req


async def _threads(db: aiosqlite.Connection, request_id: int) -> list[Thread]:
    async with db.execute(
        "SELECT t.key, t.side, t.user_id, t.room_id, o.event_id FROM liaison_threads t "
        "LEFT JOIN outbox o ON o.key = t.key WHERE t.request_id = ? ORDER BY t.rowid",
        (request_id,),
    ) as cur:
        return [Thread(*r) for r in await cur.fetchall()]


async def _thread_of_event(db: aiosqlite.Connection, event_id: str) -> tuple[int, Thread] | None:
    async with db.execute(
        "SELECT t.request_id, t.key, t.side, t.user_id, t.room_id, o.event_id "
        "FROM outbox o JOIN liaison_threads t ON t.key = o.key WHERE o.event_id = ?",
        (event_id,),
    ) as cur:
        row = await cur.fetchone()
    return (int(row[0]), Thread(*row[1:])) if row else None


async def _record(
    ctx: Context, req: Request, action: str, status: str, detail: str = "", audit: str = ""
) -> None:
    """History of the request (its own, shown by !request LR-n) and the audit log.

    The audit log gets `audit`, never the people's text (replies, reasons), which stays with
    the request it belongs to.
    """
    actor = ctx.person.user_id if ctx.person else "bot"
    await ctx.db.execute(
        "INSERT INTO liaison_history (request_id, at, actor, action, status, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (req.id, utc_iso(ctx.now), actor, action, status, detail),
    )
    await ctx.audit(f"lr.{action}", req.label, audit or status)


async def _set_status(ctx: Context, req: Request, status: str) -> None:
    await ctx.db.execute(
        "UPDATE liaison_requests SET status = ?, updated_at = ? WHERE id = ?",
        (status, utc_iso(ctx.now), req.id),
    )
    if status != "open":
        await ctx.unschedule("lr.escalate", req.label)
    if status not in ("open", "acknowledged"):
        await ctx.unschedule("lr.due", req.label)


# -- sending into threads ------------------------------------------------------------------


def _to_thread(
    ctx: Context,
    thread: Thread,
    text: str | Rendered,
    mentions: tuple[str, ...] = (),
    req: Request | None = None,
):
    target: dict[str, Any] = (
        {"room_id": thread.room_id} if thread.room_id else {"user_id": thread.user_id}
    )
    if req is not None:
        target["origin"] = _origin(ctx, req)
    ctx.send(text, thread_key=thread.key, mentions=mentions, **target)


def _origin(ctx: Context, req: Request) -> dict[str, Any]:
    """Who hears it if a message about this request cannot reach its person: the person
    who acted, where they wrote; for the bot's own nudges, the requester in their thread."""
    if ctx.person is not None:
        return ctx.origin(req.label)
    key = f"{req.label}:{req.requester}"
    return {"user_id": req.requester, "thread_key": key, "object": req.label}


async def _notify(
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
    for thread in await _threads(ctx.db, req.id):
        if thread.side not in sides or (actor and thread.user_id == actor):
            continue
        if origin and thread.event_id == origin:
            continue
        mentions: tuple[str, ...] = ()
        if mention:
            mentions = (thread.user_id,) if thread.user_id else req.addressees
        _to_thread(ctx, thread, text, mentions, req)


# -- formatting ----------------------------------------------------------------------------


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 86400 == 0 and seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _root_text(req: Request, requester: str, zone: ZoneInfo, for_side: str, prefix: str) -> str:
    head = f"{req.label} · {req.precedence} · from {requester} to {_party(req.target)}"
    lines = [head, f"Subject: {req.subject}"]
    if req.body:
        lines.append(req.body)
    if req.due_at:
        lines.append(f"Due: {_when(req.due_at, zone)}")
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


def _rendered_root(text: str) -> Rendered:
    first, _, rest = text.partition("\n")
    return Rendered(text, f"<p><b>{esc(first)}</b><br>{paragraph_html(rest)}</p>")


# -- parsing -------------------------------------------------------------------------------


def parse_lr(text: str) -> int:
    match = _LR.match(text.strip())
    if not match:
        raise ValueError(f"{text[:30]!r} is not a request ID like LR-3")
    return int(match[1])


def parse_target(text: str) -> tuple[str, str | int]:
    """`LR-3` (show it), `@anna:example.org` (a person) or `DE-BERLIN` (a post)."""
    text = text.strip()
    if match := _LR_STRICT.match(text):
        return "lr", int(match[1])
    if text.startswith("@"):
        if not MATRIX_ID.match(text):
            raise ValueError(f"{text[:40]!r} is not a Matrix ID like @anna:example.org")
        return "person", text
    if _POST.match(text):
        return "post", text
    raise ValueError(f"{text[:40]!r} is not a post code like DE-BERLIN or a person like @anna:srv")


def parse_precedence(text: str) -> str:
    value = text.strip().lower()
    if value not in LIAISON_PRECEDENCES:
        raise ValueError(f"{text[:20]!r} is not one of {', '.join(LIAISON_PRECEDENCES)}")
    return value


def parse_due(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """A date (end of that day), a date and time, or a relative time, read in the sender's zone."""
    text = text.strip()
    if _DATE_ONLY.match(text):
        try:
            day = datetime.fromisoformat(text).date()
        except ValueError:
            raise ValueError(f"{text!r} is not a real date") from None
        moment = datetime.combine(day, time(23, 59), tzinfo=zone)
    else:
        soon = examples.day(now, 7)
        check_time_length(text, f"{soon}, {soon}T14:00 or 'in 3 days'")
        import dateparser  # on first use: ~4 MiB and ~25 ms of start-up (docs/BENCHMARKS.md)

        parsed = dateparser.parse(
            text,
            languages=["en"],  # as everywhere else; detection also costs ~1 s on first use
            settings={
                "TIMEZONE": str(zone),
                "RETURN_AS_TIMEZONE_AWARE": True,
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
            },
        )
        if parsed is None:
            raise ValueError(
                f"{text[:30]!r} is not a date or time I understand; "
                f"write e.g. {examples.day(now, 7)}, {examples.day(now, 7)}T14:00, or 'in 3 days'"
            )
        moment = parsed
    if moment <= now:
        raise ValueError(f"{_when(moment, zone)} is in the past")
    return moment


# -- creating ------------------------------------------------------------------------------


def _request_example(now: datetime) -> str:
    return (
        f"!request DE-BERLIN Visit of the CHOD -- dates and programme? due={examples.day(now, 14)}"
    )


@command(
    "request",
    summary="Send a liaison request to a post or a person (or show one: !request LR-3)",
    example=_request_example,
    params=[
        Param(
            "to",
            "a post code (DE-BERLIN), a person (@anna:example.org), or LR-n to show one",
            convert=parse_target,
        ),
        Param("subject", "a short subject line", optional=True, rest=True),
    ],
    options=[
        Option(
            "precedence", "routine (default), priority or immediate", parse_precedence, "routine"
        ),
        Option("due", "when an answer is needed: YYYY-MM-DD, YYYY-MM-DDTHH:MM, in 3 days"),
    ],
    body=Param("body", "the request in full", optional=True),
    details="Each addressee gets the request as a thread; replies there come back to you.",
)
async def request(ctx: Context, args: dict[str, Any]) -> None:
    kind, value = args["to"]
    spec = ctx.registry.commands["request"]
    usage = spec.usage(ctx.prefix)
    if kind == "lr":
        if args["subject"] or args["body"] or args["due"] or args["precedence"] != "routine":
            raise UserError(
                f"LR-{value} is a request ID: to show it, send {ctx.prefix}request LR-{value} "
                "alone; to make a new request, name a post or a person.",
                usage=usage,
                example=_request_example(ctx.now),
            )
        await show_request(ctx, int(value), {})
        return
    subject = (args["subject"] or "").strip()
    if not subject:
        raise UserError("Missing subject.", usage=usage, example=_request_example(ctx.now))
    if len(subject) > SUBJECT_MAX:
        raise UserError(
            f"The subject is {len(subject)} characters; keep it under {SUBJECT_MAX} and put "
            "the rest after --.",
            usage=usage,
            example=_request_example(ctx.now),
        )
    due = None
    zone = await _zone(ctx, ctx.sender)
    if args["due"]:
        try:
            due = parse_due(args["due"], zone, ctx.now)
        except ValueError as exc:
            raise UserError(f"due: {exc}", usage=usage, example=_request_example(ctx.now)) from None

    post_room: str | None = None
    if kind == "person":
        target = str(value)
        if target == ctx.sender:
            raise UserError(
                "You cannot send a request to yourself.", example=_request_example(ctx.now)
            )
        if not ctx.settings.is_allowed(target):
            raise UserError(
                f"I cannot reach {target}: that person is not allowed to use this bot. "
                "Ask an admin, or address their post.",
                example=_request_example(ctx.now),
            )
        addressees = [target]
    else:
        target, post_room, members = await _post_members(ctx.db, str(value))
        addressees = [m for m in members if m != ctx.sender]
        if not addressees:
            raise UserError(
                f"{target} has no members{' besides you' if members else ''} in the "
                "directory, so nobody would receive the request. Ask an admin to add them.",
                example=_request_example(ctx.now),
            )

    cur = await ctx.db.execute(
        "INSERT INTO liaison_requests (requester, target, subject, body, precedence, status, "
        "due_at, due_zone, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?) "
        "RETURNING id",
        (
            ctx.sender,
            target,
            subject,
            args["body"],
            args["precedence"],
            utc_iso(due) if due else None,
            str(zone) if due else None,
            utc_iso(ctx.now),
            utc_iso(ctx.now),
        ),
    )
    number = int((await cur.fetchone())[0])  # type: ignore[index]
    await cur.close()
    await ctx.db.executemany(
        "INSERT INTO liaison_addressees (request_id, user_id) VALUES (?, ?)",
        [(number, a) for a in addressees],
    )
    req = await _load(ctx.db, number)
    assert req is not None

    threads = [Thread(f"{req.label}:{ctx.sender}", "requester", ctx.sender, None, None)]
    if post_room:
        threads.append(Thread(f"{req.label}:{post_room}", "addressee", None, post_room, None))
    else:
        threads += [Thread(f"{req.label}:{a}", "addressee", a, None, None) for a in addressees]
    await ctx.db.executemany(
        "INSERT INTO liaison_threads (key, request_id, side, user_id, room_id) VALUES (?,?,?,?,?)",
        [(t.key, number, t.side, t.user_id, t.room_id) for t in threads],
    )

    requester_name = await _name(ctx.db, ctx.sender)
    for thread in threads[1:]:
        text = _root_text(
            req, requester_name, await _zone(ctx, thread.user_id), "addressee", ctx.prefix
        )
        mentions = (thread.user_id,) if thread.user_id else tuple(addressees)
        target_kw: dict[str, Any] = (
            {"room_id": thread.room_id} if thread.room_id else {"user_id": thread.user_id}
        )
        origin = ctx.origin(req.label, threads[0].key)  # the requester, in their thread
        ctx.send(
            _rendered_root(text), key=thread.key, mentions=mentions, origin=origin, **target_kw
        )

    who = ", ".join([await _name(ctx.db, a) for a in addressees])
    mine = _root_text(req, requester_name, zone, "requester", ctx.prefix)
    mine = mine.replace("\n", f"\nSent to: {who}\n", 1)
    if await _is_dm_with(ctx, ctx.sender):
        ctx.reply(_rendered_root(mine), key=threads[0].key, thread_root=None)
    else:
        ctx.reply(
            f"{req.label} sent to {target} ({len(addressees)} "
            f"{'person' if len(addressees) == 1 else 'people'}). I will follow it up with you "
            "in our direct chat."
        )
        ctx.send(_rendered_root(mine), user_id=ctx.sender, key=threads[0].key)

    delay = ctx.settings.liaison_escalation_seconds[req.precedence]
    await ctx.schedule("lr.escalate", req.label, ctx.now + timedelta(seconds=delay), {"round": 1})
    if due:
        await ctx.schedule("lr.due", req.label, due, {})
    sent_to = f"to {target}: {', '.join(addressees)}"
    await _record(ctx, req, "created", "open", sent_to, sent_to)


async def _is_dm_with(ctx: Context, user_id: str) -> bool:
    async with ctx.db.execute("SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,)) as c:
        row = await c.fetchone()
    return row is not None and row[0] == ctx.room_id


# -- moving it along -----------------------------------------------------------------------


async def _move(ctx: Context, req: Request, action: str, detail: str = "") -> str:
    """Apply one status move by the sender, relay it to the other side, record it."""
    side = req.side(ctx.sender)
    try:
        status = next_status(req.status, action, side, admin=ctx.is_admin and side is None)
    except IllegalMove as exc:
        raise UserError(explain(exc, req.label)) from None
    await _set_status(ctx, req, status)
    await _record(ctx, req, action, status, detail)
    who = await _name(ctx.db, ctx.sender)
    if side is None:
        who += " (admin)"
    text = f"{req.label} {status} by {who}."
    if detail:
        text += f"\n{'Reason' if action in ('decline', 'cancel') else 'Note'}: {detail}"
    await _notify(ctx, req, text)
    return status


_ID = Param("id", "the request, e.g. LR-3", convert=parse_lr)


@command(
    "ack",
    summary="Acknowledge a liaison request addressed to you",
    example="!ack LR-3",
    params=[_ID],
)
async def ack(ctx: Context, args: dict[str, Any]) -> None:
    req = await _visible(ctx, args["id"])
    await _move(ctx, req, "ack")
    ctx.reply(f"{req.label} acknowledged; {await _name(ctx.db, req.requester)} is told.")


@command(
    "answer",
    summary="Mark a liaison request answered (optionally with the answer)",
    example="!answer LR-3 -- Dates confirmed: 12-14 May.",
    params=[_ID],
    body=Param("answer", "the answer, relayed to the requester", optional=True),
)
async def answer(ctx: Context, args: dict[str, Any]) -> None:
    req = await _visible(ctx, args["id"])
    await _move(ctx, req, "answer", args["answer"] or "")
    ctx.reply(f"{req.label} marked answered; the requester is told.")


@command(
    "close",
    summary="Close a liaison request you made, once it is dealt with",
    example="!close LR-3",
    params=[_ID],
    body=Param("note", "a closing note for the addressees", optional=True),
)
async def close(ctx: Context, args: dict[str, Any]) -> None:
    req = await _visible(ctx, args["id"])
    await _move(ctx, req, "close", args["note"] or "")
    ctx.reply(f"{req.label} closed.")


@command(
    "decline",
    summary="Decline a liaison request addressed to you, saying why",
    example="!decline LR-3 not our area; ask NATO-HQ-DATT",
    params=[_ID, Param("reason", "why, shown to the requester", rest=True)],
)
async def decline(ctx: Context, args: dict[str, Any]) -> None:
    req = await _visible(ctx, args["id"])
    await _move(ctx, req, "decline", args["reason"])
    ctx.reply(f"{req.label} declined; the requester is told why.")


@handles("cancel", "LR")
async def cancel_request(ctx: Context, number: int, args: dict[str, Any]) -> None:
    req = await _visible(ctx, number)
    await _move(ctx, req, "cancel", args.get("reason") or "")
    ctx.reply(f"{req.label} cancelled; the addressees are told.")


@command(
    "reply",
    summary="Add a message to a liaison request (relayed to the other side)",
    example="!reply LR-3 Could you add the hotel details?",
    params=[_ID, Param("text", "the message", rest=True)],
)
async def reply(ctx: Context, args: dict[str, Any]) -> None:
    req = await _visible(ctx, args["id"])
    await _relay(ctx, req, ctx.sender, args["text"])
    ctx.reply(f"Relayed on {req.label}.")


async def _relay(ctx: Context, req: Request, sender: str, text: str) -> None:
    """Relay a message to the other parties; an addressee's first reply also acknowledges."""
    if req.status in TERMINAL:
        raise UserError(
            f"{req.label} is {req.status}; messages are no longer relayed. "
            f"Make a new request with {ctx.prefix}request, or see this one: "
            f"{ctx.prefix}request {req.label}."
        )
    side = req.side(sender)
    who = await _name(ctx.db, sender)
    if side == "addressee":
        who += "" if req.target.startswith("@") else f", {req.target}"  # for the post
    elif side == "requester":
        who += ", requester"
    else:
        who += ", admin"
    status = req.status
    if side == "addressee" and status == "open":
        status = "acknowledged"
        await _set_status(ctx, req, status)
        await _record(ctx, req, "ack", status, "by replying", "by replying")
    await _record(ctx, req, "reply", status, text)
    note = " (acknowledged)" if status != req.status else ""
    await _notify(ctx, req, f"{who} on {req.label}{note}:\n{text}")


# -- listeners: thread replies, plain replies to a root, ✅ reactions ----------------------


async def _relay_from_thread(ctx: Context, incoming: Incoming, root: str | None) -> bool:
    if root is None or not incoming.body.strip():
        return False
    found = await _thread_of_event(ctx.db, root)
    if found is None:
        return False
    req = await _load(ctx.db, found[0])
    assert req is not None
    side = req.side(incoming.sender)
    if side is None and not ctx.is_admin:
        ctx.reply(f"You are not a party to {req.label}; your message was not relayed.")
        return True
    await _relay(ctx, req, incoming.sender, incoming.body.strip())
    return True


@listener("thread_reply")
async def on_thread_reply(ctx: Context, incoming: Incoming) -> bool:
    return await _relay_from_thread(ctx, incoming, incoming.thread_root)


@listener("reply")
async def on_reply(ctx: Context, incoming: Incoming) -> bool:
    return await _relay_from_thread(ctx, incoming, incoming.reply_to)


@listener("reaction")
async def on_reaction(ctx: Context, incoming: Incoming) -> bool:
    if incoming.reaction_key not in ACK_KEYS or incoming.reaction_target is None:
        return False
    found = await _thread_of_event(ctx.db, incoming.reaction_target)
    if found is None:
        return False
    req = await _load(ctx.db, found[0])
    assert req is not None
    if req.side(incoming.sender) != "addressee" or req.status != "open":
        return False  # nothing to do: a ✅ from the requester, or already acknowledged
    await _set_status(ctx, req, "acknowledged")
    await _record(ctx, req, "ack", "acknowledged", "by reaction", "by reaction")
    await _notify(ctx, req, f"{req.label} acknowledged by {await _name(ctx.db, incoming.sender)}.")
    # A reaction gets no reply of its own in Element: confirm in the thread reacted in.
    requester = await _name(ctx.db, req.requester)
    ctx.send(
        f"{req.label} acknowledged by your ✅; {requester} is told. Reply in this thread to "
        f"answer, or {ctx.prefix}answer {req.label} when done.",
        room_id=incoming.room_id,
        thread_root=incoming.reaction_target,
    )
    return True


# -- showing -------------------------------------------------------------------------------


async def _history_lines(ctx: Context, req: Request, zone: ZoneInfo) -> list[str]:
    async with ctx.db.execute(
        "SELECT at, actor, action, status, detail FROM liaison_history WHERE request_id = ? "
        "ORDER BY id",
        (req.id,),
    ) as cur:
        rows = await cur.fetchall()
    lines = []
    for at, actor, action, status, detail in rows:
        line = f"{_when(parse_utc(at), zone)} · {actor} · {action} → {status}"
        if detail:
            line += f": {detail}"
        lines.append(line)
    return lines


@handles("show", "LR")
async def show_request(ctx: Context, number: int, args: dict[str, Any]) -> None:
    req = await _visible(ctx, number)
    zone = await _zone(ctx, ctx.sender)
    head = [
        f"{req.label} · {req.status} · {req.precedence}",
        f"From {await _name(ctx.db, req.requester)} to {_party(req.target)}",
        f"Addressees: {', '.join(req.addressees)}",
        f"Subject: {req.subject}",
    ]
    if req.body:
        head.append(req.body)
    if req.due_at:
        head.append(f"Due: {_when(req.due_at, zone)}")
    head.append(f"Created: {_when(req.created_at, zone)}")
    hist = bullets("History", await _history_lines(ctx, req, zone))
    body = "\n".join(head) + "\n" + hist.body
    html = f"<p>{paragraph_html(chr(10).join(head))}</p>{hist.html}"
    ctx.reply(Rendered(body, html))


_WHICH = ("incoming", "outgoing", "all")


def parse_which(text: str) -> str:
    value = text.strip().lower()
    if value not in _WHICH:
        raise ValueError(f"{text[:20]!r} is not one of {', '.join(_WHICH)}")
    return value


def parse_status_filter(text: str) -> str:
    value = text.strip().lower()
    allowed = ("active", "any", "open", "acknowledged", "answered", *sorted(TERMINAL))
    if value not in allowed:
        raise ValueError(f"{text[:20]!r} is not one of {', '.join(allowed)}")
    return value


@command(
    "requests",
    summary="List liaison requests you made or received",
    example="!requests incoming status=open",
    params=[
        Param("which", "incoming, outgoing or all (default)", convert=parse_which, optional=True)
    ],
    options=[
        Option("status", "active (default), any, or one status", parse_status_filter, "active")
    ],
)
async def requests(ctx: Context, args: dict[str, Any]) -> None:
    which = args["which"] or "all"
    status = args["status"]
    me = ctx.sender
    clauses, params = [], []
    incoming = "id IN (SELECT request_id FROM liaison_addressees WHERE user_id = ?)"
    if which == "incoming":
        clauses.append(incoming)
        params.append(me)
    elif which == "outgoing":
        clauses.append("requester = ?")
        params.append(me)
    elif not ctx.is_admin:
        clauses.append(f"(requester = ? OR {incoming})")
        params += [me, me]
    if status == "active":
        clauses.append(f"status IN ({','.join('?' * len(ACTIVE))})")
        params += sorted(ACTIVE)
    elif status != "any":
        clauses.append("status = ?")
        params.append(status)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    async with ctx.db.execute(
        f"SELECT id FROM liaison_requests {where} ORDER BY id DESC LIMIT 50", params
    ) as cur:
        ids = [int(r[0]) for r in await cur.fetchall()]
    title = f"Liaison requests ({which}, {status})"
    if not ids:
        ctx.reply(f"{title}: none. Send {ctx.prefix}request to make one.")
        return
    zone = await _zone(ctx, me)
    rows = []
    for number in ids:
        req = await _load(ctx.db, number)
        assert req is not None
        way = "out" if req.requester == me else "in" if me in req.addressees else "-"
        party = _party(req.target if way == "out" else req.requester)
        subject = req.subject if len(req.subject) <= 40 else req.subject[:39] + "…"
        due = _when(req.due_at, zone) if req.due_at else ""
        rows.append([req.label, way, party, subject, req.precedence, req.status, due])
    ctx.reply(
        table(
            title,
            ["id", "dir", "with", "subject", "precedence", "status", "due"],
            rows,
            footer=f"{ctx.prefix}request LR-n shows one with its history.",
        )
    )


# -- scheduled: escalation and overdue nudges ---------------------------------------------


def _number(ref: str) -> int:
    return int(ref.removeprefix("LR-"))


def _late_note(job: Job) -> str:
    if job.late_seconds < 60:
        return ""
    return f" (This reminder is {_ago(round(job.late_seconds / 60) * 60)} late: I was offline.)"


@job("lr.escalate")
async def escalate(ctx: Context, job: Job) -> None:
    """First miss: re-send to the addressees and tell the requester; second: tell admins too."""
    req = await _load(ctx.db, _number(job.ref))
    if req is None or req.status != "open":
        return
    rnd = int(job.payload.get("round", 1))
    delay = ctx.settings.liaison_escalation_seconds[req.precedence]
    waited = _ago(delay * rnd)
    late = _late_note(job)
    requester = await _name(ctx.db, req.requester)
    await _notify(
        ctx,
        req,
        f"Reminder: {req.label} ({req.precedence}) from {requester} is not acknowledged after "
        f"{waited}.\nSubject: {req.subject}\nReact ✅ or send {ctx.prefix}ack {req.label}.{late}",
        sides=("addressee",),
        mention=True,
    )
    told = f"{req.label} is not acknowledged after {waited}; I have reminded {_party(req.target)}."
    if rnd >= 2:
        admins = [a for a in await _admins(ctx) if a != req.requester]
        for admin in admins:
            ctx.send(
                f"Escalation: {req.label} ({req.precedence}) from {requester} to "
                f"{_party(req.target)} "
                f"is not acknowledged after {waited} and {rnd} reminders.\n"
                f"Subject: {req.subject}\nSend {ctx.prefix}request {req.label} for details.{late}",
                user_id=admin,
            )
        told += " The admins are told." if admins else ""
    else:
        await ctx.schedule(
            "lr.escalate", req.label, ctx.now + timedelta(seconds=delay), {"round": rnd + 1}
        )
    await _notify(ctx, req, told + late, sides=("requester",))
    what = f"reminder {rnd}" + (", admins told" if rnd >= 2 else "")
    await _record(ctx, req, "escalated", req.status, what, what)


@job("lr.due")
async def due_nudge(ctx: Context, job: Job) -> None:
    req = await _load(ctx.db, _number(job.ref))
    if req is None or req.status not in ("open", "acknowledged") or req.due_at is None:
        return
    late = _late_note(job)
    for thread in await _threads(ctx.db, req.id):
        zone = await _zone(ctx, thread.user_id)
        text = (
            f"{req.label} was due {_when(req.due_at, zone)} and is still {req.status}.\n"
            f"Subject: {req.subject}{late}"
        )
        mentions = (thread.user_id,) if thread.user_id else req.addressees
        _to_thread(ctx, thread, text, mentions, req)
    await _record(ctx, req, "overdue", req.status, "both sides nudged", "both sides nudged")
