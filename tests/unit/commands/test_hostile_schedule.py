"""Hostile schedule input: bounded parsing, recurrence rules that flood or never fire, wording.

Written from the hostile review (issue 12, 13): each test failed on the code before the fix.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr

from commands.actions.store import insert_summit
from commands.context import parse_utc
from commands.directory import store as directory
from commands.time import MAX_WHEN_LENGTH, parse_when, recurrence
from tests.harness.fakes import BotCore

ALICE = "@alice:test"
ADMIN = "@admin:test"


@pytest.fixture
async def zoned(core: BotCore) -> BotCore:
    await core.say(ALICE, "!tz Europe/Paris")
    return core


@pytest.fixture
def dateparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count dateparser calls; fail fast (instead of minutes) past a generous bound."""
    calls: list[str] = []
    import dateparser  # the bot imports it lazily, on first use: patch the module itself

    real = dateparser.parse

    def counted(text: str, *args: Any, **kw: Any) -> Any:
        calls.append(text)
        if len(calls) > 200:
            raise AssertionError("dateparser called more than 200 times for one message")
        return real(text, *args, **kw)

    monkeypatch.setattr(dateparser, "parse", counted)
    return calls


# -- bounded parsing -----------------------------------------------------------------------------


async def test_long_remind_without_separator_calls_dateparser_a_bounded_number_of_times(
    zoned: BotCore, dateparser_calls: list[str]
) -> None:
    body = "!remind " + " ".join(["a"] * 1_995)
    assert len(body) <= 4_000
    sent = await zoned.say(ALICE, body)
    assert "could not find a time" in sent[0].body
    assert len(dateparser_calls) <= 12
    assert all(len(text) <= MAX_WHEN_LENGTH for text in dateparser_calls)
    assert await zoned.count("schedule_items") == 0


async def test_long_remind_with_a_time_at_the_start_still_splits(
    zoned: BotCore, dateparser_calls: list[str]
) -> None:
    sent = await zoned.say(ALICE, "!remind tomorrow 09:30 call Paris " + "x " * 1_900)
    assert sent[0].body.startswith("Scheduled R-1: call Paris x x")
    assert len(dateparser_calls) <= 12


@pytest.mark.parametrize(
    "option",
    ["start", "end"],
)
async def test_long_time_options_are_refused_without_dateparser(
    zoned: BotCore, dateparser_calls: list[str], option: str
) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 10:00 -- Review")
    dateparser_calls.clear()
    sent = await zoned.say(ALICE, f"!edit M-1 {option}=" + "tomorrow " * 400)
    assert "too long for a time" in sent[0].body
    assert dateparser_calls == []


# -- recurrence rules: parsed, not pattern-matched -------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("FREQ=DAILY;FREQ=SECONDLY", "FREQ is given twice"),
        ("FREQ=DAILY;BYSECOND=0,30", "BYSECOND"),
        ("FREQ=DAILY;X-FOO=1", "X-FOO is not a rule part"),
        ("FREQ=DAILY;BYHOUR=9;BYHOUR=10", "BYHOUR is given twice"),
        ("FREQ=MINUTELY", "FREQ must be"),
        ("FREQ=HOURLY;BYMINUTE=0,30", "more often than every 1h"),
        ("FREQ=HOURLY;BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", "more often than every 1h"),
        ("FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,30", "more often than every 1h"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "never happens in the next 5 years"),
        ("FREQ=DAILY;UNTIL=20200101T000000Z", "never happens in the next 5 years"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6", "never happens in the next 5 years"),
        ("FREQ=DAILY;BYHOUR=9;BYSETPOS=2", "never happens in the next 5 years"),
    ],
)
async def test_bad_rules_are_refused_with_an_example(zoned: BotCore, rule: str, error: str) -> None:
    sent = await zoned.say(ALICE, f"!meeting tomorrow 10:00 repeat={rule} -- Flood")
    assert error in sent[0].body, sent[0].body
    assert "Example:" in sent[0].body
    assert await zoned.count("schedule_items") == 0


