"""Showing requests: !request LR-n (and !show LR-n) and !requests."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from commands import history
from commands.context import Context
from commands.ids import ObjectId
from commands.liaison.model import ACTIVE, TERMINAL
from commands.liaison.store import (
    Request,
    load_request,
    name_of,
    party_of,
    visible_request,
    zone_of,
)
from commands.markings.store import reader_here, withheld_cell
from commands.registry import Option, Param, command, handles
from commands.render import Rendered, bullets, paragraph_html, table
from commands.timeparse import show_instant

# -- showing -------------------------------------------------------------------------------


async def _history_lines(ctx: Context, req: Request, zone: ZoneInfo) -> list[str]:
    lines = []
    for h in await history.of(ctx.db, ObjectId("LR", req.id)):
        line = f"{show_instant(h.at, zone)} · {h.actor} · {h.action} → {h.new}"
        if h.detail:
            line += f": {h.detail}"
        lines.append(line)
    return lines


@handles("show", "LR")
async def show_request(ctx: Context, oid: ObjectId) -> None:
    number = oid.number
    req = await visible_request(ctx, number)
    zone = await zone_of(ctx, ctx.sender)
    head = [
        f"{req.label} · {req.status} · {req.precedence}",
        f"From {await name_of(ctx.db, req.requester)} to {party_of(req.target)}",
        f"Addressees: {', '.join(req.addressees)}",
        f"Subject: {req.subject}",
    ]
    if req.body:
        head.append(req.body)
    if req.due_at:
        head.append(f"Due: {show_instant(req.due_at, zone)}")
    head.append(f"Created: {show_instant(req.created_at, zone)}")
    hist = bullets("History", await _history_lines(ctx, req, zone))
    body = "\n".join(head) + "\n" + hist.body
    html = f"<p>{paragraph_html(chr(10).join(head))}</p>{hist.html}"
    ctx.reply(Rendered(body, html), **req.marked)


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
async def requests(ctx: Context, *, which: str | None, status: str) -> None:
    which = which or "all"
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
    zone = await zone_of(ctx, me)
    reader = await reader_here(ctx)
    rows = []
    for number in ids:
        req = await load_request(ctx.db, number)
        assert req is not None
        shown = reader.shows(req.marking)
        if shown == "none":
            continue  # not releasable to the reader: not even its existence
        way = "out" if req.requester == me else "in" if me in req.addressees else "-"
        party = party_of(req.target if way == "out" else req.requester)
        subject = req.subject if len(req.subject) <= 40 else req.subject[:39] + "…"
        if shown == "id" and req.marking is not None:
            subject = withheld_cell(req.marking)
        due = show_instant(req.due_at, zone) if req.due_at else ""
        mark = req.marking.banner if req.marking else "-"
        rows.append([req.label, mark, way, party, subject, req.precedence, req.status, due])
    head = ["id", "marking", "dir", "with", "subject", "precedence", "status", "due"]
    if all(r[1] == "-" for r in rows):  # an unmarked deployment's listing stays as it was
        head.pop(1)
        rows = [[r[0], *r[2:]] for r in rows]
    ctx.reply(
        table(
            title,
            head,
            rows,
            footer=f"{ctx.prefix}request LR-n shows one with its history.",
        )
    )
