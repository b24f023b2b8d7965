"""One page of an object's history for !show: the latest entries, each clipped, and how to
see older ones (`!show LR-3 page=2`).

A year-old request can hold hundreds of 32,000-character replies; shown whole, one !show
cost seconds of CPU and a hundred and sixty events. A page reads PAGE_SIZE rows by index
(history_object: object, id) and shows at most ENTRY_CHARS of each entry's words, so the
cost of !show no longer grows with what has accumulated.

Only the entries the reader may see are counted and paged (each kept the marking in force
when it was written: commands/markings/entries.py); how many others there are is said once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from commands.errors import UserError
from commands.history import COLUMNS, Entry
from commands.i18n import N_, _, ngettext
from commands.ids import ObjectId
from commands.registry import Option

PAGE_SIZE = 10  # entries on one page
ENTRY_CHARS = 500  # characters of one entry's words shown in a listing
MAX_PAGE = 100_000


def parse_page(text: str) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PAGE:
        raise ValueError(_("{text!r} is not a page number (1, 2, 3 …)", text=text[:20]))
    return number


PAGE_OPTION = Option(
    "page",
    N_("which page of the history: 1 (the latest entries, default), 2 the ones before, …"),
    parse_page,
    1,
)


@dataclass(frozen=True)
class Page:
    obj: ObjectId
    entries: list[Entry]  # oldest first, as read
    number: int
    total: int  # entries this reader may see
    hidden: int = 0  # entries written under a marking that does not cover this reader

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def hint(self, prefix: str) -> str | None:
        """Entries not shown for their marking, where these sit in the whole history, and
        the command for older ones."""
        withheld = (
            ngettext(
                "{n} history entry is not shown here (its marking).",
                "{n} history entries are not shown here (their marking).",
                self.hidden,
            )
            if self.hidden
            else None
        )
        where = self._where(prefix)
        return " ".join(t for t in (where, withheld) if t) or None

    def _where(self, prefix: str) -> str | None:
        if self.total <= PAGE_SIZE:
            return None
        last = self.total - (self.number - 1) * PAGE_SIZE
        first = last - len(self.entries) + 1
        where = _(
            "History entries {first}–{last} of {total} (page {page} of {pages}).",
            first=first,
            last=last,
            total=self.total,
            page=self.number,
            pages=self.pages,
        )
        if self.number >= self.pages:
            return where
        older = f"{prefix}show {self.obj} page={self.number + 1}"
        return where + " " + _("Older entries: {command}", command=older)


async def page_of(
    db: aiosqlite.Connection,
    obj: ObjectId,
    number: int,
    prefix: str,
    shown: Callable[[str | None], bool],
) -> Page:
    """Page `number` (1 = the latest entries, oldest first) of the entries of the object's
    history that `shown` lets this reader see (it is asked once per marking)."""
    async with db.execute(
        "SELECT id, marking FROM history WHERE object = ? ORDER BY id", (str(obj),)
    ) as cur:
        rows = list(await cur.fetchall())
    verdicts: dict[str | None, bool] = {}
    for _id, marking in rows:
        if marking not in verdicts:
            verdicts[marking] = shown(marking)
    visible = [int(row_id) for row_id, marking in rows if verdicts[marking]]
    total = len(visible)
    page = Page(obj, [], number, total, len(rows) - total)
    if number > page.pages:
        raise UserError(
            ngettext(
                "{id} has {n} page of history.",
                "{id} has {n} pages of history.",
                page.pages,
                id=str(obj),
            ),
            example=f"{prefix}show {obj} page={page.pages}",
        )
    ids = visible[max(0, total - number * PAGE_SIZE) : total - (number - 1) * PAGE_SIZE]
    if not ids:
        return page
    async with db.execute(
        f"SELECT {COLUMNS} FROM history WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id",
        ids,
    ) as cur:
        entries = [Entry.from_row(r) for r in await cur.fetchall()]
    return Page(obj, entries, number, total, page.hidden)


def clipped(text: str) -> str:
    """An entry's words as a listing shows them: at most ENTRY_CHARS, and how many are left."""
    if len(text) <= ENTRY_CHARS:
        return text
    rest = len(text) - ENTRY_CHARS
    return (
        text[:ENTRY_CHARS] + "… " + ngettext("({n} more character)", "({n} more characters)", rest)
    )
