"""A rule's text is read by dateutil once and its DTSTART and UNTIL set on the parsed rule
(commands/time/recurrence.build, issue 25): the occurrences are those of reading the whole
text again with that DTSTART, for every kind of rule the bot keeps."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from itertools import islice

from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.hostile import HOSTILE_RULES
from commands.time.recurrence import bounded_search, build, parse_rule, rule_text

RULES = [
    "FREQ=WEEKLY",
    "FREQ=DAILY",
    "FREQ=MONTHLY",
    "FREQ=YEARLY",
    "FREQ=WEEKLY;BYDAY=MO,WE",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=DAILY;UNTIL=20270101",
    "FREQ=WEEKLY;UNTIL=20260601T120000Z;INTERVAL=2",
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;COUNT=10",
    "FREQ=WEEKLY;WKST=SU;BYDAY=SU,SA;INTERVAL=3",
]


def _kept(rule: str) -> bool:
    try:
        parse_rule(rule)
    except ValueError:
        return False
    return True


KEPT = [rule for rule in RULES + HOSTILE_RULES if _kept(rule)]


def _read_whole(parts: tuple[tuple[str, str], ...], dtstart: datetime) -> list[datetime]:
    text = re.sub(r"(UNTIL=\d{8}T\d{6})Z", r"\1", rule_text(parts))
    return list(islice(rrulestr(text, dtstart=dtstart), 40))


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(KEPT),
    dtstart=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
)
def test_a_rule_read_once_expands_as_its_whole_text(rule: str, dtstart: datetime) -> None:
    parts = parse_rule(rule)
    with bounded_search(dtstart + timedelta(days=1500)):  # the never-firing hostile rules
        assert list(islice(build(parts, dtstart), 40)) == _read_whole(parts, dtstart)


def test_the_same_rule_from_two_starts_is_each_starts_own() -> None:
    """The implied weekday and hour follow each DTSTART, not the first one read."""
    parts = parse_rule("FREQ=WEEKLY")
    monday, friday = datetime(2026, 3, 2, 9), datetime(2026, 3, 6, 17, 30)
    assert next(iter(build(parts, monday))) == monday
    assert list(islice(build(parts, friday), 2)) == [friday, friday + timedelta(weeks=1)]
