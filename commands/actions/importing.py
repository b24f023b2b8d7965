"""!actions import: the minutes' action lines as items, all at once after a preview, or none.

The sender pastes one item a line below `!actions import S-1`; the bot answers with a
preview (every line as it will be created, in the sender's zone) and each line's problems
with the line corrected. Nothing is created until the sender confirms a preview without
problems (✅ on it, or `!actions import confirm`): then every line is checked again and all
are created in the one transaction of that event, or none. Each owner is told once, with
all their new items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from commands.actions.access import SECRETARIAT, require_open, sender_zone, visible_summit
from commands.actions.creating import room_summit
from commands.actions.import_lines import MAX_LINES, Line, check_line, ended, item_lines
from commands.actions.import_store import (
    Pending,
    drop,
    drop_expired,
    load,
    preview_key_of,
    save,
)
from commands.actions.model import parse_summit_id
from commands.actions.new_items import create_item
from commands.actions.store import Item, Summit, get_summit, owner_people
from commands.context import Context, Incoming
from commands.errors import UserError
from commands.examples import day
from commands.i18n import N_, _, language, ngettext
from commands.markings.model.policy import Policy
from commands.markings.store import subjects
from commands.people import load_person
from commands.registry import Param, command, listener
from commands.render import Rendered, esc, table
from commands.time import show_due

CONFIRM_KEYS = frozenset({"✅", "✔️", "✔", "☑️"})  # as for acknowledging a request
_HELP = "!help actions import"


def _import_example(now: datetime) -> str:
    # The free text after -- reads in the reader's language; the lines do not change.
    return (
        "!actions import S-1\n"
        f"@alice:example.org due={day(now, 14)} -- " + _("circulate the draft") + "\n"
        f"FR-PARIS due={day(now, 21)} -- " + _("book the venue")
    )


@command(
    "actions import",
    summary=N_("Turn the minutes' action lines into items at once, after a preview (secretariat)"),
    example=_import_example,
    params=[
        Param(
            "summit",
            N_("e.g. S-1 (optional in the summit's room); or confirm, or cancel"),
            optional=True,
            rest=True,
        )
    ],
    lines=Param(
        "items",
        N_("below the command, one item a line, as in !actions add: @owner|POST due=… -- text"),
    ),
    details=N_(
        "Blank lines and lines starting with # are left out; at most 100 items. The bot shows "
        "a preview and each line's problems with the line corrected; nothing is created until "
        "you confirm a preview without problems with ✅ or !actions import confirm (cancel "
        "drops it). Then all are created, or none."
    ),
    roles=SECRETARIAT,
)
async def actions_import(ctx: Context, *, summit: str | None, items: str) -> None:
    word = (summit or "").strip()
    if word.lower() in ("confirm", "cancel") and not items.strip():
        if word.lower() == "confirm":
            await confirm(ctx, ctx.room_id or "")
        else:
            await _cancel(ctx)
        return
    if " " in word or "--" in word:  # an item on the command's own line
        head = f"{ctx.prefix}actions import " + word.split(" ", 1)[0]
        raise UserError(
            _(
                "Put each item on its own line below {command}, not on the same line. "
                "{help} shows the form.",
                command=head,
                help=_HELP,
            )
        )
    found = await _summit_named(ctx, word)
    require_open(found)
    lines = item_lines(items)
    if not lines:
        await _show_pending_or_form(ctx, found)
        return
    if len(lines) > MAX_LINES:
        raise UserError(
            _(
                "That import has {count} items; at most {limit} go in one import. Nothing was "
                "done. Split the minutes into several imports (see {help}).",
                count=len(lines),
                limit=MAX_LINES,
                help=_HELP,
            )
        )
    checked = [await check_line(ctx, found, n, text, ctx.now) for n, text in lines]
    clean = all(line.item is not None for line in checked)
    assert ctx.incoming is not None and ctx.room_id is not None
    key = f"import:{ctx.incoming.event_id}"
    await drop_expired(ctx.db, ctx.now)
    await save(
        ctx.db,
        Pending(ctx.room_id, ctx.sender, found.id, tuple(lines), ctx.now, key, clean),
    )
    ctx.reply(_preview(ctx, found, checked), key=key, **_marked(ctx, found, checked))


async def _summit_named(ctx: Context, word: str) -> Summit:
    if not word:
        try:
            return await room_summit(ctx, "")
        except UserError as exc:
            raise UserError(exc.message + " " + _("{help} shows the form.", help=_HELP)) from None
    try:
        number = parse_summit_id(word)
    except ValueError as exc:
        raise UserError(
            _("summit: {error} ({help} shows the form).", error=exc, help=_HELP)
        ) from None
    return await visible_summit(ctx, number)


def _marked(ctx: Context, summit: Summit, lines: Sequence[Line]) -> dict[str, Any]:
    """The preview shows what will be created: it carries their combined marking."""
    policy = Policy.from_settings(ctx.settings)
    marks = [summit.marking, *(line.item.marking for line in lines if line.item)]
    combined = policy.combine(marks)
    return {"marking": combined, "about": f"{summit.ref} import"} if combined else {}


def _preview(ctx: Context, summit: Summit, lines: Sequence[Line]) -> Rendered:
    zone = sender_zone(ctx)
    rows = []
    for line in lines:
        if line.item is not None:
            new = line.item
            mark = new.marking.shown() if new.marking else "-"
            rows.append((str(line.number), new.owner, show_due(new.due, zone), mark, new.text))
        else:
            owner, due, mark, text = line.shown
            rows.append((f"{line.number} ⚠", owner, due, mark or "-", text))
    bad = [line for line in lines if line.item is None]
    head = [_("line"), _("owner"), _("due"), _("marking"), _("text")]
    title = ngettext(
        "Import into {summit} {name}: {n} item",
        "Import into {summit} {name}: {n} items",
        len(lines),
        summit=summit.ref,
        name=summit.name,
    )
    confirm, cancel = (f"{ctx.prefix}actions import {w}" for w in ("confirm", "cancel"))
    if not bad:
        footer = _(
            "Nothing is created yet. React with ✅ to this message, or send {confirm}, to "
            "create all of them; {cancel} drops the import.",
            confirm=confirm,
            cancel=cancel,
        )
        return table(title, head, rows, footer)
    footer = ngettext(
        "{n} line has a problem; nothing was created. Send the import again with it "
        "corrected (the corrected line is below).",
        "{n} lines have a problem; nothing was created. Send the import again with them "
        "corrected (each corrected line is below).",
        len(bad),
    )
    shown = table(title, head, rows, footer)
    text_parts, html_parts = [shown.body], [shown.html or ""]
    for line in bad:
        said = " ".join(ended(p) for p in line.problems)
        told = _("Line {number}: {problem}", number=line.number, problem=said)
        text_parts.append(f"• {told}")
        item_html = esc(told)
        if line.fix is not None:
            fix = _("Corrected: {line}", line=line.fix)
            text_parts.append(f"  {fix}")
            label = _("Corrected: {line}", line="")
            item_html += f"<br>{esc(label)}<code>{esc(line.fix)}</code>"
        html_parts.append(f"<p>{item_html}</p>")
    return Rendered("\n".join(text_parts), "".join(html_parts))


async def _show_pending_or_form(ctx: Context, summit: Summit) -> None:
    """`!actions import S-1` with no lines: the sender's preview there again, or the form."""
    pending = await load(ctx.db, ctx.room_id or "", ctx.sender)
    if pending is not None and pending.summit_id == summit.id and not pending.expired(ctx.now):
        checked = [await check_line(ctx, summit, n, t, pending.made_at) for n, t in pending.lines]
        key = f"import:{ctx.incoming.event_id}" if ctx.incoming else None
        if key is not None:
            await save(ctx.db, replace(pending, preview=key))
        ctx.reply(_preview(ctx, summit, checked), key=key, **_marked(ctx, summit, checked))
        return
    example = _import_example(ctx.now).replace("S-1", summit.ref)
    add = f"{ctx.prefix}actions add"
    ctx.reply(
        _(
            "Write the items below the command, one a line, as in {add}: the owner, due=, "
            "and the text after --. For example:\n{example}",
            add=add,
            example=example,
        )
    )


