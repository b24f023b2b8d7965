"""iCalendar export of visits, meetings and reminders (RFC 5545, via the icalendar library).

Start and end carry the item's own zone (TZID plus a VTIMEZONE), and the recurrence is the
stored RRULE, so a calendar program expands it in the same zone the bot does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


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


def calendar(
    events: Sequence[IcsEvent], name: str = "attache-bot", marking: str | None = None
) -> bytes:
    """`marking`: the combined banner of everything in the file (a file is marked as a
    whole, like paper: its name says so, and X-ATTACHE-MARKING for programs)."""
    import icalendar  # on first export only: ~3 MiB and ~20 ms of start-up otherwise

    cal = icalendar.Calendar()
    cal.add("prodid", "-//attache-bot//schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"[{marking}] {name}" if marking else name)
    if marking:
        cal.add("x-attache-marking", marking)
    for item in events:
        tz = ZoneInfo(item.zone)
        ev = icalendar.Event()
        ev.add("uid", item.uid)
        ev.add("dtstamp", item.stamp)
        # A marked event says so where every calendar shows it (the summary) and in CLASS,
        # which calendars use to hide details when they share a calendar.
        marked = f"[{item.marking}] " if item.marking else ""
        ev.add("summary", f"{marked}{item.code} {item.title}")
        if item.marking:
            ev.add("class", "CONFIDENTIAL")
        ev.add("dtstart", item.start.astimezone(tz))
        if item.end is not None:
            ev.add("dtend", item.end.astimezone(tz))
        if item.place:
            ev.add("location", item.place)
        if item.rrule:
            ev.add("rrule", icalendar.vRecur.from_ical(item.rrule))
        for who in item.attendees:
            if who.startswith("@"):
                ev.add("attendee", f"https://matrix.to/#/{who}")
            else:
                ev.add("attendee", f"urn:x-attache:post:{who}")
        ev.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        # One alarm per lead time, so the calendar reminds as the bot does.
        for lead in item.leads:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{marked}{item.code} {item.title}")
            alarm.add("trigger", -lead)
            ev.add_component(alarm)
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
