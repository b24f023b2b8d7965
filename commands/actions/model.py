"""Summits and action items as rules: statuses and legal moves, days, digest slots.

No SQL and no Context here: what is legal is decided apart from who asked and how it is stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.ids import number_of
from commands.timeparse import parse_due

STATUSES = ("open", "in_progress", "done", "cancelled")
ACTIVE = ("open", "in_progress")
STATUS_WORDS = {
    "open": "open",
    "in_progress": "in_progress",
    "inprogress": "in_progress",
    "progress": "in_progress",
    "started": "in_progress",
    "done": "done",
    "closed": "done",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
# Who may move an item from one status to another: the owner moves their own work along;
# cancelling and bringing back a cancelled item is the secretariat's call.
OWNER_MOVES = {
    ("open", "in_progress"),
    ("open", "done"),
    ("in_progress", "open"),
    ("in_progress", "done"),
    ("done", "open"),
    ("done", "in_progress"),
}
SECRETARIAT_MOVES = OWNER_MOVES | {
    ("open", "cancelled"),
    ("in_progress", "cancelled"),
    ("done", "cancelled"),
    ("cancelled", "open"),
}

parse_summit_id = number_of("S")
parse_item_id = number_of("A")


def shown_status(status: str) -> str:
    return status.replace("_", " ")


def parse_status(text: str) -> str:
    word = re.sub(r"[\s\-]+", "_", text.strip().lower())
    if word in STATUS_WORDS:
        return STATUS_WORDS[word]
    if word.replace("_", "") in STATUS_WORDS:
        return STATUS_WORDS[word.replace("_", "")]
    raise ValueError(f"{text[:30]!r} is not a status; use open, in-progress, done or cancelled")


# -- dates ---------------------------------------------------------------------------------


def parse_day(text: str, zone: str, now: datetime) -> date:
    """A summit day: whatever a deadline accepts, read as the day it falls on."""
    return parse_due(text, zone, now, future=False).at.astimezone(ZoneInfo(zone)).date()


# -- digest slots --------------------------------------------------------------------------

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_digest_at(now: datetime, zone: str, hhmm: str, days: list[str]) -> datetime:
    """The next working-day HH:MM in the zone strictly after now (DST-safe: wall clock)."""
    tz = ZoneInfo(zone)
    hour, minute = (int(p) for p in hhmm.split(":"))
    local_today = now.astimezone(tz).date()
    for offset in range(0, 15):
        day = local_today + timedelta(days=offset)
        if DAY_NAMES[day.weekday()] not in days:
            continue
        slot = datetime.combine(day, time(hour, minute), tzinfo=tz)
        if slot > now:
            return slot
    raise ValueError("no working day configured")
