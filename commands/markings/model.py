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
from commands.i18n import N_, SOURCE, _, current

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
    if len(code) == 2 and (country := pycountry.countries.get(alpha_2=code)) is not None:
        raise ValueError(
            _(
                "{text!r} is not a nation (for {country} write {code}): write an ISO 3166-1 "
                "alpha-3 code such as FRA, DEU or USA, or - to clear",
                text=text.strip(),
                country=nation_name(country.alpha_3),
                code=country.alpha_3,
            )
        )
    raise ValueError(
        _(
            "{text!r} is not a nation: write an ISO 3166-1 alpha-3 code such as FRA, DEU or "
            "USA, or - to clear",
            text=text.strip(),
        )
    )


def marking_example(settings: Any) -> str:
    """A level for examples in errors: the second lowest this deployment may carry (an
    example must work when copied)."""
    policy = Policy.from_settings(settings)
    return policy.levels[min(1, policy.rank(policy.ceiling) or 0)]


def nation_name(code: str) -> str:
    """A nation's name in the reader's language (English: ISO's, as before; others: CLDR's
    through Babel, loaded only then)."""
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return code
    if current() != SOURCE:
        from babel import Locale

        local = Locale.parse(current()).territories.get(country.alpha_2)
        if local:
            return str(local)
    return str(country.name)


class Reason(str):
    """Why someone is not covered by a marking. As a string it is the English sentence (what
    the audit and a request's history keep); `shown()` is that sentence in the current
    reader's language, and `shown(mine=True)` addressed to the person it is about."""

    message: str
    mine: str | None
    values: dict[str, str]

    def __new__(cls, message: str, mine: str | None = None, **values: str) -> Reason:
        self = super().__new__(cls, message.format(**values))
        self.message, self.mine, self.values = message, mine, values
        return self

    def shown(self, *, mine: bool = False) -> str:
        text = self.mine if mine and self.mine else self.message
        return _(text, **self.values)


# Every reason Policy.exclusion gives: (about them, addressed to them).
REASONS: dict[str, tuple[str, str | None]] = {
    "gone": (N_("{level} is not one of this system's levels any more"), None),
    "ceiling": (N_("this system may carry at most {ceiling}"), None),
    "stateless": (
        N_("they have no nation in the directory, so they receive only unmarked items"),
        N_("you have no nation in the directory, so you receive only unmarked items"),
    ),
    "no rel": (N_("{level} without REL TO is releasable to no nation"), None),
    "nation": (
        N_("their nation ({nation}) is not in REL TO {rel}"),
        N_("your nation ({nation}) is not in REL TO {rel}"),
    ),
    # About them: never the clearance itself (the sender, a request's history and the
    # audit read these; !whois shows a clearance only to its holder and admins).
    "unknown clearance": (
        N_("their clearance in the directory is not one of this system's levels"),
        N_("your clearance ({clearance}) is not one of this system's levels"),
    ),
    "clearance": (
        N_("their clearance does not cover {level}"),
        N_("your clearance ({clearance}) is below {level}"),
    ),
}


def reason_shown(reason: str, *, mine: bool = False) -> str:
    """A reason from `Policy.exclusion` in the reader's language (any other text as it is)."""
    return reason.shown(mine=mine) if isinstance(reason, Reason) else reason


# The deployment's banner form (settings.marking_banner): one label for the whole process,
# set by Policy.from_settings, which every command and the outbox build from the settings.
_BANNER_FORM = ["{level} // REL TO {rel}"]


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
        """`RESTRICTED // REL TO FRA, DEU`: the line every message about the object starts
        with. A formal label, never translated: the same text for every reader, in every
        message, listing, file and record, in the deployment's form (`marking_banner`)."""
        if not self.rel:
            return self.level
        return _BANNER_FORM[0].format(level=self.level, rel=", ".join(self.rel))

    def shown(self) -> str:
        """The banner, as every reader reads it (the same as `banner`)."""
        return self.banner

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
    language: str | None = None  # theirs (!lang, the directory); None: the deployment's

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
        _BANNER_FORM[0] = getattr(settings, "marking_banner", None) or _BANNER_FORM[0]
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

    def _severity(self, level: str) -> int:
        """A level's order for combining: a level this system does not know (removed by
        the operator) ranks above every known one, so what holds it fails closed."""
        rank = self.rank(level)
        return len(self.levels) if rank is None else rank

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
        if rel is not None:
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

    def clearance(self, text: str, example: str) -> str:
        """A person's clearance: one of the levels (it may be above this system's ceiling,
        it is what the person holds); "-" or "" clears it."""
        level = text.strip().upper()
        if level in ("", "-"):
            return ""
        if self.rank(level) is None:
            raise UserError(
                _(
                    "{text!r} is not a marking level here; levels, lowest first: "
                    "{levels} (or - to clear).",
                    text=text.strip(),
                    levels=" < ".join(self.levels),
                ),
                example=example,
            )
        return level

    def level(self, text: str, example: str) -> str:
        level = text.strip().upper()
        rank = self.rank(level)
        if rank is None:
            raise UserError(
                _(
                    "{text!r} is not a marking level here; levels, lowest first: {levels}.",
                    text=text.strip() or _("(empty)"),
                    levels=" < ".join(self.levels),
                ),
                example=example,
            )
        ceiling = self.rank(self.ceiling)
        assert ceiling is not None
        if rank > ceiling:
            raise UserError(
                _(
                    "This system may carry at most {ceiling}; {level} material must not be "
                    "put into it. Use the channel accredited for it.",
                    ceiling=self.ceiling,
                    level=level,
                ),
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
        return None

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
