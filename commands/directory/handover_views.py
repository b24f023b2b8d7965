"""The hand-overs as people look them up: !dir handovers (the latest) and !show H-n.

A hand-over is seen by an admin and by the people in it (who left, who took over, who ran
it); an object it moved is named only to a reader it is released to (commands/markings).
"""

from __future__ import annotations

from commands.context import Context
from commands.directory.handover import UNDO_WINDOW, role_shown
from commands.directory.handover_record import Record, load_record, recent_records
from commands.errors import NotFound
from commands.i18n import N_, _, ngettext, pgettext
from commands.ids import ObjectId
from commands.markings.current import markings_now, object_id
from commands.markings.model.policy import Policy
from commands.markings.store import reader_here
from commands.registry import command, handles
from commands.render import Rendered, colon, esc, person, table
from commands.time import show_instant

LIST = "dir handovers"


def may_see(ctx: Context, record: Record) -> bool:
    return ctx.is_admin or ctx.sender in (record.old, record.new, record.actor)


def sender_zone(ctx: Context) -> str:
    return ctx.person.timezone if ctx.person else ctx.settings.timezone


def _state(ctx: Context, record: Record) -> str:
    if record.undone_at is not None:
        return pgettext("handover", "undone")
    if ctx.now - record.created_at <= UNDO_WINDOW:
        until = show_instant(record.created_at + UNDO_WINDOW, sender_zone(ctx))
        return _("can be undone until {when}", when=until)
    return pgettext("handover", "done")


@command(
    LIST,
    summary=N_("List the latest hand-overs (yours; an admin sees all)"),
    example="!dir handovers",
)
async def dir_handovers(ctx: Context) -> None:
    records = await recent_records(ctx.db, None if ctx.is_admin else ctx.sender)
    if not records:
        ctx.reply(
            _("No hand-overs yet. {command} makes one.", command=ctx.prefix + "help dir handover")
        )
        return
    rows = [
        [
            record.label,
            person(record.old),
            person(record.new),
            show_instant(record.created_at, sender_zone(ctx)),
            _state(ctx, record),
        ]
        for record in records
    ]
    ctx.reply(
        table(
            _("Hand-overs"),
            [
                pgettext("field", "ID"),
                pgettext("field", "from"),
                pgettext("field", "to"),
                pgettext("field", "when"),
                pgettext("field", "state"),
            ],
            rows,
        )
    )


@handles("show", "H")
async def show_handover(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    """One hand-over: who, when, its state, and what it moved (the objects the reader may
    see; the others are not named)."""
    record = await load_record(ctx.db, oid.number)
    if record is None or not may_see(ctx, record):
        raise NotFound(
            _("No hand-over H-{n} that you can see.", n=oid.number),
            example=ctx.prefix + LIST,
        )
    reader = await reader_here(ctx)
    ids = [found for s in record.steps if (found := object_id(s.oid)) is not None]
    markings, _missing = await markings_now(ctx.db, ids, Policy.from_settings(ctx.settings))
    roles: dict[str, list[str]] = {}
    posts: list[str] = []
    for step in record.steps:
        if step.role == "member":
            posts.append(step.oid)
        elif step.oid in markings and reader.shows(markings[step.oid]) != "none":
            roles.setdefault(step.oid, []).append(role_shown(step.role))
    sep = colon()
    lines = [
        _(
            "{label}: from {old} to {new}, by {actor}",
            label=record.label,
            old=person(record.old),
            new=person(record.new),
            actor=person(record.actor),
        ),
        f"{pgettext('field', 'when')}{sep}{show_instant(record.created_at, sender_zone(ctx))}",
        f"{pgettext('field', 'state')}{sep}{_state(ctx, record)}",
    ]
    if record.note:
        lines.append(_("Note from {actor}: {note}", actor=person(record.actor), note=record.note))
    if posts:
        lines.append(
            ngettext("Post: {posts}", "Posts: {posts}", len(posts), posts=", ".join(posts))
        )
    items = [f"{o} — {', '.join(r)}" for o, r in roles.items()]
    head = _("Moved:")
    body = "\n".join([*lines, head, *(f"• {i}" for i in items)])
    html = (
        "".join(f"<p>{esc(line)}</p>" for line in lines)
        + f"<p><b>{esc(head)}</b></p><ul>"
        + "".join(f"<li>{esc(i)}</li>" for i in items)
        + "</ul>"
    )
    ctx.reply(Rendered(body, html))
