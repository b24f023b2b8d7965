"""!show A-n: an item's fields and its history, as its reader reads them."""

from __future__ import annotations

from typing import Any

from commands.actions.access import item_marking, sender_zone, visible_item
from commands.actions.jobs import labelled
from commands.actions.model import shown_status
from commands.actions.store import owner_label
from commands.context import Context
from commands.history_page import clipped, page_of
from commands.i18n import _, pgettext
from commands.ids import ObjectId
from commands.markings.entries import entry_filter
from commands.registry import handles
from commands.render import Rendered, esc, person
from commands.time import Due, show_due


@handles("show", "A")
async def show_item(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    number = oid.number
    item, summit = await visible_item(ctx, number)
    marking = item_marking(ctx, item, summit)  # its own combined with its summit's
    zone = sender_zone(ctx)
    lines = [
        (_("item"), f"{item.ref} ({summit.ref} {summit.name})"),
        (_("text"), item.text),
        (_("owner"), await owner_label(ctx.db, item.owner_kind, item.owner)),
        (_("due"), item.due_for(zone)),
        (_("status"), item.status_for(ctx.now)),
        (_("created by"), person(item.created_by)),
        (_("marking"), marking.shown() if marking else "-"),
    ]
    entries = []
    readable = await entry_filter(ctx, marking)
    shown = await page_of(ctx.db, ObjectId("A", item.id), page, ctx.prefix, readable)
    for h in shown.entries:
        when = _local(h.at, zone)
        change = (
            history_word(h.action)
            if h.action in ("created", "imported", "comment")
            else (
                _(
                    "{field}: {old} → {new}",
                    field=history_word(h.action),
                    old=_history_value(h.action, h.old),
                    new=_history_value(h.action, h.new),
                )
            )
        )
        note = f" — {clipped(h.detail)}" if h.detail else ""
        actor = person(h.actor) if h.actor.startswith("@") else h.actor
        entries.append(
            _("{when} {who}: {change}{note}", when=when, who=actor, change=change, note=note)
        )
    body = (
        "\n".join(labelled(k, v) for k, v in lines)
        + "\n"
        + _("history:")
        + "\n"
        + "\n".join(f"• {e}" for e in entries)
    )
    hint = shown.hint(ctx.prefix)
    html = (
        "<br>".join(labelled(k, v, html=True) for k, v in lines)
        + "<br>"
        + labelled(_("history"), "", html=True).rstrip()
        + "<ul>"
        + "".join(f"<li>{esc(e)}</li>" for e in entries)
        + "</ul>"
    )
    if hint:
        body, html = f"{body}\n{hint}", f"{html}<p>{esc(hint)}</p>"
    ctx.reply(Rendered(body, html), **item.marked)


def _local(moment: Any, zone: str) -> str:
    """A history line's time in the reader's zone, as a timed deadline is shown."""
    return show_due(Due(moment, zone, False), zone)


def history_word(action: str) -> str:
    """A history step's name as the reader reads it (the stored word is English)."""
    words = {
        "created": _("created"),
        "imported": _("created by an import"),
        "comment": _("comment"),
        "status": _("status"),
        "text": _("text"),
        "due": _("due"),
        "owner": _("owner"),
        "marking": _("marking"),
        "handover": pgettext("history", "hand-over"),
        "handover undone": pgettext("history", "hand-over undone"),
    }
    return words.get(action, action)


def _history_value(action: str, value: str | None) -> str:
    if value is None or value == "":
        return "-"
    if action == "status":
        return shown_status(value)
    if action == "marking" and value == "unmarked":
        return _("unmarked")
    return value