async def _cancel(ctx: Context) -> None:
    pending = await load(ctx.db, ctx.room_id or "", ctx.sender)
    if pending is None:
        raise UserError(
            _("You have no import waiting in this room. {help} shows how to make one.", help=_HELP)
        )
    await drop(ctx.db, pending.room_id, pending.sender)
    ctx.reply(_("Import cancelled; nothing was created."))


async def confirm(ctx: Context, room_id: str, *, reply_to: str | None = None) -> None:
    """Create every line of the sender's pending import in this room, or none.

    Each line is checked again (an owner may have left the directory, the summit closed,
    a date passed since the preview); dates are read as of the preview, as it showed them."""
    where = {"reply_to": reply_to} if reply_to else {}
    pending = await load(ctx.db, room_id, ctx.sender)
    if pending is None or pending.expired(ctx.now):
        if pending is not None:
            await drop(ctx.db, room_id, ctx.sender)
        raise UserError(
            _(
                "You have no import waiting in this room (a preview is kept for a day). Send "
                "the import again: {help} shows the form.",
                help=_HELP,
            )
        )
    if not pending.clean:
        raise UserError(
            _(
                "Your import has lines with problems, so it cannot be confirmed. Send it "
                "again with the corrected lines its preview shows ({help}).",
                help=_HELP,
            )
        )
    found = await get_summit(ctx.db, pending.summit_id)
    assert found is not None
    summit = await visible_summit(ctx, found.id)
    require_open(summit)
    made = []
    for number, text in pending.lines:
        line = await check_line(ctx, summit, number, text, pending.made_at)
        if line.item is not None and line.item.due.at <= ctx.now:
            line = Line(number, text, None, (_("its due date has passed since the preview."),))
        if line.item is None:
            raise UserError(
                _(
                    "Line {number} cannot be created now: {problem} Nothing was created. "
                    "Send the import again with that line corrected ({help}).",
                    number=number,
                    problem=" ".join(ended(p) for p in line.problems),
                    help=_HELP,
                )
            )
        made.append(line.item)
    items = [await create_item(ctx, new, how="import") for new in made]
    await drop(ctx.db, room_id, ctx.sender)
    refs = ", ".join(item.ref for item in items)
    ctx.reply(
        ngettext(
            "{n} item created in {summit} from your import: {refs}. Each owner is told once.",
            "{n} items created in {summit} from your import: {refs}. Each owner is told once.",
            len(items),
            summit=summit.ref,
            refs=refs,
        ),
        **where,
        **_holding(ctx, summit, items),
    )
    await _tell_owners(ctx, summit, items)


