"""`!actions export S-n csv|md`: a summit's action items as an encrypted file attachment.

CSV has a stable header (scripts read it); Markdown is grouped by owner (people read it).
Times are in the requester's time zone, with the UTC offset, so the file means one thing.
The Markdown file is in the requester's language; the CSV file is not translated.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import aiosqlite

from commands.actions.access import as_judged, is_owner, sees_summit
from commands.actions.model import parse_summit_id, shown_status
from commands.actions.store import Item, Summit, get_summit, owner_text
from commands.context import Attachment, Context
from commands.errors import NotFound, UserError
from commands.i18n import N_, _, ngettext
from commands.markings.access import released_to_sender
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.markings.store import reader_here
from commands.registry import Param, command
from commands.time import Due, show_due

# A machine format: the column names, the status keys (open, in_progress ...) and yes/no stay
# in English whatever the requester's language, so scripts that read the file keep working.
# Only the Markdown export (for people) is translated.
CSV_HEADER = (
    "id",
    "summit",
    "text",
    "owner",
    "owner_kind",
    "status",
    "overdue",
    "due",
    "created_by",
    "created_at",
    "updated_at",
    "timezone",
    "marking",
)
FORMATS = ("csv", "md")
_NO_SUMMIT = N_(
    "No such summit that you can see (ask in the summit's room). Send {command} for yours."
)


def parse_format(text: str) -> str:
    value = text.strip().lower().removeprefix(".")
    value = {"markdown": "md"}.get(value, value)
    if value not in FORMATS:
        raise ValueError(_("choose csv or md"))
    return value


def _iso(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def to_csv(items: list[Item], summit: Summit, zone: str, now: datetime) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for item in items:
        writer.writerow(
            (
                item.ref,
                summit.ref,
                _safe_cell(item.text),
                item.owner,
                item.owner_kind,
                item.status,
                "yes" if item.overdue(now) else "no",
                _iso(item.due_at, zone),
                item.created_by,
                _iso(item.created_at, zone),
                _iso(item.updated_at, zone),
                zone,
                item.marking.banner if item.marking else "",
            )
        )
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; a leading ' disarms them."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


async def to_markdown(
    db: aiosqlite.Connection,
    items: list[Item],
    summit: Summit,
    zone: str,
    now: datetime,
    marking: Marking | None = None,
) -> str:
    """By owner; a marked file starts and ends with its marking line (as paper does).
    In the current reader's language (the requester's), dates by commands.time."""
    banner = [f"**{md_escape(marking.shown())}**", ""] if marking else []
    flagged = "**" + _("OVERDUE") + "**"
    lines = [
        *banner,
        _("# {ref} {name}: action items", ref=summit.ref, name=md_escape(summit.name)),
        "",
        ngettext(
            "Exported {when} ({zone}); {n} item(s); overdue ones are marked {flag}.",
            "Exported {when} ({zone}); {n} item(s); overdue ones are marked {flag}.",
            len(items),
            when=show_due(Due(now, zone, False), zone),
            zone=zone,
            flag=flagged,
        ),
    ]
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.owner_kind, item.owner), []).append(item)
    for key in sorted(groups, key=lambda k: k[1].lower()):
        lines += ["", f"## {md_escape(await owner_text(db, *key))}", ""]
        for item in groups[key]:
            mark = f" [{md_escape(item.marking.shown())}]" if item.marking else ""
            values = {
                "ref": f"**{item.ref}**{mark}",
                "status": shown_status(item.status),
                "flag": flagged,
                "due": md_escape(item.due_for(zone)),
                "text": md_escape(item.text),
            }
            lines.append(
                _("- {ref} ({status} {flag}), due {due}: {text}", **values)
                if item.overdue(now)
                else _("- {ref} ({status}), due {due}: {text}", **values)
            )
    if marking:
        lines += ["", f"**{md_escape(marking.shown())}**"]
    return "\n".join(lines) + "\n"


@command(
    "actions export",
    summary=N_("Send a summit's action items as a file: csv or md (Markdown, by owner)"),
    example="!actions export S-1 csv",
    params=[
        Param("summit", N_("e.g. S-1"), convert=parse_summit_id),
        Param("format", N_("csv or md"), convert=parse_format),
    ],
)
async def actions_export(ctx: Context, *, summit: int, format: str) -> None:
    found = await get_summit(ctx.db, summit)
    if found is None or not await released_to_sender(ctx, [found.marking]):
        raise NotFound(_(_NO_SUMMIT, command="!summit list"))
    async with ctx.db.execute(
        "SELECT * FROM action_items WHERE summit_id = ? ORDER BY due_at, id", (found.id,)
    ) as cur:
        # Each item as its readers are judged: its marking combined with its summit's.
        items = await as_judged(ctx, [Item.from_row(r) for r in await cur.fetchall()])
    # What is not released to the reader is not there for them: not in the file, not in a
    # count, not in a "none of them is for you" (commands/markings/access.py).
    reader = await reader_here(ctx)
    items = [i for i in items if reader.shows(i.marking) != "none"]
    if not sees_summit(ctx, found):
        items = [i for i in items if await is_owner(ctx, i)]
        if not items:
            raise NotFound(_(_NO_SUMMIT, command="!summit list"))
    policy = Policy.from_settings(ctx.settings)
    marking = policy.combine([found.marking, *(i.marking for i in items)])
    if marking is not None and not policy.nations_of(marking.rel):
        raise UserError(
            _(
                "{ref}'s marked items have no nation in common, so one file could go to "
                "nobody. Export in a direct chat with me: you get the items releasable to you.",
                ref=found.ref,
            ),
            example=f"{ctx.prefix}actions export {found.ref} csv",
        )
    zone = ctx.person.timezone if ctx.person else ctx.settings.timezone
    if format == "csv":  # English column names and values, whatever the language
        data = to_csv(items, found, zone, ctx.now).encode("utf-8")
        attachment = Attachment(f"{found.ref}-actions.csv", "text/csv", data)
    else:
        text = await to_markdown(ctx.db, items, found, zone, ctx.now, marking)
        attachment = Attachment(f"{found.ref}-actions.md", "text/markdown", text.encode("utf-8"))
    await ctx.audit("action.export", found.ref, f"{format} {len(items)} items")
    ctx.reply(
        ngettext(
            "{ref}: {n} action item(s), times in {zone}; file follows.",
            "{ref}: {n} action item(s), times in {zone}; file follows.",
            len(items),
            ref=found.ref,
            zone=zone,
        )
    )
    # The file carries the combined marking: the outbox banners its caption and sends it
    # only where every item in it may go, by the items' markings as they are when it leaves.
    about = {
        "marking": marking,
        "about": f"{found.ref} export",
        "holds": (found.ref, *(i.ref for i in items)),
    }
    ctx.reply(attachment.filename, attachment=attachment, msgtype="m.file", **about)
