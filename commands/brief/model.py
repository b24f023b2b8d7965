"""The Monday brief's pure rules: when a person's brief is due, which week it covers, and
how a week's worth of lines fits one screen.

The brief is due at 08:00 on Monday on the person's own wall clock (their zone), so DST
moves nothing: it is 07:00 UTC in a Paris winter and 06:00 UTC in a Paris summer. Each
brief is for one week (Monday 00:00 to the next Monday 00:00, local); the week already
briefed is remembered, so a zone change never brings a second brief for the same week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRIEF_JOB = "brief.weekly"
BRIEF_TIME = time(8, 0)  # Monday, on the person's wall clock
SCREEN_LINES = 40  # one screen: title, section headings, lines and "… more" lines
WEEK = timedelta(days=7)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_midnight(day: date, zone: str) -> datetime:
    """The instant a local day begins (UTC)."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def brief_at(monday: date, zone: str) -> datetime:
    """08:00 on that Monday in the zone, as a UTC instant (wall clock: DST-correct)."""
    return datetime.combine(monday, BRIEF_TIME, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def next_brief(now: datetime, zone: str, briefed: date | None = None) -> tuple[datetime, date]:
    """The next brief's instant and its Monday: the first Monday 08:00 (local) after now,
    for a week after the one already briefed (if any)."""
    monday = monday_of(now.astimezone(ZoneInfo(zone)).date())
    while brief_at(monday, zone) <= now or (briefed is not None and monday <= briefed):
        monday += WEEK
    return brief_at(monday, zone), monday


def week_span(monday: date, zone: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local, as UTC instants (a DST week is 167 or 169 h)."""
    return local_midnight(monday, zone), local_midnight(monday + WEEK, zone)


def week_to_brief(now: datetime, zone: str, due_monday: date | None) -> date:
    """The Monday of the week a brief covers: the week it was due for while that week lasts
    (a brief sent late on Tuesday is still that week's), else the week of now (after a
    longer outage, the week the person is in, not one already over)."""
    if due_monday is not None and now < week_span(due_monday, zone)[1]:
        return due_monday
    return monday_of(now.astimezone(ZoneInfo(zone)).date())


@dataclass(frozen=True)
class Allotment:
    """How many lines each section shows, and how many are left to a "… more" line."""

    shown: tuple[int, ...]
    hidden: tuple[int, ...]


def allot(counts: list[int] | tuple[int, ...], budget: int) -> Allotment:
    """Share `budget` lines between sections of `counts` lines each: a section with lines
    costs its heading, and a cut one also costs a line saying how many more there are.
    The longest section gives a line back first, so a short section is shown whole."""
    shown = [min(c, budget) for c in counts]

    def cost() -> int:
        return sum(
            s + (1 if c else 0) + (1 if s < c else 0) for s, c in zip(shown, counts, strict=True)
        )

    while cost() > budget and any(shown):
        longest = max(range(len(shown)), key=lambda i: (shown[i], -i))
        shown[longest] -= 1
    return Allotment(tuple(shown), tuple(c - s for s, c in zip(shown, counts, strict=True)))