def _holding(ctx: Context, summit: Summit, items: Sequence[Item]) -> dict[str, Any]:
    """What a message naming these items carries: their combined marking, their IDs."""
    combined = Policy.from_settings(ctx.settings).combine(
        [summit.marking, *(i.marking for i in items)]
    )
    if combined is None:
        return {}
    return {
        "marking": combined,
        "about": f"{summit.ref} import",
        "holds": tuple(i.ref for i in items),
    }


async def _tell_owners(ctx: Context, summit: Summit, items: Sequence[Item]) -> None:
    """One DM to each owner (a post's members each), with all their new items that are
    released to them, in their language and zone; not to the sender."""
    policy = Policy.from_settings(ctx.settings)
    theirs: dict[str, list[Item]] = {}
    for item in items:
        for user in await owner_people(ctx.db, item.owner_kind, item.owner):
            if user != ctx.sender:
                theirs.setdefault(user, []).append(item)
    if not theirs:
        return
    readers = {s.user_id: s for s in await subjects(ctx.db, sorted(theirs))}
    for user, owned in theirs.items():
        reader = readers[user]
        owned = [
            i
            for i in owned
            if policy.covers(i.marking, reader) and policy.covers(summit.marking, reader)
        ]
        if not owned:
            continue  # a post's member none of them is released to
        person = await load_person(ctx.db, user, ctx.settings)
        with language(person.language):
            lines = [
                _(
                    "{ref}: {text} — for {post}, due {due}",
                    ref=i.ref,
                    text=i.text,
                    post=i.owner,
                    due=i.due_for(person.timezone),
                )
                if i.owner_kind == "post"
                else _(
                    "{ref}: {text} — due {due}",
                    ref=i.ref,
                    text=i.text,
                    due=i.due_for(person.timezone),
                )
                for i in owned
            ]
            head = ngettext(
                "You own {n} new action item in {summit} {name}:",
                "You own {n} new action items in {summit} {name}:",
                len(owned),
                summit=summit.ref,
                name=summit.name,
            )
            done = f"{ctx.prefix}actions done {owned[0].ref}"
            tail = _("When one is done: {command}", command=done)
            body = "\n".join([head, *(f"• {line}" for line in lines), tail])
            html = (
                f"<p>{esc(head)}</p><ul>"
                + "".join(f"<li>{esc(line)}</li>" for line in lines)
                + f"</ul><p>{esc(tail)}</p>"
            )
            ctx.send(
                Rendered(body, html),
                user_id=user,
                origin=ctx.origin(f"{summit.ref} import"),
                **_holding(ctx, summit, owned),
            )


@listener("reaction")
async def confirm_by_reaction(ctx: Context, incoming: Incoming) -> bool:
    """✅ on an import's preview, by the person who sent the import, confirms it."""
    if incoming.reaction_key not in CONFIRM_KEYS or incoming.reaction_target is None:
        return False
    key = await preview_key_of(ctx.db, incoming.reaction_target, incoming.room_id)
    if key is None or ctx.person is None:
        return False
    pending = await load(ctx.db, incoming.room_id, incoming.sender)
    if pending is None or pending.preview != key:
        return False  # someone else's preview, or one already confirmed or replaced
    if not ctx.person.has_role(*SECRETARIAT):
        return False
    try:
        await confirm(ctx, incoming.room_id, reply_to=incoming.reaction_target)
    except UserError as refused:
        # Nothing was created (the checks come before any item): say why, on the preview.
        ctx.send(refused.text(), room_id=incoming.room_id, reply_to=incoming.reaction_target)
    return True
