"""Why someone is not covered by a marking: one English sentence, shown in each reader's."""

from __future__ import annotations

from commands.i18n import N_, _


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
    # verified_for_marking (issue 28): what to do about it, addressed to them.
    "unverified": (
        N_(
            "their identity is not verified yet, and items marked {level} or above go only "
            "to verified people"
        ),
        N_(
            "your identity is not verified yet, and items marked {level} or above go only "
            "to verified people. To get verified, ask an admin to send {command} and compare "
            "the emoji with you in person or by phone, or open my profile in Element and "
            "choose Verify"
        ),
    ),
}


def reason_shown(reason: str, *, mine: bool = False) -> str:
    """A reason from `Policy.exclusion` in the reader's language (any other text as it is)."""
    return reason.shown(mine=mine) if isinstance(reason, Reason) else reason


def is_reason(reason: str, key: str) -> bool:
    """Whether `reason` is the one REASONS names `key` (e.g. "unverified")."""
    return isinstance(reason, Reason) and reason.message == REASONS[key][0]
