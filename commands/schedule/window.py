"""The agenda's reading of the store: only items with an occurrence in the window, only
those the reader may see, earliest first, a chunk at a time (issue 25).

`next_at` is the item's next scheduled occurrence (commands/schedule/store.py): a one-off
keeps its start, a repeating item's moves on when that occurrence passes (NEXT_JOB) and is
NULL once its rule has ended. So an item has an occurrence in [now, until) only if
`now <= next_at < until`, or it repeats and its `next_at` is already past (the job that
moves it on has not run yet: the bot was down); each of these is an index range
(schedule_items_state; schedule_items_recurring, migration 017). Past one-offs, a year of
them, are never read.

Who may see an item is decided in SQL too, as views._may_see decides it (the creator, a
participant or a member of a participating post, anyone in the item's room), so an
unrelated person's agenda reads nothing; views._may_see is still asked for each item shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from commands.context import Context, utc_iso
from commands.schedule.store import COLUMNS, Item, item_from_row

CHUNK = 100  # rows read at once; the agenda stops reading when it has its rows

# The reader may see the item (views._may_see): creator, participant, post member, room.
_SEES = (
    "(i.creator = ? OR i.room_id = ? OR EXISTS (SELECT 1 FROM schedule_participants p "
    "WHERE p.item_id = i.id AND (p.who = ? OR upper(p.who) IN "
    "(SELECT m.post FROM post_members m WHERE m.user_id = ?))))"
)

STALE_SQL = (
    f"SELECT {COLUMNS} FROM schedule_items i "
    "WHERE i.state = 'active' AND (i.rrule IS NOT NULL) = TRUE AND i.next_at < ?"
)
WINDOW_SQL = (
    f"SELECT {COLUMNS} FROM schedule_items i "
    "WHERE i.state = 'active' AND i.next_at >= ? AND i.next_at < ?"
)


def _visible(ctx: Context, sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    if ctx.is_admin:
        return sql, params
    me = ctx.sender
    return f"{sql} AND {_SEES}", [*params, me, ctx.room_id, me, me]


async def in_window(ctx: Context, until: datetime) -> AsyncIterator[Item]:
    """Items that may have an occurrence in [now, until) and the reader may see: first the
    repeating ones whose next_at is overdue (few), then the rest by next_at, id."""
    now = utc_iso(ctx.now)
    sql, params = _visible(ctx, STALE_SQL, [now])
    async with ctx.db.execute(f"{sql} ORDER BY i.next_at, i.id", params) as cur:
        stale = await cur.fetchall()
    for row in stale:  # no cursor is open while the caller works (or stops early)
        yield item_from_row(row)
    sql, params = _visible(ctx, WINDOW_SQL, [now, utc_iso(until)])
    offset = 0
    while True:
        async with ctx.db.execute(
            f"{sql} ORDER BY i.next_at, i.id LIMIT ? OFFSET ?", [*params, CHUNK, offset]
        ) as cur:
            rows = list(await cur.fetchall())
        for row in rows:
            yield item_from_row(row)
        if len(rows) < CHUNK:
            return
        offset += CHUNK
