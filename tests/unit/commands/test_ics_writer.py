"""commands/ics.py writes the bytes icalendar's own Calendar.to_ical() writes for the same
components (the writer assembles lines itself for speed, issue 25), a year's agenda parses
back with icalendar event for event, and the agenda's reading of next_at instead of each
rule (views._first_known) gives what expanding every rule gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.accumulated import Load, grow
from commands import ics
from commands.context import parse_utc, utc_iso
from commands.schedule import views
from commands.schedule.store import COLUMNS, item_from_row
from tests.harness.fakes import BotCore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = "@admin:test"
ALICE = "@alice:test"


def reference(
    events: list[ics.IcsEvent], name: str = "attache-bot", marking: str | None = None
) -> bytes:
    """The calendar built as icalendar Components, as commands/ics.py did before (the
    VTIMEZONEs in TZID order: add_missing_timezones adds them in a set's order)."""
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
        states = dict(item.partstats or ())
        for who in item.attendees:
            if who.startswith("@") and item.partstats is not None:
                state = states.get(who, "NEEDS-ACTION")
                ev.add("attendee", f"https://matrix.to/#/{who}", parameters={"PARTSTAT": state})
            elif who.startswith("@"):
                ev.add("attendee", f"https://matrix.to/#/{who}")
            else:
                ev.add("attendee", f"urn:x-attache:post:{who}")
        for who, state in item.partstats or ():  # a post's members who answered
            if who not in item.attendees:
                ev.add("attendee", f"https://matrix.to/#/{who}", parameters={"PARTSTAT": state})
        ev.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        for lead in item.leads:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{marked}{item.code} {item.title}")
            alarm.add("trigger", -lead)
            ev.add_component(alarm)
        cal.add_component(ev)
    cal.add_missing_timezones()
    zones = sorted(
        (c for c in cal.subcomponents if c.name == "VTIMEZONE"), key=lambda c: str(c["tzid"])
    )
    cal.subcomponents[: len(zones)] = zones
    return bytes(cal.to_ical())


def event(**changes: object) -> ics.IcsEvent:
    base: dict[str, object] = {
        "uid": "M-1@example.org",
        "code": "M-1",
        "title": "Weekly sync",
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, hours=1),
        "zone": "Europe/Paris",
        "place": "",
        "rrule": None,
        "attendees": ("@alice:test",),
        "stamp": NOW,
    }
    return ics.IcsEvent(**{**base, **changes})  # type: ignore[arg-type]


HARD = [
    event(),
    event(title="Commas, semicolons; back\\slashes\nand lines", place="NATO HQ, room 3; annex"),
    event(title="é" * 40 + " 日本語の会議 " + "🛰" * 20, place="Zürich " * 30),  # folds mid-char
    event(title="x" * 66),  # the line of exactly 74, 75 and 76 octets around the fold
    event(title="x" * 67),
    event(title="x" * 68),
    event(title="y" * 65 + "\\,"),  # a fold next to an escape
    event(
        end=None, zone="America/New_York", rrule="FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T000000Z"
    ),
    event(zone="UTC", rrule="FREQ=DAILY;COUNT=5", cancelled=True),
    event(zone="Asia/Kolkata", attendees=("@a:x", "FR-PARIS", "@b:y"), leads=(timedelta(days=1),)),
    event(
        marking="RESTRICTED // REL TO FRA, DEU",
        leads=(timedelta(days=1), timedelta(hours=1), timedelta(minutes=15)),
        uid="V-7@example.org:8448",
        code="V-7",
    ),
    event(zone="Pacific/Chatham", rrule="FREQ=MONTHLY;BYMONTHDAY=31", attendees=()),
    # answers to the invitation (commands/schedule/rsvp.py): a person's PARTSTAT, one not
    # answered yet, a post left as it is and two of its members who answered
    event(
        attendees=("@a:x", "@b:y", "FR-PARIS"),
        partstats=(("@a:x", "ACCEPTED"), ("@m:x", "DECLINED"), ("@n:x", "TENTATIVE")),
    ),
    event(
        attendees=("@" + "long" * 20 + ":x",), partstats=(("@" + "long" * 20 + ":x", "ACCEPTED"),)
    ),
]


