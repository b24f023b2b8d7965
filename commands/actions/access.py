"""Who may see and do what with summits and items, and the sender's zone and event."""

from __future__ import annotations

from dataclasses import replace

import aiosqlite

from commands.actions.store import Item, Summit, get_item, get_summit
from commands.context import Context
from commands.directory.service import posts_of
from commands.errors import NotFound, UserError
from commands.i18n import _
from commands.markings.access import resolve
from commands.markings.current import effective
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.markings.store import Reader
from commands.time import Due, parse_due

# -- permissions ---------------------------------------------------------------------------


def is_secretariat(ctx: Context) -> bool:
    return ctx.person is not None and ctx.person.has_role("secretariat")


def sees_summit(ctx: Context, summit: Summit) -> bool:
    """Everyone in the summit's room (the command came from it), and the secretariat."""
    return is_secretariat(ctx) or (ctx.room_id is not None and ctx.room_id == summit.room_id)


async def is_owner(ctx: Context, item: Item) -> bool:
    if ctx.person is None:
        return False
    if item.owner_kind == "person":
        return item.owner == ctx.sender
    return item.owner in await posts_of(ctx.db, ctx.sender)


async def visible_summit(ctx: Context, number: int) -> Summit:
    return await resolve(
        ctx,
        await get_summit(ctx.db, number),
        may_see=lambda summit: sees_summit(ctx, summit),
        missing=lambda: NotFound(
            _(
                "No summit {ref} that you can see (ask in the summit's room). "
                "Send {command} for yours.",
                ref="S-" + str(number),
                command="!summit list",
            )
        ),
    )


async def visible_item(ctx: Context, number: int) -> tuple[Item, Summit]:
    """The item if the sender may read it; NotFound otherwise (existence is not revealed)."""
    item = await get_item(ctx.db, number)
    summit = await get_summit(ctx.db, item.summit_id) if item else None

    async def may_see(item: Item) -> bool:
        return summit is not None and (sees_summit(ctx, summit) or await is_owner(ctx, item))

    found = await resolve(
        ctx,
        item,
        may_see=may_see,
        missing=lambda: NotFound(
            _(
                "No action item {ref} that you can see. Send {command} for yours.",
                ref="A-" + str(number),
                command="!actions list",
            )
        ),
        # What is shown with an item names its summit: both must be released to the reader.
        also=[summit.marking if summit else None],
    )
    assert summit is not None
    return found, summit


def item_marking(ctx: Context, item: Item, summit: Summit) -> Marking | None:
    """The item's effective marking: its own combined with its summit's. Its readers are
    judged by it, its history is written under it and its messages routed by it."""
    return effective(Policy.from_settings(ctx.settings), item.marking, summit.marking)


async def as_judged(ctx: Context, items: list[Item]) -> list[Item]:
    """Each item with its effective marking as its `marking` (`item_marking`): what a
    listing, digest or file shows of it and is routed by. An item whose summit is gone is
    left out (its marking is not known)."""
    policy = Policy.from_settings(ctx.settings)
    summits = {n: await get_summit(ctx.db, n) for n in {i.summit_id for i in items}}
    return [
        replace(i, marking=effective(policy, i.marking, found.marking))
        for i in items
        if (found := summits[i.summit_id]) is not None
    ]


async def not_released(db: aiosqlite.Connection, reader: Reader) -> list[int]:
    """The items not released to the reader (their own marking or their summit's): for
    them these do not exist, so no listing shows or counts them."""
    async with db.execute(
        "SELECT i.id, i.marking, s.marking FROM action_items i JOIN summits s "
        "ON s.id = i.summit_id WHERE i.marking IS NOT NULL OR s.marking IS NOT NULL"
    ) as cur:
        rows = await cur.fetchall()
    return [
        int(row[0])
        for row in rows
        if "none" in (reader.shows(Marking.from_column(m)) for m in (row[1], row[2]))
    ]


def require_secretariat(ctx: Context, what: str) -> None:
    """`what` is a whole sentence already translated, e.g. _("Only the secretariat may
    cancel an item.")."""
    if not is_secretariat(ctx):
        raise UserError(
            _(
                "{refusal} Ask the summit's secretariat "
                "({command} shows who has that role, for admins).",
                refusal=what,
                command="!dir list",
            )
        )


def require_open(summit: Summit) -> None:
    if summit.state != "open":
        raise UserError(
            _(
                "{ref} is closed; nothing can be added to it or changed in it. "
                "See it with {list}, or open a new one with {open}.",
                ref=summit.ref,
                list="!summit list",
                open="!summit open",
            )
        )


SECRETARIAT = ["secretariat"]  # admins pass every role check
NUDGE_SOON = "action.soon"
NUDGE_OVERDUE = "action.overdue"
DIGEST = "action.digest"
LATE_NOTE_AFTER = 300.0  # seconds; a job later than this says the bot was offline


def event_id_of(ctx: Context) -> str | None:
    return ctx.incoming.event_id if ctx.incoming else None


def sender_zone(ctx: Context) -> str:
    return ctx.person.timezone if ctx.person else ctx.settings.timezone


def due_option(ctx: Context, text: str, example: str) -> Due:
    try:
        due = parse_due(text, sender_zone(ctx), ctx.now)
    except ValueError as exc:
        raise UserError(_("due: {error}", error=exc), example=example) from None
    return due
