"""How every domain turns `marking=`/`rel=` into an object's marking, in one place: the
default chain (the object's own → the posts it concerns → the deployment's) and the check
that the creator could read what they create. A command never decides either on its own."""

from __future__ import annotations

import re
from collections.abc import Iterable

import aiosqlite

from commands.context import Context
from commands.errors import UserError
from commands.i18n import _, pgettext
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject
from commands.markings.model.reasons import is_reason, reason_shown
from commands.markings.store import subjects


async def post_default(
    db: aiosqlite.Connection,
    policy: Policy,
    *,
    posts: Iterable[str] = (),
    room_id: str | None = None,
) -> Marking | None:
    """The default marking the posts concerned ask for: the posts named (a request's
    target, a meeting's participants) and the post whose room this is. Several posts with
    defaults: the strictest combination, so none of them gets less than it asked for."""
    codes = sorted({c.upper() for c in posts if not c.startswith("@")})
    found: list[Marking | None] = []
    clauses: list[str] = []
    args: list[str] = []
    if codes:
        clauses.append(f"UPPER(code) IN ({','.join('?' * len(codes))})")
        args += codes
    if room_id:
        clauses.append("room_id = ?")
        args.append(room_id)
    if not clauses:
        return None
    async with db.execute(
        f"SELECT marking FROM posts WHERE marking IS NOT NULL AND ({' OR '.join(clauses)})", args
    ) as cur:
        for (text,) in await cur.fetchall():
            found.append(Marking.from_column(text))
    marked = [m for m in found if m is not None]
    if not marked:
        return None
    if len(marked) == 1:
        return marked[0]
    return policy.combine(marked)


def object_name(what: str) -> str:
    """The kind of object a domain names (`what=`: request, action item, summit, meeting,
    visit, remind) in the reader's language; anything else as it is."""
    names = {
        "request": pgettext("object", "request"),
        "action item": pgettext("object", "action item"),
        "summit": pgettext("object", "summit"),
        "meeting": pgettext("object", "meeting"),
        "visit": pgettext("object", "visit"),
        "remind": pgettext("object", "reminder"),
        "reminder": pgettext("object", "reminder"),
    }
    return names.get(what, what)


def refuse_unreadable(
    policy: Policy, mark: Marking | None, creator: Subject, what: str, example: str
) -> None:
    """A marked object its own creator is not covered by would be withheld from them (their
    own copy, their thread): refuse it at creation, saying how to write it instead."""
    reason = policy.exclusion(mark, creator)
    if reason is None or mark is None:
        return
    if creator.nation is None:
        raise UserError(
            _(
                "You have no nation in the directory, so you cannot create a marked {what} "
                "({banner}): you could not read it yourself. Ask an admin to set your nation "
                "({command}), or leave {marking} and {rel} off.",
                what=object_name(what),
                banner=mark.shown(),
                command="!dir person " + creator.user_id + " nation=FRA",
                marking="marking=",
                rel="rel=",
            ),
        )
    if creator.nation not in policy.nations_of(mark.rel):
        fixed = ",".join(dict.fromkeys((creator.nation, *mark.rel)))
        raise UserError(
            _(
                "{option} does not include your own nation ({nation}): you could not read "
                "your own {what}.",
                option="rel=" + ",".join(mark.rel),
                nation=creator.nation,
                what=object_name(what),
            ),
            example=_with_rel(example, fixed),
        )
    lowered = example.replace("RESTRICTED", policy.lowest).replace("CONFIDENTIAL", policy.lowest)
    if is_reason(reason, "unverified"):
        raise UserError(
            _(
                "You could not read your own {what} ({banner}): {reason}.",
                what=object_name(what),
                banner=mark.shown(),
                reason=reason_shown(reason, mine=True),
            ),
            example=lowered,
        )
    raise UserError(
        _(
            "You could not read your own {what} ({banner}): {reason}. Mark it at a level "
            "you hold, or ask an admin to check your clearance in the directory.",
            what=object_name(what),
            banner=mark.shown(),
            reason=reason_shown(reason, mine=True),
        ),
        example=lowered,
    )


def _with_rel(example: str, rel: str) -> str:
    if "rel=" in example:
        return re.sub(r"rel=\S+", f"rel={rel}", example)
    return f"{example} rel={rel}"


async def marking_for(
    ctx: Context,
    marking: str | None,
    rel: str | None,
    *,
    what: str,
    example: str,
    own: Marking | None = None,
    posts: Iterable[str] = (),
    room_id: str | None = None,
) -> Marking | None:
    """The marking of an object being created or edited by the sender.

    Default chain when an option is left off: `own` (an edited object's current marking,
    a summit's default for its items), else the posts concerned (`posts`, the post whose
    room `room_id` is), else the deployment's. Refuses a result the sender could not read.
    """
    policy = Policy.from_settings(ctx.settings)
    default = own
    if default is None:
        default = await post_default(ctx.db, policy, posts=posts, room_id=room_id)
    mark = policy.parse(marking, rel, example=example, default=default)
    creator = (await subjects(ctx.db, [ctx.sender]))[0]
    refuse_unreadable(policy, mark, creator, what, example)
    return mark
