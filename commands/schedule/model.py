"""Scheduling rules without SQL or Context: constants, lead times, repeats, ends, and where
the time ends in a reminder's text.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands.errors import UserError
from commands.i18n import _, ngettext
from commands.render import person
from commands.time import (
    MAX_WHEN_LENGTH,
    TooFar,
    UnreadableTime,
    localize,
    parse_duration,
    parse_when,
    recurrence_rule,
    split_zone,
)

LEAD_JOB = "schedule.lead"
NEXT_JOB = "schedule.next"
DM = "dm"  # reminders to the creator's DM (room_id NULL)
DEFAULT_LEADS = (timedelta(days=1), timedelta(hours=1), timedelta(minutes=15))
MAX_LEADS = 6
MAX_LEAD = timedelta(days=60)
KIND_NAMES = {"V": "visit", "M": "meeting", "R": "reminder"}
COMMAND_OF = {"V": "visit", "M": "meeting", "R": "remind"}  # the command that makes each
AGENDA_ROWS = 100  # the agenda shows at most this many occurrences (a phone screen or ten)
EDIT_KEYS = ("title", "start", "end", "place", "with", "lead", "repeat", "marking", "rel")


def parse_leads(text: str) -> list[timedelta]:
    """'1d,1h,15m' or 'none' -> lead times, longest first."""
    cleaned = text.strip().lower()
    if cleaned in ("none", "no", "0", "-"):
        return []
    leads = sorted({parse_duration(part) for part in cleaned.split(",") if part}, reverse=True)
    if len(leads) > MAX_LEADS:
        raise ValueError(ngettext("at most {n} lead time", "at most {n} lead times", MAX_LEADS))
    if leads and leads[0] > MAX_LEAD:
        raise ValueError(_("a lead time can be at most {longest}", longest="60d"))
    return leads


def parse_repeat(text: str) -> str | None:
    cleaned = text.strip()
    if cleaned.lower() in ("none", "no", "never", "once"):
        return None
    return recurrence_rule(cleaned)


def parse_end(text: str, start: datetime, zone: str, now: datetime) -> datetime:
    """end=15:30 (same day), end=1h30m (a duration) or a full date and time."""
    cleaned = text.strip()
    try:
        end = start + parse_duration(cleaned)
    except TooFar:
        raise
    except ValueError:
        if re.fullmatch(r"\d{1,2}[:h.]\d{2}", cleaned):
            hour, minute = (int(x) for x in re.split(r"[:h.]", cleaned))
            if hour > 23 or minute > 59:
                raise ValueError(_("{time} is not a time of day", time=repr(cleaned))) from None
            local = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            end = localize(local.replace(hour=hour, minute=minute), zone, strict=False)
        else:
            body, explicit = split_zone(cleaned)
            end = parse_when(body, explicit or zone, now).start
    if end <= start:
        raise ValueError(_("the end must be after the start; write e.g. end=1h or end=15:30"))
    return end


def span(delta: timedelta) -> str:
    """Rounded to the nearest minute: a job runs a moment after it is due, and 'lead=2m' must
    still read 'in 2m', not 'in 1m'. In the reader's words (English keeps the typed form,
    1h30m; French reads 1 h 30 min, German 1 Std. 30 Min.)."""
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 1:
        return _("less than a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        # TRANSLATORS: a duration's days, as in "starts in 2d" (English keeps the short form).
        parts.append(ngettext("{n}d", "{n}d", days))
    if hours:
        # TRANSLATORS: a duration's hours, as in "starts in 1h30m".
        parts.append(ngettext("{n}h", "{n}h", hours))
    if minutes:
        # TRANSLATORS: a duration's minutes, as in "starts in 15m".
        parts.append(ngettext("{n}m", "{n}m", minutes))
    text = parts[0]
    for part in parts[1:]:
        # TRANSLATORS: two parts of a duration, 1h + 30m; English writes them together (1h30m).
        text = _("{first}{then}", first=text, then=part)
    return text


def who(participant: str) -> str:
    """A participant: a person by name (pill), a post by its code."""
    return person(participant) if participant.startswith("@") else participant


def reads_as_time(text: str, zone: str, now: datetime) -> bool:
    try:
        parse_when(text, zone, now)
    except ValueError:
        return False
    return True


# A time is at most this many words ("every Monday, Wednesday and Friday at 09:00 UTC"): only
# cuts within them are tried, so one message costs at most this many dateparser calls.
MAX_WHEN_WORDS = 8
# Words between the time and the text of a reminder ("in 2h to call Paris").
_SEPARATORS = ("to", "that", "-", "–", ":")


def split_when_text(words: list[str], zone: str, now: datetime) -> tuple[str, str]:
    """The longest leading words that read as a time; the rest (minus a leading 'to') is text."""
    first_error: ValueError | None = None
    for cut in range(min(len(words) - 1, MAX_WHEN_WORDS), 0, -1):
        candidate = " ".join(words[:cut])
        if len(candidate) > MAX_WHEN_LENGTH:
            continue
        rest = words[cut:]
        separated = bool(rest) and rest[0].lower() in _SEPARATORS
        try:
            parse_when(candidate, zone, now)
        except ValueError as exc:
            # The time the person meant ends where "to" begins: its refusal ("'in 0m' is
            # now") says more than a longer cut's ("'0m to' is not a duration").
            if cut <= 3 and (first_error is None or separated):
                first_error = exc
            continue
        if separated:
            rest = rest[1:]
        return candidate, " ".join(rest)
    if first_error is not None and not _no_time_at_all(first_error):
        raise UserError(str(first_error), example=remind_example()) from first_error
    raise UserError(
        _("I could not find a time at the start. Write the time, then --, then the text."),
        example=remind_example(),
    )


def _no_time_at_all(error: ValueError) -> bool:
    """Words that are no time at all (UnreadableTime, in any language), as opposed to a
    time refused (past, ambiguous): only the refusal is worth showing."""
    return isinstance(error, UnreadableTime)


def remind_example() -> str:
    # TRANSLATORS: an example command: keep "!remind" and "--"; the time must be one the bot
    # reads in your language (demain 09:30, morgen 09:30); translate the text after --.
    return _("!remind tomorrow 09:30 -- call Paris")
