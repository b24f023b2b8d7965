"""Action-item commands: !actions add/reassign/done/status/comment, !show/!edit/!cancel A-n."""

from __future__ import annotations

from typing import Any

from commands import history
from commands.actions.access import (
    SECRETARIAT,
    due_option,
    event_id_of,
    is_owner,
    is_secretariat,
    require_open,
    require_secretariat,
    sender_zone,
    visible_item,
    visible_summit,
)
from commands.actions.jobs import labelled, plan_nudges
from commands.actions.model import (
    OWNER_MOVES,
    SECRETARIAT_MOVES,
    parse_item_id,
    parse_status,
    parse_summit_id,
    shown_status,
)
from commands.actions.store import (
    Item,
    Summit,
    add_history,
    get_item,
    insert_item,
    owner_label,
    owner_people,
    resolve_owner,
    summits_in_room,
)
from commands.context import Context, utc_iso
from commands.errors import UserError
from commands.examples import day
from commands.history_page import clipped, page_of
from commands.i18n import N_, SOURCE, _, language
from commands.ids import ObjectId
from commands.markings.model import Marking, Policy, marking_example
from commands.markings.parties import refuse_uncovered
from commands.markings.routing import remark_messages
from commands.markings.store import subjects
from commands.markings.wiring import marking_for
from commands.people import load_person
from commands.registry import Option, Param, command, handles
from commands.render import Rendered, esc, person
from commands.time import Due, show_due

# -- items: add, show, edit, status --------------------------------------------------------


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
        found = await _room_summit(ctx, _add_example(ctx.now))
        owner_text = first
    else:
        try:
            number = parse_summit_id(first)
        except ValueError as exc:
            raise UserError(
                _("summit: {error}", error=exc), example=_add_example(ctx.now)
            ) from None
        found = await visible_summit(ctx, number)
    require_open(found)
    if not due:
        raise UserError(
            _("due: every item needs a due date ({option}).", option="due=…"),
            example=_add_example(ctx.now),
        )
    kind, owner = await resolve_owner(ctx.db, owner_text)
    deadline = due_option(ctx, due, _add_example(ctx.now))
    mark = await marking_for(
        ctx,
        marking,
        rel,
        what="action item",
        # Owned by a post with members of those nations: an owner must be covered too.
        example=_add_example(ctx.now).replace("@alice:example.org", "FR-PARIS")
        + f" marking={marking_example(ctx.settings)} rel=FRA,DEU",
        own=found.marking,
        room_id=ctx.room_id,
    )
    await _refuse_uncovered_owner(ctx, owner, mark, found)
    text = text.strip()  # bounded by max_body_length (bot.limits), never cut
    number = await insert_item(
        ctx.db, found.id, text, kind, owner, deadline, ctx.sender, ctx.now, event_id_of(ctx), mark
    )
    item = await get_item(ctx.db, number)
    assert item is not None
    await plan_nudges(ctx, item)
    await ctx.audit("action.add", item.ref, f"{found.ref} owner={owner}")
    label = await owner_label(ctx.db, kind, owner)
    ctx.reply(
        _(
            "{ref} added to {summit}: {text} — owner {owner}, due {due}.",
            ref=item.ref,
            summit=found.ref,
            text=text,
            owner=label,
            due=item.due_for(sender_zone(ctx)),
        ),
        **item.marked,
    )
    await _tell_owner(ctx, item, found, "added")


async def _refuse_uncovered_owner(
    ctx: Context, owner: str, mark: Marking | None, summit: Summit, fix: str | None = None
) -> None:
    """An owner the item (or its summit, named with it) is not released to could never see
    it: refused, nothing changes (commands/markings/parties.py). `fix`: the command the
    example corrects (default: the one sent)."""
    await refuse_uncovered(ctx, mark, [owner], what="action item", role="owner", command=fix)
    # The summit's marking, widened, is the summit's to change: the example edits it.
    edit = f"{ctx.prefix}edit {summit.ref}"
    await refuse_uncovered(ctx, summit.marking, [owner], what="summit", role="owner", command=edit)


async def _room_summit(ctx: Context, example: str) -> Summit:
    open_here = [s for s in await summits_in_room(ctx.db, ctx.room_id) if s.state == "open"]
    if len(open_here) != 1:
        message = (
            _("This room has no open summit; name the summit (S-n).")
            if not open_here
            else _("This room has several open summits; name the summit (S-n).")
        )
        raise UserError(message, example=example)
    return open_here[0]


