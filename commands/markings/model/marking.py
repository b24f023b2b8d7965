"""A marking: a level and who it is releasable to, its banner, and its stored form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The deployment's banner form (settings.marking_banner): one label for the whole process,
# set by Policy.from_settings, which every command and the outbox build from the settings.
_BANNER_FORM = ["{level} // REL TO {rel}"]


def set_banner_form(form: str | None) -> None:
    """Use the deployment's banner form (`settings.marking_banner`; None keeps the current)."""
    _BANNER_FORM[0] = form or _BANNER_FORM[0]


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
