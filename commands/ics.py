"""iCalendar export of visits, meetings and reminders (RFC 5545, via the icalendar library).

Start and end carry the item's own zone (TZID plus a VTIMEZONE), and the recurrence is the
stored RRULE, so a calendar program expands it in the same zone the bot does.

Every value is escaped, formatted and folded by icalendar, and each VTIMEZONE is icalendar's;
but an agenda of hundreds of events is not built as icalendar Components. A Component costs
about 0.3 ms per event to build and serialise (a Parameters dict, a type lookup, a
Contentline and a character-by-character fold for every property), which put `!ics agenda
366` over the 100 ms of CPU a message may cost (issue 25). Here the lines that repeat
(DTSTAMP, attendees, rules, alarm triggers, the TZID parameter, constants) are made by a
Component once per export, the VTIMEZONE once per zone for the process, and each event's own
values (summary, UID, place, start, end) by the property type's `to_ical`. The bytes are the
ones `Calendar.to_ical()` gives for the same components, in its property order (canonical
order, then alphabetical); tests/unit/commands/test_ics_writer.py compares the two.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter, neg
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from icalendar import Component

FOLD_AT = 75  # octets: icalendar folds a line that reaches this length; a shorter one is kept


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    code: str
    title: str
    start: datetime  # aware (UTC is fine: it is converted to the zone)
    end: datetime | None
    zone: str
    place: str
    rrule: str | None
    attendees: Sequence[str]
    stamp: datetime
    cancelled: bool = False
    leads: Sequence[timedelta] = ()
    marking: str | None = None  # the banner (`RESTRICTED // REL TO FRA, DEU`), if marked
    # Answers to the invitation, (Matrix ID, PARTSTAT) pairs: each attendee who is a person
    # gets PARTSTAT (NEEDS-ACTION if they have not answered), a post's members who answered
    # follow as their own ATTENDEE. None (nobody answered): the attendees as they were.
    partstats: tuple[tuple[str, str], ...] | None = None


def attendee_address(who: str) -> str:
    """A participant as a calendar address: a person's matrix.to link, a post's URN."""
    return f"https://matrix.to/#/{who}" if who.startswith("@") else f"urn:x-attache:post:{who}"


def attendees(item: IcsEvent) -> list[tuple[str, str | None]]:
    """(address, PARTSTAT or None) of each ATTENDEE line, in the order they are written."""
    if item.partstats is None:
        return [(attendee_address(who), None) for who in item.attendees]
    states = dict(item.partstats)
    lines: list[tuple[str, str | None]] = []
    for who in item.attendees:
        state = states.get(who, "NEEDS-ACTION") if who.startswith("@") else None
        lines.append((attendee_address(who), state))
    listed = set(item.attendees)
    lines += [(attendee_address(who), state) for who, state in item.partstats if who not in listed]
    return lines


def calendar(
    events: Sequence[IcsEvent], name: str = "attache-bot", marking: str | None = None
) -> bytes:
    """`marking`: the combined banner of everything in the file (a file is marked as a
    whole, like paper: its name says so, and X-ATTACHE-MARKING for programs)."""
    import icalendar  # on first export only: ~3 MiB and ~20 ms of start-up otherwise

    head = [b"BEGIN:VCALENDAR"]
    head.append(_property(icalendar.Calendar, "version", "2.0"))
    head.append(_property(icalendar.Calendar, "prodid", "-//attache-bot//schedule//EN"))
    head.append(_property(icalendar.Calendar, "calscale", "GREGORIAN"))
    head.append(
        _property(icalendar.Calendar, "x-wr-calname", f"[{marking}] {name}" if marking else name)
    )
    if marking:
        head.append(_property(icalendar.Calendar, "x-attache-marking", marking))
    writer = _Events()
    body = [line for item in events for line in writer.event(item)]
    # One VTIMEZONE per zone the events name, before them (as add_missing_timezones puts
    # them; in TZID order, so the file does not depend on a set's order).
    zones = [_vtimezone(tzid) for tzid in sorted(writer.tzids - {"UTC"})]
    lines = [*head, *(z for z in zones if z), *body, b"END:VCALENDAR"]
    return b"\r\n".join(lines) + b"\r\n"


def _fold(line: bytes) -> bytes:
    """The line as icalendar folds it (its Contentline), without its per-character loop for
    the lines that need no fold (most of them)."""
    if len(line) < FOLD_AT:
        return line
    from icalendar.parser import Contentline

    folded = Contentline(line.decode("utf-8"))  # type: ignore[no-untyped-call]
    return bytes(folded.to_ical())  # type: ignore[no-untyped-call]


def _property(
    component: type[Component],
    name: str,
    value: object,
    parameters: dict[str, str] | None = None,
) -> bytes:
    """One property line made entirely by icalendar, as `component.to_ical()` writes it."""
    scratch = component()
    if parameters is None:
        scratch.add(name, value)
    else:
        scratch.add(name, value, parameters=parameters)
    return bytes(scratch.content_line(name.upper(), scratch[name]).to_ical())


@lru_cache(maxsize=64)
def _vtimezone(tzid: str) -> bytes | None:
    """icalendar's VTIMEZONE for the zone (unknown zones are left out, as icalendar does);
    ~15 ms each, so made once per zone for the process."""
    from icalendar import Timezone

    try:
        return bytes(Timezone.from_tzid(tzid).to_ical()).removesuffix(b"\r\n")
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _zone_parameters(zone: str) -> tuple[bytes, str | None, bytes]:
    """What icalendar writes around a date-time in this zone: the parameters (`;TZID=…`), the
    TZID, and the value's suffix (`Z` in UTC). All three depend on the zone only, so they are
    asked of icalendar once per zone instead of once per date-time (its Parameters and TZID
    lookup were half of each DTSTART)."""
    from icalendar import vDatetime, vDDDTypes

    sample = datetime(2000, 1, 1, tzinfo=ZoneInfo(zone))
    params = vDDDTypes(sample).params
    written = params.to_ical(sorted=True)
    suffix = vDatetime(sample).to_ical().removeprefix(b"20000101T000000")  # type: ignore[no-untyped-call]
    return (b";" + written if written else b""), params.get("TZID"), suffix


def _local_value(local: datetime, suffix: bytes) -> bytes:
    """A DATE-TIME value as icalendar's vDatetime.to_ical writes it (its format, digit for
    digit), with the zone's suffix from _zone_parameters."""
    return (
        f"{local.year:04}{local.month:02}{local.day:02}"
        f"T{local.hour:02}{local.minute:02}{local.second:02}"
    ).encode() + suffix


