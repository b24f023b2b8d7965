"""Reading times people type ("tomorrow 09:30", "in 2h", "every Monday 09:00") in their zone.

dateparser reads the words; this module decides what is too vague to guess: a day with no
time of day, a numeric date that could be day/month or month/day, a past time, a wall time
that does not exist (clocks go forward) or happens twice (clocks go back). Each of those is
a ValueError whose text is a question or a fix, so the registry shows it to the user.

Recurrence is expanded on wall-clock (naive local) times in the item's own zone and only
then localized, so a weekly 09:00 Paris meeting stays at 09:00 Paris across DST changes.

Languages: times are read in the current reader's language (commands.i18n.current(), the
sender's) as well as English, and shown in it with Babel. What differs per language is in
its catalogue, not here: the CLDR patterns dates are shown with, how a numeric date like
03/04/2026 is read (or refused), the word that starts a relative time ("dans", "in") and
the filler words the date reader does not need ("prochain", "am", "um"). dateparser knows
the words of some 200 languages. English is read and shown exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule

from commands import recurrence
from commands.ambiguity import Ambiguous, Reading
from commands.i18n import SOURCE, _, current, ngettext, pgettext
from commands.people import parse_zone

# The most text ever handed to dateparser for one time: its cost grows with the length, and
# no real time ("next Tuesday 14:00 America/Argentina/Buenos_Aires") comes near this.
MAX_WHEN_LENGTH = 100

# How far from now a time or a duration may reach, either way: further is a typo, and date
# arithmetic near the years 1 and 9999 overflows (an OverflowError is no ValueError).
MAX_REACH = timedelta(days=100 * 366)
MAX_REACH_YEARS = 100

_DATEPARSER_SETTINGS = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": False,
    "DATE_ORDER": "YMD",
}

_UNITS = {
    "w": 7 * 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
# The units as French and German readers see them shown (glossary: j / h / min / s, Tg. /
# Std. / Min. / Sek.) and write them: lead=1j, end=2 Std., "in 3 Tagen".
_UNITS |= {
    **dict.fromkeys(("j", "jour", "jours", "tg", "tag", "tage", "tagen"), 86400),
    **dict.fromkeys(("sem", "semaine", "semaines", "wo", "woche", "wochen"), 7 * 86400),
    **dict.fromkeys(("heure", "heures", "std", "stunde", "stunden"), 3600),
    **dict.fromkeys(("minuten",), 60),
    **dict.fromkeys(("seconde", "secondes", "sek", "sekunde", "sekunden"), 1),
}
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
_DURATION = re.compile(r"^(?:\d+\s*[a-z]+\s*)+$")
# A clock time: 09:30, 9h30, 9.30 (not the 03.04 of 03.04.2026), 9am, noon, midnight.
_TIME_OF_DAY = re.compile(
    r"(?<![\d./:])\d{1,2}[:h.]\d{2}(?!\d|[./]\d)|\b\d{1,2}\s*(?:am|pm)\b|\bnoon\b|\bmidnight\b",
    re.IGNORECASE,
)
# Clock times as French and German write them (10h, 14h30, 9 Uhr, 8.30 Uhr, 15 Uhr 30, 9am),
# rewritten to 10:00 before dateparser sees them: it reads "10h" as "ten hours".
_CLOCK = re.compile(
    r"(?<![\d./:])(\d{1,2})(?:\s*(?:h|uhr)(?:\s*(\d{2}))?|[.:](\d{2})\s*uhr|\s*(am|pm))(?!\w)",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
_DAYS = {
    "monday": "MO",
    "mon": "MO",
    "tuesday": "TU",
    "tue": "TU",
    "tues": "TU",
    "wednesday": "WE",
    "wed": "WE",
    "thursday": "TH",
    "thu": "TH",
    "thurs": "TH",
    "friday": "FR",
    "fri": "FR",
    "saturday": "SA",
    "sat": "SA",
    "sunday": "SU",
    "sun": "SU",
}
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_FREQS = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
_NAMED = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}


class UnreadableTime(ValueError):
    """The words are not a time at all (as opposed to a time refused: past, ambiguous...).

    Callers that try several cuts of a message (`!remind` without --) tell the two apart
    with this class, not by the message's wording, which is in the reader's language."""


def parse_duration(text: str) -> timedelta:
    """'2h', '1h30m', '90 minutes', '1d' -> timedelta; ValueError otherwise."""
    cleaned = re.sub(r"(?<=[a-z])\.", "", text.strip().lower())  # "2 Std." as "2 std"
    if not _DURATION.match(cleaned):
        raise ValueError(
            _("{text} is not a duration like 15m, 1h, 1h30m or 1d", text=repr(text[:30]))
        )
    total = 0
    for amount, unit in _DURATION_PART.findall(cleaned):
        if unit not in _UNITS:
            raise ValueError(
                _("{unit} is not a unit; use s, m, h, d or w (e.g. 1h30m)", unit=repr(unit))
            )
        if len(amount) > 12:  # int() of thousands of digits is itself slow and refused
            raise too_far(text)
        total += int(amount) * _UNITS[unit]
    if total > MAX_REACH.total_seconds():
        raise too_far(text)
    return timedelta(seconds=total)


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


def format_duration(delta: timedelta) -> str:
    """The short form people type: 1d, 1h, 15m, 1h30m; '0m' for 'at the time'."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0m"


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


