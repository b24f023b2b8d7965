"""An item's owner: refused when its markings do not cover them, told when given an item."""

from __future__ import annotations

from commands.actions.store import Item, Summit, owner_people
from commands.context import Context
from commands.i18n import _, language
from commands.markings.model.marking import Marking
from commands.markings.parties import refuse_uncovered
from commands.people import load_person


async def refuse_uncovered_owner(
    ctx: Context, owner: str, mark: Marking | None, summit: Summit, fix: str | None = None
) -> None:
    """An owner the item (or its summit, named with it) is not released to could never see
    it: refused, nothing changes (commands/markings/parties.py). `fix`: the command the
    example corrects (default: the one sent)."""
    await refuse_uncovered(ctx, mark, [owner], what="action item", role="owner", command=fix)
    # The summit's marking, widened, is the summit's to change: the example edits it.
    edit = f"{ctx.prefix}edit {summit.ref}"
    await refuse_uncovered(ctx, summit.marking, [owner], what="summit", role="owner", command=edit)


async def tell_owner(ctx: Context, item: Item, summit: Summit, why: str) -> None:
    """A DM to the owner(s), except the person who made the change, each in their language.

    `why` is "added" (a new item) or "assigned" (an item given to them)."""
    users = [
        u
        for u in await owner_people(ctx.db, item.owner_kind, item.owner)
        if ctx.person is None or u != ctx.sender
    ]
    for user in users:
        person = await load_person(ctx.db, user, ctx.settings)
        with language(person.language):  # their zone and their language
            values = {
                "ref": item.ref,
                "summit": summit.ref,
                "name": summit.name,
                "text": item.text,
                "due": item.due_for(person.timezone),
                "command": f"{ctx.prefix}actions done {item.ref}",
            }
            body = (
                _(
                    "You own {ref} ({summit} {name}): {text} — due {due}. "
                    "When it is done: {command}",
                    **values,
                )
                if why == "added"
                else _(
                    "{ref} was assigned to you ({summit}): {text} — due {due}. "
                    "When it is done: {command}",
                    **values,
                )
            )
            ctx.send(
                body,
                user_id=user,
                origin=ctx.origin(item.ref) if ctx.person is not None else None,
                **item.marked,
            )
