"""!actions add: a new item in a summit, for an owner, with a deadline and a marking."""

from __future__ import annotations

from typing import Any

from commands.actions.access import SECRETARIAT, sender_zone, visible_summit
from commands.actions.model import parse_summit_id
from commands.actions.new_items import check_item, create_item
from commands.actions.owners import tell_owner
from commands.actions.store import Summit, owner_label, summits_in_room
from commands.context import Context
from commands.errors import UserError
from commands.examples import day
from commands.i18n import N_, _
from commands.markings.model.policy import marking_example
from commands.registry import Option, Param, command


def _add_example(now: Any) -> str:
    # The free text after -- reads in the reader's language; the command does not change.
    return f"!actions add S-1 @alice:example.org due={day(now, 14)} -- " + _("circulate the draft")


@command(
    "actions add",
    summary=N_("Add an action item to a summit, owned by a person or a post (secretariat)"),
    example=_add_example,
    params=[
        Param("summit", N_("e.g. S-1 (optional in the summit's room)")),
        Param("owner", N_("a Matrix ID or a post code"), optional=True),
    ],
    options=[
        Option("due", N_("ISO date, or friday, in 3 days… (your time zone)")),
        Option("marking", N_("handling marking, e.g. RESTRICTED (default: the summit's)")),
        Option("rel", N_("releasable to: nations or groups, e.g. FRA,DEU or FVEY")),
    ],
    body=Param("text", N_("what is to be done")),
    roles=SECRETARIAT,
)
async def actions_add(
    ctx: Context,
    *,
    summit: str,
    owner: str | None,
    due: str | None,
    text: str,
    marking: str | None,
    rel: str | None,
) -> None:
    first, owner_text = summit, owner
    if owner_text is None:  # `!actions add @owner due=… -- text` in the summit's room
        found = await room_summit(ctx, _add_example(ctx.now))
        owner_text = first
    else:
        try:
            number = parse_summit_id(first)
        except ValueError as exc:
            raise UserError(
                _("summit: {error}", error=exc), example=_add_example(ctx.now)
            ) from None
        found = await visible_summit(ctx, number)
    new = await check_item(
        ctx,
        found,
        owner=owner_text,
        due=due,
        marking=marking,
        rel=rel,
        text=text,
        example=_add_example(ctx.now),
        # Owned by a post with members of those nations: an owner must be covered too.
        marked_example=_add_example(ctx.now).replace("@alice:example.org", "FR-PARIS")
        + f" marking={marking_example(ctx.settings)} rel=FRA,DEU",
    )
    item = await create_item(ctx, new)
    label = await owner_label(ctx.db, item.owner_kind, item.owner)
    ctx.reply(
        _(
            "{ref} added to {summit}: {text} — owner {owner}, due {due}.",
            ref=item.ref,
            summit=found.ref,
            text=item.text,
            owner=label,
            due=item.due_for(sender_zone(ctx)),
        ),
        **item.marked,
    )
    await tell_owner(ctx, item, found, "added")


async def room_summit(ctx: Context, example: str) -> Summit:
    """The one open summit of the command's room, when the command names none."""
    open_here = [s for s in await summits_in_room(ctx.db, ctx.room_id) if s.state == "open"]
    if len(open_here) != 1:
        message = (
            _("This room has no open summit; name the summit (S-n).")
            if not open_here
            else _("This room has several open summits; name the summit (S-n).")
        )
        raise UserError(message, example=example)
    return open_here[0]
