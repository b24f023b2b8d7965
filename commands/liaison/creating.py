"""!request: a new liaison request to a post or a person, sent into each side's thread."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from commands import examples
from commands.context import Context, utc_iso
from commands.errors import UserError
from commands.i18n import N_, _, language, ngettext
from commands.ids import ObjectId
from commands.liaison.model import SUBJECT_MAX
from commands.liaison.render import (
    parse_precedence,
    parse_target,
    rendered_root,
    root_text,
    thread_language,
)
from commands.liaison.store import (
    Thread,
    load_request,
    name_of,
    post_addressees,
    record_step,
    zone_of,
)
from commands.liaison.views import show_request
from commands.markings.model.policy import Policy, marking_example
from commands.markings.model.reasons import reason_shown
from commands.markings.parties import refuse_uncovered
from commands.markings.store import subjects
from commands.markings.wiring import marking_for
from commands.registry import Option, Param, command
from commands.time import parse_due


def _request_example(now: datetime) -> str:
    # TRANSLATORS: an example command: translate the subject and the text after --, keep
    # {command}, {post} and {due} where they are.
    return _(
        "{command} {post} Visit of the CHOD -- dates and programme? {due}",
        command="!request",
        post="DE-BERLIN",
        due="due=" + examples.day(now, 14),
    )


@command(
    "request",
    summary=N_("Send a liaison request to a post or a person (or show one: !request LR-3)"),
    example=_request_example,
    params=[
        Param(
            "to",
            N_("a post code (DE-BERLIN), a person (@anna:example.org), or LR-n to show one"),
            convert=parse_target,
        ),
        Param("subject", N_("a short subject line"), optional=True, rest=True),
    ],
    options=[
        Option(
            "precedence",
            N_("routine (default), priority or immediate"),
            parse_precedence,
            "routine",
        ),
        Option(
            "due",
            N_('when an answer is needed: YYYY-MM-DD, "YYYY-MM-DD HH:MM", friday, in 3 days'),
        ),
        Option("marking", N_("handling marking, e.g. RESTRICTED (default: the post's, else none)")),
        Option("rel", N_("releasable to: nations or groups, e.g. FRA,DEU or FVEY")),
    ],
    body=Param("body", N_("the request in full"), optional=True),
    details=N_(
        "Each addressee gets the request as a thread; replies there come back to you. "
        "A marked request (marking=, rel=) reaches only the people it is releasable to; you "
        "are told by name who was left out and why."
    ),
)
async def request(
    ctx: Context,
    *,
    to: tuple[str, str | int],
    subject: str | None,
    precedence: str,
    due: str | None,
    body: str | None,
    marking: str | None,
    rel: str | None,
) -> None:
    kind, value = to
    spec = ctx.registry.commands["request"]
    usage = spec.usage(ctx.prefix)
    if kind == "lr":
        if subject or body or due or precedence != "routine" or marking or rel:
            raise UserError(
                _(
                    "{id} is a request ID: to show it, send {command} alone; to make a new "
                    "request, name a post or a person.",
                    id="LR-" + str(value),
                    command=ctx.prefix + "request LR-" + str(value),
                ),
                usage=usage,
                example=_request_example(ctx.now),
            )
        await show_request(ctx, ObjectId("LR", int(value)))
        return
    subject = (subject or "").strip()
    if not subject:
        raise UserError(_("Missing subject."), usage=usage, example=_request_example(ctx.now))
    if len(subject) > SUBJECT_MAX:
        raise UserError(
            _(
                "The subject is {length} characters; keep it under {limit} and put the rest "
                "after --.",
                length=len(subject),
                limit=SUBJECT_MAX,
            ),
            usage=usage,
            example=_request_example(ctx.now),
        )
    deadline = None
    zone = await zone_of(ctx, ctx.sender)
    if due:
        try:
            deadline = parse_due(due, str(zone), ctx.now)
        except ValueError as exc:
            raise UserError(f"due: {exc}", usage=usage, example=_request_example(ctx.now)) from None

    post_room: str | None = None
    if kind == "person":
        target = str(value)
        if target == ctx.sender:
            raise UserError(
                _("You cannot send a request to yourself."), example=_request_example(ctx.now)
            )
        if not ctx.settings.is_allowed(target):
            raise UserError(
                _(
                    "I cannot reach {person}: that person is not allowed to use this bot. "
                    "Ask an admin, or address their post.",
                    person=target,
                ),
                example=_request_example(ctx.now),
            )
        addressees = [target]
    else:
        target, post_room, members = await post_addressees(ctx.db, str(value))
        addressees = [m for m in members if m != ctx.sender]
        if not addressees:
            empty = (
                N_(
                    "{post} has no members besides you in the directory, so nobody would "
                    "receive the request. Ask an admin to add them."
                )
                if members
                else N_(
                    "{post} has no members in the directory, so nobody would receive the "
                    "request. Ask an admin to add them."
                )
            )
            raise UserError(_(empty, post=target), example=_request_example(ctx.now))

    mark = await marking_for(
        ctx,
        marking,
        rel,
        what="request",
        example=_(
            "{command} {post} A subject -- the body {marking} {rel}",
            command=ctx.prefix + "request",
            post=target,
            marking="marking=" + marking_example(ctx.settings),
            rel="rel=FRA,DEU",
        ),
        posts=[target] if kind != "person" else [],
        room_id=ctx.room_id,
    )
    await refuse_uncovered(ctx, mark, [target], what="request", role="addressee")
    # Who it is released to, decided now as the outbox will at send time, so the requester's
    # "Sent to:" names only them and the same reply says who was left out and why.
    policy = Policy.from_settings(ctx.settings)
    released: list[str] = []
    left_out: list[tuple[str, str]] = []  # (person, reason: a markings Reason)
    for person in await subjects(ctx.db, addressees):
        reason = policy.exclusion(mark, person)
        if reason is None:
            released.append(person.user_id)
        else:
            left_out.append((person.user_id, reason))
    cur = await ctx.db.execute(
        "INSERT INTO liaison_requests (requester, target, subject, body, precedence, status, "
        "due_at, due_zone, created_at, updated_at, marking) "
        "VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?) RETURNING id",
        (
            ctx.sender,
            target,
            subject,
            body,
            precedence,
            utc_iso(deadline.at) if deadline else None,
            deadline.zone if deadline else None,
            utc_iso(ctx.now),
            utc_iso(ctx.now),
            json.dumps(mark.to_json()) if mark is not None else None,
        ),
    )
    number = int((await cur.fetchone())[0])  # type: ignore[index]
    await cur.close()
    await ctx.db.executemany(
        "INSERT INTO liaison_addressees (request_id, user_id) VALUES (?, ?)",
        [(number, a) for a in addressees],
    )
    req = await load_request(ctx.db, number)
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

    requester_name = await name_of(ctx.db, ctx.sender)
    for thread in threads[1:]:
        # Each addressee's root in their language (a post room: the post's).
        with language(await thread_language(ctx, thread)):
            text = root_text(
                req, requester_name, await zone_of(ctx, thread.user_id), "addressee", ctx.prefix
            )
        mentions = (thread.user_id,) if thread.user_id else tuple(addressees)
        target_kw: dict[str, Any] = (
            {"room_id": thread.room_id} if thread.room_id else {"user_id": thread.user_id}
        )
        origin = ctx.origin(req.label, threads[0].key)  # the requester, in their thread
        ctx.send(
            rendered_root(text),
            key=thread.key,
            mentions=mentions,
            origin=origin,
            **target_kw,
            **req.marked,
        )

    who = ", ".join([await name_of(ctx.db, a) for a in released]) or _("nobody")
    sent = [_("Sent to: {people}", people=who)]
    for user_id, why in left_out:
        sent.append(
            _(
                "Not sent to {person}: {reason}",
                person=await name_of(ctx.db, user_id),
                reason=reason_shown(why),
            )
        )
    head, _sep, rest = root_text(req, requester_name, zone, "requester", ctx.prefix).partition("\n")
    mine = "\n".join([head, *sent, rest])
    in_dm = await _is_dm_with(ctx, ctx.sender)
    if in_dm:
        ctx.reply(rendered_root(mine), key=threads[0].key, thread_root=None, **req.marked)
    elif left_out:
        ctx.reply(
            ngettext(
                "{id} sent to {target} ({n} person, {left} left out: it is not releasable to "
                "them). I will follow it up with you in our direct chat.",
                "{id} sent to {target} ({n} people, {left} left out: it is not releasable to "
                "them). I will follow it up with you in our direct chat.",
                len(released),
                id=req.label,
                target=target,
                left=len(left_out),
            )
        )
    else:
        ctx.reply(
            ngettext(
                "{id} sent to {target} ({n} person). I will follow it up with you in our "
                "direct chat.",
                "{id} sent to {target} ({n} people). I will follow it up with you in our "
                "direct chat.",
                len(released),
                id=req.label,
                target=target,
            )
        )
    if not in_dm:
        ctx.send(rendered_root(mine), user_id=ctx.sender, key=threads[0].key, **req.marked)

    delay = ctx.settings.liaison_escalation_seconds[req.precedence]
    await ctx.schedule("lr.escalate", req.label, ctx.now + timedelta(seconds=delay), {"round": 1})
    if deadline:
        await ctx.schedule("lr.due", req.label, deadline.at, {})
    sent_to = f"to {target}: {', '.join(released)}"
    await record_step(ctx, req, "created", "open", sent_to, sent_to)


async def _is_dm_with(ctx: Context, user_id: str) -> bool:
    async with ctx.db.execute("SELECT room_id FROM dm_rooms WHERE user_id = ?", (user_id,)) as c:
        row = await c.fetchone()
    return row is not None and row[0] == ctx.room_id