@dataclass(frozen=True)
class When:
    """A parsed start: the instant, the zone it was meant in, and a recurrence if any."""

    start: datetime  # aware, in `zone`
    zone: str
    rrule: str | None = None


def parse_when(text: str, zone: str, now: datetime) -> When:
    """Read a start time typed by someone in `zone`; ValueError says what to write instead."""
    raw = " ".join(text.split())
    if not raw:
        raise ValueError(_("no time given; write e.g. tomorrow 09:30 or in 2h"))
    check_time_length(raw, _("tomorrow 09:30, next Tuesday 14:00 or in 2h"))
    body, explicit = split_zone(raw)
    zone = explicit or zone
    lowered = body.lower()
    if lowered.startswith("every "):
        return _parse_every(body, zone, now)
    english = _repeat_in_english(body)
    if english.lower().startswith("every "):
        return _parse_every(english, zone, now)
    delta = _relative(body, zone, now)
    if delta is not None:
        if delta <= timedelta(0):
            raise ValueError(_("'in 0m' is now; give a time in the future, e.g. in 5m"))
        return When((now + delta).astimezone(ZoneInfo(zone)), zone)
    return When(within_reach(_parse_absolute(body, zone, now), now, body), zone)


def _relative(body: str, zone: str, now: datetime) -> timedelta | None:
    """'in 2h' (any language), 'dans 2 heures', 'in 2 Stunden' -> how far ahead; None if the
    text does not start with the word for "in"; ValueError if what follows is no duration."""
    lowered = body.lower()
    # TRANSLATORS: the word that starts a relative time, as in "in 2 hours" (French "dans",
    # German "in"): one word, lower case. "in 2h" is understood in every language.
    prefixes = {"in", pgettext("relative time", "in").strip().lower()}
    head, _sep, rest = lowered.partition(" ")
    if head not in prefixes or not rest:
        return None
    try:
        return parse_duration(rest)
    except ValueError as exc:
        if current() == SOURCE:
            raise
        error = exc
    # "dans 2 heures", "in 3 Tagen": dateparser knows the reader's words for units.
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    text = _normalise(body)
    naive = None if _TIME_OF_DAY.search(text) else _dateparser(text, zone, now)
    if naive is None:
        raise error
    return timedelta(seconds=round((naive - local_now).total_seconds()))


# -- deadlines (`due=`) ------------------------------------------------------------------------


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
    delta = _relative(body, zone, now)
    if delta is not None:
        if delta <= timedelta(0):
            raise ValueError(_("'in 0m' is now; give a time in the future, e.g. in 3 days"))
        moment = (now + delta).astimezone(ZoneInfo(zone))
        if delta % timedelta(days=1) == timedelta(0):
            return Due(end_of_day(moment.date(), zone), zone, True)
        return Due(moment, zone, False)
    if _TIME_OF_DAY.search(_normalise(body)):
        moment = _parse_absolute(body, zone, now, future=future)
        return Due(within_reach(moment, now, body), zone, False)
    _refuse_ambiguous_numeric(body, now)
    naive = _dateparser(_normalise(body), zone, now)
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


def _date_order() -> str | None:
    """How the reader's language reads 03/04/2026: 'DMY', 'MDY', 'YMD', or None (refuse)."""
    # TRANSLATORS: not words: how people writing your language read a numeric date such as
    # 03/04/2026. Write DMY (3 April), MDY (4 March) or YMD; keep "ambiguous" when both
    # readings are common (such dates are then refused with a question, as in English).
    order = pgettext("numeric date order", "ambiguous").strip().upper()
    return order if order in ("DMY", "MDY", "YMD") else None


