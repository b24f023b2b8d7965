"""How long and how far a time may be: the bounds every reader of times checks first.

A time typed by someone is hostile input: dateparser's cost grows with the length of the
text, and date arithmetic near the years 1 and 9999 overflows (an OverflowError is no
ValueError). Each bound is refused with a message that says what to write instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from commands.i18n import _

# The most text ever handed to dateparser for one time: its cost grows with the length, and
# no real time ("next Tuesday 14:00 America/Argentina/Buenos_Aires") comes near this.
MAX_WHEN_LENGTH = 100

# How far from now a time or a duration may reach, either way: further is a typo, and date
# arithmetic near the years 1 and 9999 overflows (an OverflowError is no ValueError).
MAX_REACH = timedelta(days=100 * 366)
MAX_REACH_YEARS = 100


class TooFar(ValueError):
    """A time or duration beyond MAX_REACH: refused as such, never read another way."""


def too_far(text: str) -> TooFar:
    """The refusal of a time or duration beyond MAX_REACH (9999999999d, year 9999)."""
    return TooFar(
        _(
            "{text} is too far away: I plan at most {years} years ahead; write e.g. 1d, 2w "
            "or a date this year",
            text=repr(text[:30]),
            years=MAX_REACH_YEARS,
        )
    )


def within_reach(moment: datetime, now: datetime, text: str) -> datetime:
    """The moment, if it is within MAX_REACH of now (either way); else the refusal."""
    if abs(moment - now) > MAX_REACH:
        raise too_far(text)
    return moment


def check_time_length(text: str, example: str) -> None:
    """Refuse, before dateparser sees it, a time or date longer than any real one.

    Every module that hands text to dateparser calls this first: its cost grows with the
    length, and a hostile head may hold 4,000 characters.
    """
    if len(text) > MAX_WHEN_LENGTH:
        raise ValueError(
            _(
                "{text}… is too long for a time (at most {limit} characters); write e.g. {example}",
                text=repr(text[:30]),
                limit=MAX_WHEN_LENGTH,
                example=example,
            )
        )
