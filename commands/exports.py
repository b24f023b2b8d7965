"""`!actions export S-n csv|md`: a summit's action items as an encrypted file attachment.

CSV has a stable header (scripts read it); Markdown is grouped by owner (people read it).
Times are in the requester's time zone, with the UTC offset, so the file means one thing.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import aiosqlite

from commands.actions.access import is_owner, sees_summit
from commands.actions.model import parse_summit_id, shown_status
from commands.actions.store import Item, Summit, get_summit, owner_text
from commands.context import Attachment, Context
from commands.errors import NotFound
from commands.registry import Param, command

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
)
FORMATS = ("csv", "md")


def parse_format(text: str) -> str:
    value = text.strip().lower().removeprefix(".")
    value = {"markdown": "md"}.get(value, value)
    if value not in FORMATS:
        raise ValueError("choose csv or md")
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
    db: aiosqlite.Connection, items: list[Item], summit: Summit, zone: str, now: datetime
) -> str:
    lines = [
        f"# {summit.ref} {md_escape(summit.name)}: action items",
        "",
        f"Exported {now.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone}); "
        f"{len(items)} item(s); overdue ones are marked **OVERDUE**.",
    ]
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.owner_kind, item.owner), []).append(item)
    for key in sorted(groups, key=lambda k: k[1].lower()):
        lines += ["", f"## {md_escape(await owner_text(db, *key))}", ""]
        for item in groups[key]:
            flag = " **OVERDUE**" if item.overdue(now) else ""
            lines.append(
                f"- **{item.ref}** ({shown_status(item.status)}{flag}), due "
                f"{md_escape(item.due_for(zone))}: {md_escape(item.text)}"
            )
    return "\n".join(lines) + "\n"


@command(
    "actions export",
    summary="Send a summit's action items as a file: csv or md (Markdown, by owner)",
    example="!actions export S-1 csv",
    params=[
        Param("summit", "e.g. S-1", convert=parse_summit_id),
        Param("format", "csv or md", convert=parse_format),
    ],
)
async def actions_export(ctx: Context, *, summit: int, format: str) -> None:
    found = await get_summit(ctx.db, summit)
    if found is None:
        raise NotFound(
            "No such summit that you can see (ask in the summit's room). "
            "Send !summit list for yours."
        )
    async with ctx.db.execute(
        "SELECT * FROM action_items WHERE summit_id = ? ORDER BY due_at, id", (found.id,)
    ) as cur:
        items = [Item.from_row(r) for r in await cur.fetchall()]
    if not sees_summit(ctx, found):
        items = [i for i in items if await is_owner(ctx, i)]
        if not items:
            raise NotFound(
                "No such summit that you can see (ask in the summit's room). "
                "Send !summit list for yours."
            )
    zone = ctx.person.timezone if ctx.person else ctx.settings.timezone
    if format == "csv":
        data = to_csv(items, found, zone, ctx.now).encode("utf-8")
        attachment = Attachment(f"{found.ref}-actions.csv", "text/csv", data)
    else:
        text = await to_markdown(ctx.db, items, found, zone, ctx.now)
        attachment = Attachment(f"{found.ref}-actions.md", "text/markdown", text.encode("utf-8"))
    await ctx.audit("action.export", found.ref, f"{format} {len(items)} items")
    ctx.reply(f"{found.ref}: {len(items)} action item(s), times in {zone}; file follows.")
    ctx.reply(attachment.filename, attachment=attachment, msgtype="m.file")
