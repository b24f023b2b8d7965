"""The level ladder: a deployment's ordered marking levels, its ceiling, and reading a level
or a clearance someone wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.errors import UserError
from commands.i18n import _

LEVEL_NAME = re.compile(r"[A-Z][A-Z0-9_-]{0,39}")


@dataclass(frozen=True)
class Ladder:
    """A deployment's marking levels, lowest first, and the highest it may carry."""

    levels: tuple[str, ...] = ("UNCLASSIFIED",)
    max_marking: str | None = None  # None: the highest level

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
