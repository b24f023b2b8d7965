"""Showing times to a reader: an instant in a zone, beside other zones, by a CLDR pattern.

Dates are shown here only. Each pattern is a catalogue entry (a CLDR pattern, see the
TRANSLATORS notes), so a new language is its catalogue alone; Babel renders it in the
reader's language. English keeps strftime: the same text (tests/unit/commands/
test_time_languages.py checks that Babel renders each English pattern identically), and
an English-only bot never loads Babel's CLDR data (~8 MiB).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from commands.i18n import SOURCE, current, pgettext

_ENGLISH = {
    "EEE dd MMM y HH:mm": "%a %d %b %Y %H:%M",
    "EEE dd MMM HH:mm": "%a %d %b %H:%M",
    "EEE dd MMM y": "%a %d %b %Y",
    "HH:mm": "%H:%M",
    "yyyy-MM-dd": "%Y-%m-%d",
    "yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M",
    "HH:mm 'on' dd MMM y": "%H:%M on %d %b %Y",
}


def show_pattern(moment: datetime | date, pattern: str) -> str:
    """A wall time (or date) by a CLDR pattern, in the reader's language."""
    reader = current()
    if reader == SOURCE and pattern in _ENGLISH:
        return moment.strftime(_ENGLISH[pattern])
    from babel.dates import format_date, format_datetime  # on first use, not at start

    if isinstance(moment, datetime):
        return str(format_datetime(moment.replace(tzinfo=None), pattern, locale=reader))
    return str(format_date(moment, pattern, locale=reader))


def _day_time_pattern() -> str:
    # TRANSLATORS: a CLDR date pattern, not words: a day, date and time, "Mon 30 Nov 2026
    # 10:00" (EEE short weekday, d day, dd day on 2 digits, MMM short month, y year, HH:mm
    # time; text in 'quotes' as is). French "EEE d MMM y HH:mm" (lun. 30 nov. 2026 10:00),
    # German "EEE, d. MMM y HH:mm". https://cldr.unicode.org/translation/date-time/date-time-symbols
    return pgettext("CLDR pattern: day, date and time", "EEE dd MMM y HH:mm")


def show_instant(moment: datetime, zone: str | ZoneInfo) -> str:
    """An instant in the reader's zone, named by its abbreviation: Wed 04 Mar 2026 23:59 CET."""
    local = moment.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))
    return f"{show_pattern(local, _day_time_pattern())} {local.tzname()}"


def fmt(moment: datetime, zone: str) -> str:
    """An instant in a zone, named in full: Mon 02 Mar 2026 10:00 Europe/Paris."""
    return f"{show_pattern(moment.astimezone(ZoneInfo(zone)), _day_time_pattern())} {zone}"


def fmt_zones(moment: datetime, first: str, others: list[str] | tuple[str, ...] = ()) -> str:
    """The time in the first zone, then in each other zone that differs (date if it differs)."""
    text = fmt(moment, first)
    main = moment.astimezone(ZoneInfo(first))
    extra = []
    for zone in dict.fromkeys(others):
        if zone == first:
            continue
        local = moment.astimezone(ZoneInfo(zone))
        extra.append(f"{show_wall(local, same_day=local.date() == main.date())} {zone}")
    return text + (f" ({'; '.join(extra)})" if extra else "")


def show_wall(local: datetime, *, same_day: bool) -> str:
    """Another zone's wall time beside the reader's (fmt_zones, the agenda's "there"
    column): the hour, with the day when that zone is on another day."""
    if same_day:
        # TRANSLATORS: a CLDR pattern, not words: a time of day, "14:00".
        return show_pattern(local, pgettext("CLDR pattern: a time", "HH:mm"))
    # TRANSLATORS: a CLDR date pattern, not words: the time in another zone on another
    # day, "Tue 03 Mar 14:00" (French "EEE d MMM HH:mm"; German "EEE, d. MMM HH:mm").
    return show_pattern(local, pgettext("CLDR pattern: day and time", "EEE dd MMM HH:mm"))
