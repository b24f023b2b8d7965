"""Showing requests: !request LR-n (and !show LR-n) and !requests."""

from __future__ import annotations

import re
import string
from functools import cache
from zoneinfo import ZoneInfo

from commands.context import Context
from commands.history_page import ENTRY_CHARS, clipped, page_of
from commands.i18n import N_, _, pgettext
from commands.ids import ObjectId
from commands.liaison.model import ACTIVE, TERMINAL, status_name
from commands.liaison.render import precedence_name
from commands.liaison.store import (
    Request,
    load_requests,
    name_of,
    party_of,
    visible_request,
    zone_of,
)
from commands.markings.entries import entry_filter
from commands.markings.model.reasons import REASONS
from commands.markings.store import reader_here, withheld_cell
from commands.registry import Option, Param, command, handles
from commands.render import Rendered, bullets, esc, paragraph_html, table, without_unmarked_column
from commands.time import show_instant

# -- showing -------------------------------------------------------------------------------


def _action_name(action: str) -> str:
    """A step of a request's history as the reader reads it."""
    names = {
        "created": pgettext("history", "created"),
        "ack": pgettext("history", "ack"),
        "answer": pgettext("history", "answer"),
        "decline": pgettext("history", "decline"),
        "close": pgettext("history", "close"),
        "cancel": pgettext("history", "cancel"),
        "reply": pgettext("history", "reply"),
        "escalated": pgettext("history", "escalated"),
        "overdue": pgettext("history", "overdue"),
        "withheld": pgettext("history", "withheld"),
        "undeliverable": pgettext("history", "undeliverable"),
        "handover": pgettext("history", "hand-over"),
        "handover undone": pgettext("history", "hand-over undone"),
    }
    return names.get(action, action)


# What the bot itself writes into a request's history (kept in English, as the audit log
# is), re-read for the reader: a detail that matches one of these is shown translated;
# people's own text (replies, reasons) never matches and is shown as they wrote it.
_DETAILS = (
    N_("by replying"),
    N_("by reaction"),
    N_("both sides nudged"),
    N_("reminder {n}"),
    N_("reminder {n}, admins told"),
    N_("to {target}: {people}"),
    N_("not sent to {person}: {reason}"),
    N_("not delivered to {person}: {reason}"),
)
# Exclusion reasons (commands/markings/model/reasons.py), inside a "not sent to" detail.
_REASONS = tuple(about for about, _to_them in REASONS.values())
# Reasons as records kept them before they left the clearance out (issue 22): re-read as
# today's, so an old record never shows a person's clearance either.
_OLD_REASONS = {
    "their clearance ({clearance}) is below {level}": REASONS["clearance"][0],
    "their clearance ({clearance}) is not one of this system's levels": REASONS[
        "unknown clearance"
    ][0],
}


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def _literal_length(template: str) -> int:
    return sum(len(literal) for literal, *_rest in string.Formatter().parse(template))


def reread(text: str, templates: tuple[str, ...] = _DETAILS) -> str:
    """`text` in the reader's language if the bot wrote it from one of `templates` (the
    most specific template first: `reminder {n}, admins told` before `reminder {n}`)."""
    for template in sorted(templates, key=_literal_length, reverse=True):
        found = _pattern(template).fullmatch(text)
        if found is None:
            continue
        values = found.groupdict()
        if "reason" in values:
            for before, now in _OLD_REASONS.items():
                if (old := _pattern(before).fullmatch(values["reason"])) is not None:
                    values["reason"] = now.format(**old.groupdict())
            again = reread(values["reason"], _REASONS)
            values["reason"] = again if again != values["reason"] else _(values["reason"])
        return _(template, **values)
    return text


async def _history_lines(
    ctx: Context, req: Request, zone: ZoneInfo, page: int
) -> tuple[list[str], str | None]:
    """One page of the request's history, and where it sits in the whole (or None)."""
    readable = await entry_filter(ctx, req.marking)
    shown = await page_of(ctx.db, ObjectId("LR", req.id), page, ctx.prefix, readable)
    lines = []
    for h in shown.entries:
        line = f"{show_instant(h.at, zone)} · {h.actor} · {_action_name(h.action)} → "
        line += status_name(str(h.new))
        if h.detail:
            # The bot's own details are short; a long one is people's words, shown clipped
            # (and not matched against the templates: that would cost O(n) per ": " in it).
            detail = reread(h.detail) if len(h.detail) <= 2 * ENTRY_CHARS else h.detail
            line += _(": {detail}", detail=clipped(detail))
        lines.append(line)
    return lines, shown.hint(ctx.prefix)


