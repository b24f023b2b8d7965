"""A new action item checked, then created: the one set of checks `!actions add` and every
line of `!actions import` go through, so a line is refused exactly when the command is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from commands.actions.access import event_id_of, require_open, sender_zone
from commands.actions.jobs import plan_nudges
from commands.actions.owners import refuse_uncovered_owner
from commands.actions.store import Item, Summit, get_item, insert_item, resolve_owner
from commands.context import Context
from commands.errors import UserError
from commands.i18n import _
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.markings.wiring import marking_for
from commands.time import Due, parse_due


@dataclass(frozen=True)
class NewItem:
    """An item every check accepted, not yet in the store."""

    summit: Summit
    owner_kind: str
    owner: str
    due: Due
    marking: Marking | None
    text: str


class ItemRefused(UserError):
    """A check refused the item; `field` says which part: owner, due, marking or summit
    (`!actions import` corrects that part of the line)."""

    def __init__(self, field: str, refusal: UserError) -> None:
        super().__init__(refusal.message, usage=refusal.usage, example=refusal.example)
        self.field = field


@contextmanager
def _checking(field: str) -> Iterator[None]:
    try:
        yield
    except ItemRefused:
        raise
    except UserError as exc:
        raise ItemRefused(field, exc) from None


async def check_item(
    ctx: Context,
    summit: Summit,
    *,
    owner: str,
    due: str | None,
    marking: str | None,
    rel: str | None,
    text: str,
    example: str,
    marked_example: str | None = None,
    fix: str | None = None,
    now: datetime | None = None,
) -> NewItem:
    """The item `!actions add` would create, or ItemRefused saying why not.

    `example` is the command's example, shown with a refusal (`marked_example` with a
    marking's); `fix` is the command (or the line) as typed, which a refusal of an owner
    the marking does not cover shows with `rel=` widened. `now` reads relative dates
    (`friday`) as of another moment: an import confirmed later means what its preview showed.
    """
    with _checking("summit"):
        require_open(summit)
    if not due:
        raise ItemRefused(
            "due",
            UserError(
                _("due: every item needs a due date ({option}).", option="due=…"),
                example=example,
            ),
        )
    with _checking("owner"):
        kind, key = await resolve_owner(ctx.db, owner)
    try:
        deadline = parse_due(due, sender_zone(ctx), now or ctx.now)
    except ValueError as exc:
        raise ItemRefused("due", UserError(_("due: {error}", error=exc), example=example)) from None
    with _checking("marking"):
        mark = await marking_for(
            ctx,
            marking,
            rel,
            what="action item",
            example=marked_example or example,
            own=summit.marking,
            room_id=ctx.room_id,
        )
        await refuse_uncovered_owner(ctx, key, mark, summit, fix)
    # bounded by max_body_length (bot.limits), never cut
    return NewItem(summit, kind, key, deadline, mark, text.strip())


async def create_item(ctx: Context, new: NewItem, *, how: str = "add") -> Item:
    """Store a checked item with its first history step, plan its nudges, audit it.

    `how` is recorded with the creation (`import`: made from a confirmed import)."""
    number = await insert_item(
        ctx.db,
        new.summit.id,
        new.text,
        new.owner_kind,
        new.owner,
        new.due,
        ctx.sender,
        ctx.now,
        event_id_of(ctx),
        new.marking,
        policy=Policy.from_settings(ctx.settings),
        step="imported" if how == "import" else "created",
    )
    item = await get_item(ctx.db, number)
    assert item is not None
    await plan_nudges(ctx, item)
    await ctx.audit(f"action.{how}", item.ref, f"{new.summit.ref} owner={new.owner}")
    return item
