"""Deadlines (`due=`): read the same way by every command that takes one, and shown.

A deadline is a whole day in a zone (2026-03-06, friday: the end of that day) or an instant
(a day with a time, "in 2h"); `Due` keeps which, so it is shown as it was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.i18n import _, pgettext
from commands.time.limits import check_time_length, within_reach
from commands.time.reading import (
    TIME_OF_DAY,
    UnreadableTime,
    read_absolute,
    read_relative,
    refuse_ambiguous_numeric,
    with_dateparser,
)
from commands.time.showing import show_instant, show_pattern
from commands.time.words import normalise
from commands.time.zones import localize, split_zone


@dataclass(frozen=True)
class Due:
    """A deadline: the instant and how it was given (a whole day in a zone, or a time)."""

    at: datetime  # aware
    zone: str
    all_day: bool


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def end_of_day(day: date, zone: str) -> datetime:
    """The last second of a day in a zone: what a deadline given as a date alone means."""
    return localize(datetime.combine(day, time(23, 59, 59)), zone, strict=False)


def _due_example(now: datetime) -> str:
    soon = (now + timedelta(days=7)).date().isoformat()
    return _('{day}, "{day} 17:00", friday or "in 3 days"', day=soon)


def parse_due(text: str, zone: str, now: datetime, *, future: bool = True) -> Due:
    """Read a deadline typed by someone in `zone`, the same for every command that takes one.

    A day alone (2026-03-06, friday, tomorrow) is the end of that day in the sender's zone;
    a day with a time, or "in 2h", is that instant. Ambiguous, past and non-existent times
    get the same question as a meeting start (see parse_when); "in 3 days" is the end of
    that day, "in 3 hours" the instant. `future=False` reads a day to search by (a list's
    `before=`, a summit's dates), which may be past.
    """
    raw = " ".join(text.split())
    if not raw:
        raise ValueError(_("give a date, e.g. {example}", example=_due_example(now)))
    check_time_length(raw, _due_example(now))
    body, explicit = split_zone(raw)
    zone = explicit or zone
    if _ISO_DATE.match(body):
        try:
            day = date.fromisoformat(body)
        except ValueError:
            raise ValueError(
                _(
                    "{text} is not a real date; e.g. {example}",
                    text=repr(body[:30]),
                    example=_due_example(now),
                )
            ) from None
        within_reach(datetime.combine(day, time(12), UTC), now, body)
        return _future(Due(end_of_day(day, zone), zone, True), now, future)
    delta = read_relative(body, zone, now)
    if delta is not None:
        if delta <= timedelta(0):
            raise ValueError(_("'in 0m' is now; give a time in the future, e.g. in 3 days"))
        moment = (now + delta).astimezone(ZoneInfo(zone))
        if delta % timedelta(days=1) == timedelta(0):
            return Due(end_of_day(moment.date(), zone), zone, True)
        return Due(moment, zone, False)
    if TIME_OF_DAY.search(normalise(body)):
        moment = read_absolute(body, zone, now, future=future)
        return Due(within_reach(moment, now, body), zone, False)
    refuse_ambiguous_numeric(body, now)
    naive = with_dateparser(normalise(body), zone, now)
    if naive is None:
        raise UnreadableTime(
            _(
                "{text} is not a date or time I understand; write e.g. {example}",
                text=repr(body[:30]),
                example=_due_example(now),
            )
        )
    within_reach(naive.replace(tzinfo=UTC), now, body)
    return _future(Due(end_of_day(naive.date(), zone), zone, True), now, future)


def _future(due: Due, now: datetime, future: bool) -> Due:
    if future and due.at <= now:
        raise ValueError(
            _(
                "{when} is in the past. Give a future date.",
                when=show_instant(due.at, due.zone),
            )
        )
    return due


def show_due(due: Due, viewer_zone: str) -> str:
    """A deadline as the viewer reads it: a date if given as a day in their zone, else time."""
    if due.all_day:
        # TRANSLATORS: a CLDR date pattern, not words: a deadline given as a day,
        # "2026-03-06" (French "d MMM y": 6 mars 2026; German "d. MMM y": 6. März 2026).
        pattern = pgettext("CLDR pattern: a due date", "yyyy-MM-dd")
        day = show_pattern(due.at.astimezone(ZoneInfo(due.zone)).date(), pattern)
        return day if due.zone == viewer_zone else f"{day} ({due.zone})"
    # TRANSLATORS: a CLDR date pattern, not words: a deadline with a time, "2026-03-06
    # 17:00" (French "d MMM y HH:mm"; German "d. MMM y HH:mm").
    pattern = pgettext("CLDR pattern: a due date and time", "yyyy-MM-dd HH:mm")
    return show_pattern(due.at.astimezone(ZoneInfo(viewer_zone)), pattern)
