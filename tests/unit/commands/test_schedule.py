"""Visits, meetings, reminders on a real store with a fake clock: commands, jobs, DST, ICS."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from commands.context import parse_utc
from tests.harness.fakes import BotCore, Sent

ALICE = "@alice:test"  # Europe/Paris
BOB = "@bob:test"  # America/New_York
ADMIN = "@admin:test"
ROOM = "!room:test"
OTHER = "!other:test"


@pytest.fixture
async def zoned(core: BotCore) -> BotCore:
    await core.say(ALICE, "!tz Europe/Paris")
    await core.say(BOB, "!tz America/New_York")
    return core


async def pending(core: BotCore) -> list[tuple[str, str, datetime]]:
    rows = await core.query(
        "SELECT kind, ref, due_at FROM jobs WHERE state = 'pending' ORDER BY due_at, id"
    )
    return [(r[0], r[1], parse_utc(r[2])) for r in rows]


async def run_until(core: BotCore, until: datetime) -> list[tuple[datetime, Sent]]:
    """Step the fake clock from job to job (as the scheduler would), collecting messages."""
    out: list[tuple[datetime, Sent]] = []
    while True:
        jobs = await pending(core)
        assert len(jobs) <= 4, "only the next occurrence may be scheduled"
        if not jobs or jobs[0][2] > until:
            return out
        core.clock.set(jobs[0][2])
        out += [(jobs[0][2], m) for m in await core.fire_due()]


# -- creating, lead times ------------------------------------------------------------------------


async def test_meeting_reminders_at_default_lead_times_mention_participants(zoned: BotCore) -> None:
    sent = await zoned.say(ALICE, "!meeting tomorrow 14:00 with=@bob:test -- Budget review")
    assert sent[0].body.startswith("Scheduled M-1: Budget review")
    assert "Tue 03 Mar 2026 14:00 Europe/Paris" in sent[0].body
    assert "Reminders: 1d, 1h, 15m before" in sent[0].body
    start = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    dues = [j[2] for j in await pending(zoned) if j[0] == "schedule.lead"]
    assert dues == [
        start - timedelta(days=1),
        start - timedelta(hours=1),
        start - timedelta(minutes=15),
    ]
    fired = await run_until(zoned, start)
    assert [m.body.split(":")[0] for _, m in fired] == [
        "⏰ M-1 Budget review starts in 1d",
        "⏰ M-1 Budget review starts in 1h",
        "⏰ M-1 Budget review starts in 15m",
    ]
    first = fired[0][1]
    assert first.room_id == ROOM
    assert first.content["m.mentions"] == {"user_ids": [ALICE, BOB]}
    # each reader's zone: the meeting's, and Bob's where it differs
    assert "Tue 03 Mar 2026 14:00 Europe/Paris (08:00 America/New_York)" in first.body
    assert not await pending(zoned)


async def test_lead_times_are_configurable_per_item(zoned: BotCore) -> None:
    await zoned.say(ALICE, '!visit tomorrow 10:00 lead=2h,5m place="Ecole Militaire" -- Tour')
    dues = [j[2] for j in await pending(zoned)]
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert dues == [start - timedelta(hours=2), start - timedelta(minutes=5)]
    fired = await run_until(zoned, start)
    assert "V-1 Tour starts in 2h" in fired[0][1].body
    assert "Ecole Militaire" in fired[0][1].body
    await zoned.say(ALICE, "!meeting tomorrow 11:00 lead=none -- Quiet")
    assert await pending(zoned) == []


async def test_past_lead_times_are_skipped_and_said(zoned: BotCore) -> None:
    sent = await zoned.say(ALICE, "!meeting in 10m -- Stand-up")
    assert "No reminder: every lead time is already past." in sent[0].body
    assert await pending(zoned) == []


# -- recurrence across DST -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "zone", "checks"),
    [
        (
            ALICE,
            "Europe/Paris",
            {  # Monday 09:00 Paris in UTC around 29 March and 25 October 2026
                datetime(2026, 3, 23, 8, 0),
                datetime(2026, 3, 30, 7, 0),
                datetime(2026, 10, 19, 7, 0),
                datetime(2026, 10, 26, 8, 0),
            },
        ),
        (
            BOB,
            "America/New_York",
            {  # Monday 09:00 New York around 8 March and 1 November 2026
                datetime(2026, 3, 2, 14, 0),
                datetime(2026, 3, 9, 13, 0),
                datetime(2026, 10, 26, 13, 0),
                datetime(2026, 11, 2, 14, 0),
            },
        ),
    ],
)
async def test_weekly_meeting_stays_at_local_time_across_both_dst_changes(
    zoned: BotCore, who: str, zone: str, checks: set[datetime]
) -> None:
    sent = await zoned.say(who, "!meeting every Monday 09:00 lead=0m -- Weekly sync")
    assert "Repeats: every Monday" in sent[0].body
    fired = await run_until(zoned, datetime(2026, 11, 10, tzinfo=UTC))
    reminders = [(due, m) for due, m in fired if "Weekly sync" in m.body]
    utc_times = {due.replace(tzinfo=None) for due, _ in reminders}
    assert checks <= utc_times
    assert len(reminders) == len(utc_times) >= 35  # one per Monday, none twice
    for due, message in reminders:
        assert f"09:00 {zone}" in message.body
        assert due.astimezone(ZoneInfo(zone)).hour == 9


# -- late and exactly once -----------------------------------------------------------------------


async def test_reminder_due_while_down_fires_late_with_its_original_time(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!remind in 2h -- call Paris")
    zoned.clock.advance(hours=5)  # the bot was down across the due time
    fired = await zoned.fire_due()
    assert len(fired) == 1
    body = fired[0].body
    assert "Late reminder R-1" in body
    assert "was due Mon 02 Mar 2026 12:00 Europe/Paris" in body
    assert body.endswith("call Paris\n@alice:test")
    rows = await zoned.query("SELECT state, late_seconds FROM jobs")
    assert rows[0][0] == "done" and rows[0][1] == pytest.approx(3 * 3600)


async def test_meeting_reminder_late_says_when_it_was_due(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 lead=1h -- Review")
    zoned.clock.set(datetime(2026, 3, 3, 12, 40, tzinfo=UTC))  # due 12:00, 40 min late
    fired = await zoned.fire_due()
    assert fired[0].body.startswith(
        "Late reminder (was due Tue 03 Mar 2026 13:00 Europe/Paris; I was offline). "
        "⏰ M-1 Review starts in 20m"
    )


async def test_on_time_reminder_is_not_marked_late(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!remind in 2h -- call Paris")
    zoned.clock.advance(hours=2, seconds=2)
    fired = await zoned.fire_due()
    assert fired[0].body == "⏰ Reminder R-1: call Paris\n@alice:test"


async def test_each_reminder_fires_exactly_once(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!remind in 1h -- stretch")
    zoned.clock.advance(hours=2)
    assert len(await zoned.fire_due()) == 1
    assert await zoned.fire_due() == []
    job_id = (await zoned.query("SELECT id FROM jobs"))[0][0]
    assert await zoned.dispatcher.run_job(job_id) == "gone"
    assert await zoned.new_messages() == []


async def test_recurring_item_after_long_downtime_keeps_one_occurrence_ahead(
    zoned: BotCore,
) -> None:
    await zoned.say(ALICE, "!meeting every day 09:00 lead=1h -- Daily")
    zoned.clock.advance(days=10)
    fired = await zoned.fire_due()
    # the reminder that was in the store fires late; missed days are not replayed
    assert [m.body.startswith("Late reminder") for m in fired] == [True]
    jobs = await pending(zoned)
    assert len(jobs) == 2 and all(due > zoned.clock.now() for _, _, due in jobs)


# -- the reminder command ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "title", "start"),
    [
        ("!remind tomorrow 09:30 -- call Paris", "call Paris", datetime(2026, 3, 3, 8, 30)),
        ("!remind tomorrow 09:30 call Paris", "call Paris", datetime(2026, 3, 3, 8, 30)),
        ("!remind in 2h to call Paris", "call Paris", datetime(2026, 3, 2, 11, 0)),
        ("!remind next Tuesday 14:00 send the report", "send the report", datetime(2026, 3, 3, 13)),
        (
            "!remind 2026-12-03 10:00 Europe/Berlin -- visit brief",
            "visit brief",
            datetime(2026, 12, 3, 9, 0),
        ),
    ],
)
async def test_remind_reads_time_then_text(
    zoned: BotCore, command: str, title: str, start: datetime
) -> None:
    sent = await zoned.say(ALICE, command)
    assert sent[0].body.startswith(f"Scheduled R-1: {title}")
    rows = await zoned.query("SELECT title, start_at FROM schedule_items")
    assert rows[0][0] == title
    assert parse_utc(rows[0][1]) == start.replace(tzinfo=UTC)


async def test_remind_to_me_goes_to_the_dm(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!remind in 1h to=me -- private note")
    zoned.clock.advance(hours=1)
    fired = await zoned.fire_due()
    assert fired[0].user_id == ALICE and fired[0].room_id is None


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("!remind tomorrow -- x", "'tomorrow' has no time of day. Add one, e.g. tomorrow 09:30"),
        ("!remind 03/04/2026 10:00 -- x", "Did you mean 3 April (`!remind 2026-04-03 10:00"),
        ("!remind 2026-01-01 10:00 -- x", "Thu 01 Jan 2026 10:00 Europe/Paris is in the past."),
        ("!remind 2026-03-29 02:30 -- x", "02:30 on 29 Mar 2026 does not exist in Europe/Paris"),
        ("!remind 2026-10-25 02:30 -- x", "02:30 on 25 Oct 2026 happens twice in Europe/Paris"),
        ("!remind soonish call mum", "I could not find a time at the start."),
        ("!remind tomorrow 09:30", "What should I remind you of?"),
        ("!remind in 1h to=them -- x", "to= takes me or here."),
        ("!meeting someday 10:00 -- x", "I could not read 'someday 10:00' as a time."),
        ("!meeting tomorrow 10:00 end=09:00 -- x", "the end must be after the start"),
        ("!meeting tomorrow 10:00 lead=5x -- x", "lead: 'x' is not a unit; use s, m, h, d or w"),
        ("!meeting tomorrow 10:00 repeat=fortnightly -- x", "'fortnightly' is not a repeat"),
        ("!meeting tomorrow 10:00 with=bob -- x", "with: 'bob' is neither a Matrix ID nor"),
        ("!meeting tomorrow 10:00 Mars/Base -- x", "'Mars/Base' is not an IANA time zone"),
        ("!meeting tomorrow 10:00", "Missing title after --."),
        ("!agenda 500", "days: give a number from 1 to 90."),
    ],
)
async def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    zoned: BotCore, command: str, reply: str
) -> None:
    sent = await zoned.say(ALICE, command)
    assert len(sent) == 1
    assert reply in sent[0].body
    assert "Example:" in sent[0].body or "(`!" in sent[0].body or command.startswith("!agenda")
    assert await zoned.count("schedule_items") == 0
    assert await zoned.count("jobs") == 0


# -- show, edit, cancel, permissions -------------------------------------------------------------


async def test_only_creator_or_admin_may_cancel_or_edit(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 -- Review")
    for command in ("!cancel M-1", "!edit M-1 place=Elsewhere"):
        sent = await zoned.say(BOB, command)
        assert sent[0].body.startswith("Only @alice:test (who created M-1) or an admin may")
    assert len(await pending(zoned)) == 3
    # someone not concerned, elsewhere, may not even see it
    sent = await zoned.say(BOB, "!show M-1", room_id=OTHER)
    assert sent[0].body.startswith("No M-1 that you can see.")
    sent = await zoned.say(ADMIN, "!cancel M-1 -- moved", room_id=OTHER)
    assert sent[0].body == "Cancelled M-1: Review — moved"
    assert sent[1].room_id == ROOM  # the room it was scheduled in is told
    assert await pending(zoned) == []
    rows = await zoned.query("SELECT state FROM schedule_items")
    assert rows[0][0] == "cancelled"


async def test_edit_moves_the_reminders(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 lead=1h -- Review")
    sent = await zoned.say(ALICE, "!edit M-1 start=tomorrow 16:00 place=Salle 3")
    assert "Tue 03 Mar 2026 16:00 Europe/Paris" in sent[0].body
    assert "Place: Salle 3" in sent[0].body
    assert [j[2] for j in await pending(zoned)] == [datetime(2026, 3, 3, 14, 0, tzinfo=UTC)]
    # moving it back revives the first reminder (a cancelled job does not block it)
    await zoned.say(ALICE, "!edit M-1 start=tomorrow 14:00")
    assert [j[2] for j in await pending(zoned)] == [datetime(2026, 3, 3, 12, 0, tzinfo=UTC)]
    bad = await zoned.say(ALICE, "!edit M-1 colour=blue")
    assert "is not key=value" in bad[0].body
    shown = await zoned.say(ALICE, "!show M-1")
    assert "History:" in shown[0].body and "edit place, start" in shown[0].body


async def test_participant_sees_and_shows_in_own_zone(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 with=@bob:test -- Review")
    sent = await zoned.say(BOB, "!show M-1", room_id=OTHER)
    assert "When: Tue 03 Mar 2026 08:00 America/New_York (14:00 Europe/Paris)" in sent[0].body


# -- agenda and ICS ------------------------------------------------------------------------------


async def test_agenda_in_reader_zone_with_the_item_zone_beside(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting 2026-03-05 10:00 America/New_York -- NY <b>call</b>")
    await zoned.say(ALICE, "!meeting every Wednesday 09:00 -- Staff")
    await zoned.say(ALICE, "!meeting 2026-04-20 09:00 -- Far away")
    sent = await zoned.say(ALICE, "!agenda")
    body = sent[0].body
    assert body.startswith("Agenda: next 7 days (times in Europe/Paris)")
    lines = body.splitlines()
    assert lines[2].startswith("M-2  Wed 04 Mar 2026 09:00")
    assert "M-1  Thu 05 Mar 2026 16:00  10:00 America/New_York  NY <b>call</b>" in body
    assert "Far away" not in body
    html = sent[0].html or ""
    assert "<table>" in html and "NY &lt;b&gt;call&lt;/b&gt;" in html
    # Bob is in New York: the same item in his zone, Paris shown beside where it differs
    bob = await zoned.say(BOB, "!agenda 4")
    assert "Thu 05 Mar 2026 10:00" in bob[0].body and "America/New_York" in bob[0].body
    assert "Wed 04 Mar 2026 03:00  09:00 Europe/Paris  Staff" in bob[0].body


async def test_ics_of_an_item_parses_back(zoned: BotCore) -> None:
    await zoned.say(
        ALICE,
        '!meeting every Monday 09:00 end=10:30 place="NATO HQ, room 3" with=@bob:test '
        "-- Weekly sync",
    )
    sent = await zoned.say(ALICE, "!ics M-1")
    assert sent[0].filename == "M-1.ics"
    assert sent[0].content["msgtype"] == "m.notice"
    cal = icalendar.Calendar.from_ical(sent[0].attachment)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    ev = events[0]
    assert str(ev["summary"]) == "M-1 Weekly sync"
    assert str(ev["location"]) == "NATO HQ, room 3"
    assert ev.decoded("dtstart") == datetime(2026, 3, 9, 9, 0, tzinfo=ev.decoded("dtstart").tzinfo)
    assert ev["dtstart"].params["TZID"] == "Europe/Paris"
    assert ev.decoded("dtend") - ev.decoded("dtstart") == timedelta(minutes=90)
    assert ev["rrule"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO"
    assert "matrix.to/#/@bob:test" in str(ev["attendee"])
    assert [tz["tzid"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]


async def test_ics_agenda_has_every_visible_item(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 -- One")
    await zoned.say(ALICE, "!visit 2026-03-10 10:00 Europe/Berlin -- Two")
    await zoned.say(BOB, "!meeting tomorrow 15:00 -- Bob's own", room_id=OTHER)
    sent = await zoned.say(ALICE, "!ics agenda")
    cal = icalendar.Calendar.from_ical(sent[0].attachment)
    assert sorted(str(e["summary"]) for e in cal.walk("VEVENT")) == ["M-1 One", "V-1 Two"]
    nope = await zoned.say(ALICE, "!ics M-9")
    assert nope[0].body.startswith("No M-9 that you can see.")


async def test_real_scheduler_fires_a_missed_reminder_once_at_start(zoned: BotCore) -> None:
    """Start-up after downtime: Scheduler.start indexes the overdue job and fires it, late."""
    from bot.scheduler import Scheduler

    await zoned.say(ALICE, "!remind in 1h -- after the outage")
    zoned.clock.advance(hours=3)
    fired: list[int] = []
    scheduler = Scheduler(
        zoned.store, zoned.dispatcher, zoned.clock, zoned.metrics, on_fired=lambda: fired.append(1)
    )
    try:
        assert await scheduler.start() == 1
        for _ in range(100):
            if fired:
                break
            await asyncio.sleep(0.02)
        await scheduler.refill()  # a second pass finds nothing left to fire
        await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown()
    messages = await zoned.new_messages()
    assert len(fired) == 1 and len(messages) == 1
    assert "Late reminder R-1 (was due Mon 02 Mar 2026 11:00 Europe/Paris" in messages[0].body


async def test_after_downtime_one_late_reminder_per_occurrence(zoned: BotCore) -> None:
    await zoned.say(ALICE, "!meeting tomorrow 14:00 -- Review")  # leads 1d, 1h, 15m
    zoned.clock.set(datetime(2026, 3, 3, 12, 50, tzinfo=UTC))  # all three are overdue
    fired = await zoned.fire_due()
    assert len(fired) == 1
    assert fired[0].body.startswith(
        "Late reminder (was due Tue 03 Mar 2026 13:45 Europe/Paris; I was offline). "
        "⏰ M-1 Review starts in 10m"
    )
    states = await zoned.query("SELECT state FROM jobs ORDER BY due_at")
    assert [s[0] for s in states] == ["done", "done", "done"]
    assert await zoned.fire_due() == []


@pytest.mark.parametrize("days", ["0", "-5", "91"])
async def test_an_agenda_of_no_days_is_refused_like_any_out_of_range(
    core: BotCore, days: str
) -> None:
    """`!agenda 0` showed 7 days (0 read as unset) while -5 and 91 were refused."""
    [reply] = await core.say(ALICE, f"!agenda {days}")
    assert reply.body.startswith("days: give a number from 1 to 90."), reply.body


@pytest.mark.parametrize(
    ("typed", "told"),
    [
        ("!remind in 0m to call Paris", "'in 0m' is now"),
        ("!remind in 99999999d to call Paris", "too far"),
    ],
)
async def test_a_refused_reminder_time_is_named_as_typed_not_with_the_word_after_it(
    zoned: BotCore, typed: str, told: str
) -> None:
    """The time ends where "to" begins: the refusal names it, not "'0m to' is not a
    duration", and nothing is planned."""
    [answer] = await zoned.say(ALICE, typed)
    assert told in answer.body and "0m to" not in answer.body, answer.body
    assert await pending(zoned) == []
