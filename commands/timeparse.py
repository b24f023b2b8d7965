"""Reading times people type ("tomorrow 09:30", "in 2h", "every Monday 09:00") in their zone.

dateparser reads the words; this module decides what is too vague to guess: a day with no
time of day, a numeric date that could be day/month or month/day, a past time, a wall time
that does not exist (clocks go forward) or happens twice (clocks go back). Each of those is
a ValueError whose text is a question or a fix, so the registry shows it to the user.

Recurrence is expanded on wall-clock (naive local) times in the item's own zone and only
then localized, so a weekly 09:00 Paris meeting stays at 09:00 Paris across DST changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule

from commands import recurrence
from commands.people import parse_zone

# The most text ever handed to dateparser for one time: its cost grows with the length, and
# no real time ("next Tuesday 14:00 America/Argentina/Buenos_Aires") comes near this.
MAX_WHEN_LENGTH = 100

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
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
_DURATION = re.compile(r"^(?:\d+\s*[a-z]+\s*)+$")
_TIME_OF_DAY = re.compile(
    r"\b\d{1,2}[:h.]\d{2}\b|\b\d{1,2}\s*(?:am|pm)\b|\bnoon\b|\bmidnight\b", re.IGNORECASE
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


def parse_duration(text: str) -> timedelta:
    """'2h', '1h30m', '90 minutes', '1d' -> timedelta; ValueError otherwise."""
    cleaned = text.strip().lower()
    if not _DURATION.match(cleaned):
        raise ValueError(f"{text[:30]!r} is not a duration like 15m, 1h, 1h30m or 1d")
    total = 0
    for amount, unit in _DURATION_PART.findall(cleaned):
        if unit not in _UNITS:
            raise ValueError(f"{unit!r} is not a unit; use s, m, h, d or w (e.g. 1h30m)")
        total += int(amount) * _UNITS[unit]
    return timedelta(seconds=total)


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


def localize(naive: datetime, zone: str, *, strict: bool = True) -> datetime:
    """Attach the zone to a wall time; refuse (strict) times that do not exist or repeat."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if strict and first.utcoffset() != second.utcoffset():
        wall = naive.strftime("%H:%M on %d %b %Y")
        back_to_naive = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back_to_naive != naive:
            raise ValueError(
                f"{wall} does not exist in {zone}: the clocks go forward then. "
                "Pick a time an hour later or earlier."
            )
        raise ValueError(
            f"{wall} happens twice in {zone}: the clocks go back then. "
            f"Give the time in UTC (add UTC at the end) or pick another time."
        )
    return first


