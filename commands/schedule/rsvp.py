"""Answers to invitations: `!rsvp M-3 yes|no|maybe [-- note]`, a reaction on the invitation
(✅ ❌ ❔ and the variants in rsvp_rules), and the reaction's removal, which withdraws it.

Each invitation DM is queued with an outbox key recorded in schedule_invitations
(commands/schedule/notices.py), so the reaction's target event maps back to the item and
the person it was sent to. The organiser is told of each answer in their DM, marked as the
item is (the outbox applies releasability as for every notice about it); the item's history
records each answer. Exactly once comes from the dispatcher's event ledger.
"""

from __future__ import annotations

from commands.context import Context, Incoming
from commands.directory.service import people_of
from commands.errors import UserError
from commands.history import record
from commands.i18n import N_, _
from commands.ids import ObjectId
from commands.markings.access import released_to_sender
from commands.markings.entries import written_under
from commands.registry import Param, command, listener
from commands.render import person
from commands.schedule.model import KIND_NAMES
from commands.schedule.rsvp_rules import (
    ANSWER_KINDS,
    NOTE_MAX,
    parse_answer,
    reaction_state,
    state_name,
    tally,
)
from commands.schedule.rsvp_store import (
    Answer,
    answers_for,
    invitation_of_event,
    reset_answers,
    save_answer,
    withdraw_reaction,
)
from commands.schedule.store import COLUMNS, Item, item_from_row
from commands.schedule.views import visible_item

HISTORY_ACTION = "rsvp"
WITHDRAWN = "withdrawn"  # a history step's new state: the answer taken back
RESET = "reset"  # a history step's new state: every answer cleared by a change of time


def _answer_id(text: str) -> ObjectId:
    """A visit's or meeting's ID (V-n, M-n)."""
    oid = ObjectId.find(text.strip())
    if oid is None or oid.kind not in ANSWER_KINDS:
        raise ValueError(
            _("{text!r} is not a meeting or visit ID like M-3 or V-2", text=text.strip()[:30])
        )
    return oid


@command(
    "rsvp",
    summary=N_("Answer an invitation to a meeting or visit: yes, no or maybe"),
    # TRANSLATORS: keep "!rsvp", "M-3" and "--"; "yes" may be your language's word (oui, ja),
    # translate the note after --.
    example=N_("!rsvp M-3 yes -- joining by video"),
    params=[
        Param("item", N_("the meeting or visit, e.g. M-3"), convert=_answer_id),
        Param("answer", N_("yes, no or maybe (oui/non/peut-être, ja/nein/vielleicht)")),
    ],
    body=Param("note", N_("a note for the organiser"), optional=True),
    details=N_(
        "A reaction on the invitation does the same: ✅ yes, ❌ no, ❔ maybe; removing the "
        "reaction withdraws the answer. Declining stops the item's reminders for you."
    ),
)
async def rsvp(ctx: Context, *, item: ObjectId, answer: str, note: str | None) -> None:
    try:
        state = parse_answer(answer)
    except ValueError as exc:
        raise UserError(str(exc), example=f"{ctx.prefix}rsvp {item} yes") from None
    found = await visible_item(ctx, item.kind, item.number)
    refusal = await _refusal(ctx, found)
    if refusal:
        raise UserError(refusal)
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise UserError(
            _("The note is too long: at most {n} characters.", n=NOTE_MAX),
            example=f"{ctx.prefix}rsvp {found.code} yes",
        )
    changed = await _answer(ctx, found, state, text, None)
    ctx.reply(_confirmation(found, state, changed), **found.marked)


async def _refusal(ctx: Context, item: Item) -> str | None:
    """Why the sender may not answer this item now, or None."""
    if item.state != "active":
        return _(
            "{code} is cancelled: there is nothing to answer. {prefix}show {code} shows its "
            "history.",
            code=item.code,
            prefix=ctx.prefix,
        )
    if ctx.sender not in await people_of(ctx.db, item.participants):
        if ctx.sender == item.creator:
            return _(
                "You organise {code}: only its participants answer. {prefix}show {code} "
                "shows their answers.",
                code=item.code,
                prefix=ctx.prefix,
            )
        return _(
            "Only the participants of {code} answer its invitation; you are not one of them. "
            "{prefix}show {code} shows who takes part and who organises it.",
            code=item.code,
            prefix=ctx.prefix,
        )
    return None


def _confirmation(item: Item, state: str, changed: bool) -> str:
    values = {"code": item.code, "title": item.title, "answer": state_name(state)}
    if not changed:
        return _("Your answer to {code} ({title}) was already: {answer}.", **values)
    if state == "declined":
        return _(
            "Your answer to {code} ({title}) is recorded: {answer}. The organiser is told; "
            "you get no more reminders for it.",
            **values,
        )
    return _(
        "Your answer to {code} ({title}) is recorded: {answer}. The organiser is told.",
        **values,
    )


