"""What a hand-over says, and to whom: the successor one message with what they now hold,
each counterpart one message naming their new contact, the leaving person a summary, and
whoever sent the command the plan or the result (what stayed, and why).

Each message is built in its reader's language and shows an object only to someone it is
released to (the markings' Reader: in a room, a marked line is its ID only); a message to
a person carries the IDs it names (`holds`), so the outbox routes it by their markings as
they are when it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.context import Context
from commands.directory.handover import Holding, Kept, Plan, role_shown
from commands.i18n import _, language, ngettext
from commands.ids import ObjectId
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy
from commands.markings.store import Reader, reader_for, reader_here, withheld_cell
from commands.readers import languages_of
from commands.render import Rendered, colon, esc
from commands.render import person as who

_TITLE_MAX = 80


@dataclass(frozen=True)
class Said:
    """What one hand-over (or its undo) is about: `plan.old` gives, `plan.new` receives."""

    plan: Plan
    label: str  # H-3
    actor: str
    note: str | None = None
    undo: bool = False


# -- building blocks ------------------------------------------------------------------------


class _Text:
    """Paragraphs and bulleted lists, as plain text and escaped HTML."""

    def __init__(self) -> None:
        self.body: list[str] = []
        self.html: list[str] = []

    def line(self, text: str) -> None:
        self.body.append(text)
        self.html.append(f"<p>{esc(text)}</p>")

    def items(self, head: str, items: list[str]) -> None:
        if not items:
            return
        self.body += [head, *(f"• {i}" for i in items)]
        self.html.append(f"<p><b>{esc(head)}</b></p><ul>")
        self.html += [f"<li>{esc(i)}</li>" for i in items]
        self.html.append("</ul>")

    def rendered(self) -> Rendered:
        return Rendered("\n".join(self.body), "".join(self.html))


def _marking(policy: Policy, holding: Holding) -> Marking | None:
    return policy.combine(holding.markings)


def _lines(holdings: list[Holding], reader: Reader, policy: Policy) -> tuple[list[str], list[str]]:
    """One line per object the reader may see (its roles together), and the IDs shown."""
    roles: dict[ObjectId, list[Holding]] = {}
    for holding in holdings:
        roles.setdefault(holding.oid, []).append(holding)
    lines, shown = [], []
    for oid, held in roles.items():
        mark = policy.combine(m for h in held for m in h.markings)
        seen = reader.shows(mark)
        if seen == "none":
            continue
        title = held[0].title if seen == "full" else withheld_cell(mark) if mark else ""
        if len(title) > _TITLE_MAX:
            title = title[: _TITLE_MAX - 1] + "…"
        named = ", ".join(role_shown(h.role) for h in held)
        lines.append(f"{oid} — {named}{colon()}{title}")
        shown.append(str(oid))
    return lines, shown


def _kept_lines(
    kept: tuple[Kept, ...], reader: Reader, policy: Policy, why: bool
) -> tuple[list[str], list[str]]:
    """What stays, each with its reason, and the IDs shown; a marking's reason only when
    `why` (an admin): otherwise that it is not releasable to the successor, no more."""
    out, shown = [], []
    for stays in kept:
        lines, ids = _lines([stays.holding], reader, policy)
        if not lines:
            continue
        reason = stays.shown() if (why or not stays.marking) else _("not releasable to them")
        out.append(f"{lines[0]} ({reason})")
        shown += ids
    return out, shown


def _posts_line(plan: Plan) -> str | None:
    if not plan.posts:
        return None
    return ngettext("Post: {posts}", "Posts: {posts}", len(plan.posts), posts=", ".join(plan.posts))


# -- the messages ---------------------------------------------------------------------------


async def tell_receiver(ctx: Context, said: Said, policy: Policy) -> None:
    """`plan.new`: the successor (what they now hold), or after an undo the person who had
    handed over (what is theirs again). One message."""
    plan = said.plan
    reader = await reader_for(ctx.db, ctx.settings, plan.new)
    with language(await ctx.language_for(user_id=plan.new)):
        text = _Text()
        if said.undo:
            text.line(
                _(
                    "{label} was undone by {actor}: what it gave {other} is yours again.",
                    label=said.label,
                    actor=who(said.actor),
                    other=who(plan.old),
                )
            )
        else:
            text.line(
                _(
                    "You now hold what {old} handed over to you ({label}, by {actor}).",
                    old=who(plan.old),
                    label=said.label,
                    actor=who(said.actor),
                )
            )
        lines, shown = _lines(list(plan.moves), reader, policy)
        text.items(_("Yours again:") if said.undo else _("Now yours:"), lines)
        if (posts := _posts_line(plan)) is not None:
            text.line(posts)
        if said.note:
            text.line(_("Note from {actor}: {note}", actor=who(said.actor), note=said.note))
        if lines:
            text.line(_("See each with {command}.", command=ctx.prefix + "show " + shown[0]))
    ctx.send(text.rendered(), user_id=plan.new, holds=tuple(shown), mentions=(plan.new,))


async def tell_giver(ctx: Context, said: Said, policy: Policy) -> None:
    """`plan.old`: the leaving person's summary, or after an undo the successor's notice
    that it is no longer theirs. (Not sent to whoever sent the command: the reply is it.)"""
    plan = said.plan
    reader = await reader_for(ctx.db, ctx.settings, plan.old)
    with language(await ctx.language_for(user_id=plan.old)):
        text = _Text()
        if said.undo:
            text.line(
                _(
                    "{label} was undone by {actor}: these are with {new} again.",
                    label=said.label,
                    actor=who(said.actor),
                    new=who(plan.new),
                )
            )
        else:
            text.line(
                _(
                    "{actor} handed over what you held to {new} ({label}).",
                    actor=who(said.actor),
                    new=who(plan.new),
                    label=said.label,
                )
            )
        lines, shown = _lines(list(plan.moves), reader, policy)
        text.items(_("No longer yours:"), lines)
        if (posts := _posts_line(plan)) is not None:
            text.line(posts)
        kept, kept_ids = _kept_lines(plan.kept, reader, policy, why=False)
        text.items(_("Still yours:"), kept)
        shown += kept_ids
    ctx.send(text.rendered(), user_id=plan.old, holds=tuple(dict.fromkeys(shown)))


async def tell_counterparts(ctx: Context, said: Said, policy: Policy, *, send: bool = True) -> int:
    """One message to each counterpart, naming only the objects they may read; how many
    were told (with `send` False: how many would be, for a dry run)."""
    plan = said.plan
    by_oid = {h.oid: h for h in plan.moves}
    told = 0
    people = plan.counterparts()
    langs = await languages_of(ctx.db, list(people), ctx.settings.language)
    for person, ids in people.items():
        reader = await reader_for(ctx.db, ctx.settings, person)
        lines, shown = [], []
        with language(langs[person]):
            for oid in ids:
                holding = by_oid[oid]
                if reader.shows(_marking(policy, holding)) != "full":
                    continue  # not theirs to read now: they learn nothing of it here
                lines.append(f"{oid}{colon()}{holding.title[:_TITLE_MAX]}")
                shown.append(str(oid))
            if not lines:
                continue
            if said.undo:
                head = _(
                    "Your contact is {new} again: {label} was undone.",
                    new=who(plan.new),
                    label=said.label,
                )
            else:
                head = _(
                    "{old} has handed over to {new}: your contact is now {new} for these.",
                    old=who(plan.old),
                    new=who(plan.new),
                )
            text = _Text()
            text.items(head, lines)
        if send:
            ctx.send(text.rendered(), user_id=person, holds=tuple(shown))
        told += 1
    return told


async def answer(ctx: Context, said: Said, policy: Policy, *, dry_run: bool, told: int) -> None:
    """The reply to whoever sent the command: the plan (dry run) or what was done, with
    what stays and why (a marking's reason to an admin only)."""
    plan = said.plan
    reader = await reader_here(ctx)
    text = _Text()
    if said.undo:
        text.line(_("{label} undone: back with {new}.", label=said.label, new=who(plan.new)))
    elif plan.empty:
        text.line(
            _(
                "Nothing to hand over from {old} to {new}: nothing changed.",
                old=who(plan.old),
                new=who(plan.new),
            )
        )
        text.items(
            _("Stays with {old}:", old=who(plan.old)),
            _kept_lines(plan.kept, reader, policy, why=ctx.is_admin)[0],
        )
        ctx.reply(text.rendered())
        return
    elif dry_run:
        text.line(
            _(
                "Hand-over from {old} to {new}, as it would be (dry run: nothing changed).",
                old=who(plan.old),
                new=who(plan.new),
            )
        )
    else:
        text.line(
            _(
                "{label}: handed over from {old} to {new}.",
                label=said.label,
                old=who(plan.old),
                new=who(plan.new),
            )
        )
    lines, _shown = _lines(list(plan.moves), reader, policy)
    head = _("Moves back:") if said.undo else _("Would move:") if dry_run else _("Moved:")
    text.items(head, lines)
    if (posts := _posts_line(plan)) is not None:
        text.line(posts)
    kept, _ids = _kept_lines(plan.kept, reader, policy, why=ctx.is_admin)
    text.items(_("Stays with {old}:", old=who(plan.old)), kept)
    if dry_run:
        text.line(
            ngettext(
                "{n} other person would be told who their new contact is. Send the same "
                "command without dry-run to do it.",
                "{n} other people would be told who their new contact is. Send the same "
                "command without dry-run to do it.",
                told,
            )
        )
        ctx.reply(text.rendered())
        return
    text.line(
        ngettext(
            "{n} other person was told who their contact is now.",
            "{n} other people were told who their contact is now.",
            told,
        )
    )
    if not said.undo:
        text.line(
            _(
                "To undo it (within a day): {command}",
                command=ctx.prefix + "dir handover undo " + said.label,
            )
        )
    ctx.reply(text.rendered())
