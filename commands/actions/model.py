"""Summits and action items as rules: statuses and legal moves, days, digest slots.

No SQL and no Context here: what is legal is decided apart from who asked and how it is stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands import i18n
from commands.i18n import _, pgettext
from commands.ids import number_of
from commands.time import parse_due

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
    """The status in the reader's language ("in progress", "en cours", "in Bearbeitung");
    the context keeps it apart from other "open"s (a French action is feminine)."""
    names = {
        "open": pgettext("action status", "open"),
        "in_progress": pgettext("action status", "in progress"),
        "done": pgettext("action status", "done"),
        "cancelled": pgettext("action status", "cancelled"),
    }
    return names.get(status) or status.replace("_", " ")


def _key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _shown_words() -> dict[str, str]:
    """Every language's status names, as people may type them back (`status=terminée`)."""
    words: dict[str, str] = {}
    for code in i18n.available():
        with i18n.language(code):
            for status in STATUSES:
                words.setdefault(_key(shown_status(status)), status)
    return words


def parse_status(text: str) -> str:
    word = _key(text)
    if word in STATUS_WORDS:
        return STATUS_WORDS[word]
    if word.replace("_", "") in STATUS_WORDS:
        return STATUS_WORDS[word.replace("_", "")]
    shown = _shown_words()
    if word in shown:
        return shown[word]
    raise ValueError(
        _(
            "{text!r} is not a status; use open, in-progress, done or cancelled",
            text=text[:30],
        )
    )


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


def shown_state(state: str) -> str:
    """A summit's state in the reader's language (a French sommet is masculine)."""
    names = {
        "open": pgettext("summit state", "open"),
        "closed": pgettext("summit state", "closed"),
    }
    return names.get(state, state)
