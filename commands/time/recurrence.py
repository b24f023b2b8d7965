"""Recurrence rules (RFC 5545 RRULE): parsed into parts, checked, and expanded near a moment.

A rule typed by someone is hostile input: it could fire every second for ever, never fire
(and cost seconds to find that out), or repeat a part so that what was checked is not what
dateutil runs (dateutil keeps the last `FREQ=`). So a rule is split into its parts, each part
is known and given once, `BYSECOND` and sub-hourly frequencies are refused, the firing
interval and the existence of an occurrence are checked on the real expansion, and every
search is bounded.

Expansion cost must not grow with the age of an item: dateutil walks from DTSTART, so
`expand_near` moves DTSTART forward by whole periods (INTERVAL × FREQ) to just before the
moment asked, after writing the parts dateutil would otherwise take from DTSTART (weekday,
day of month, hour, minute) explicitly, so the occurrences are exactly the same.

A rule is expanded on wall-clock (naive local) times in the item's own zone and only then
localized, so a weekly 09:00 Paris meeting stays at 09:00 Paris across DST changes
(`next_occurrence`, `occurrences_between`).
"""

from __future__ import annotations

import datetime as _datetime_module
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import dateutil.rrule as _dateutil_rrule
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from commands.i18n import N_, _
from commands.time.durations import format_duration
from commands.time.zones import localize

FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
PARTS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSETPOS",
    "WKST",
)
MAX_RULE_LENGTH = 500
MAX_COUNT = 1_000
MAX_INTERVAL = 1_000
HORIZON = timedelta(days=5 * 366)  # a rule must fire within this (about 5 years)
SAMPLE = 200  # occurrences looked at for the shortest gap between two firings
# TRANSLATORS: only "or" is words; the three repeat= values are typed as they are.
RULE_EXAMPLE = N_("repeat=every Monday, repeat=FREQ=WEEKLY;BYDAY=MO,TH or repeat=FREQ=HOURLY")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@lru_cache(maxsize=512)
def parse_rule(text: str) -> tuple[tuple[str, str], ...]:
    """The rule's (NAME, value) parts in order; ValueError says what is wrong and what to write."""
    rule = text.strip()
    if len(rule) > MAX_RULE_LENGTH:
        raise ValueError(
            _(
                "the rule is longer than {n} characters; write e.g. {example}",
                n=MAX_RULE_LENGTH,
                example=_(RULE_EXAMPLE),
            )
        )
    rule = re.sub(r"^RRULE:", "", rule, flags=re.IGNORECASE).upper()
    parts: dict[str, str] = {}
    for chunk in rule.split(";"):
        if not chunk.strip():
            continue
        name, eq, value = (s.strip() for s in chunk.partition("="))
        if not eq or not value:
            raise ValueError(
                _(
                    "{chunk} is not NAME=value; write e.g. {example}",
                    chunk=repr(chunk[:20]),
                    example=_(RULE_EXAMPLE),
                )
            )
        if name == "DTSTART":
            raise ValueError(_("give the start as the time, not DTSTART inside the rule"))
        if name == "BYSECOND":
            raise ValueError(
                _(
                    "BYSECOND is not accepted (the smallest step is the minute); "
                    "write e.g. {example}",
                    example=_(RULE_EXAMPLE),
                )
            )
        if name not in PARTS:
            raise ValueError(
                _(
                    "{name} is not a rule part I accept ({parts})",
                    name=name[:20],
                    parts=", ".join(PARTS),
                )
            )
        if name in parts:
            raise ValueError(_("{name} is given twice in the rule; give each part once", name=name))
        parts[name] = value
    if parts.get("FREQ") not in FREQS:
        raise ValueError(
            _(
                "the rule's FREQ must be DAILY, WEEKLY, MONTHLY, YEARLY or HOURLY; "
                "write e.g. {example}",
                example=_(RULE_EXAMPLE),
            )
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError(_("give COUNT or UNTIL, not both"))
    _bounded_int(parts, "INTERVAL", MAX_INTERVAL)
    _bounded_int(parts, "COUNT", MAX_COUNT)
    ordered = tuple(parts.items())
    try:
        build(ordered, datetime(2026, 1, 1))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(
            _("the rule is not valid RFC 5545: {error}", error=str(exc)[:80])
        ) from None
    return ordered


def rule_text(parts: tuple[tuple[str, str], ...]) -> str:
    return ";".join(f"{k}={v}" for k, v in parts)


def build(parts: tuple[tuple[str, str], ...], dtstart: datetime) -> rrule:
    """dateutil's rrule for these parts from a naive wall-clock DTSTART.

    dateutil reads each rule's text once (`_read`): reading it (its own tokenizer and date
    parser, ~0.1 ms) was most of the cost of expanding an agenda's hundred items (issue
    25). DTSTART and UNTIL are then set with `rrule.replace`, which builds the rule again
    from what was written, so what DTSTART implies (the weekday, the hour) is its own."""
    fields = dict(parts)
    until = _until(fields)
    fields.pop("UNTIL", None)
    return _read(tuple(fields.items())).replace(dtstart=dtstart, until=until)


@lru_cache(maxsize=512)
def _read(parts: tuple[tuple[str, str], ...]) -> rrule:
    """The rule as dateutil reads its text (no UNTIL), from an arbitrary DTSTART."""
    return rrulestr(rule_text(parts), dtstart=datetime(2000, 1, 1))  # type: ignore[return-value]


def expand_near(
    rule: str, anchor: datetime, probe: datetime, until: datetime | None = None
) -> rrule:
    """The rule from `anchor`, with DTSTART moved to one period before `probe` (same result).

    `until` (naive) caps the search so a rule that no longer fires ends quickly.
    """
    parts = dict(parse_rule(rule))
    if until is not None and "COUNT" not in parts:
        own = _until(parts)
        if own is None or own > until:
            parts["UNTIL"] = until.strftime("%Y%m%dT%H%M%S")
    if "COUNT" in parts or probe <= anchor:
        return build(tuple(parts.items()), anchor)
    _pin_implicit(parts, anchor)
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    if freq == "HOURLY":
        steps = int((probe - anchor) / timedelta(hours=interval))
        step: timedelta | relativedelta = timedelta(hours=interval)
    elif freq in ("DAILY", "WEEKLY"):
        size = interval * (7 if freq == "WEEKLY" else 1)
        steps = (probe.date() - anchor.date()).days // size
        step = timedelta(days=size)
    elif freq == "MONTHLY":
        steps = ((probe.year - anchor.year) * 12 + probe.month - anchor.month) // interval
        step = relativedelta(months=interval)
    else:
        steps = (probe.year - anchor.year) // interval
        step = relativedelta(years=interval)
    steps = max(0, steps - 1)
    start = anchor + step * steps if isinstance(step, timedelta) else anchor + _times(step, steps)
    return build(tuple(parts.items()), start)


def _times(step: relativedelta, count: int) -> relativedelta:
    return relativedelta(months=(step.months + 12 * step.years) * count)


def _pin_implicit(parts: dict[str, str], anchor: datetime) -> None:
    """Write down what dateutil would read from DTSTART, so moving DTSTART changes nothing."""
    freq = parts["FREQ"]
    if freq != "HOURLY" and "BYHOUR" not in parts:
        parts["BYHOUR"] = str(anchor.hour)
    if "BYMINUTE" not in parts:
        parts["BYMINUTE"] = str(anchor.minute)
    if any(k in parts for k in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        return
    if freq == "WEEKLY":
        parts["BYDAY"] = _WEEKDAYS[anchor.weekday()]
    elif freq == "MONTHLY":
        parts["BYMONTHDAY"] = str(anchor.day)
    elif freq == "YEARLY":
        parts.setdefault("BYMONTH", str(anchor.month))
        parts["BYMONTHDAY"] = str(anchor.day)


class _CalendarEndingIn:
    """The datetime module as dateutil's rrule sees it, with the last year brought forward."""

    def __init__(self, year: int) -> None:
        self.MAXYEAR = year

    def __getattr__(self, name: str) -> Any:
        return getattr(_datetime_module, name)


@contextmanager
def bounded_search(until: datetime) -> Iterator[None]:
    """Make every rrule expansion inside this block stop in `until`'s year at the latest.

    dateutil compares UNTIL only with candidates that passed every BY* filter, so a rule
    whose filters never match (BYMONTH=2;BYMONTHDAY=30, BYSETPOS past the end) walks day by
    day to year 9999: seconds of CPU. Its only other stop is `datetime.MAXYEAR`, read from
    its module at each new month or year; inside this block that is `until`'s year. The
    block is synchronous (no await), so nothing else on the event loop runs meanwhile.
    """
    saved = _dateutil_rrule.datetime
    _dateutil_rrule.datetime = _CalendarEndingIn(min(until.year + 1, _datetime_module.MAXYEAR))  # type: ignore[assignment]
    try:
        yield
    finally:
        _dateutil_rrule.datetime = saved


def check_rule(rule: str, anchor: datetime, now_local: datetime, min_interval: timedelta) -> str:
    """Refuse a rule that never fires in the next 5 years or fires more often than allowed.

    `anchor` and `now_local` are naive wall times in the item's zone. Returns the rule text.
    """
    parts = parse_rule(rule)
    probe = max(anchor, now_local)
    found: list[datetime] = []
    with bounded_search(probe + HORIZON):
        for moment in expand_near(rule, anchor, probe, probe + HORIZON).xafter(probe, inc=True):
            found.append(moment)
            if len(found) >= SAMPLE:
                break
    if not found:
        raise ValueError(
            _(
                "the rule never happens in the next 5 years (check BYMONTH/BYMONTHDAY/UNTIL); "
                "write e.g. {example}",
                example=_(RULE_EXAMPLE),
            )
        )
    gaps = [b - a for a, b in pairwise(found)]
    if gaps and min(gaps) < min_interval:
        raise ValueError(
            _(
                "the rule fires every {gap} at times, more often than every {shortest} "
                "(the shortest interval allowed here); write e.g. {example}",
                gap=_short(min(gaps)),
                shortest=_short(min_interval),
                example=_(RULE_EXAMPLE),
            )
        )
    return rule_text(parts)


def _until(parts: dict[str, str]) -> datetime | None:
    if "UNTIL" not in parts:
        return None
    digits = re.sub(r"\D", "", parts["UNTIL"])
    return datetime.strptime((digits + "000000")[:14], "%Y%m%d%H%M%S")


def _bounded_int(parts: dict[str, str], name: str, top: int) -> None:
    if name in parts and not (parts[name].isdigit() and 1 <= int(parts[name]) <= top):
        raise ValueError(_("{name} must be a whole number from 1 to {top}", name=name, top=top))


def _short(delta: timedelta) -> str:
    return format_duration(delta) if delta >= timedelta(minutes=1) else _("less than a minute")


def validate_rrule(text: str) -> str:
    """Parse a raw RRULE into known parts, each once (see parse_rule)."""
    return rule_text(parse_rule(text))


def expand(rule: str, anchor_local: datetime) -> rrule:
    """The rule over wall-clock times from the item's first start (naive local)."""
    return build(parse_rule(rule), anchor_local)


def next_occurrence(
    rule: str, anchor_local: datetime, zone: str, after: datetime
) -> datetime | None:
    """The first occurrence strictly after `after` (aware), expanded in the zone's wall time."""
    tz = ZoneInfo(zone)
    probe = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    # Searched from just before `after`, never from the first start, and never further than
    # the horizon plus one period: the cost is the same on day 1 and after years.
    limit = probe + HORIZON + timedelta(days=800)
    with bounded_search(limit):
        expansion = expand_near(rule, anchor_local, probe, limit)
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
    with bounded_search(stop):
        for naive in expand_near(rule, anchor_local, probe, stop).xafter(probe, inc=True):
            moment = localize(naive, zone, strict=False)
            if moment >= end or len(found) >= limit:
                break
            if moment >= start:
                found.append(moment)
    return found


# One occurrence per period, at least this far apart, whatever the wall clock does.
_PERIODS = {
    "YEARLY": timedelta(days=365),
    "MONTHLY": timedelta(days=28),
    "WEEKLY": timedelta(days=7),
    "DAILY": timedelta(days=1),
}
_ONE_A_PERIOD = {"WEEKLY": "BYDAY", "MONTHLY": "BYMONTHDAY"}  # a single value keeps it one
_SHIFT = timedelta(hours=2)  # what a change of UTC offset can take from a wall-clock gap


@lru_cache(maxsize=512)
def shortest_gap(text: str) -> timedelta:
    """A lower bound on the time between two occurrences of the rule; zero if unknown.

    Known without expanding when the rule fires once a period (no BY part spreads it over
    the period, or one day of the week or month): INTERVAL periods apart, less a change
    of UTC offset. So an agenda can tell that an item's stored next occurrence is its only
    one before the last row, without expanding the rule (issue 25)."""
    parts = dict(parse_rule(text))
    freq = parts.get("FREQ", "")
    spread = {name for name in parts if name.startswith("BY")}
    one = _ONE_A_PERIOD.get(freq, "")
    value = parts.get(one, ",")
    if "," not in value and (one == "BYMONTHDAY" or value.isalpha()):  # MO, not 2MO or 1,15
        spread.discard(one)
    if spread or freq not in _PERIODS:
        return timedelta(0)
    return int(parts.get("INTERVAL", "1")) * _PERIODS[freq] - _SHIFT
