"""A wall time in a zone: the zone written after a time, and the wall times DST skips or repeats.

A wall time that does not exist (clocks go forward) or happens twice (clocks go back) is
not guessed: it is a question (commands/ambiguity.py) with the two nearest readings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.ambiguity import Ambiguous, Reading
from commands.i18n import _, pgettext
from commands.people import parse_zone
from commands.time.limits import too_far
from commands.time.showing import show_pattern


def split_zone(text: str) -> tuple[str, str | None]:
    """'2026-12-03 10:00 Europe/Berlin' -> ('2026-12-03 10:00', 'Europe/Berlin')."""
    words = text.split()
    if words and ("/" in words[-1] or words[-1].upper() == "UTC") and not _looks_numeric(words[-1]):
        return " ".join(words[:-1]), parse_zone(words[-1])
    return text, None


def _looks_numeric(word: str) -> bool:
    return bool(re.fullmatch(r"[\d/.\-]+", word))


def localize(naive: datetime, zone: str, *, strict: bool = True, typed: str = "") -> datetime:
    """Attach the zone to a wall time; refuse (strict) times that do not exist or repeat,
    asking which of the two nearest readings was meant (`typed`: the time as written)."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    try:
        first.astimezone(UTC)
    except OverflowError:  # the first or last hours of year 1 or 9999
        raise too_far(naive.isoformat()) from None
    if strict and first.utcoffset() != second.utcoffset():
        # TRANSLATORS: a CLDR date pattern, not words: a wall time in a refusal, "02:30 on 29
        # Mar 2026". Letters are fields (HH hour, mm minute, d day, MMM month, y year); text
        # in 'quotes' is shown as is. https://cldr.unicode.org/translation/date-time/date-time-symbols
        wall = show_pattern(naive, pgettext("CLDR pattern: a wall time", "HH:mm 'on' dd MMM y"))
        back_to_naive = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back_to_naive != naive:
            lead = _(
                "{wall} does not exist in {zone}: the clocks go forward then.",
                wall=wall,
                zone=zone,
            )
            raise Ambiguous(
                lead + " " + _("Pick a time an hour later or earlier."),
                gap_readings(naive, first, second, typed),
                lead,
            )
        lead = _("{wall} happens twice in {zone}: the clocks go back then.", wall=wall, zone=zone)
        raise Ambiguous(
            lead + " " + _("Give the time in UTC (add UTC at the end) or pick another time."),
            fold_readings(naive, first, second, typed),
            lead,
        )
    return first


def gap_readings(
    naive: datetime, first: datetime, second: datetime, typed: str
) -> tuple[Reading, Reading]:
    """A wall time the clocks skip: the same minute one gap earlier and one gap later."""
    gap = abs((second.utcoffset() or timedelta(0)) - (first.utcoffset() or timedelta(0)))
    pattern = pgettext("CLDR pattern: a time", "HH:mm")
    out = []
    for moment in (naive - gap, naive + gap):
        same_day = moment.date() == naive.date()
        shown = show_pattern(moment, pattern)
        out.append(Reading(shown, typed if same_day else "", moment.strftime("%H:%M")))
    return out[0], out[1]


def fold_readings(
    naive: datetime, first: datetime, second: datetime, typed: str
) -> tuple[Reading, Reading]:
    """A wall time that happens twice: each offset, written plain as the same time in UTC."""
    pattern = pgettext("CLDR pattern: a time", "HH:mm")
    out = []
    for moment in (first, second):
        utc = moment.astimezone(UTC)
        label = (
            f"{show_pattern(naive, pattern)} {moment.tzname()} ({show_pattern(utc, pattern)} UTC)"
        )
        same_day = utc.date() == naive.date()
        plain = utc.strftime("%H:%M") + " UTC"
        out.append(Reading(label, typed if same_day else "", plain, zone=True))
    return out[0], out[1]
