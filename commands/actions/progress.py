"""An item's progress: status moves (!actions done/status, !cancel A-n) and comments."""

from __future__ import annotations

from commands.actions.access import (
    event_id_of,
    is_owner,
    is_secretariat,
    require_open,
    require_secretariat,
    visible_item,
)
from commands.actions.jobs import plan_nudges
from commands.actions.model import (
    OWNER_MOVES,
    SECRETARIAT_MOVES,
    parse_item_id,
    parse_status,
    shown_status,
)
from commands.actions.store import add_history, get_item
from commands.context import Context, utc_iso
from commands.errors import UserError
from commands.i18n import N_, _
from commands.ids import ObjectId
from commands.markings.model.policy import Policy
from commands.registry import Param, command, handles


async def change_status(ctx: Context, number: int, status: str, comment: str | None) -> None:
    item, summit = await visible_item(ctx, number)
    secretariat = is_secretariat(ctx)
    owner = await is_owner(ctx, item)
    if not (secretariat or owner):
        raise UserError(
            _(
                "Only {ref}'s owner or the secretariat may change its status. "
                "{command} shows its owner.",
                ref=item.ref,
                command=ctx.prefix + "show " + item.ref,
            ),
        )
    require_open(summit)
    if status == item.status:
        raise UserError(
            _(
                "{ref} is already {status}. {command} shows its history.",
                ref=item.ref,
                status=shown_status(status),
                command=ctx.prefix + "show " + item.ref,
            )
        )
    moves = SECRETARIAT_MOVES if secretariat else OWNER_MOVES
    if (item.status, status) not in moves:
        values = {
            "ref": item.ref,
            "old": shown_status(item.status),
            "new": shown_status(status),
            "command": f"{ctx.prefix}show {item.ref}",
        }
        raise UserError(
            _(
                "{ref} cannot go from {old} to {new} (only the secretariat may do that). "
                "{command} shows its history.",
                **values,
            )
            if (item.status, status) in SECRETARIAT_MOVES
            else _(
                "{ref} cannot go from {old} to {new} (no one may make that change). "
                "{command} shows its history.",
                **values,
            )
        )
    await ctx.db.execute(
        "UPDATE action_items SET status = ?, updated_at = ? WHERE id = ?",
        (status, utc_iso(ctx.now), item.id),
    )
    await add_history(
        ctx.db,
        item.id,
        ctx.sender,
        ctx.now,
        "status",
        item.status,
        status,
        comment,
        event_id_of(ctx),
        marking=item.marking,
        policy=Policy.from_settings(ctx.settings),
    )
    fresh = await get_item(ctx.db, item.id)
    assert fresh is not None
    await plan_nudges(ctx, fresh)
    await ctx.audit(f"action.{status}", item.ref, f"{item.status}->{status}")
    ctx.reply(
        _(
            "{ref} is now {status}: {text}",
            ref=item.ref,
            status=shown_status(status),
            text=item.text,
        ),
        **item.marked,
    )


@command(
    "actions done",
    summary=N_("Mark an item done (its owner or the secretariat)"),
    # TRANSLATORS: an example command: translate only the free text after --.
    example=N_("!actions done A-7 -- sent to all delegations"),
    params=[Param("item", N_("e.g. A-7"), convert=parse_item_id)],
    body=Param("comment", N_("what was done, kept in the history"), optional=True),
)
async def actions_done(ctx: Context, *, item: int, comment: str | None) -> None:
    await change_status(ctx, item, "done", comment)


@command(
    "actions status",
    summary=N_("Set an item's status: open, in-progress, done (owner); cancelled (secretariat)"),
    # TRANSLATORS: an example command: translate only the free text after --.
    example=N_("!actions status A-7 in-progress -- draft under review"),
    params=[
        Param("item", N_("e.g. A-7"), convert=parse_item_id),
        Param(
            "status", N_("open, in-progress, done or cancelled"), convert=parse_status, rest=True
        ),
    ],
    body=Param("comment", N_("kept in the history"), optional=True),
)
async def actions_status(ctx: Context, *, item: int, status: str, comment: str | None) -> None:
    await change_status(ctx, item, status, comment)


@handles("cancel", "A")
async def cancel_item(ctx: Context, oid: ObjectId, *, reason: str | None) -> None:
    number = oid.number
    await visible_item(ctx, number)  # not found before not allowed: existence stays hidden
    require_secretariat(ctx, _("Only the secretariat may cancel an item."))
    await change_status(ctx, number, "cancelled", reason)


@command(
    "actions comment",
    summary=N_("Add a comment to an item's history (its owner or the secretariat)"),
    # TRANSLATORS: an example command: translate only the free text after --.
    example=N_("!actions comment A-7 -- waiting for the Italian input"),
    params=[Param("item", N_("e.g. A-7"), convert=parse_item_id)],
    body=Param("comment", N_("the comment")),
)
async def actions_comment(ctx: Context, *, item: int, comment: str) -> None:
    found, _summit = await visible_item(ctx, item)
    if not (is_secretariat(ctx) or await is_owner(ctx, found)):
        raise UserError(
            _(
                "Only {ref}'s owner or the secretariat may comment on it. "
                "{command} shows its owner.",
                ref=found.ref,
                command=ctx.prefix + "show " + found.ref,
            )
        )
    text = comment.strip()
    await add_history(
        ctx.db,
        found.id,
        ctx.sender,
        ctx.now,
        "comment",
        None,
        None,
        text,
        event_id_of(ctx),
        marking=found.marking,
        policy=Policy.from_settings(ctx.settings),
    )
    await ctx.db.execute(
        "UPDATE action_items SET updated_at = ? WHERE id = ?", (utc_iso(ctx.now), found.id)
    )
    await ctx.audit("action.comment", found.ref, "")
    ctx.reply(_("Comment added to {ref}.", ref=found.ref))