def _normalise(body: str) -> str:
    """The reader's way of writing a time, in a form dateparser reads the same way: clock
    times as 14:30, filler words ("prochain", "am", "um") dropped. English is left as it is."""
    if current() == SOURCE:
        return body

    def clock(match: re.Match[str]) -> str:
        hour, minute = int(match[1]), int(match[2] or match[3] or 0)
        if match[4]:
            hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
        return f"{hour:02d}:{minute:02d}" if hour <= 23 and minute <= 59 else match[0]

    text = _CLOCK.sub(clock, body)
    # TRANSLATORS: the word for noon, one word, lower case (French "midi", German "mittag").
    noon = pgettext("time of day", "noon").lower()
    # TRANSLATORS: the word for midnight, one word, lower case ("minuit", "mitternacht").
    midnight = pgettext("time of day", "midnight").lower()
    clocks = {noon: "12:00", midnight: "00:00"}
    text = " ".join(clocks.get(w.lower(), w) for w in text.split())
    # TRANSLATORS: not a sentence: the words people writing your language put in a date that
    # add nothing to it and that the date reader may not know, separated by spaces (French:
    # "prochain prochaine", as in "mardi prochain"; German: "nächsten am um"). Keep "-" if none.
    filler = set(pgettext("date filler words", "-").lower().split()) - {"-"}
    return " ".join(w for w in text.split() if w.lower() not in filler)


def _dateparser(body: str, zone: str, now: datetime) -> datetime | None:
    """The one place dateparser reads a typed time, relative to now in the sender's zone, in
    the sender's language and English."""
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    import dateparser  # on first use: ~4 MiB and ~25 ms of start-up (docs/BENCHMARKS.md)

    reader = current()
    languages = ["en"] if reader == SOURCE else [reader, "en"]
    settings = {**_DATEPARSER_SETTINGS, "RELATIVE_BASE": local_now}
    if reader != SOURCE:
        settings["DATE_ORDER"] = _date_order() or "YMD"
    try:
        found = dateparser.parse(body, languages=languages, settings=settings)  # type: ignore[arg-type]
    except (OverflowError, ValueError):  # "dans 99999999999 jours", year 0: no time of ours
        return None
    if found is not None and abs(found - local_now) > MAX_REACH:
        raise too_far(body)
    return found