async def _answer(
    ctx: Context, item: Item, state: str, note: str, reaction_event: str | None
) -> bool:
    """Record the sender's answer, its history step, and tell the organiser. False if it
    is the answer already recorded (nothing changes, nobody is told again)."""
    answer = Answer(state, note, ctx.now, reaction_event)
    previous = await save_answer(ctx.db, item.id, ctx.sender, answer)
    if previous is not None and (previous.state, previous.note) == (state, note):
        return False
    await _record_answer(ctx, item, previous.state if previous else None, state, note or None)
    await ctx.audit(f"{KIND_NAMES[item.kind]}.rsvp", item.code, state)  # never the note
    await _tell_organiser(ctx, item, state, note)
    return True


async def _tell_organiser(ctx: Context, item: Item, state: str | None, note: str) -> None:
    """One DM to the organiser, in their language, marked as the item is."""
    if item.creator == ctx.sender:
        return
    people = await people_of(ctx.db, item.participants)
    answers = (await answers_for(ctx.db, [item.id])).get(item.id, {})
    current = {u: a for u, a in answers.items() if u in people}

    def build(_user: str) -> str:
        values = {"who": person(ctx.sender), "code": item.code, "title": item.title}
        if state is None:
            first = _("{who} withdrew their answer to {code}: {title}", **values)
        else:
            first = _(
                "{who} answered {code} ({title}): {answer}",
                answer=state_name(state),
                **values,
            )
        lines = [first]
        if note:
            lines.append(_("Note: {text}", text=note))
        lines.append(_("Answers so far: {tally}", tally=tally(current, people)))
        return "\n".join(lines)

    await ctx.send_each([item.creator], build, origin=ctx.origin(item.code), **item.marked)


async def _item_by_id(ctx: Context, item_id: int) -> Item | None:
    async with ctx.db.execute(
        f"SELECT {COLUMNS} FROM schedule_items i WHERE id = ?", (item_id,)
    ) as cur:
        row = await cur.fetchone()
    return item_from_row(row) if row is not None else None


async def reset_for_new_time(ctx: Context, item: Item) -> dict[str, Answer]:
    """The item's time changed: every answer is cleared (and said so in its history), and
    invitations sent before no longer count; returns the answers cleared."""
    cleared = await reset_answers(ctx.db, item.id)
    if cleared:
        await _record_answer(ctx, item, None, RESET, str(len(cleared)))
    return cleared


@listener("reaction")
async def on_invitation_reaction(ctx: Context, incoming: Incoming) -> bool:
    """✅ ❌ ❔ (and variants) on an invitation DM: the answer of the person it was sent to."""
    state = reaction_state(incoming.reaction_key)
    if state is None or incoming.reaction_target is None:
        return False
    invitation = await invitation_of_event(ctx.db, incoming.reaction_target, incoming.room_id)
    if invitation is None or invitation.user_id != incoming.sender:
        return False
    item = await _item_by_id(ctx, invitation.item_id)
    if item is None or not await released_to_sender(ctx, [item.marking]):
        return False  # as for a reaction on any other message: no trace of it
    where = {"room_id": incoming.room_id, "reply_to": incoming.reaction_target}
    refusal = await _refusal(ctx, item)
    if refusal is None and not invitation.current:
        command = f"{ctx.prefix}rsvp {item.code}"
        refusal = _(
            "That invitation was for an earlier time of {code}; its time changed since. "
            "React on the latest invitation, or send {command} yes, no or maybe.",
            code=item.code,
            command=command,
        )
    if refusal is not None:
        ctx.send(refusal, **where, **item.marked)
        return True
    changed = await _answer(ctx, item, state, "", incoming.event_id)
    ctx.send(_confirmation(item, state, changed), **where, **item.marked)
    return True


@listener("redaction")
async def on_reaction_removed(ctx: Context, incoming: Incoming) -> bool:
    """A reaction removed (redacted) by its sender: the answer it gave is withdrawn, unless
    the person answered again since (then that later answer stands)."""
    if incoming.redacts is None:
        return False
    withdrawn = await withdraw_reaction(ctx.db, incoming.redacts, incoming.sender)
    if withdrawn is None:
        return False
    item = await _item_by_id(ctx, withdrawn[0])
    if item is None:
        return False
    await _record_answer(ctx, item, withdrawn[1].state, WITHDRAWN, None)
    await ctx.audit(f"{KIND_NAMES[item.kind]}.rsvp", item.code, WITHDRAWN)
    if item.state == "active":
        await _tell_organiser(ctx, item, None, "")
    command = f"{ctx.prefix}rsvp {item.code}"
    text = _(
        "Your answer to {code} ({title}) is withdrawn. Answer again with a reaction or "
        "{command} yes, no or maybe.",
        code=item.code,
        title=item.title,
        command=command,
    )
    ctx.send(text, room_id=incoming.room_id, **item.marked)  # in the room's language
    return True


async def _record_answer(
    ctx: Context, item: Item, old: str | None, new: str, detail: str | None
) -> None:
    """An answer, a withdrawal or a reset in the item's history, under its marking now."""
    await record(
        ctx.db,
        ObjectId(item.kind, item.number),
        ctx.now,
        ctx.sender,
        HISTORY_ACTION,
        old=old,
        new=new,
        detail=detail,
        event_id=ctx.incoming.event_id if ctx.incoming else None,
        marking=written_under(item.marking),
    )
