"""Summit views: !summit list and !show S-n (its dates, state and item counts)."""

from __future__ import annotations

from commands import i18n
from commands.actions.access import is_secretariat, not_released, visible_summit
from commands.actions.jobs import field_lines
from commands.actions.model import STATUSES, shown_state, shown_status
from commands.actions.store import Summit, summits_in_room
from commands.context import Context, utc_iso
from commands.i18n import N_, _, ngettext
from commands.ids import ObjectId
from commands.markings.store import reader_here, withheld_cell
from commands.registry import command, handles
from commands.render import table


@command("summit list", summary=N_("List the summits you can see"), example="!summit list")
async def summit_list(ctx: Context) -> None:
    if is_secretariat(ctx):
        async with ctx.db.execute("SELECT * FROM summits ORDER BY id") as cur:
            summits = [Summit.from_row(r) for r in await cur.fetchall()]
    else:
        summits = await summits_in_room(ctx.db, ctx.room_id)
    reader = await reader_here(ctx)
    summits = [s for s in summits if reader.shows(s.marking) != "none"]  # not there for them
    if not summits:
        ctx.reply(_("No summits you can see here. Ask in the summit's room."))
        return
    rows = [
        (s.ref, s.name, _dates(s), shown_state(s.state), s.timezone)
        if reader.shows(s.marking) == "full" or s.marking is None
        else (s.ref, withheld_cell(s.marking), "", "", "")  # a room: the ID and marking only
        for s in summits
    ]
    head = [_("id"), _("name"), _("dates"), _("state"), _("zone")]
    ctx.reply(table(_("Summits"), head, rows))


def _tally(status: str, n: int) -> str:
    """`2 open`: a count of items in a status (French and German agree it with the count)."""
    if status == "open":
        return ngettext("{n} open", "{n} open", n)
    if status == "in_progress":
        return ngettext("{n} in progress", "{n} in progress", n)
    if status == "done":
        return ngettext("{n} done", "{n} done", n)
    if status == "cancelled":
        return ngettext("{n} cancelled", "{n} cancelled", n)
    return f"{n} {shown_status(status)}"


def _dates(summit: Summit) -> str:
    return f"{summit.starts_on or '?'} – {summit.ends_on or '?'}"


@handles("show", "S")
async def show_summit(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    """A summit has no history of its own: its items have (page is for them)."""
    number = oid.number
    summit = await visible_summit(ctx, number)
    # No count includes an item not released to the reader (it does not exist for them).
    hidden = set(await not_released(ctx.db, await reader_here(ctx)))
    async with ctx.db.execute(
        "SELECT id, status, status IN ('open', 'in_progress') AND due_at < ? "
        "FROM action_items WHERE summit_id = ?",
        (utc_iso(ctx.now), number),
    ) as cur:
        rows = [r for r in await cur.fetchall() if int(r[0]) not in hidden]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    overdue = sum(1 for row in rows if row[2])
    tally = ", ".join(_tally(s, counts.get(s, 0)) for s in STATUSES)
    lines = [
        (_("summit"), f"{summit.ref} {summit.name}"),
        (_("dates"), _dates(summit)),
        (_("state"), shown_state(summit.state)),
        (_("time zone"), summit.timezone),
        (_("items"), _("{tally}; {overdue} overdue", tally=tally, overdue=overdue)),
        (_("default marking"), summit.marking.shown() if summit.marking else "-"),
        (_("language"), _language_name(summit.language, ctx.settings.language)),
    ]
    # Its name and counts are the summit's: routed by its marking at send time.
    ctx.reply(field_lines(lines), about=summit.ref, marking=summit.marking)


def _language_name(code: str | None, default: str) -> str:
    """The summit's language as shown in its details: its name and code."""
    chosen = code or default
    shown = f"{i18n.name(chosen)} ({chosen})"
    return shown if code else _("{language}, the default", language=shown)