def test_an_event_nobody_answered_is_written_as_before_answers_existed() -> None:
    """partstats=None is the writer's old path, byte for byte (the same events as HARD)."""
    plain = event(attendees=("@a:x", "FR-PARIS"))
    assert b"PARTSTAT" not in ics.calendar([plain])
    answered = event(attendees=("@a:x", "FR-PARIS"), partstats=(("@a:x", "DECLINED"),))
    assert b"ATTENDEE;PARTSTAT=DECLINED:https://matrix.to/#/@a:x" in ics.calendar([answered])
    assert b"ATTENDEE:urn:x-attache:post:FR-PARIS" in ics.calendar([answered])


def test_hand_picked_events_are_written_as_icalendar_writes_them() -> None:
    for one in HARD:
        assert ics.calendar([one]) == reference([one])
    assert ics.calendar(HARD) == reference(HARD)
    marked = "SECRET // REL TO FRA"
    assert ics.calendar(HARD, "agenda", marked) == reference(HARD, "agenda", marked)


_texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=120)
# A file's banner is written unescaped (X- properties are not TEXT to icalendar); banners come
# from the settings' levels and caveats, with no line breaks.
_banners = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=60)
_zones = st.sampled_from(["Europe/Paris", "UTC", "America/Sao_Paulo", "Australia/Lord_Howe"])
_events = st.builds(
    event,
    title=_texts,
    place=_texts,
    zone=_zones,
    start=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    end=st.none() | st.just(NOW),
    rrule=st.sampled_from([None, "FREQ=HOURLY", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"]),
    attendees=st.lists(st.sampled_from(["@a:x", "@é:y", "FR-PARIS", "NATO-HQ"]), max_size=3),
    leads=st.lists(st.timedeltas(timedelta(0), timedelta(days=30)), max_size=2),
    marking=st.none() | _texts.filter(bool),  # escaped in SUMMARY, whatever it holds
    cancelled=st.booleans(),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(_events, min_size=1, max_size=4), marking=st.none() | _banners)
def test_any_events_are_written_as_icalendar_writes_them(
    events: list[ics.IcsEvent], marking: str | None
) -> None:
    assert ics.calendar(events, "agenda", marking or None) == reference(
        events, "agenda", marking or None
    )


async def test_a_years_agenda_parses_back_event_for_event(core: BotCore) -> None:
    """`!ics agenda 366` over 600 items (a third past, a third ahead, a third weekly): every
    item with an occurrence in the year is in the file, as stored, and nothing else."""
    async with core.store.write() as db:
        await grow(db, NOW, Load(items=600, actions=0, requests=0, replies=0))
    rows = await core.query(
        "SELECT kind, number, title, start_at, rrule FROM schedule_items "
        "WHERE next_at >= ? ORDER BY number",
        utc_iso(NOW),
    )
    assert len(rows) == 400
    sent = await core.say(ADMIN, "!ics agenda 366")
    assert sent[0].body == "agenda.ics: 400 items"
    cal = icalendar.Calendar.from_ical(sent[0].attachment)
    assert [str(z["tzid"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    found = {str(e["uid"]).split("@")[0]: e for e in cal.walk("VEVENT")}
    assert len(found) == 400
    paris = ZoneInfo("Europe/Paris")
    for kind, number, title, start_at, rrule in rows:
        ev = found[f"{kind}-{number}"]
        assert str(ev["summary"]) == f"{kind}-{number} {title}"
        assert ev.decoded("dtstart") == parse_utc(start_at).astimezone(paris)
        assert ev["dtstart"].params["TZID"] == "Europe/Paris"
        assert (ev["rrule"].to_ical().decode() if "rrule" in ev else None) == rrule


async def test_the_calendar_reads_next_at_where_the_rule_would_give_the_same(
    core: BotCore,
) -> None:
    """The ICS agenda takes a repeating item's first occurrence from `next_at` instead of
    expanding its rule (views._first_known): as the jobs move it on (across a DST change,
    months without a 31st, an hourly rule), it stays what the rule gives."""
    await core.say(ALICE, "!tz Europe/Paris")
    for text in (
        "!meeting every Monday 09:00 -- Weekly",
        "!meeting tomorrow 10:00 repeat=FREQ=HOURLY;INTERVAL=5 -- Every 5 hours",
        "!meeting 2026-03-27 02:30 repeat=FREQ=DAILY -- Across the DST change",
        "!remind every day 08:00 -- Daily",
        "!meeting 2026-03-31 10:00 America/New_York repeat=FREQ=MONTHLY -- On the 31st",
        "!meeting 2026-03-04 10:00 repeat=FREQ=DAILY;COUNT=3 -- Three times",
    ):
        assert "Scheduled" in (await core.say(ALICE, text))[0].body
    checked = 0
    for checkpoint in (hours(1), hours(30), hours(24 * 6), hours(24 * 35)):
        while True:  # the jobs run as the scheduler would run them, up to the checkpoint
            due = await core.query(
                "SELECT MIN(due_at) FROM jobs WHERE state = 'pending' AND due_at <= ?",
                utc_iso(NOW + checkpoint),
            )
            if due[0][0] is None:
                break
            core.clock.set(max(core.clock.now(), parse_utc(due[0][0])))
            await core.fire_due()
        core.clock.set(NOW + checkpoint)
        now, until = core.clock.now(), core.clock.now() + timedelta(days=366)
        ctx = SimpleNamespace(now=now)
        rows = await core.query(f"SELECT {COLUMNS} FROM schedule_items i WHERE state = 'active'")
        for item in map(item_from_row, rows):
            known = views._first_known(ctx, item, until)  # type: ignore[arg-type]
            if known is not None:
                assert known == item.occurrences(now, until, 1), (item.code, now)
                checked += 1
    assert checked >= 20


def hours(n: int) -> timedelta:
    """n hours and 7 minutes on: not on an occurrence (one exactly at now that has already
    fired is the documented exception: views._first_known)."""
    return timedelta(hours=n, minutes=7)


async def test_the_agenda_placed_by_next_at_shows_what_full_expansion_shows(
    core: BotCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`!agenda` places repeating items by next_at and expands only the rows it keeps
    (views.agenda_entries): the same rows, for admin and participant, as expanding every item."""
    await core.say(ALICE, "!tz Europe/Paris")
    async with core.store.write() as db:
        await grow(db, NOW, Load(items=450, actions=0, requests=0, replies=0))
    for text in (
        "!meeting tomorrow 10:00 repeat=FREQ=HOURLY;INTERVAL=5 -- Every 5 hours",
        "!meeting 2026-03-27 02:30 repeat=FREQ=DAILY -- Across the DST change",
        "!remind every day 08:00 -- Daily",
    ):
        assert "Scheduled" in (await core.say(ALICE, text))[0].body
    asks = [(ADMIN, f"!agenda {n}") for n in (1, 7, 30, 90)] + [(ALICE, "!agenda 30")]
    for later in (timedelta(0), hours(20), hours(24 * 9)):
        core.clock.set(NOW + later)
        placed = [(await core.say(who, text))[0].body for who, text in asks]
        with monkeypatch.context() as patch:
            patch.setattr(views, "_first_known", lambda *args: None)
            expanded = [(await core.say(who, text))[0].body for who, text in asks]
        assert placed == expanded
        assert sum(body.count("\n") for body in placed) > 100