@handles("show", "LR")
async def show_request(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    number = oid.number
    req = await visible_request(ctx, number)
    zone = await zone_of(ctx, ctx.sender)
    head = [
        f"{req.label} · {status_name(req.status)} · {precedence_name(req.precedence)}",
        _(
            "From {requester} to {party}",
            requester=await name_of(ctx.db, req.requester),
            party=party_of(req.target),
        ),
        _("Addressees: {people}", people=", ".join(req.addressees)),
        _("Subject: {subject}", subject=req.subject),
    ]
    if req.body:
        head.append(req.body)
    if req.due_at:
        head.append(_("Due: {due}", due=show_instant(req.due_at, zone)))
    head.append(_("Created: {created}", created=show_instant(req.created_at, zone)))
    lines, hint = await _history_lines(ctx, req, zone, page)
    hist = bullets(_("History"), lines)
    body = "\n".join(head) + "\n" + hist.body
    html = f"<p>{paragraph_html(chr(10).join(head))}</p>{hist.html}"
    if hint:
        body, html = f"{body}\n{hint}", f"{html}<p>{esc(hint)}</p>"
    ctx.reply(Rendered(body, html), **req.marked)


_WHICH = ("incoming", "outgoing", "all")
_LISTED = 50  # requests in one listing


def parse_which(text: str) -> str:
    value = text.strip().lower()
    if value not in _WHICH:
        raise ValueError(
            _("{text!r} is not one of {allowed}", text=text[:20], allowed=", ".join(_WHICH))
        )
    return value


def parse_status_filter(text: str) -> str:
    value = text.strip().lower()
    allowed = ("active", "any", "open", "acknowledged", "answered", *sorted(TERMINAL))
    if value not in allowed:
        raise ValueError(
            _("{text!r} is not one of {allowed}", text=text[:20], allowed=", ".join(allowed))
        )
    return value


def _filter_name(value: str) -> str:
    """The listing's filters in its title, as the reader reads them (people type English)."""
    names = {
        "incoming": pgettext("requests", "incoming"),
        "outgoing": pgettext("requests", "outgoing"),
        "all": pgettext("requests", "all"),
        "active": pgettext("requests", "active"),
        "any": pgettext("requests", "any"),
    }
    return names.get(value) or status_name(value)


@command(
    "requests",
    summary=N_("List liaison requests you made or received"),
    example="!requests incoming status=open",
    params=[
        Param(
            "which",
            N_("incoming, outgoing or all (default)"),
            convert=parse_which,
            optional=True,
        )
    ],
    options=[
        Option(
            "status",
            N_("active (default), any, or one status"),
            parse_status_filter,
            "active",
        )
    ],
    reads_only=True,
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
    reader = await reader_here(ctx)
    found: list[tuple[Request, str]] = []
    offset = 0
    while len(found) < _LISTED:  # newest first, a chunk at a time: a year of them is not read
        async with ctx.db.execute(
            f"SELECT id FROM liaison_requests {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, _LISTED, offset],
        ) as cur:
            ids = [int(r[0]) for r in await cur.fetchall()]
        loaded = await load_requests(ctx.db, ids)
        for number in ids:
            req = loaded[number]
            shown = reader.shows(req.marking)
            if shown != "none" and len(found) < _LISTED:  # not released: not even its existence
                found.append((req, shown))
        if len(ids) < _LISTED:
            break
        offset += _LISTED
    title = _(
        "Liaison requests ({which}, {status})",
        which=_filter_name(which),
        status=_filter_name(status),
    )
    if not found:
        ctx.reply(
            _(
                "{title}: none. Send {command} to make one.",
                title=title,
                command=ctx.prefix + "request",
            )
        )
        return
    zone = await zone_of(ctx, me)
    rows = []
    holds: list[str] = []  # marked requests shown in full: routed by their markings at send time
    for req, shown in found:
        mark = req.marking.shown() if req.marking else "-"
        if shown == "id" and req.marking is not None:  # a room: the ID and marking only
            rows.append([req.label, mark, "", "", withheld_cell(req.marking), "", "", ""])
            continue
        if req.marking is not None:
            holds.append(req.label)
        if req.requester == me:
            way = pgettext("direction", "out")
        else:
            way = pgettext("direction", "in") if me in req.addressees else "-"
        party = party_of(req.target if way == "out" else req.requester)
        subject = req.subject if len(req.subject) <= 40 else req.subject[:39] + "…"
        due = show_instant(req.due_at, zone) if req.due_at else ""
        precedence, state = precedence_name(req.precedence), status_name(req.status)
        rows.append([req.label, mark, way, party, subject, precedence, state, due])
    head = [
        pgettext("column", "id"),
        pgettext("column", "marking"),
        pgettext("column", "dir"),
        pgettext("column", "with"),
        pgettext("column", "subject"),
        pgettext("column", "precedence"),
        pgettext("column", "status"),
        pgettext("column", "due"),
    ]
    head, rows = without_unmarked_column(head, rows)
    ctx.reply(
        table(
            title,
            head,
            rows,
            footer=_("{command} shows one with its history.", command=ctx.prefix + "request LR-n"),
        ),
        holds=tuple(holds),
    )