class _Events:
    """Lines of VEVENTs, with what repeats between events made once (per export)."""

    def __init__(self) -> None:
        import icalendar

        self._ical = icalendar
        self.tzids: set[str] = set()
        self._memo: dict[tuple[str | None, str, object], bytes] = {}

    def _once(
        self,
        component: type[Component],
        name: str,
        key: Hashable,
        value: Callable[[Any], object] | None = None,
        parameters: dict[str, str] | None = None,
    ) -> bytes:
        """The line icalendar writes for `value(key)` (the key itself if None); `key` stands
        for the value and the parameters. The value is made only when the key is new: reading a
        rule's text again for each of a thousand weekly events was a third of the file."""
        slot = (component.name, name, key)
        line = self._memo.get(slot)
        if line is None:
            made = key if value is None else value(key)
            line = self._memo[slot] = _property(component, name, made, parameters)
        return line

    def _text(self, name: bytes, text: str) -> bytes:
        return _fold(name + b":" + self._ical.vText(text).to_ical())

    def _when(self, name: bytes, moment: datetime, zone: str) -> bytes:
        params, tzid, suffix = _zone_parameters(zone)
        if tzid is not None:
            self.tzids.add(tzid)
        value = _local_value(moment.astimezone(ZoneInfo(zone)), suffix)
        return _fold(name + params + b":" + value)

    def event(self, item: IcsEvent) -> list[bytes]:
        """The VEVENT in icalendar's property order: SUMMARY, DTSTART, DTEND, DTSTAMP, UID,
        RRULE (its canonical order), then ATTENDEE, CLASS, LOCATION, STATUS; then alarms."""
        ical = self._ical
        ev, alarm = ical.Event, ical.Alarm
        # A marked event says so where every calendar shows it (the summary) and in CLASS,
        # which calendars use to hide details when they share a calendar.
        marked = f"[{item.marking}] " if item.marking else ""
        summary = ical.vText(f"{marked}{item.code} {item.title}").to_ical()
        lines = [b"BEGIN:VEVENT", _fold(b"SUMMARY:" + summary)]
        lines.append(self._when(b"DTSTART", item.start, item.zone))
        if item.end is not None:
            lines.append(self._when(b"DTEND", item.end, item.zone))
        lines.append(self._once(ev, "dtstamp", item.stamp))
        lines.append(self._text(b"UID", item.uid))
        if item.rrule:
            rule = item.rrule
            lines.append(self._once(ev, "rrule", rule, ical.vRecur.from_ical))
        for address, state in attendees(item):
            if state is None:
                lines.append(self._once(ev, "attendee", address))
            else:
                params = {"PARTSTAT": state}
                lines.append(self._once(ev, "attendee", (address, state), itemgetter(0), params))
        if item.marking:
            lines.append(self._once(ev, "class", "CONFIDENTIAL"))
        if item.place:
            lines.append(self._text(b"LOCATION", item.place))
        status = "CANCELLED" if item.cancelled else "CONFIRMED"
        lines.append(self._once(ev, "status", status))
        # One alarm per lead time, so the calendar reminds as the bot does.
        for lead in item.leads:
            lines.append(b"BEGIN:VALARM")
            lines.append(self._once(alarm, "action", "DISPLAY"))
            lines.append(_fold(b"DESCRIPTION:" + summary))
            lines.append(self._once(alarm, "trigger", lead, neg))
            lines.append(b"END:VALARM")
        lines.append(b"END:VEVENT")
        return lines