def check_time_length(text: str, example: str) -> None:
    """Refuse, before dateparser sees it, a time or date longer than any real one.

    Every module that hands text to dateparser calls this first: its cost grows with the
    length, and a hostile head may hold 4,000 characters.
    """
    if len(text) > MAX_WHEN_LENGTH:
        raise ValueError(
            f"{text[:30]!r}… is too long for a time (at most {MAX_WHEN_LENGTH} characters); "
            f"write e.g. {example}"
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
        raise ValueError("no time given; write e.g. tomorrow 09:30 or in 2h")
    check_time_length(raw, "tomorrow 09:30, next Tuesday 14:00 or in 2h")
    body, explicit = split_zone(raw)
    zone = explicit or zone
    lowered = body.lower()
    if lowered.startswith("every "):
        return _parse_every(body, zone, now)
    if lowered.startswith("in "):
        delta = parse_duration(lowered[3:])
        if delta <= timedelta(0):
            raise ValueError("'in 0m' is now; give a time in the future, e.g. in 5m")
        return When((now + delta).astimezone(ZoneInfo(zone)), zone)
    return When(_parse_absolute(body, zone, now), zone)


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
    return f'{soon}, "{soon} 17:00", friday or "in 3 days"'


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
        raise ValueError(f"give a date, e.g. {_due_example(now)}")
    check_time_length(raw, _due_example(now))
    body, explicit = split_zone(raw)
    zone = explicit or zone
    lowered = body.lower()
    if _ISO_DATE.match(body):
        try:
            day = date.fromisoformat(body)
        except ValueError:
            raise ValueError(
                f"{body[:30]!r} is not a real date; e.g. {_due_example(now)}"
            ) from None
        return _future(Due(end_of_day(day, zone), zone, True), now, future)
    if lowered.startswith("in "):
        delta = parse_duration(lowered[3:])
        if delta <= timedelta(0):
            raise ValueError("'in 0m' is now; give a time in the future, e.g. in 3 days")
        moment = (now + delta).astimezone(ZoneInfo(zone))
        if delta % timedelta(days=1) == timedelta(0):
            return Due(end_of_day(moment.date(), zone), zone, True)
        return Due(moment, zone, False)
    if _TIME_OF_DAY.search(body):
        return Due(_parse_absolute(body, zone, now, future=future), zone, False)
    _refuse_ambiguous_numeric(body)
    naive = _dateparser(body, zone, now)
    if naive is None:
        raise ValueError(
            f"{body[:30]!r} is not a date or time I understand; write e.g. {_due_example(now)}"
        )
    return _future(Due(end_of_day(naive.date(), zone), zone, True), now, future)


def _future(due: Due, now: datetime, future: bool) -> Due:
    if future and due.at <= now:
        raise ValueError(f"{show_instant(due.at, due.zone)} is in the past. Give a future date.")
    return due


def _dateparser(body: str, zone: str, now: datetime) -> datetime | None:
    """The one place dateparser reads a typed time, relative to now in the sender's zone."""
    local_now = now.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    import dateparser  # on first use: ~4 MiB and ~25 ms of start-up (docs/BENCHMARKS.md)

    return dateparser.parse(
        body,
        languages=["en"],
        settings={**_DATEPARSER_SETTINGS, "RELATIVE_BASE": local_now},  # type: ignore[arg-type]
    )


# -- showing times ------------------------------------------------------------------------------


def show_instant(moment: datetime, zone: str | ZoneInfo) -> str:
    """An instant in the reader's zone, named by its abbreviation: Wed 04 Mar 2026 23:59 CET."""
    local = moment.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def show_due(due: Due, viewer_zone: str) -> str:
    """A deadline as the viewer reads it: a date if given as a day in their zone, else time."""
    if due.all_day:
        day = due.at.astimezone(ZoneInfo(due.zone)).date().isoformat()
        return day if due.zone == viewer_zone else f"{day} ({due.zone})"
    return due.at.astimezone(ZoneInfo(viewer_zone)).strftime("%Y-%m-%d %H:%M")


def fmt(moment: datetime, zone: str) -> str:
    """An instant in a zone, named in full: Mon 02 Mar 2026 10:00 Europe/Paris."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M") + f" {zone}"


def fmt_zones(moment: datetime, first: str, others: list[str] | tuple[str, ...] = ()) -> str:
    """The time in the first zone, then in each other zone that differs (date if it differs)."""
    text = fmt(moment, first)
    main = moment.astimezone(ZoneInfo(first))
    extra = []
    for zone in dict.fromkeys(others):
        if zone == first:
            continue
        local = moment.astimezone(ZoneInfo(zone))
        shown = (
            local.strftime("%H:%M")
            if local.date() == main.date()
            else local.strftime("%a %d %b %H:%M")
        )
        extra.append(f"{shown} {zone}")
    return text + (f" ({'; '.join(extra)})" if extra else "")


# -- instants --------------------------------------------------------------------------------


def _parse_absolute(body: str, zone: str, now: datetime, *, future: bool = True) -> datetime:
    _refuse_ambiguous_numeric(body)
    naive = _dateparser(body, zone, now)
    if naive is None:
        raise ValueError(
            f"I could not read {body[:40]!r} as a time. Write e.g. tomorrow 09:30, "
            "next Tuesday 14:00, 2026-12-03 10:00 Europe/Berlin or in 2h."
        )
    if not _TIME_OF_DAY.search(body):
        raise ValueError(
            f"{body[:40]!r} has no time of day. Add one, e.g. {body[:20]} 09:30 "
            "(or write a relative time like in 2h)."
        )
    start = localize(naive.replace(second=0, microsecond=0), zone)
    if future and start <= now:
        shown = start.strftime("%a %d %b %Y %H:%M")
        raise ValueError(f"{shown} {zone} is in the past. Give a future time.")
    return start


def _refuse_ambiguous_numeric(body: str) -> None:
    for match in _NUMERIC_DATE.finditer(body):
        a, b = int(match[1]), int(match[2])
        if ":" in body[match.start() - 1 : match.start()]:
            continue
        if a <= 12 and b <= 12 and a != b:
            year = match[3] or "YYYY"
            raise ValueError(
                f"{match[0]!r} could be {a} {_MONTHS[b - 1]} or {b} {_MONTHS[a - 1]}. "
                f"Write the date as {year}-MM-DD, e.g. 2026-{b:02d}-{a:02d}."
            )


_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _parse_every(body: str, zone: str, now: datetime) -> When:
    """'every Monday 09:00', 'every 2 weeks 10:00', 'every day 08:30', 'every weekday 9am'."""
    words = body.split()[1:]
    time_match = _TIME_OF_DAY.search(" ".join(words))
    if not time_match:
        raise ValueError(f"{body[:40]!r} has no time of day. Add one, e.g. every Monday 09:00.")
    spec = " ".join(words)[: time_match.start()].strip().rstrip(",").removesuffix(" at").strip()
    rule = recurrence_rule(spec or "day")
    import dateparser  # on first use, as in _parse_absolute

    clock = dateparser.parse(time_match[0], languages=["en"])
    if clock is None:
        raise ValueError(f"I could not read {time_match[0]!r} as a time of day, e.g. 09:00.")
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz).replace(tzinfo=None)
    anchor = local_now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    first = next_occurrence(rule, anchor, zone, now)
    if first is None:
        raise ValueError(f"{body[:40]!r} never happens after now.")
    return When(first, zone, rule)


def recurrence_rule(spec: str) -> str:
    """A human spec ('Monday', 'Mon,Wed', '2 weeks', 'weekday', 'weekly') or a raw RRULE."""
    text = spec.strip()
    if "FREQ=" in text.upper():
        return validate_rrule(text)
    # The words become a rule, and that rule goes through the same parser as a typed one.
    return validate_rrule(_words_rule(text))


def _words_rule(text: str) -> str:
    spec = text
    lowered = text.lower().removeprefix("every ").strip()
    if len(lowered) > recurrence.MAX_RULE_LENGTH:
        raise ValueError(f"the repeat is longer than {recurrence.MAX_RULE_LENGTH} characters")
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
        raise ValueError("the interval must be between 1 and 366")
    every = f";INTERVAL={interval}" if interval > 1 else ""
    unit = lowered.rstrip("s") if lowered.rstrip("s") in _FREQS else None
    if unit:
        return f"FREQ={_FREQS[unit]}{every}"
    days = [d for d in re.split(r"\s*(?:,|\band\b)\s*", lowered) if d]
    codes = []
    for day in days:
        key = day.rstrip("s") if day.rstrip("s") in _DAYS else day
        if key not in _DAYS:
            raise ValueError(
                f"{spec[:30]!r} is not a repeat I know. Write e.g. every Monday, every 2 weeks, "
                "every weekday, daily, or a raw rule like FREQ=WEEKLY;BYDAY=MO."
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
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[freq]
    if "BYDAY" in parts and freq == "WEEKLY":
        names = {_DAYS[k]: k.capitalize() for k in _FULL_DAYS}
        days = ", ".join(names.get(d, d) for d in parts["BYDAY"].split(","))
        if parts["BYDAY"] == "MO,TU,WE,TH,FR" and interval == 1:
            return "every weekday"
        return f"every {days}" if interval == 1 else f"every {interval} weeks on {days}"
    if "BYDAY" in parts:
        return rule
    return f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
