"""A rule's text is read by dateutil once and its DTSTART and UNTIL set on the parsed rule
(commands/time/recurrence.build, issue 25): the occurrences are those of reading the whole
text again with that DTSTART, for every kind of rule the bot keeps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.hostile import HOSTILE_RULES
from commands.time.recurrence import (
    bounded_search,
    build,
    occurrences_between,
    parse_rule,
    rule_text,
    shortest_gap,
)

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


GAP_RULES = [
    *RULES,
    "FREQ=WEEKLY;BYDAY=TU",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=MONTHLY;BYMONTHDAY=30;INTERVAL=2",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=MONTHLY;BYDAY=2TU",
]


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(GAP_RULES),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)),
    zone=st.sampled_from(["Europe/Paris", "Australia/Lord_Howe", "America/Sao_Paulo", "UTC"]),
)
def test_no_two_occurrences_are_closer_than_the_rules_shortest_gap(
    rule: str, start: datetime, zone: str
) -> None:
    """What `!agenda` relies on to keep a repeating item's stored next occurrence as its
    only row without expanding it (views.agenda_entries): the aware time between two
    occurrences, across changes of UTC offset, is never below `shortest_gap`."""
    tz = ZoneInfo(zone)
    anchor = start.replace(tzinfo=tz)
    found = occurrences_between(rule, anchor, zone, anchor, anchor + timedelta(days=800), 60)
    gaps = [b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(found)]  # elapsed
    assert all(gap >= shortest_gap(rule) for gap in gaps), (rule, zone, min(gaps))


def test_the_shortest_gap_is_known_for_the_rules_people_write_most() -> None:
    assert shortest_gap("FREQ=WEEKLY") > timedelta(days=6)
    assert shortest_gap("FREQ=WEEKLY;BYDAY=MO") > timedelta(days=6)
    assert shortest_gap("FREQ=MONTHLY;BYMONTHDAY=-1") > timedelta(days=27)
    assert shortest_gap("FREQ=DAILY;INTERVAL=2") > timedelta(days=1)
    for spread in ("FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=MONTHLY;BYDAY=1MO", "FREQ=HOURLY"):
        assert shortest_gap(spread) == timedelta(0)
