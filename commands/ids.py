"""The one object ID: a kind and a number (LR-3, A-7, S-1, M-2, V-4, R-9, H-2).

Every command parameter, job reference, audit and history row, and `@handles` declaration
names an object this way; there is one parser and one `str()`. A post code may never look
like an ID (the directory refuses `A-7` as a post code) so that `!request A-7` is never
ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from commands.i18n import N_, _

# Every kind there is, and what it is called in a sentence.
KINDS: dict[str, str] = {
    "LR": "request",
    "S": "summit",
    "A": "action item",
    "V": "visit",
    "M": "meeting",
    "R": "reminder",
    "H": "hand-over",
    "VF": "verification",
}
_EXAMPLE = {
    "LR": "LR-3",
    "S": "S-1",
    "A": "A-7",
    "V": "V-2",
    "M": "M-3",
    "R": "R-5",
    "H": "H-2",
    "VF": "VF-3",
}
# One whole sentence per kind: the article and the noun's gender differ by language.
_NOT_OF_KIND = {
    "LR": N_("{text!r} is not a request ID like {example}"),
    "S": N_("{text!r} is not a summit ID like {example}"),
    "A": N_("{text!r} is not an action item ID like {example}"),
    "V": N_("{text!r} is not a visit ID like {example}"),
    "M": N_("{text!r} is not a meeting ID like {example}"),
    "R": N_("{text!r} is not a reminder ID like {example}"),
    "H": N_("{text!r} is not a hand-over ID like {example}"),
    "VF": N_("{text!r} is not a verification ID like {example}"),
}

# The shape of an ID, known kind or not: what a post code must not look like.
_SHAPE = re.compile(r"^([A-Za-z]{1,3})-(\d{1,9})$")


@dataclass(frozen=True, order=True)
class ObjectId:
    kind: str  # upper case, one of KINDS
    number: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.number}"

    @classmethod
    def parse(cls, text: str, kind: str | None = None) -> ObjectId:
        """`a-7` or `A-7` -> ObjectId('A', 7); with `kind`, only IDs of that kind.

        ValueError names what was expected, with an example.
        """
        match = _SHAPE.match(text.strip())
        if kind is not None:
            if not match or match[1].upper() != kind:
                raise ValueError(_(_NOT_OF_KIND[kind], text=text[:30], example=_EXAMPLE[kind]))
        elif not match:
            raise ValueError(_("{text!r} is not an ID like A-7 or LR-12", text=text[:30]))
        return cls(match[1].upper(), int(match[2]))

    @classmethod
    def find(cls, text: str | None) -> ObjectId | None:
        """The ID a reference starts with (job refs are `M-3` or `M-3@2026-…`), if any."""
        match = _SHAPE.match((text or "").split("@", 1)[0])
        return cls(match[1].upper(), int(match[2])) if match else None


def looks_like_id(text: str) -> bool:
    """True for anything shaped like an ID, e.g. `A-7`: never a post code."""
    return bool(_SHAPE.match(text.strip()))


def number_of(kind: str) -> Callable[[str], int]:
    """A parameter converter: `A-7` -> 7 for kind 'A', refusing any other kind."""

    def convert(text: str) -> int:
        return ObjectId.parse(text, kind).number

    convert.__name__ = f"parse_{kind.lower()}_id"
    return convert