async def test_hourly_rule_is_accepted_at_the_default_minimum(zoned: BotCore) -> None:
    sent = await zoned.say(ALICE, "!meeting tomorrow 10:00 repeat=FREQ=HOURLY -- Watch")
    assert sent[0].body.startswith("Scheduled M-1")


async def test_minimum_interval_is_a_setting(tmp_path: Any) -> None:
    core = await BotCore(tmp_path, min_recurrence_interval=86_400).open()
    try:
        await core.say(ALICE, "!tz Europe/Paris")
        sent = await core.say(ALICE, "!meeting tomorrow 10:00 repeat=FREQ=HOURLY -- Watch")
        assert "more often than every 1d" in sent[0].body
        sent = await core.say(ALICE, "!meeting tomorrow 10:00 repeat=daily -- Daily")
        assert sent[0].body.startswith("Scheduled M-1")
    finally:
        await core.close()


async def test_edit_goes_through_the_same_validation(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 10:00 -- Review")
    sent = await zoned.say(ALICE, "!edit M-1 repeat=FREQ=HOURLY;BYMINUTE=0,15,30,45")
    assert "more often than every 1h" in sent[0].body
    rows = await zoned.query("SELECT rrule FROM schedule_items")
    assert rows[0][0] is None


def test_natural_language_rules_go_through_the_same_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = recurrence.parse_rule

    def spy(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(recurrence, "parse_rule", spy)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    when = parse_when("every Monday 09:00", "Europe/Paris", now)
    assert when.rrule == "FREQ=WEEKLY;BYDAY=MO"
    assert seen  # checked by the same code as a raw RRULE


def test_a_rule_with_no_occurrence_is_searched_5_years_not_to_year_9999(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dateutil only stops such a rule at datetime.MAXYEAR: count the months it walks."""
    rebuilt: list[tuple[int, int]] = []
    real = recurrence._dateutil_rrule._iterinfo.rebuild

    def spy(self: Any, year: int, month: int) -> Any:
        rebuilt.append((year, month))
        return real(self, year, month)

    monkeypatch.setattr(recurrence._dateutil_rrule._iterinfo, "rebuild", spy)
    anchor = datetime(2026, 3, 3, 10, 0)
    with pytest.raises(ValueError, match="never happens"):
        recurrence.check_rule(
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            anchor,
            datetime(2026, 3, 2, 10, 0),
            timedelta(hours=1),
        )
    assert max(year for year, _ in rebuilt) <= 2032
    assert recurrence._dateutil_rrule.datetime.MAXYEAR == 9999  # restored afterwards


# -- the next occurrence costs the same after a year ---------------------------------------------


@pytest.mark.parametrize(
    ("rule", "period"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", timedelta(days=7)),
        ("FREQ=DAILY;INTERVAL=3", timedelta(days=3)),
        ("FREQ=HOURLY;INTERVAL=5", timedelta(hours=5)),
        ("FREQ=MONTHLY;BYMONTHDAY=31", timedelta(days=62)),
        ("FREQ=YEARLY", timedelta(days=366)),
    ],
)
def test_next_occurrence_starts_its_search_near_the_asked_moment(
    monkeypatch: pytest.MonkeyPatch, rule: str, period: timedelta
) -> None:
    starts: list[datetime] = []
    real = recurrence.build

    def spy(parts: Any, dtstart: datetime) -> Any:
        starts.append(dtstart)
        return real(parts, dtstart)

    monkeypatch.setattr(recurrence, "build", spy)
    anchor = datetime(2026, 3, 2, 9, 0)  # a Monday, wall time in Paris
    day1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    first = recurrence.next_occurrence(rule, anchor, "Europe/Paris", day1)
    later = recurrence.next_occurrence(rule, anchor, "Europe/Paris", day1 + timedelta(days=400))
    assert first is not None and later is not None
    began = starts[-1]
    # The expansion began within two periods (plus the probe margin) of the moment asked,
    # not at the anchor a year before: dateutil's walk is as short as on day 1.
    probe = (day1 + timedelta(days=400)).replace(tzinfo=None)
    assert probe - began <= 2 * period + timedelta(hours=4), (began, probe)
    # Same answer as walking from the anchor, the slow way.
    paris = ZoneInfo("Europe/Paris")
    local_after = (day1 + timedelta(days=400)).astimezone(paris).replace(tzinfo=None)
    slow = rrulestr(rule, dtstart=anchor).after(local_after, inc=False)
    assert later.astimezone(paris).replace(tzinfo=None) == slow


async def test_weekly_meeting_after_a_year_stays_at_wall_time_across_dst(
    zoned: BotCore,
) -> None:
    await zoned.say(ALICE, "!meeting every Monday 09:00 lead=none -- Weekly sync")
    fired = []
    zoned.clock.set(datetime(2027, 3, 1, 7, 0, tzinfo=UTC))
    for _ in range(6):
        rows = await zoned.query(
            "SELECT due_at FROM jobs WHERE state = 'pending' ORDER BY due_at LIMIT 1"
        )
        due = parse_utc(rows[0][0])
        zoned.clock.set(max(due, zoned.clock.now()))
        await zoned.fire_due()
        fired.append(due)
    upcoming = await zoned.query("SELECT next_at FROM schedule_items")
    nxt = parse_utc(upcoming[0][0]).astimezone(ZoneInfo("Europe/Paris"))
    assert (nxt.hour, nxt.minute, nxt.weekday()) == (9, 0, 0)
    assert nxt.year == 2027


# -- lead-time wording ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lead", "shown"),
    [("1m", "1m"), ("2m", "2m"), ("15m", "15m"), ("1h", "1h"), ("1d", "1d"), ("2d", "2d")],
)
async def test_lead_time_wording_is_exact_when_the_job_runs_a_little_late(
    zoned: BotCore, lead: str, shown: str
) -> None:
    await zoned.say(ALICE, f"!meeting in 3d lead={lead} -- Review")
    rows = await zoned.query("SELECT due_at FROM jobs WHERE kind = 'schedule.lead'")
    zoned.clock.set(parse_utc(rows[0][0]) + timedelta(milliseconds=350))
    sent = await zoned.fire_due()
    assert f"Review starts in {shown}:" in sent[0].body, sent[0].body


# -- ICS alarms -----------------------------------------------------------------------------------


async def test_ics_has_one_valarm_per_lead_time(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 lead=1d,1h,15m -- Review")
    await zoned.say(ALICE, "!meeting tomorrow 16:00 lead=none -- Quiet")
    sent = await zoned.say(ALICE, "!ics agenda")
    cal = icalendar.Calendar.from_ical(sent[0].attachment)
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    alarms = [a for a in events["M-1 Review"].walk("VALARM")]
    triggers = sorted(a.decoded("trigger") for a in alarms)
    assert triggers == [-timedelta(days=1), -timedelta(hours=1), -timedelta(minutes=15)]
    assert all(str(a["action"]) == "DISPLAY" and "Review" in str(a["description"]) for a in alarms)
    assert list(events["M-2 Quiet"].walk("VALARM")) == []


async def test_agenda_of_many_hourly_items_is_bounded(zoned: BotCore) -> None:
    for minute in range(0, 60, 10):
        await zoned.say(ALICE, f"!meeting tomorrow 10:{minute:02d} repeat=FREQ=HOURLY -- H{minute}")
    sent = await zoned.say(ALICE, "!agenda 90")
    assert "the first 100 entries, up to" in sent[0].body and "!agenda 2" in sent[0].body
    assert sent[0].body.count("M-") <= 100 + 1
    sent = await zoned.say(ALICE, "!ics agenda 366")
    assert sent[0].body == "agenda.ics: 6 items"


async def test_a_stored_rule_from_before_parsing_does_not_break_the_agenda(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting every Monday 09:00 -- Weekly")
    await zoned.say(ALICE, "!meeting tomorrow 11:00 -- Flood")
    async with zoned.store.write() as db:  # as the old pattern check let it in
        await db.execute("UPDATE schedule_items SET rrule = 'FREQ=DAILY;FREQ=SECONDLY' WHERE id=2")
    sent = await zoned.say(ALICE, "!agenda 14")
    assert "Weekly" in sent[0].body and "Flood" not in sent[0].body
    jobs = await zoned.query(
        "SELECT due_at FROM jobs WHERE ref LIKE 'M-2@%' AND kind = ?", "schedule.next"
    )
    assert jobs == []  # it was a one-off when scheduled; nothing to fire


# -- every other time option is bounded the same way -----------------------------------------


@pytest.fixture
def any_dateparser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text handed to dateparser, by any module (liaison and actions parse dues too)."""
    import dateparser
    from dateparser.date import DateDataParser

    texts: list[str] = []
    real_parse, real_data = dateparser.parse, DateDataParser.get_date_data

    def parse(text: str, *args: Any, **kw: Any) -> Any:
        texts.append(text)
        assert kw.get("languages") == ["en"], "language detection costs a second on first use"
        return real_parse(text, *args, **kw)

    def data(self: Any, text: str, *args: Any, **kw: Any) -> Any:
        texts.append(text)
        return real_data(self, text, *args, **kw)

    monkeypatch.setattr(dateparser, "parse", parse)  # imported lazily, so patch the module
    monkeypatch.setattr(DateDataParser, "get_date_data", data)
    return texts


@pytest.mark.parametrize(
    "message",
    [
        "!request FR-PARIS Subject due={} -- body",
        "!actions add S-1 @alice:test due={} -- text",
    ],
)
async def test_long_due_options_never_reach_dateparser(
    zoned: BotCore, any_dateparser: list[str], message: str
) -> None:
    async with zoned.store.write() as db:
        await directory.set_post(db, "FR-PARIS", zoned.clock.now(), name="Paris")
        await insert_summit(
            db,
            name="Summit",
            room_id="!summit:test",
            timezone="Europe/Paris",
            created_by=ADMIN,
            now=zoned.clock.now(),
        )
    first = await zoned.say(ADMIN, message.format("friday"))
    assert any_dateparser, first[0].body  # the short form does reach it
    any_dateparser.clear()
    sent = await zoned.say(ADMIN, message.format("x" * 3_000))
    assert all(len(text) <= MAX_WHEN_LENGTH for text in any_dateparser)
    assert "too long for a time" in sent[0].body and "Example:" in sent[0].body


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=5;BYHOUR=8,17",
        "FREQ=WEEKLY;INTERVAL=2",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR;WKST=SU",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
        "FREQ=MONTHLY;BYMONTHDAY=29,30,31;BYSETPOS=1",
        "FREQ=YEARLY;INTERVAL=2",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYWEEKNO=1,20;BYDAY=TH",
        "FREQ=HOURLY;INTERVAL=7",
        "FREQ=HOURLY;INTERVAL=5;BYHOUR=1,6,11;BYMINUTE=15",
        "FREQ=DAILY;UNTIL=20290101T000000Z",
    ],
)
def test_moving_dtstart_forward_gives_exactly_the_occurrences_of_the_full_walk(rule: str) -> None:
    anchor = datetime(2026, 1, 31, 23, 45)  # month end, late: the awkward case for moving
    for days in (0, 1, 29, 200, 366, 1_000, 2_500):
        probe = anchor + timedelta(days=days, hours=5)
        fast = list(itertools.islice(recurrence.expand_near(rule, anchor, probe).xafter(probe), 12))
        slow = list(itertools.islice(recurrence.expand(rule, anchor).xafter(probe), 12))
        assert fast == slow, (rule, days)
