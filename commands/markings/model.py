"""Markings and releasability, pure: levels, nations, groups, the ceiling, who is covered.

No SQL and no Matrix here. The runtime (bot/outbox.py) asks `exclusion()` about every
recipient of a marked message just before it is sent; commands ask `Policy.parse()` when a
person writes `marking=` or `rel=`. The bot applies these rules; it does not replace an
accredited system (see docs/OPERATIONS.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pycountry

from commands.errors import UserError

# ISO 3166-1 alpha-3, from pycountry's copy of the ISO tables (not a table kept here).
NATIONS: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.countries)
LEVEL_NAME = re.compile(r"[A-Z][A-Z0-9_-]{0,39}")
GROUP_NAME = re.compile(r"[A-Z][A-Z0-9_-]{1,19}")
REL_EXAMPLE = "rel=FRA,DEU or rel=FVEY"


def parse_nation(text: str) -> str:
    """One nation as ISO 3166-1 alpha-3 (a person's or a post's); "-" or "" clears it.

    Raises ValueError naming the right form (the registry turns it into the user's error)."""
    code = text.strip().upper()
    if code in ("", "-"):
        return ""
    if code in NATIONS:
        return code
    hint = ""
    if len(code) == 2 and (country := pycountry.countries.get(alpha_2=code)) is not None:
        hint = f" (for {country.name} write {country.alpha_3})"
    raise ValueError(
        f"{text.strip()!r} is not a nation{hint}: write an ISO 3166-1 alpha-3 code "
        "such as FRA, DEU or USA, or - to clear"
    )


def marking_example(settings: Any) -> str:
    """A level for examples in errors: the second lowest this deployment may carry (an
    example must work when copied)."""
    policy = Policy.from_settings(settings)
    return policy.levels[min(1, policy.rank(policy.ceiling) or 0)]


def nation_name(code: str) -> str:
    country = pycountry.countries.get(alpha_3=code)
    return str(country.name) if country is not None else code


@dataclass(frozen=True)
class Marking:
    """A level and who it is releasable to (nations and group names, as written).

    Groups stay named (the banner says `REL TO FVEY`) and are expanded with the
    configuration in force when a message is sent; a group the operator has since removed
    covers nobody (fail closed).
    """

    level: str
    rel: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Each nation or group once, in the order written (the banner reads as the
        # originator wrote it); coverage compares the expanded sets, not this order.
        object.__setattr__(self, "rel", tuple(dict.fromkeys(self.rel)))

    @property
    def banner(self) -> str:
        """`RESTRICTED // REL TO FRA, DEU`: the line every message about the object starts with."""
        return f"{self.level} // REL TO {', '.join(self.rel)}" if self.rel else self.level

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "rel": list(self.rel)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Marking | None:
        if not data:
            return None
        return cls(level=str(data["level"]), rel=tuple(str(r) for r in data.get("rel") or ()))

    @classmethod
    def from_column(cls, text: str | None) -> Marking | None:
        """An object's `marking` column (JSON, NULL = unmarked)."""
        return cls.from_json(json.loads(text)) if text else None

    @staticmethod
    def column(marking: Marking | None) -> str | None:
        return json.dumps(marking.to_json()) if marking is not None else None


@dataclass(frozen=True)
class Subject:
    """A recipient as the directory knows them: nation and clearance may be unset."""

    user_id: str
    nation: str | None = None
    clearance: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.user_id})" if self.name else self.user_id


@dataclass(frozen=True)
class Remarked:
    """What a change of marking means for the people concerned.

    withdrawn: had it and are no longer covered (told it was re-marked, sent nothing more);
    newly: covered now and not before (they get it now).
    """

    withdrawn: tuple[tuple[Subject, str], ...]
    newly: tuple[Subject, ...]
    stricter: bool


