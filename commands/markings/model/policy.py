"""Releasability, pure: who may receive a marked object, reading marking= and rel=, combining
markings, and what a re-marking means for who already holds the object."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pycountry

from commands.errors import UserError
from commands.i18n import _
from commands.markings.model.levels import Ladder
from commands.markings.model.marking import Marking, set_banner_form
from commands.markings.model.nations import NATIONS, nation_name
from commands.markings.model.reasons import REASONS, Reason
from commands.trust_levels import Pins

GROUP_NAME = re.compile(r"[A-Z][A-Z0-9_-]{1,19}")
REL_EXAMPLE = "rel=FRA,DEU or rel=FVEY"


@dataclass(frozen=True)
class Subject:
    """A recipient as the directory knows them: nation and clearance may be unset."""

    user_id: str
    nation: str | None = None
    clearance: str | None = None
    name: str | None = None
    language: str | None = None  # theirs (!lang, the directory); None: the deployment's
    # The master key their verification is of, when the store's still holds (its key is the
    # stored pin, nothing waiting); Policy.verified judges it against the configured pins.
    verified_key: str | None = None

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
class Policy(Ladder):
    """The deployment's rules: its level ladder, groups of nations, and defaults."""

    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default_marking: str | None = None  # None: the lowest level
    default_rel: tuple[str, ...] = ()
    verified_for_marking: str | None = None  # this level and above: verified people only
    pins: Pins = field(default_factory=Pins)
    prefix: str = "!"  # commands named in a reason (how to get verified)

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        set_banner_form(getattr(settings, "marking_banner", None))
        return cls(
            levels=tuple(settings.marking_levels),
            groups={k: frozenset(v) for k, v in settings.marking_groups.items()},
            max_marking=settings.max_marking,
            default_marking=settings.default_marking,
            default_rel=tuple(settings.default_rel),
            verified_for_marking=getattr(settings, "verified_for_marking", None),
            pins=Pins.from_settings(settings),
            prefix=getattr(settings, "command_prefix", "!"),
        )

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
        shown = text.strip() or _("(empty)")
        country = pycountry.countries.get(alpha_2=token) if len(token) == 2 else None
        groups = ", ".join(sorted(self.groups))
        if country is not None and self.groups:
            message = _(
                "{text!r} is not a nation or a group (for {country} write {code}). Write "
                "nations as ISO 3166-1 alpha-3 codes (FRA, DEU, USA); groups here: {groups}.",
                text=shown,
                country=nation_name(country.alpha_3),
                code=country.alpha_3,
                groups=groups,
            )
        elif country is not None:
            message = _(
                "{text!r} is not a nation or a group (for {country} write {code}). Write "
                "nations as ISO 3166-1 alpha-3 codes (FRA, DEU, USA).",
                text=shown,
                country=nation_name(country.alpha_3),
                code=country.alpha_3,
            )
        elif self.groups:
            message = _(
                "{text!r} is not a nation or a group. Write nations as ISO 3166-1 alpha-3 "
                "codes (FRA, DEU, USA); groups here: {groups}.",
                text=shown,
                groups=groups,
            )
        else:
            message = _(
                "{text!r} is not a nation or a group. Write nations as ISO 3166-1 alpha-3 "
                "codes (FRA, DEU, USA).",
                text=shown,
            )
        raise UserError(message, example=example)

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
        if rel is not None and rel.strip() == "-":
            tokens = ()  # cleared, as `-` clears elsewhere: then only the lowest level passes
        elif rel is not None:
            parts = [p for p in rel.split(",") if p.strip()]
            if not parts:
                raise UserError(
                    _("{option} names no nation or group.", option="rel="), example=example
                )
            tokens = tuple(self.rel_token(p, example) for p in parts)
        if level == self.lowest and not tokens:
            return None
        if not tokens:
            raise UserError(
                _(
                    "A {level} item must say who it is releasable to ({example}); "
                    "nobody receives it otherwise.",
                    level=level,
                    example=REL_EXAMPLE,
                ),
                example=example,
            )
        if not self.nations_of(tokens):
            raise UserError(
                _(
                    "{option} covers no nation (an empty group?).",
                    option="rel=" + ",".join(tokens),
                ),
                example=example,
            )
        return Marking(level=level, rel=tokens)

    def combine(self, markings: Iterable[Marking | None]) -> Marking | None:
        """The one marking a file or message holding all these objects must carry: the
        highest level, releasable only to the nations every marked one is releasable to
        (the rel kept as written when all agree). None when all are unmarked; a Marking
        with an empty rel when no nation is common to all (it then reaches nobody)."""
        marked = [m for m in markings if m is not None and not self.covers(m, Subject(""))]
        if not marked:
            return None
        level = max((m.level for m in marked), key=self._severity)
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

    def exclusion(self, marking: Marking | None, person: Subject) -> Reason | None:
        """Why this person must not receive an object with this marking, or None if they may.

        Covered: nation in the rel (groups expanded), and clearance (when set) at or above
        the level. No nation: unmarked objects only. Anything unknown fails closed.
        """
        if marking is None or (marking.level == self.lowest and not marking.rel):
            return None  # the lowest level releasable to all is what unmarked means
        rank = self.rank(marking.level)
        if rank is None:
            return Reason(*REASONS["gone"], level=marking.level)
        if rank > (self.rank(self.ceiling) or 0):
            return Reason(*REASONS["ceiling"], ceiling=self.ceiling)
        if person.nation is None:
            return Reason(*REASONS["stateless"])
        if not marking.rel:
            return Reason(*REASONS["no rel"], level=marking.level)
        if person.nation not in self.nations_of(marking.rel):
            return Reason(*REASONS["nation"], nation=person.nation, rel=", ".join(marking.rel))
        if person.clearance is not None:
            held = self.rank(person.clearance)
            if held is None:
                return Reason(*REASONS["unknown clearance"], clearance=person.clearance)
            if held < rank:
                return Reason(
                    *REASONS["clearance"], clearance=person.clearance, level=marking.level
                )
        if self.needs_verification(marking.level) and not self.verified(person):
            return Reason(
                *REASONS["unverified"],
                level=str(self.verified_for_marking),
                command=f"{self.prefix}verify {person.user_id}",
            )
        return None

    def needs_verification(self, level: str) -> bool:
        """Whether only verified people may receive this (marked) level: at or above
        verified_for_marking; a level this system does not know, yes (fail closed)."""
        if self.verified_for_marking is None:
            return False
        threshold, rank = self.rank(self.verified_for_marking), self.rank(level)
        return threshold is None or rank is None or rank >= threshold

    def verified(self, person: Subject) -> bool:
        """Whether this person's identity is verified (commands/trust_levels.py's rule)."""
        key = person.verified_key
        return key is not None and self.pins.holds(
            person.user_id, stored=key, pending=None, verified=key
        )

    def covers(self, marking: Marking | None, person: Subject) -> bool:
        return self.exclusion(marking, person) is None

    def stricter(self, old: Marking | None, new: Marking | None) -> bool:
        """Whether going from old to new could exclude someone (a raise or a narrowing)."""
        if new is None:
            return False
        if old is None:
            return True
        if self._severity(new.level) > self._severity(old.level):
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


def marking_example(settings: Any) -> str:
    """A level for examples in errors: the second lowest this deployment may carry (an
    example must work when copied)."""
    policy = Policy.from_settings(settings)
    return policy.levels[min(1, policy.rank(policy.ceiling) or 0)]


def remarked_notice(about: str, new: Marking | None) -> str:
    """What a holder no longer covered is told, in the current reader's language: the fact,
    never the content."""
    if new is None:
        return _(
            "{id} was re-marked unmarked; it is no longer releasable to you, and you will "
            "receive nothing more about it.",
            id=about,
        )
    return _(
        "{id} was re-marked {banner}; it is no longer releasable to you, and you will "
        "receive nothing more about it.",
        id=about,
        banner=new.shown(),
    )
