"""Parties a marked object is not released to are refused when it is made or changed.

An addressee, owner or participant the object is not released to could never read it or
act on it (commands/markings/access.py hides it from them), and would never learn that it
is theirs: such a party is refused at creation and at every change of the party or the
marking, and nothing changes. A person named must be covered; a post must have at least
one member who is (the others are left out at send time, and the sender is told).

The refusal names the parties, never why (a clearance is nobody else's business); its
example widens `rel=` by the parties' nations when that would cover them (the originator
decides whether it may), else it shows how to look the party up in the directory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from commands.context import Context
from commands.directory.service import people_of
from commands.errors import UserError
from commands.i18n import _, pgettext
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject
from commands.markings.store import subjects
from commands.markings.wiring import object_name
from commands.render import person


def role_name(role: str) -> str:
    names = {
        "addressee": pgettext("party", "addressee"),
        "owner": pgettext("party", "owner"),
        "participant": pgettext("party", "participant"),
        "item owner": pgettext("party", "item owner"),
    }
    return names.get(role, role)


async def uncovered(
    ctx: Context, policy: Policy, mark: Marking | None, parties: Sequence[str]
) -> list[tuple[str, list[Subject]]]:
    """Each party (a Matrix ID or a post code) the marking is not released to, with the
    people it stands for."""
    out: list[tuple[str, list[Subject]]] = []
    if policy.covers(mark, Subject("")):
        return out
    for party in dict.fromkeys(parties):
        people = await subjects(ctx.db, await people_of(ctx.db, [party]))
        if not any(policy.covers(mark, p) for p in people):
            out.append((party, people))
    return out


def widened(
    policy: Policy, mark: Marking, left_out: list[tuple[str, list[Subject]]]
) -> Marking | None:
    """`mark` with the parties' nations added to its rel, if that covers every party."""
    nations = sorted({p.nation for _party, people in left_out for p in people if p.nation})
    if not nations:
        return None
    wider = Marking(mark.level, (*mark.rel, *nations))
    if all(any(policy.covers(wider, p) for p in people) for _party, people in left_out):
        return wider
    return None


def with_marking(example: str, mark: Marking | None) -> str:
    """`example` (a command with marking=/rel= options, or none) carrying `mark` instead."""
    bare = re.sub(r"\s(?:marking|rel)=\S*", "", example, flags=re.IGNORECASE)
    if mark is None:
        return bare
    return f"{bare} marking={mark.level} rel={','.join(mark.rel)}"


async def refuse_uncovered(
    ctx: Context,
    mark: Marking | None,
    parties: Sequence[str],
    *,
    what: str,
    role: str,
    command: str | None = None,
) -> None:
    """Raise the user's error if the marking is not released to one of the parties.

    `command`: the sender's command as they wrote it (default: the incoming one); the
    example is it with `rel=` widened, or (when no nation would do) how to look the party
    up in the directory."""
    policy = Policy.from_settings(ctx.settings)
    left_out = await uncovered(ctx, policy, mark, parties)
    if not left_out or mark is None:
        return
    names = ", ".join(person(p) if p.startswith("@") else p for p, _people in left_out)
    unchecked = replace(policy, verified_for_marking=None)
    if not await uncovered(ctx, unchecked, mark, [p for p, _people in left_out]):
        # Only verification keeps it from them: whether someone is verified is no secret
        # (!whois shows it), and widening rel= would not help.
        raise UserError(
            _(
                "Not releasable to {people} yet: this {what} is marked {banner}, and items "
                "marked {level} or above go only to people whose identity is verified. Ask "
                "an admin to verify them ({command}), or mark it lower.",
                people=names,
                what=object_name(what),
                banner=mark.banner,
                level=str(policy.verified_for_marking),
                command=ctx.prefix + "verify",
            ),
            example=f"{ctx.prefix}whois {left_out[0][0]}",
        )
    wider = widened(policy, mark, left_out)
    if wider is not None:
        typed = command if command is not None else ctx.incoming.body if ctx.incoming else ""
        example = with_marking(typed.strip(), wider)
    else:
        example = f"{ctx.prefix}whois {left_out[0][0]}"
    raise UserError(
        _(
            "Not releasable to {people}: this {what} is marked {banner}, so as its {role} "
            "they could neither read it nor act on it. Name only people and posts it is "
            "releasable to, or widen {rel} if it may be released to them.",
            what=object_name(what),
            banner=mark.banner,
            people=names,
            role=role_name(role),
            rel="rel=",
        ),
        example=example,
    )