# -- showing times ------------------------------------------------------------------------------
#
# Each pattern is a catalogue entry (a CLDR pattern, see the TRANSLATORS notes), so a new
# language is its catalogue alone; Babel renders it in the reader's language. English keeps
# strftime: the same text (tests/unit/commands/test_timeparse_languages.py checks that Babel
# renders each English pattern identically), and an English-only bot never loads Babel's
# CLDR data (~8 MiB).
_ENGLISH = {
    "EEE dd MMM y HH:mm": "%a %d %b %Y %H:%M",
    "EEE dd MMM HH:mm": "%a %d %b %H:%M",
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


# -- instants --------------------------------------------------------------------------------


def _parse_absolute(body: str, zone: str, now: datetime, *, future: bool = True) -> datetime:
    _refuse_ambiguous_numeric(body, now)
    text = _normalise(body)
    naive = _dateparser(text, zone, now)
    if naive is None:
        raise UnreadableTime(
            _(
                "I could not read {text} as a time. Write e.g. tomorrow 09:30, "
                "next Tuesday 14:00, 2026-12-03 10:00 Europe/Berlin or in 2h.",
                text=repr(body[:40]),
            )
        )
    if not _TIME_OF_DAY.search(text):
        raise ValueError(
            _(
                "{text} has no time of day. Add one, e.g. {start} 09:30 "
                "(or write a relative time like in 2h).",
                text=repr(body[:40]),
                start=body[:20],
            )
        )
    # The time as typed, for a question if it falls in a DST gap or fold: only where it ends
    # the words (a zone written after it is replaced with the UTC reading of a fold).
    ends = [m for m in (_CLOCK.search(body), _TIME_OF_DAY.search(body)) if m]
    typed = next((m[0] for m in ends if not body[m.end() :].strip()), "")
    start = localize(naive.replace(second=0, microsecond=0), zone, typed=typed)
    if future and start <= now:
        raise ValueError(_("{when} is in the past. Give a future time.", when=fmt(start, zone)))
    return start


def _refuse_ambiguous_numeric(body: str, now: datetime) -> None:
    """03/04/2026 in a language that does not settle the order (English): ask, with both
    readings written plain (commands/ambiguity.py), in the year typed or the next one to come."""
    if current() != SOURCE and _date_order() is not None:
        return
    for match in _NUMERIC_DATE.finditer(body):
        a, b = int(match[1]), int(match[2])
        if ":" in body[match.start() - 1 : match.start()]:
            continue
        if a <= 12 and b <= 12 and a != b:
            # TRANSLATORS: a CLDR date pattern, not words: a day and month, "3 April".
            pattern = pgettext("CLDR pattern: day and full month", "d MMMM")
            first, second = _plain_day(match[3], b, a, now), _plain_day(match[3], a, b, now)
            raise Ambiguous(
                _(
                    "{text} could be {first} or {second}. Write the date as YYYY-MM-DD, "
                    "e.g. {example}.",
                    text=repr(match[0]),
                    first=_day_month(first, pattern),
                    second=_day_month(second, pattern),
                    example=first.isoformat(),
                ),
                (
                    Reading(_day_month(first, pattern), match[0], first.isoformat()),
                    Reading(_day_month(second, pattern), match[0], second.isoformat()),
                ),
            )


def _plain_day(typed_year: str | None, month: int, day: int, now: datetime) -> date:
    """The day a numeric date means: in the year typed (03/04/27 is 2027), else the next."""
    if typed_year:
        year = int(typed_year)
        return date(year + 2000 if year < 100 else max(year, 1), month, day)
    today = now.date()
    found = date(today.year, month, day)
    return found if found >= today else date(today.year + 1, month, day)


def _day_month(day: date, pattern: str) -> str:
    if current() == SOURCE and pattern == "d MMMM":
        return f"{day.day} {day:%B}"
    return show_pattern(day, pattern)


def _parse_every(body: str, zone: str, now: datetime) -> When:
    """'every Monday 09:00', 'every 2 weeks 10:00', 'every day 08:30', 'every weekday 9am'.

    A reader's own repeat words arrive here in English (_repeat_in_english); the time may
    be written the reader's way (10h, 9 Uhr)."""
    words = _normalise(" ".join(body.split()[1:])).split()
    time_match = _TIME_OF_DAY.search(" ".join(words))
    if not time_match:
        raise ValueError(
            _(
                "{text} has no time of day. Add one, e.g. every Monday 09:00.",
                text=repr(body[:40]),
            )
        )
    spec = " ".join(words)[: time_match.start()].strip().rstrip(",").removesuffix(" at").strip()
    rule = recurrence_rule(spec or "day")
    import dateparser  # on first use, as in _parse_absolute

    clock = dateparser.parse(time_match[0], languages=["en"])
    if clock is None:
        raise ValueError(
            _("I could not read {text} as a time of day, e.g. 09:00.", text=repr(time_match[0]))
        )
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz).replace(tzinfo=None)
    anchor = local_now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    first = next_occurrence(rule, anchor, zone, now)
    if first is None:
        raise ValueError(_("{text} never happens after now.", text=repr(body[:40])))
    return When(first, zone, rule)


def recurrence_rule(spec: str) -> str:
    """A human spec ('Monday', 'Mon,Wed', '2 weeks', 'weekday', 'weekly') or a raw RRULE."""
    text = spec.strip()
    if "FREQ=" in text.upper():
        return validate_rrule(text)
    # The words become a rule, and that rule goes through the same parser as a typed one.
    return validate_rrule(_words_rule(_repeat_in_english(text)))


