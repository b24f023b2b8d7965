"""!actions list: filters, paging and the table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commands.actions.access import (
    as_judged,
    is_secretariat,
    not_released,
    sees_summit,
    sender_zone,
)
from commands.actions.model import ACTIVE, STATUSES, parse_status, parse_summit_id
from commands.actions.store import (
    Item,
    get_summit,
    owned_keys,
    owner_label,
    resolve_owner,
    summits_in_room,
)
from commands.context import Context, utc_iso
from commands.errors import NotFound, UserError
from commands.history_page import parse_page
from commands.i18n import N_, _, ngettext
from commands.markings.access import released_to_sender
from commands.markings.store import Reader, reader_here, withheld_cell
from commands.registry import Option, Param, command
from commands.render import Rendered, plain, table, without_unmarked_column
from commands.time import parse_due

# -- listing -------------------------------------------------------------------------------

_NO_SUMMIT = N_(
    "No such summit that you can see (ask in the summit's room). Send {command} for yours."
)
_LIST_EXAMPLE = "!actions list S-1 status=open owner=FR-PARIS overdue page=2"


def _statuses(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("all", "any"):
        return STATUSES
    if text.strip().lower() == "active":
        return ACTIVE
    return tuple(dict.fromkeys(parse_status(p) for p in text.split(",") if p.strip()))


async def query_items(
    db: Any,
    *,
    now: datetime,
    summit_ids: list[int] | None,
    owners: list[str] | None,
    restrict_owners: list[str] | None,
    statuses: tuple[str, ...],
    overdue: bool,
    before: datetime | None,
    limit: int,
    offset: int,
    exclude: Sequence[int] = (),
) -> tuple[int, list[Item]]:
    """One filtered page, sorted by due date, and the total; `restrict_owners` is visibility,
    `exclude` the items not released to the reader (in neither the page nor the total)."""
    where = ["TRUE"]
    params: list[Any] = []
    if exclude:
        where.append(f"id NOT IN ({','.join('?' * len(exclude))})")
        params += exclude
    if set(statuses) != set(STATUSES):  # every status is no filter: walk the due index
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += statuses
    if summit_ids is not None:
        where.append(f"summit_id IN ({','.join('?' * len(summit_ids))})")
        params += summit_ids
    for group in (owners, restrict_owners):
        if group is not None:
            where.append(f"owner IN ({','.join('?' * len(group))})")
            params += group
    if overdue:
        where.append("status IN ('open', 'in_progress') AND due_at < ?")
        params.append(utc_iso(now))
    if before is not None:
        where.append("due_at < ?")
        params.append(utc_iso(before))
    clause = " AND ".join(where)
    async with db.execute(f"SELECT COUNT(*) FROM action_items WHERE {clause}", params) as cur:
        row = await cur.fetchone()
    total = int(row[0]) if row else 0
    async with db.execute(
        f"SELECT * FROM action_items WHERE {clause} ORDER BY due_at, id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ) as cur:
        items = [Item.from_row(r) for r in await cur.fetchall()]
    return total, items


@command(
    "actions list",
    summary=N_("List action items, by due date: filter by summit, owner, status, overdue, before"),
    example=_LIST_EXAMPLE,
    params=[Param("filters", N_("S-n, overdue, mine"), optional=True, rest=True)],
    options=[
        Option("owner", N_("a Matrix ID, a post code, or me")),
        Option(
            "status", N_("open, in-progress, done, cancelled, active (default) or all"), _statuses
        ),
        Option("before", N_("due before this date")),
        Option("page", N_("page number"), parse_page, default=1),
    ],
    details=N_("Everyone in a summit's room sees its items; elsewhere you see the items you own."),
    reads_only=True,
)
async def actions_list(
    ctx: Context,
    *,
    filters: str | None,
    owner: str | None,
    status: tuple[str, ...] | None,
    before: str | None,
    page: int,
) -> None:
    words = (filters or "").split()
    summit_numbers, overdue, mine = [], False, False
    for word in words:
        low = word.lower()
        if low == "overdue":
            overdue = True
        elif low in ("mine", "my"):
            mine = True
        else:
            try:
                summit_numbers.append(parse_summit_id(word))
            except ValueError:
                raise UserError(
                    _(
                        "Not understood: {word!r}. Filters are S-n, overdue, mine, "
                        "owner=…, status=…, before=…, page=…",
                        word=word[:30],
                    ),
                    example=_LIST_EXAMPLE,
                ) from None
    my_keys = await owned_keys(ctx.db, ctx.sender)
    restrict: list[str] | None = None
    if summit_numbers:
        summits = [await get_summit(ctx.db, n) for n in summit_numbers]
        hidden = [s is None or not await released_to_sender(ctx, [s.marking]) for s in summits]
        if any(hidden):
            raise NotFound(_(_NO_SUMMIT, command="!summit list"))
        if not all(sees_summit(ctx, s) for s in summits if s):
            restrict = my_keys  # an owner outside the room sees just their own items
        summit_ids: list[int] | None = summit_numbers
    elif is_secretariat(ctx) and not await summits_in_room(ctx.db, ctx.room_id):
        summit_ids = None
    else:
        here = await summits_in_room(ctx.db, ctx.room_id)
        summit_ids = [s.id for s in here] or None
        if not here:
            restrict = my_keys
    owners: list[str] | None = None
    if mine or (owner or "").lower() == "me":
        owners = my_keys
    elif owner:
        kind, key = await resolve_owner(ctx.db, owner)
        owners = await owned_keys(ctx.db, key) if kind == "person" else [key]
    cutoff = _before(ctx, before) if before else None
    statuses = status or ACTIVE
    size = ctx.settings.actions_page_size
    reader = await reader_here(ctx)
    total, items = await query_items(
        ctx.db,
        now=ctx.now,
        summit_ids=summit_ids,
        owners=owners,
        restrict_owners=restrict,
        statuses=statuses,
        overdue=overdue,
        before=cutoff,
        limit=size,
        offset=(page - 1) * size,
        exclude=await not_released(ctx.db, reader),
    )
    if restrict is not None and summit_numbers and total == 0:
        raise NotFound(
            _(_NO_SUMMIT, command="!summit list")
        )  # a summit you cannot see looks like one that is not there
    # Each item as its readers are judged: its marking combined with its summit's. Marked
    # items shown in full (and their summits): routed by their markings at send time.
    items = await as_judged(ctx, items)
    holds = [
        oid
        for item in items
        if item.marking is not None and reader.shows(item.marking) != "id"
        for oid in (item.ref, f"S-{item.summit_id}")
    ]
    rendered = await render_list(ctx, total, items, page, size, reader)
    ctx.reply(rendered, holds=tuple(dict.fromkeys(holds)))


def _before(ctx: Context, text: str) -> datetime:
    try:
        due = parse_due(text, sender_zone(ctx), ctx.now, future=False)
    except ValueError as exc:
        raise UserError(_("before: {error}", error=exc), example=_LIST_EXAMPLE) from None
    # "before 2026-12-01" means due on an earlier day: up to the start of that day.
    return due.at.replace(hour=0, minute=0, second=0) if due.all_day else due.at


async def render_list(
    ctx: Context, total: int, items: list[Item], page: int, size: int, reader: Reader
) -> Rendered:
    if total == 0:
        return plain(_("No action items match."))
    pages = (total + size - 1) // size
    if not items:
        return plain(
            ngettext(
                "There are {n} page(s); page {page} is empty.",
                "There are {n} page(s); page {page} is empty.",
                pages,
                page=page,
            )
        )
    zone = sender_zone(ctx)
    labels: dict[tuple[str, str], str] = {}
    rows: list[tuple[str, ...]] = []
    for item in items:  # none of them is "none" (not_released)
        mark = item.marking.shown() if item.marking else "-"
        if reader.shows(item.marking) == "id" and item.marking is not None:  # a room
            rows.append((item.ref, mark, "", "", "", "", withheld_cell(item.marking)))
            continue
        key = (item.owner_kind, item.owner)
        if key not in labels:
            labels[key] = await owner_label(ctx.db, *key)
        text = item.text if len(item.text) <= 80 else item.text[:79] + "…"
        rows.append(
            (
                item.ref,
                mark,
                item.due_for(zone),
                item.status_for(ctx.now),
                labels[key],
                f"S-{item.summit_id}",
                text,
            )
        )
    first = (page - 1) * size + 1
    values = {"first": first, "last": first + len(items) - 1, "total": total, "page": page}
    footer = (
        _(
            "{first}–{last} of {total}, page {page} of {pages}. Next: add {option}.",
            pages=pages,
            option="page=" + str(page + 1),
            **values,
        )
        if page < pages
        else _("{first}–{last} of {total}, page {page} of {pages}.", pages=pages, **values)
    )
    head = [_("id"), _("marking"), _("due"), _("status"), _("owner"), _("summit"), _("text")]
    shown_head, shown_rows = without_unmarked_column(head, rows)
    return table(_("Action items"), shown_head, shown_rows, footer)
