"""!edit A-n and !actions reassign: the secretariat changes an item; re-marking it."""

from __future__ import annotations

from typing import Any

from commands import history
from commands.actions.access import (
    SECRETARIAT,
    due_option,
    event_id_of,
    item_marking,
    require_open,
    require_secretariat,
    sender_zone,
    visible_item,
)
from commands.actions.details import history_word
from commands.actions.jobs import plan_nudges
from commands.actions.model import parse_item_id
from commands.actions.owners import refuse_uncovered_owner, tell_owner
from commands.actions.store import Item, Summit, add_history, get_item, owner_people, resolve_owner
from commands.context import Context, utc_iso
from commands.errors import UserError
from commands.examples import day
from commands.i18n import N_, SOURCE, _, language
from commands.ids import ObjectId
from commands.markings.entries import remarked
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, marking_example
from commands.markings.routing import remark_messages
from commands.markings.store import subjects
from commands.markings.wiring import marking_for
from commands.people import load_person
from commands.registry import Param, command, handles
from commands.time import Due, show_due

_EDIT_KEYS = {"text", "due", "owner", "marking", "rel"}


@handles("edit", "A", keys=_EDIT_KEYS, example=lambda now, oid: f"!edit {oid} due={day(now, 14)}")
async def edit_item(ctx: Context, oid: ObjectId, *, changes: dict[str, str]) -> None:
    await apply_edit(ctx, oid.number, changes, None)


async def apply_edit(
    ctx: Context, number: int, changes: dict[str, str], comment: str | None
) -> None:
    item, summit = await visible_item(ctx, number)
    require_secretariat(
        ctx,
        _(
            "Only the secretariat may edit an item (owners change its status: {command}).",
            command="!actions status",
        ),
    )
    require_open(summit)
    example = f"{ctx.prefix}edit {item.ref} due={day(ctx.now, 14)} owner=FR-PARIS"
    updates: dict[str, Any] = {}
    log: list[tuple[str, str | None, str | None]] = []
    if "text" in changes:
        text = changes["text"].strip()
        if not text:
            raise UserError(_("text: give the new text."), example=example)
        if text != item.text:
            updates["text"] = text
            log.append(("text", item.text, text))
    if "due" in changes:
        due = due_option(ctx, changes["due"], example)
        if due.at != item.due_at or due.zone != item.due_zone:
            updates.update(due_at=utc_iso(due.at), due_zone=due.zone, all_day=int(due.all_day))
            with language(SOURCE):  # the history keeps one form; it is shown to many
                log.append(("due", item.due_for(item.due_zone), _fmt_due(due)))
    if "owner" in changes:
        kind, owner = await resolve_owner(ctx.db, changes["owner"])
        if (kind, owner) != (item.owner_kind, item.owner):
            updates.update(owner_kind=kind, owner=owner)
            log.append(("owner", item.owner, owner))
    if "marking" in changes or "rel" in changes:
        mark = await marking_for(
            ctx,
            changes.get("marking"),
            changes.get("rel"),
            what="action item",
            example=f"{ctx.prefix}edit {item.ref} marking={marking_example(ctx.settings)} "
            "rel=FRA,DEU",
            own=item.marking,
        )
        if mark != item.marking:
            updates["marking"] = Marking.column(mark)
            old_banner = item.marking.banner if item.marking else "unmarked"
            log.append(("marking", old_banner, mark.banner if mark else "unmarked"))
    if not updates:
        ctx.reply(_("{ref}: nothing changed.", ref=item.ref))
        return
    if "owner" in updates or "marking" in updates:
        mark = Marking.from_column(updates["marking"]) if "marking" in updates else item.marking
        owner = updates.get("owner", item.owner)
        fix = f"{ctx.prefix}edit {item.ref}" + (f" owner={owner}" if "owner" in updates else "")
        await refuse_uncovered_owner(ctx, owner, mark, summit, fix)
    updates["updated_at"] = utc_iso(ctx.now)
    sets = ", ".join(f"{k} = ?" for k in updates)
    await ctx.db.execute(
        f"UPDATE action_items SET {sets} WHERE id = ?", (*updates.values(), item.id)
    )
    now_marked = Marking.from_column(updates["marking"]) if "marking" in updates else item.marking
    under = remarked(ctx, item.marking, now_marked)
    for field, old, new in log:
        await add_history(
            ctx.db,
            item.id,
            ctx.sender,
            ctx.now,
            field,
            old,
            new,
            comment,
            event_id_of(ctx),
            marking=under,
            policy=Policy.from_settings(ctx.settings),
        )
    fresh = await get_item(ctx.db, item.id)
    assert fresh is not None
    await plan_nudges(ctx, fresh)
    fields = ", ".join(f for f, _old, _new in log)
    await ctx.audit("action.edit", item.ref, fields)
    ctx.reply(
        _(
            "{ref} changed ({fields}): owner {owner}, due {due}.",
            ref=item.ref,
            fields=", ".join(history_word(f) for f, _old, _new in log),
            owner=fresh.owner,
            due=fresh.due_for(sender_zone(ctx)),
        ),
        **fresh.marked,
    )
    if "marking" in updates:
        await _remark(ctx, item, fresh, summit)
    if "owner" in updates:
        await tell_owner(ctx, fresh, summit, "assigned")