# The English words of a repeat, each with the catalogue entry listing the reader's words
# for it (the reader's day names come from Babel).
_REPEAT_WORDS: dict[str, Callable[[], str]] = {
    # TRANSLATORS: not a sentence: the words that start a repeat in your language, separated
    # by spaces, lower case (French "chaque tous toutes les", German "jeden jede jedes alle").
    "every": lambda: pgettext("repeat words: every", "every"),
    # TRANSLATORS: not a sentence: the word(s) before a weekday in "every 2 weeks on Monday"
    # (French "le", German "am"), separated by spaces, lower case.
    "on": lambda: pgettext("repeat words: on", "on"),
    # TRANSLATORS: not a sentence: "and" between weekdays (French "et", German "und").
    "and": lambda: pgettext("repeat words: and", "and"),
    # TRANSLATORS: not a sentence: every form of the word "day" in a repeat, separated by
    # spaces (French "jour jours", German "tag tage tagen").
    "day": lambda: pgettext("repeat words: day", "day days"),
    # TRANSLATORS: not a sentence: every form of "week" (French "semaine semaines").
    "week": lambda: pgettext("repeat words: week", "week weeks"),
    # TRANSLATORS: not a sentence: every form of "month" (French "mois").
    "month": lambda: pgettext("repeat words: month", "month months"),
    # TRANSLATORS: not a sentence: every form of "year" (French "an ans année années").
    "year": lambda: pgettext("repeat words: year", "year years"),
    # TRANSLATORS: not a sentence: words for "working day", alone or after the word for day
    # (French "ouvré ouvrés ouvrable ouvrables", German "arbeitstag werktag werktags").
    "weekday": lambda: pgettext("repeat words: weekday", "weekday weekdays"),
    # TRANSLATORS: not a sentence: every form of "daily" (French "quotidien quotidienne").
    "daily": lambda: pgettext("repeat words: daily", "daily"),
    # TRANSLATORS: not a sentence: every form of "weekly" (French "hebdomadaire").
    "weekly": lambda: pgettext("repeat words: weekly", "weekly"),
    # TRANSLATORS: not a sentence: every form of "monthly" (French "mensuel mensuelle").
    "monthly": lambda: pgettext("repeat words: monthly", "monthly"),
    # TRANSLATORS: not a sentence: every form of "yearly" (French "annuel annuelle").
    "yearly": lambda: pgettext("repeat words: yearly", "yearly"),
}


@cache
def _repeat_vocabulary(lang: str) -> dict[str, str]:
    """The reader's repeat words -> the English ones `_words_rule` reads (built once per
    language: every time typed by a French or German reader passes here)."""
    from babel.dates import get_day_names  # only for a reader who is not English

    words: dict[str, str] = {}
    for english, entry in _REPEAT_WORDS.items():
        for word in entry().lower().split():
            words.setdefault(word, english)
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            names = get_day_names(width, context, locale=lang)
            for index, english in enumerate(_FULL_DAYS):
                name = str(names[index]).lower().rstrip(".")
                words.setdefault(name, english)
                words.setdefault(name + "s", english)  # French "tous les lundis"
    return words


def _repeat_in_english(text: str) -> str:
    """A repeat in the reader's words ("tous les lundis 10h", "alle 2 Wochen", "täglich")
    as the English the repeat reader knows ("every monday 10h"); words that are not repeat
    words (a time of day) are kept. English readers' text is returned as it is."""
    if current() == SOURCE:
        return text
    vocabulary = _repeat_vocabulary(current())
    out: list[str] = []
    for token in text.split():
        word, comma = token.rstrip(","), token[len(token.rstrip(",")) :]
        english = vocabulary.get(word.lower().rstrip("."), word)
        if english == "every" and out and out[-1] == "every":
            continue  # "tous les", "toutes les"
        if english == "weekday" and out and out[-1] == "day":
            out.pop()  # "jour ouvré"
        if english == "on" and out:
            out[-1] = out[-1].rstrip(",")  # "toutes les 2 semaines, le lundi"
        out.append(english + comma)
    named = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}
    if out and out[0] in named:
        out[0:1] = ["every", named[out[0]]]  # "täglich 9 Uhr" starts like "every day 09:00"
    elif out and out[0] == "weekday":
        out.insert(0, "every")  # "werktags 8 Uhr"
    return " ".join(out)


def _words_rule(text: str) -> str:
    spec = text
    lowered = text.lower().removeprefix("every ").strip()
    if len(lowered) > recurrence.MAX_RULE_LENGTH:
        raise ValueError(
            _(
                "the repeat is longer than {limit} characters",
                limit=recurrence.MAX_RULE_LENGTH,
            )
        )
    if lowered in _NAMED:
        return f"FREQ={_NAMED[lowered]}"
    if lowered in ("weekday", "weekdays", "working day", "workday"):
        return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    interval = 1
    match = re.match(r"^(other|\d+)\s+(.*)$", lowered)
    if match:
        interval = 2 if match[1] == "other" else int(match[1])
        lowered = match[2]
    if interval < 1 or interval > 366:
        raise ValueError(_("the interval must be between 1 and 366"))
    every = f";INTERVAL={interval}" if interval > 1 else ""
    on_days = re.match(r"^weeks?\s+on\s+(.+)$", lowered)  # every 2 weeks on Monday
    if on_days:
        lowered = on_days[1]
    unit = lowered.rstrip("s") if lowered.rstrip("s") in _FREQS else None
    if unit:
        return f"FREQ={_FREQS[unit]}{every}"
    days = [d for d in re.split(r"\s*(?:,|\band\b)\s*", lowered) if d]
    codes = []
    for day in days:
        key = day.rstrip("s") if day.rstrip("s") in _DAYS else day
        if key not in _DAYS:
            raise ValueError(
                _(
                    "{text} is not a repeat I know. Write e.g. every Monday, every 2 weeks, "
                    "every weekday, daily, or a raw rule like FREQ=WEEKLY;BYDAY=MO.",
                    text=repr(spec[:30]),
                )
            )
        codes.append(_DAYS[key])
    return f"FREQ=WEEKLY{every};BYDAY={','.join(dict.fromkeys(codes))}"


