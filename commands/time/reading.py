"""Reading the start of something people type ("tomorrow 09:30", "in 2h", "every Monday 09:00").

dateparser reads the words; this module decides what is too vague to guess: a day with no
time of day, a numeric date that could be day/month or month/day, a past time, a wall time
that does not exist or happens twice (commands/time/zones.py). Each of those is a
ValueError whose text is a question or a fix, so the registry shows it to the user.

The reader's language is read as well as English (commands/time/words.py makes its way of
writing plain first); English is read exactly as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.ambiguity import Ambiguous, Reading
from commands.i18n import SOURCE, _, current, pgettext
from commands.time.durations import parse_duration
from commands.time.limits import MAX_REACH, check_time_length, too_far, within_reach
from commands.time.recurrence import next_occurrence
from commands.time.repeats import recurrence_rule
from commands.time.showing import fmt, show_pattern
from commands.time.words import CLOCK, date_order, normalise, relative_words, repeat_in_english
from commands.time.zones import localize, split_zone

_DATEPARSER_SETTINGS = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": False,
    "DATE_ORDER": "YMD",
}
# A clock time: 09:30, 9h30, 9.30 (not the 03.04 of 03.04.2026), 9am, noon, midnight.
TIME_OF_DAY = re.compile(
    r"(?<![\d./:])\d{1,2}[:h.]\d{2}(?!\d|[./]\d)|\b\d{1,2}\s*(?:am|pm)\b|\bnoon\b|\bmidnight\b",
    re.IGNORECASE,
)
_CLOCK_DIGITS = re.compile(r"(?<![\d./:])(\d{1,2})\s*[:h]\s*(\d{2})(?!\d)", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")


class UnreadableTime(ValueError):
    """The words are not a time at all (as opposed to a time refused: past, ambiguous...).

    Callers that try several cuts of a message (`!remind` without --) tell the two apart
    with this class, not by the message's wording, which is in the reader's language."""


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
    english = repeat_in_english(body)
    if english.lower().startswith("every "):
        return _parse_every(english, zone, now)
    delta = read_relative(body, zone, now)
    if delta is not None:
        if delta <= timedelta(0):
            raise ValueError(_("'in 0m' is now; give a time in the future, e.g. in 5m"))
        return When((now + delta).astimezone(ZoneInfo(zone)), zone)
    return When(within_reach(read_absolute(body, zone, now), now, body), zone)


def read_relative(body: str, zone: str, now: datetime) -> timedelta | None:
    """'in 2h' (any language), 'dans 2 heures', 'in 2 Stunden' -> how far ahead; None if the
    text does not start with the word for "in"; ValueError if what follows is no duration."""
    lowered = body.lower()
    head, _sep, rest = lowered.partition(" ")
    if head not in relative_words() or not rest:
        return None
    try:
        return parse_duration(rest)
    except ValueError as exc:
        if current() == SOURCE:
            raise
        error = exc
    # "dans 2 heures", "in 3 Tagen": dateparser knows the reader's words for units.
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    text = normalise(body)
    naive = None if TIME_OF_DAY.search(text) else with_dateparser(text, zone, now)
    if naive is None:
        raise error
    return timedelta(seconds=round((naive - local_now).total_seconds()))


def with_dateparser(body: str, zone: str, now: datetime) -> datetime | None:
    """The one place dateparser reads a typed time, relative to now in the sender's zone, in
    the sender's language and English."""
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    import dateparser  # on first use: ~4 MiB and ~25 ms of start-up (docs/BENCHMARKS.md)

    reader = current()
    languages = ["en"] if reader == SOURCE else [reader, "en"]
    settings = {**_DATEPARSER_SETTINGS, "RELATIVE_BASE": local_now}
    if reader != SOURCE:
        settings["DATE_ORDER"] = date_order() or "YMD"
    try:
        found = dateparser.parse(body, languages=languages, settings=settings)  # type: ignore[arg-type]
    except (OverflowError, ValueError):  # "dans 99999999999 jours", year 0: no time of ours
        return None
    if found is not None and abs(found - local_now) > MAX_REACH:
        raise too_far(body)
    return found


def read_absolute(body: str, zone: str, now: datetime, *, future: bool = True) -> datetime:
    """A date with a time of day ("tomorrow 09:30", "2026-12-03 10:00") as an instant."""
    refuse_ambiguous_numeric(body, now)
    text = normalise(body)
    # dateparser drops an impossible clock (25:61) and keeps the day at the current time.
    impossible = any(int(h) > 23 or int(m) > 59 for h, m in _CLOCK_DIGITS.findall(body))
    naive = None if impossible else with_dateparser(text, zone, now)
    if naive is None:
        raise UnreadableTime(
            _(
                "I could not read {text} as a time. Write e.g. tomorrow 09:30, "
                "next Tuesday 14:00, 2026-12-03 10:00 Europe/Berlin or in 2h.",
                text=repr(body[:40]),
            )
        )
    if not TIME_OF_DAY.search(text):
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
    ends = [m for m in (CLOCK.search(body), TIME_OF_DAY.search(body)) if m]
    typed = next((m[0] for m in ends if not body[m.end() :].strip()), "")
    start = localize(naive.replace(second=0, microsecond=0), zone, typed=typed)
    if future and start <= now:
        raise ValueError(_("{when} is in the past. Give a future time.", when=fmt(start, zone)))
    return start


def refuse_ambiguous_numeric(body: str, now: datetime) -> None:
    """03/04/2026 in a language that does not settle the order (English): ask, with both
    readings written plain (commands/ambiguity.py), in the year typed or the next one to come."""
    if current() != SOURCE and date_order() is not None:
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

    A reader's own repeat words arrive here in English (words.repeat_in_english); the time
    may be written the reader's way (10h, 9 Uhr)."""
    words = normalise(" ".join(body.split()[1:])).split()
    time_match = TIME_OF_DAY.search(" ".join(words))
    if not time_match:
        raise ValueError(
            _(
                "{text} has no time of day. Add one, e.g. every Monday 09:00.",
                text=repr(body[:40]),
            )
        )
    spec = " ".join(words)[: time_match.start()].strip().rstrip(",").removesuffix(" at").strip()
    rule = recurrence_rule(spec or "day")
    import dateparser  # on first use, as in with_dateparser

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