async def _remark(ctx: Context, old: Item, new: Item, summit: Summit) -> None:
    """Re-check everyone who already has the item: its owners and the people who acted on
    it. Those no longer covered are told it was re-marked (nothing more); owners newly
    covered get it now. The summit room's copy is checked again by the outbox with every
    message about the item from now on."""
    owners = await owner_people(ctx.db, new.owner_kind, new.owner)
    before = await owner_people(ctx.db, old.owner_kind, old.owner)
    actors = [h.actor for h in await history.of(ctx.db, ObjectId("A", new.id))]
    held = sorted({*before, *(a for a in actors if a.startswith("@"))} - {ctx.sender})
    policy = Policy.from_settings(ctx.settings)
    # Judged by the item's marking combined with its summit's, before and after: someone
    # its summit excludes neither held it nor gains it (nor learns that it was re-marked).
    before_marking, after_marking = (item_marking(ctx, i, summit) for i in (old, new))
    # Holders are those the old marking let it reach (someone told before holds nothing).
    holders = [p for p in await subjects(ctx.db, held) if policy.covers(before_marking, p)]
    told, newly = remark_messages(
        policy,
        new.ref,
        before_marking,
        after_marking,
        holders,
        await subjects(ctx.db, sorted(set(owners) - {ctx.sender})),
        default_language=ctx.settings.language,  # each told person reads it in theirs
    )
    for message in told:
        ctx.send(message.body, user_id=message.user_id, origin=ctx.origin(new.ref))
    for person_ in newly:
        reader = await load_person(ctx.db, person_.user_id, ctx.settings)
        with language(reader.language):
            ctx.send(
                _(
                    "{ref} ({summit} {name}) is now releasable to you: {text} — due {due}.",
                    ref=new.ref,
                    summit=summit.ref,
                    name=summit.name,
                    text=new.text,
                    due=new.due_for(reader.timezone),
                ),
                user_id=person_.user_id,
                origin=ctx.origin(new.ref),
                **new.marked,
            )


def _fmt_due(due: Due) -> str:
    return show_due(due, due.zone)


@command(
    "actions reassign",
    summary=N_("Give an item to another person or post (secretariat)"),
    # TRANSLATORS: an example command: translate only the free text after --.
    example=N_("!actions reassign A-7 FR-PARIS -- Paris leads on this"),
    params=[
        Param("item", N_("e.g. A-7"), convert=parse_item_id),
        Param("owner", N_("a Matrix ID or a post code")),
    ],
    body=Param("comment", N_("why, kept in the history"), optional=True),
    roles=SECRETARIAT,
)
async def actions_reassign(ctx: Context, *, item: int, owner: str, comment: str | None) -> None:
    await apply_edit(ctx, item, {"owner": owner}, comment)
