"""A time that could mean two things is a question with ready answers, not a dead end.

`!meeting 03/04/2027 10:00 -- Convoy review` is answered "Did you mean 3 April (`!meeting
2027-04-03 10:00 -- Convoy review`) or 4 March (`!meeting 2027-03-04 10:00 -- Convoy
review`)?": the person's own command with the time made plain, each one copyable and
accepted. The same for a wall time that does not exist (clocks go forward: the two
nearest valid times) and one that happens twice (clocks go back: the two offsets).

The time reader (commands/time/) raises `Ambiguous`, a ValueError, with its
readings; the domains wrap it in their UserError as they do any ValueError; the dispatcher
asks `question()` for the refusal text, which finds the readings through the exception's
context and writes them into the command as it was sent. Where the command cannot be
rewritten (the words are not found in it), the plain refusal stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.errors import UserError
from commands.i18n import _


@dataclass(frozen=True)
class Reading:
    """One meaning: how it reads ("3 April"), the words as typed, what to write instead."""

    label: str
    typed: str  # "03/04/2027", "02:30"; empty: no rewrite possible
    plain: str  # "2027-04-03", "01:30", "00:30 UTC"
    zone: bool = False  # the plain form carries its zone: a zone typed after it is replaced


class Ambiguous(ValueError):
    """A time with two readings; `lead` says why (empty for a date whose order is unclear)."""

    def __init__(self, message: str, readings: tuple[Reading, Reading], lead: str = "") -> None:
        super().__init__(message)
        self.readings = readings
        self.lead = lead


# A zone word as the time reader takes it after a time: "UTC" or "Area/City".
_ZONE_AFTER = r"(?:\s+(?:UTC|[A-Za-z_]+/[A-Za-z0-9_/+\-]+))?"


def rewritten(command: str, reading: Reading) -> str | None:
    """The command with the typed words replaced by the plain ones, or None if not found."""
    if not reading.typed:
        return None
    pattern = re.escape(reading.typed) + (_ZONE_AFTER if reading.zone else "")
    found = re.search(r"(?<![\w/.:])" + pattern + r"(?![\w/.:])", command)
    if found is None:
        return None
    return command[: found.start()] + reading.plain + command[found.end() :]


def find(error: BaseException) -> Ambiguous | None:
    """The Ambiguous behind a refusal (a UserError raised while handling it), if any."""
    seen: BaseException | None = error
    for _depth in range(8):
        if seen is None:
            return None
        if isinstance(seen, Ambiguous):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def question(error: UserError, command: str | None) -> str:
    """The refusal as the person reads it: for an ambiguous time, the question with the two
    commands to send; otherwise (or if the command cannot be rewritten) its usual text."""
    ambiguous = find(error)
    if ambiguous is None or not command:
        return error.text()
    first, second = ambiguous.readings
    one, other = rewritten(command, first), rewritten(command, second)
    if one is None or other is None or one == other:
        return error.text()
    ask = _(
        "Did you mean {first} (`{first_command}`) or {second} (`{second_command}`)?",
        first=first.label,
        first_command=one,
        second=second.label,
        second_command=other,
    )
    return f"{ambiguous.lead} {ask}" if ambiguous.lead else ask
