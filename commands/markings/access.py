"""The one rule every command's object lookup goes through: a marked object that is not
released to the person naming it does not exist for them.

Each domain keeps its own party rule (who is a requester, an owner, a participant) and its
own "No such …" answer; `resolve` adds releasability on top, the same way for every kind,
so the answer for `LR-6` released to someone else is byte for byte the answer for an
`LR-6` that was never made, and the command stops before it changes anything. Admins are
no exception: releasability is about nations and clearances, not roles. Anything unknown
(a removed level, a person without a nation) withholds (Policy.exclusion fails closed).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from commands.context import Context
from commands.errors import NotFound
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject
from commands.markings.store import subjects


class Marked(Protocol):
    @property
    def marking(self) -> Marking | None: ...


T = TypeVar("T", bound=Marked)


def unmarked(policy: Policy, marking: Marking | None) -> bool:
    """Releasable to everyone (no nation needed): what `marking=None` means."""
    return policy.covers(marking, Subject(""))


async def released_to_sender(ctx: Context, markings: Iterable[Marking | None]) -> bool:
    """Whether every one of these markings covers the person who sent the command.

    No sender (a scheduled job): only what is unmarked. The directory is read only when
    something is marked."""
    policy = Policy.from_settings(ctx.settings)
    marks = [m for m in markings if not unmarked(policy, m)]
    if not marks:
        return True
    if ctx.person is None:
        return False
    me = (await subjects(ctx.db, [ctx.person.user_id]))[0]
    return all(policy.covers(m, me) for m in marks)


async def resolve(
    ctx: Context,
    found: T | None,
    *,
    may_see: Callable[[T], Awaitable[bool] | bool],
    missing: Callable[[], NotFound],
    also: Iterable[Marking | None] = (),
) -> T:
    """`found` if it exists, the domain lets the sender see it (`may_see`) and its marking
    (and `also`: a containing object's, e.g. an item's summit) is released to the sender;
    otherwise `missing()`, the domain's answer for an ID that does not exist."""
    if found is None:
        raise missing()
    allowed = may_see(found)
    if inspect.isawaitable(allowed):
        allowed = await allowed
    if not allowed or not await released_to_sender(ctx, [found.marking, *also]):
        raise missing()
    return found