def validate_rrule(text: str) -> str:
    """Parse a raw RRULE into known parts, each once (see commands.recurrence)."""
    return recurrence.rule_text(recurrence.parse_rule(text))


def expand(rule: str, anchor_local: datetime) -> rrule:
    """The rule over wall-clock times from the item's first start (naive local)."""
    return recurrence.build(recurrence.parse_rule(rule), anchor_local)


def next_occurrence(
    rule: str, anchor_local: datetime, zone: str, after: datetime
) -> datetime | None:
    """The first occurrence strictly after `after` (aware), expanded in the zone's wall time."""
    tz = ZoneInfo(zone)
    probe = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    # Searched from just before `after`, never from the first start, and never further than
    # the horizon plus one period: the cost is the same on day 1 and after years.
    limit = probe + recurrence.HORIZON + timedelta(days=800)
    with recurrence.bounded_search(limit):
        expansion = recurrence.expand_near(rule, anchor_local, probe, limit)
        for naive in expansion.xafter(probe, inc=True):
            moment = localize(naive, zone, strict=False)
            if moment > after:
                return moment
    return None


def occurrences_between(
    rule: str | None, anchor: datetime, zone: str, start: datetime, end: datetime, limit: int = 200
) -> list[datetime]:
    """Occurrences (aware, in zone) in [start, end); a one-off item is its own occurrence."""
    if rule is None:
        return [anchor] if start <= anchor < end else []
    tz = ZoneInfo(zone)
    anchor_local = anchor.astimezone(tz).replace(tzinfo=None)
    probe = start.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    stop = end.astimezone(tz).replace(tzinfo=None) + timedelta(hours=3)
    found: list[datetime] = []
    with recurrence.bounded_search(stop):
        for naive in recurrence.expand_near(rule, anchor_local, probe, stop).xafter(
            probe, inc=True
        ):
            moment = localize(naive, zone, strict=False)
            if moment >= end or len(found) >= limit:
                break
            if moment >= start:
                found.append(moment)
    return found


def describe_rule(rule: str) -> str:
    """A short human reading of the rules this module writes; raw rules are shown as is."""
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    extra = set(parts) - {"FREQ", "INTERVAL", "BYDAY"}
    if extra or freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return rule
    if "BYDAY" in parts and freq == "WEEKLY":
        names = _day_names()
        days = ", ".join(names.get(d, d) for d in parts["BYDAY"].split(","))
        if parts["BYDAY"] == "MO,TU,WE,TH,FR" and interval == 1:
            return _("every weekday")
        if interval == 1:
            return _("every {days}", days=days)
        return ngettext(
            "every {n} week on {days}", "every {n} weeks on {days}", interval, days=days
        )
    if "BYDAY" in parts:
        return rule
    # One, then a plural with {n} in every form (the catalogue check wants {n} in each).
    if freq == "DAILY":
        return (
            _("every day")
            if interval == 1
            else ngettext("every {n} day", "every {n} days", interval)
        )
    if freq == "WEEKLY":
        return (
            _("every week")
            if interval == 1
            else ngettext("every {n} week", "every {n} weeks", interval)
        )
    if freq == "MONTHLY":
        return (
            _("every month")
            if interval == 1
            else ngettext("every {n} month", "every {n} months", interval)
        )
    return (
        _("every year")
        if interval == 1
        else ngettext("every {n} year", "every {n} years", interval)
    )


def _day_names() -> dict[str, str]:
    """MO -> 'Monday' (the reader's language: 'lundi', 'Montag')."""
    codes = [_DAYS[k] for k in _FULL_DAYS]
    if current() == SOURCE:
        return {code: name.capitalize() for code, name in zip(codes, _FULL_DAYS, strict=True)}
    from babel.dates import get_day_names

    names = get_day_names("wide", locale=current())
    return {code: str(names[i]) for i, code in enumerate(codes)}
