"""A hand-over at rotation, as pure rules: what moves from the leaving person to their
successor, what stays with them and why, and who must be told.

No SQL and no Context: `handover_store` reads what the person holds and writes the moves,
`handover_chat` declares the command and says what happened. One rule decides each object:
it moves unless the successor may not read it (its marking, or its summit's: the markings'
one rule, `Policy.exclusion`), the successor is already its other party (a request from one
to the other), or it is addressed to a post the leaving person keeps (`post=`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from commands.i18n import N_, _, pgettext
from commands.ids import ObjectId
from commands.markings.model.marking import Marking
from commands.markings.model.policy import Policy, Subject
from commands.markings.model.reasons import reason_shown

# How long a hand-over can be undone: a day, long enough to notice a wrong successor.
UNDO_WINDOW = timedelta(days=1)

# What the leaving person is to an object: the request's requester or addressee, the
# item's owner, the meeting's or visit's organiser or participant.
ROLES = ("requester", "addressee", "owner", "organiser", "participant")

# Why an object stays with the leaving person, besides its marking.
OTHER_SIDE = "other side"
OTHER_POST = "other post"
_KEPT = {
    OTHER_SIDE: N_("the successor is its other party"),
    OTHER_POST: N_("it is addressed to {post}, which stays with them"),
}


@dataclass(frozen=True)
class Holding:
    """One object the leaving person holds, in one role."""

    oid: ObjectId
    role: str
    title: str
    # Its own marking, and a containing object's (an action item's summit): the successor
    # must be covered by every one of them.
    markings: tuple[Marking | None, ...] = ()
    # Who deals with the leaving person about it (the other side): told the new contact.
    counterparts: tuple[str, ...] = ()
    other_side: bool = False  # the successor is already its other party
    via_post: str | None = None  # held through this post (a request addressed to it)


@dataclass(frozen=True)
class Kept:
    """An object that stays with the leaving person, and why (a markings Reason, or one of
    OTHER_SIDE, OTHER_POST)."""

    holding: Holding
    reason: str

    def shown(self) -> str:
        """Why, in the reader's language."""
        if self.reason in _KEPT:
            return _(_KEPT[self.reason], post=self.holding.via_post or "-")
        return reason_shown(self.reason)

    @property
    def marking(self) -> bool:
        """Kept because of a marking (its reason is nobody's business but an admin's)."""
        return self.reason not in _KEPT


@dataclass(frozen=True)
class Plan:
    old: str
    new: str
    moves: tuple[Holding, ...]
    kept: tuple[Kept, ...]
    posts: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.moves and not self.posts

    def moved_ids(self) -> list[ObjectId]:
        """Each moved object once, in order."""
        return list(dict.fromkeys(h.oid for h in self.moves))

    def counterparts(self) -> dict[str, list[ObjectId]]:
        """Each person to tell, once, with the moved objects they deal with (in order)."""
        out: dict[str, list[ObjectId]] = {}
        for holding in self.moves:
            for who in holding.counterparts:
                if who in (self.old, self.new):
                    continue
                mine = out.setdefault(who, [])
                if holding.oid not in mine:
                    mine.append(holding.oid)
        return out


def make_plan(
    old: str,
    new: str,
    holdings: Iterable[Holding],
    posts: Sequence[str],
    *,
    policy: Policy,
    successor: Subject,
    only_post: str | None = None,
) -> Plan:
    """What moves and what stays. `posts`: the leaving person's posts; `only_post`: hand
    over that one only (the others, and what is addressed to them, stay)."""
    kept_posts = {p for p in posts if only_post is not None and p != only_post}
    moves: list[Holding] = []
    kept: list[Kept] = []
    for holding in sorted(holdings, key=_order):
        reason = _why_kept(holding, policy, successor, kept_posts)
        if reason is None:
            moves.append(holding)
        else:
            kept.append(Kept(holding, reason))
    moving_posts = tuple(p for p in posts if p not in kept_posts)
    return Plan(old, new, tuple(moves), tuple(kept), moving_posts)


def _why_kept(
    holding: Holding, policy: Policy, successor: Subject, kept_posts: set[str]
) -> str | None:
    for marking in holding.markings:
        reason = policy.exclusion(marking, successor)
        if reason is not None:
            return reason
    if holding.other_side:
        return OTHER_SIDE
    if holding.via_post is not None and holding.via_post in kept_posts:
        return OTHER_POST
    return None


_KIND_ORDER = {"LR": 0, "A": 1, "M": 2, "V": 3}


def _order(holding: Holding) -> tuple[int, int, int]:
    return (
        _KIND_ORDER.get(holding.oid.kind, 9),
        holding.oid.number,
        ROLES.index(holding.role) if holding.role in ROLES else 9,
    )


def role_shown(role: str) -> str:
    """What the holder is to an object, in the reader's language."""
    names = {
        "requester": pgettext("handover role", "requester"),
        "addressee": pgettext("handover role", "addressee"),
        "owner": pgettext("handover role", "owner"),
        "organiser": pgettext("handover role", "organiser"),
        "participant": pgettext("handover role", "participant"),
    }
    return names.get(role, role)


def parse_handover_id(text: str) -> int:
    """`H-3` -> 3."""
    return ObjectId.parse(text, "H").number