@dataclass(frozen=True)
class Policy:
    """The deployment's rules: ordered levels (lowest first), groups, ceiling and defaults."""

    levels: tuple[str, ...] = ("UNCLASSIFIED",)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_marking: str | None = None  # None: the highest level
    default_marking: str | None = None  # None: the lowest level
    default_rel: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(
            levels=tuple(settings.marking_levels),
            groups={k: frozenset(v) for k, v in settings.marking_groups.items()},
            max_marking=settings.max_marking,
            default_marking=settings.default_marking,
            default_rel=tuple(settings.default_rel),
        )

    # -- levels ------------------------------------------------------------------------

    @property
    def lowest(self) -> str:
        return self.levels[0]

    @property
    def ceiling(self) -> str:
        return self.max_marking or self.levels[-1]

    def rank(self, level: str) -> int | None:
        try:
            return self.levels.index(level)
        except ValueError:
            return None

    # -- nations and groups ------------------------------------------------------------

    def nations_of(self, rel: Iterable[str]) -> frozenset[str]:
        """Nations covered by a rel: codes as they are, groups expanded; unknown: nobody."""
        out: set[str] = set()
        for token in rel:
            if token in NATIONS:
                out.add(token)
            else:
                out |= self.groups.get(token, frozenset())
        return frozenset(out)

    def rel_token(self, text: str, example: str) -> str:
        token = text.strip().upper()
        if token in NATIONS or token in self.groups:
            return token
        hint = ""
        if len(token) == 2:
            country = pycountry.countries.get(alpha_2=token)
            if country is not None:
                hint = f" (for {country.name} write {country.alpha_3})"
        groups = f"; groups here: {', '.join(sorted(self.groups))}" if self.groups else ""
        raise UserError(
            f"{text.strip() or '(empty)'!r} is not a nation or a group{hint}. Write nations "
            f"as ISO 3166-1 alpha-3 codes (FRA, DEU, USA){groups}.",
            example=example,
        )

    # -- parsing what people write -----------------------------------------------------

    def parse(
        self,
        marking: str | None,
        rel: str | None,
        *,
        example: str = "marking=RESTRICTED rel=FRA,DEU",
        default: Marking | None = None,
    ) -> Marking | None:
        """`marking=` and `rel=` options (either may be absent) → a Marking, or None when the
        result is unmarked (the lowest level, releasable without restriction).

        `default` is the room's default marking (domain wiring); else the deployment's.
        Raises UserError for an unknown level, nation or group, or a level above the ceiling.
        """
        base = default if default is not None else self.default()
        level = base.level if base is not None else self.lowest
        if marking is not None:
            level = self.level(marking, example)
        tokens: tuple[str, ...] = base.rel if base is not None else ()
        if rel is not None:
            parts = [p for p in rel.split(",") if p.strip()]
            if not parts:
                raise UserError("rel= names no nation or group.", example=example)
            tokens = tuple(self.rel_token(p, example) for p in parts)
        if level == self.lowest and not tokens:
            return None
        if not tokens:
            raise UserError(
                f"A {level} item must say who it is releasable to ({REL_EXAMPLE}); "
                "nobody receives it otherwise.",
                example=example,
            )
        if not self.nations_of(tokens):
            raise UserError(
                f"rel={','.join(tokens)} covers no nation (an empty group?).", example=example
            )
        return Marking(level=level, rel=tokens)

    def clearance(self, text: str, example: str) -> str:
        """A person's clearance: one of the levels (it may be above this system's ceiling,
        it is what the person holds); "-" or "" clears it."""
        level = text.strip().upper()
        if level in ("", "-"):
            return ""
        if self.rank(level) is None:
            raise UserError(
                f"{text.strip()!r} is not a marking level here; levels, lowest first: "
                f"{' < '.join(self.levels)} (or - to clear).",
                example=example,
            )
        return level

    def level(self, text: str, example: str) -> str:
        level = text.strip().upper()
        rank = self.rank(level)
        if rank is None:
            raise UserError(
                f"{text.strip() or '(empty)'!r} is not a marking level here; levels, lowest "
                f"first: {' < '.join(self.levels)}.",
                example=example,
            )
        ceiling = self.rank(self.ceiling)
        assert ceiling is not None
        if rank > ceiling:
            raise UserError(
                f"This system may carry at most {self.ceiling}; {level} material must not be "
                "put into it. Use the channel accredited for it.",
                example=example.replace("RESTRICTED", self.ceiling),
            )
        return level

    def combine(self, markings: Iterable[Marking | None]) -> Marking | None:
        """The one marking a file or message holding all these objects must carry: the
        highest level, releasable only to the nations every marked one is releasable to
        (the rel kept as written when all agree). None when all are unmarked; a Marking
        with an empty rel when no nation is common to all (it then reaches nobody)."""
        marked = [m for m in markings if m is not None and not self.covers(m, Subject(""))]
        if not marked:
            return None
        level = max((m.level for m in marked), key=lambda lv: self.rank(lv) or 0)
        if all(m.rel == marked[0].rel for m in marked):
            return Marking(level, marked[0].rel)
        common = frozenset.intersection(*(self.nations_of(m.rel) for m in marked))
        return Marking(level, tuple(sorted(common)))

    def default(self) -> Marking | None:
        """The deployment's default marking (None: unmarked)."""
        level = self.default_marking or self.lowest
        if level == self.lowest and not self.default_rel:
            return None
        return Marking(level=level, rel=self.default_rel)

    # -- coverage ----------------------------------------------------------------------

    def exclusion(self, marking: Marking | None, person: Subject) -> str | None:
        """Why this person must not receive an object with this marking, or None if they may.

        Covered: nation in the rel (groups expanded), and clearance (when set) at or above
        the level. No nation: unmarked objects only. Anything unknown fails closed.
        """
        if marking is None or (marking.level == self.lowest and not marking.rel):
            return None  # the lowest level releasable to all is what unmarked means
        rank = self.rank(marking.level)
        if rank is None:
            return f"{marking.level} is not one of this system's levels any more"
        if rank > (self.rank(self.ceiling) or 0):
            return f"this system may carry at most {self.ceiling}"
        if person.nation is None:
            return "they have no nation in the directory, so they receive only unmarked items"
        if not marking.rel:
            return f"{marking.level} without REL TO is releasable to no nation"
        if person.nation not in self.nations_of(marking.rel):
            return f"their nation ({person.nation}) is not in REL TO {', '.join(marking.rel)}"
        if person.clearance is not None:
            held = self.rank(person.clearance)
            if held is None:
                return f"their clearance ({person.clearance}) is not one of this system's levels"
            if held < rank:
                return f"their clearance ({person.clearance}) is below {marking.level}"
        return None

    def covers(self, marking: Marking | None, person: Subject) -> bool:
        return self.exclusion(marking, person) is None

    def stricter(self, old: Marking | None, new: Marking | None) -> bool:
        """Whether going from old to new could exclude someone (a raise or a narrowing)."""
        if new is None:
            return False
        if old is None:
            return True
        if (self.rank(new.level) or 0) > (self.rank(old.level) or 0):
            return True
        return not self.nations_of(new.rel) >= self.nations_of(old.rel)

    def remark(
        self,
        old: Marking | None,
        new: Marking | None,
        holders: Iterable[Subject],
        addressees: Iterable[Subject],
    ) -> Remarked:
        """Re-check everyone who already has the object and find who newly may have it.

        holders: people it was delivered to; addressees: everyone it is for (holders or not).
        """
        held = list(holders)
        held_ids = {p.user_id for p in held}
        withdrawn = tuple(
            (p, reason) for p in held if (reason := self.exclusion(new, p)) is not None
        )
        newly = tuple(
            p
            for p in addressees
            if p.user_id not in held_ids and self.covers(new, p) and not self.covers(old, p)
        )
        return Remarked(withdrawn=withdrawn, newly=newly, stricter=self.stricter(old, new))


def remarked_notice(about: str, new: Marking | None) -> str:
    """What a holder no longer covered is told: the fact, never the content."""
    now = new.banner if new is not None else "unmarked"
    return (
        f"{about} was re-marked {now}; it is no longer releasable to you, and you will "
        "receive nothing more about it."
    )
