"""What a visit's, meeting's or reminder's people are told: added, changed, cancelled, re-marked."""

from __future__ import annotations

from collections.abc import Mapping

from commands.context import Context
from commands.directory.service import people_of
from commands.i18n import _, language, pgettext
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, remarked_notice
from commands.markings.routing import remark_messages
from commands.markings.store import subjects
from commands.readers import languages_of
from commands.render import person
from commands.schedule.rsvp_rules import ANSWER_KINDS, how_to_answer, state_name
from commands.schedule.rsvp_store import Answer, answers_for, record_invitation
from commands.schedule.store import Item
from commands.schedule.views import summary_lines, zones_for


async def tell_participants(
    ctx: Context,
    item: Item,
    what: str,
    reason: str = "",
    invited: frozenset[str] = frozenset(),
    reset: Mapping[str, Answer] | None = None,
    only: frozenset[str] | None = None,
) -> None:
    """Each participant (people, and the members of posts) is told in their own DM, in their
    own language and zone, that they are in it, that it changed, or that it is off: wherever
    the item was created and wherever its reminders go (commands/schedule/reach.py).

    Of a visit or meeting, each such DM is also its invitation (commands/schedule/rsvp.py):
    a reaction on it answers; those who have no answer (or whose answer a change of time
    cleared, `reset`) are asked for one, once, in this same message. `only`: just these."""
    people = [p for p in await people_of(ctx.db, item.participants) if p != ctx.sender]
    if only is not None:
        people = [p for p in people if p in only]
    zones = dict(zip(people, await zones_for(ctx, people), strict=True))
    asks = what != "cancel" and item.kind in ANSWER_KINDS
    answered = (await answers_for(ctx.db, [item.id])).get(item.id, {}) if asks else {}
    cleared = reset or {}

    def build(user_id: str) -> str:
        if what == "cancel":
            return cancelled_notice(item, reason)
        lines = _notice_lines(user_id)
        if user_id in cleared:
            lines.append(
                _(
                    "Its time changed, so your answer ({answer}) no longer holds.",
                    answer=state_name(cleared[user_id].state),
                )
            )
        if asks and user_id not in answered:
            lines.append(how_to_answer(item.code, ctx.prefix))
        return "\n".join(lines)

    def _notice_lines(user_id: str) -> list[str]:
        if what == "invite" or user_id in invited:
            first = _(
                "{organiser} added you to {code}: {title}",
                organiser=person(item.creator),
                code=item.code,
                title=item.title,
            )
        else:
            first = _(
                "{organiser} changed {code}: {title}",
                organiser=person(ctx.sender),
                code=item.code,
                title=item.title,
            )
        return [first, *summary_lines(item, zones[user_id])]

    if not asks:
        await ctx.send_each(people, build, origin=ctx.origin(item.code), **item.marked)
        return
    langs = await languages_of(ctx.db, people, ctx.settings.language)
    for user_id in people:
        key = await record_invitation(ctx.db, item.id, user_id, ctx.now)
        with language(langs[user_id]):
            text = build(user_id)
        ctx.send(text, user_id=user_id, key=key, origin=ctx.origin(item.code), **item.marked)


def cancelled_notice(item: Item, reason: str) -> str:
    values = {"code": item.code, "title": item.title, "reason": reason}
    if item.kind == "R":  # German cancels a meeting (absagen), not a reminder (abbrechen)
        if reason:
            return pgettext("reminder", "Cancelled {code}: {title} — {reason}", **values)
        return pgettext("reminder", "Cancelled {code}: {title}", **values)
    if reason:
        return _("Cancelled {code}: {title} — {reason}", **values)
    return _("Cancelled {code}: {title}", **values)


def updated_notice(item: Item, zone: str) -> str:
    return "\n".join(
        [_("Updated {code}: {title}", code=item.code, title=item.title), *summary_lines(item, zone)]
    )


async def tell_remarked(ctx: Context, item: Item, old: Marking | None) -> frozenset[str]:
    """Re-check everyone who already has the item (its creator and participants): those no
    longer covered are told it was re-marked, nothing more; the newly covered get it now.
    The item's room is checked again by the outbox with each message about it. Returns
    those who had it and still may (told nothing here)."""
    policy = Policy.from_settings(ctx.settings)
    concerned = sorted({item.creator, *await people_of(ctx.db, item.participants)} - {ctx.sender})
    people = await subjects(ctx.db, concerned)
    holders = [p for p in people if policy.covers(old, p)]
    told, newly = remark_messages(policy, item.code, old, item.marking, holders, people)
    # Each in their own language (the notices were built in the editor's).
    await ctx.send_each(
        [m.user_id for m in told if m.user_id],
        lambda _user: remarked_notice(item.code, item.marking),
        origin=ctx.origin(item.code),
    )
    zones = dict(zip(concerned, await zones_for(ctx, concerned), strict=True))

    def releasable(user_id: str) -> str:
        return "\n".join(
            [
                _("{code} is now releasable to you.", code=item.code),
                *updated_notice(item, zones.get(user_id, ctx.settings.timezone)).split("\n"),
            ]
        )

    await ctx.send_each(
        [s.user_id for s in newly], releasable, origin=ctx.origin(item.code), **item.marked
    )
    withdrawn = {m.user_id for m in told}
    return frozenset(h.user_id for h in holders if h.user_id not in withdrawn)