async def _tell_owner(ctx: Context, item: Item, summit: Summit, why: str) -> None:
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


@handles("show", "A")
async def show_item(ctx: Context, oid: ObjectId, *, page: int = 1) -> None:
    number = oid.number
    item, summit = await visible_item(ctx, number)
    zone = sender_zone(ctx)
    lines = [
        (_("item"), f"{item.ref} ({summit.ref} {summit.name})"),
        (_("text"), item.text),
        (_("owner"), await owner_label(ctx.db, item.owner_kind, item.owner)),
        (_("due"), item.due_for(zone)),
        (_("status"), item.status_for(ctx.now)),
        (_("created by"), person(item.created_by)),
        (_("marking"), item.marking.shown() if item.marking else "-"),
    ]
    entries = []
    shown = await page_of(ctx.db, ObjectId("A", item.id), page, ctx.prefix)
    for h in shown.entries:
        when = _local(h.at, zone)
        change = (
            _history_word(h.action)
            if h.action in ("created", "comment")
            else (
                _(
                    "{field}: {old} → {new}",
                    field=_history_word(h.action),
                    old=_history_value(h.action, h.old),
                    new=_history_value(h.action, h.new),
                )
            )
        )
        note = f" — {clipped(h.detail)}" if h.detail else ""
        actor = person(h.actor) if h.actor.startswith("@") else h.actor
        entries.append(
            _("{when} {who}: {change}{note}", when=when, who=actor, change=change, note=note)
        )
    body = (
        "\n".join(labelled(k, v) for k, v in lines)
        + "\n"
        + _("history:")
        + "\n"
        + "\n".join(f"• {e}" for e in entries)
    )
    hint = shown.hint(ctx.prefix)
    html = (
        "<br>".join(labelled(k, v, html=True) for k, v in lines)
        + "<br>"
        + labelled(_("history"), "", html=True).rstrip()
        + "<ul>"
        + "".join(f"<li>{esc(e)}</li>" for e in entries)
        + "</ul>"
    )
    if hint:
        body, html = f"{body}\n{hint}", f"{html}<p>{esc(hint)}</p>"
    ctx.reply(Rendered(body, html), **item.marked)


def _local(moment: Any, zone: str) -> str:
    """A history line's time in the reader's zone, as a timed deadline is shown."""
    return show_due(Due(moment, zone, False), zone)


def _history_word(action: str) -> str:
    """A history step's name as the reader reads it (the stored word is English)."""
    words = {
        "created": _("created"),
        "comment": _("comment"),
        "status": _("status"),
        "text": _("text"),
        "due": _("due"),
        "owner": _("owner"),
        "marking": _("marking"),
    }
    return words.get(action, action)


def _history_value(action: str, value: str | None) -> str:
    if value is None or value == "":
        return "-"
    if action == "status":
        return shown_status(value)
    if action == "marking" and value == "unmarked":
        return _("unmarked")
    return value


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
        await _refuse_uncovered_owner(ctx, owner, mark, summit, fix)
    updates["updated_at"] = utc_iso(ctx.now)
    sets = ", ".join(f"{k} = ?" for k in updates)
    await ctx.db.execute(
        f"UPDATE action_items SET {sets} WHERE id = ?", (*updates.values(), item.id)
    )
    for field, old, new in log:
        await add_history(
            ctx.db, item.id, ctx.sender, ctx.now, field, old, new, comment, event_id_of(ctx)
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
            fields=", ".join(_history_word(f) for f, _old, _new in log),
            owner=fresh.owner,
            due=fresh.due_for(sender_zone(ctx)),
        ),
        **fresh.marked,
    )
    if "marking" in updates:
        await _remark(ctx, item, fresh, summit)
    if "owner" in updates:
        await _tell_owner(ctx, fresh, summit, "assigned")


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
    # Holders are those the old marking let it reach (someone told before holds nothing).
    holders = [p for p in await subjects(ctx.db, held) if policy.covers(old.marking, p)]
    told, newly = remark_messages(
        policy,
        new.ref,
        old.marking,
        new.marking,
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
        ctx.db, found.id, ctx.sender, ctx.now, "comment", None, None, text, event_id_of(ctx)
    )
    await ctx.db.execute(
        "UPDATE action_items SET updated_at = ? WHERE id = ?", (utc_iso(ctx.now), found.id)
    )
    await ctx.audit("action.comment", found.ref, "")
    ctx.reply(_("Comment added to {ref}.", ref=found.ref))
