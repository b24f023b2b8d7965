"""The time parser on its own: what it reads, and what it refuses to guess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands.time import (
    describe_rule,
    occurrences_between,
    parse_duration,
    parse_when,
    recurrence_rule,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris


@pytest.mark.parametrize(
    ("text", "zone", "expected_utc", "rule"),
    [
        ("tomorrow 09:30", "Europe/Paris", datetime(2026, 3, 3, 8, 30), None),
        ("next Tuesday 14:00", "Europe/Paris", datetime(2026, 3, 3, 13, 0), None),
        ("2026-12-03 10:00 Europe/Berlin", "America/New_York", datetime(2026, 12, 3, 9, 0), None),
        ("in 2h", "Asia/Tokyo", datetime(2026, 3, 2, 11, 0), None),
        ("in 1h30m", "UTC", datetime(2026, 3, 2, 10, 30), None),
        ("friday 9am", "America/New_York", datetime(2026, 3, 6, 14, 0), None),
        ("09:30", "Europe/Paris", datetime(2026, 3, 3, 8, 30), None),  # today's has passed
        (
            "every Monday 09:00",
            "Europe/Paris",
            datetime(2026, 3, 9, 8, 0),
            "FREQ=WEEKLY;BYDAY=MO",
        ),
        (
            "every weekday 8am",
            "Europe/Paris",
            datetime(2026, 3, 3, 7, 0),
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        ),
    ],
)
def test_good_times(text: str, zone: str, expected_utc: datetime, rule: str | None) -> None:
    when = parse_when(text, zone, NOW)
    assert when.start.astimezone(UTC).replace(tzinfo=None) == expected_utc
    assert when.rrule == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow", "'tomorrow' has no time of day. Add one, e.g. tomorrow 09:30"),
        (
            "03/04/2026 10:00",
            "'03/04/2026' could be 3 April or 4 March. Write the date as YYYY-MM-DD",
        ),
        ("2026-01-01 10:00", "Thu 01 Jan 2026 10:00 Europe/Paris is in the past."),
        ("2026-03-29 02:30", "02:30 on 29 Mar 2026 does not exist in Europe/Paris"),
        ("2026-10-25 02:30", "02:30 on 25 Oct 2026 happens twice in Europe/Paris"),
        ("someday 10:00", "I could not read 'someday 10:00' as a time."),
        ("in 5 fortnights", "'fortnights' is not a unit"),
        ("2026-12-03 10:00 Mars/Base", "'Mars/Base' is not an IANA time zone"),
        ("every blue moon 10:00", "'blue moon' is not a repeat I know"),
    ],
)
def test_bad_times_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_when(text, "Europe/Paris", NOW)
    assert message in str(err.value)


def test_durations_and_rules() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1d") == timedelta(days=1)
    assert recurrence_rule("every 2 weeks") == "FREQ=WEEKLY;INTERVAL=2"
    assert recurrence_rule("Mon and Wed") == "FREQ=WEEKLY;BYDAY=MO,WE"
    assert recurrence_rule("RRULE:FREQ=MONTHLY;BYDAY=1MO") == "FREQ=MONTHLY;BYDAY=1MO"
    assert describe_rule("FREQ=WEEKLY;BYDAY=MO,WE") == "every Monday, Wednesday"
    with pytest.raises(ValueError, match="FREQ must be"):
        recurrence_rule("FREQ=SECONDLY")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # 09:00 local stays 09:00 local: the UTC hour moves at each DST change.
        ("Europe/Paris", (datetime(2026, 3, 23, 8), datetime(2026, 3, 30, 7))),
        ("Europe/Paris", (datetime(2026, 10, 19, 7), datetime(2026, 10, 26, 8))),
        ("America/New_York", (datetime(2026, 3, 2, 14), datetime(2026, 3, 9, 13))),
        ("America/New_York", (datetime(2026, 10, 26, 13), datetime(2026, 11, 2, 14))),
    ],
)
def test_weekly_expansion_keeps_wall_time_across_dst(zone: str, expected: tuple) -> None:
    anchor = parse_when("every Monday 09:00", zone, NOW - timedelta(days=1)).start
    start = expected[0].replace(tzinfo=UTC) - timedelta(hours=1)
    found = occurrences_between(
        "FREQ=WEEKLY;BYDAY=MO", anchor, zone, start, start + timedelta(days=8)
    )
    assert [f.astimezone(UTC).replace(tzinfo=None) for f in found] == list(expected)
    assert {f.hour for f in found} == {9}
