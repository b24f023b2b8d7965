"""Time as people type it and read it, in their zone and their language.

One way to read and show a time for every domain. The modules, each with one job:

- `reading`: the start of something (`parse_when`): "tomorrow 09:30", "in 2h", "every
  Monday 09:00"; what is too vague to guess is a question, not a guess.
- `deadlines`: `due=` (`parse_due`, `Due`, `show_due`): a whole day or an instant.
- `durations`: "1h30m", "2 Std." and the short form they are shown in.
- `zones`: the zone written after a time; wall times DST skips or repeats (`localize`).
- `showing`: an instant shown in a zone, beside other zones (`fmt`, `fmt_zones`); English
  by strftime, every other language by Babel, loaded on first use.
- `recurrence`: RFC 5545 rules, checked as hostile input and expanded in a zone.
- `repeats`: repeat words ("every 2 weeks") as a rule, and a rule described.
- `words`: what differs per language (units, repeat words, filler words, date order).
- `limits`: how long and how far a time may be.

Importing this package loads neither dateparser nor Babel's dates: each is loaded on first use.
"""

from commands.time.deadlines import Due, end_of_day, parse_due, show_due
from commands.time.durations import format_duration, parse_duration
from commands.time.limits import (
    MAX_REACH,
    MAX_WHEN_LENGTH,
    TooFar,
    check_time_length,
    too_far,
    within_reach,
)
from commands.time.reading import UnreadableTime, When, parse_when
from commands.time.recurrence import (
    check_rule,
    expand,
    next_occurrence,
    occurrences_between,
    validate_rrule,
)
from commands.time.repeats import describe_rule, recurrence_rule
from commands.time.showing import fmt, fmt_zones, show_instant, show_pattern, show_wall
from commands.time.zones import localize, split_zone

__all__ = [
    "MAX_REACH",
    "MAX_WHEN_LENGTH",
    "Due",
    "TooFar",
    "UnreadableTime",
    "When",
    "check_rule",
    "check_time_length",
    "describe_rule",
    "end_of_day",
    "expand",
    "fmt",
    "fmt_zones",
    "format_duration",
    "localize",
    "next_occurrence",
    "occurrences_between",
    "parse_due",
    "parse_duration",
    "parse_when",
    "recurrence_rule",
    "show_due",
    "show_instant",
    "show_pattern",
    "show_wall",
    "split_zone",
    "too_far",
    "validate_rrule",
    "within_reach",
]
