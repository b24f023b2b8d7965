"""Times read and shown in the reader's language (commands/time/, issue 15).

A French or German sender's time means the same instant as its English equivalent, and is
refused for the same reasons (past, no time of day, a wall time the clocks skip or repeat);
03/04/2026 is 3 April for them and still a question in English. Dates are shown with Babel
by the catalogue's CLDR pattern; English stays exactly as before.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commands.context import parse_utc
from commands.i18n import language
from commands.time import (
    MAX_WHEN_LENGTH,
    Due,
    UnreadableTime,
    describe_rule,
    end_of_day,
    fmt,
    fmt_zones,
    parse_due,
    parse_duration,
    parse_when,
    show_due,
    show_instant,
    showing,
)
from tests.harness.fakes import BotCore
from tests.unit.commands.actions_fixtures import ROOM, SEC, seed

NOW = datetime(2026, 3, 2, 9, 17, tzinfo=UTC)  # a Monday; Paris is UTC+1 until 29 March
PARIS = "Europe/Paris"

GAP = "gap"  # the wall time does not exist (clocks go forward)
FOLD = "fold"  # the wall time happens twice (clocks go back)
PAST = "past"
NO_TIME = "no time"
AMBIGUOUS = "ambiguous"

# What each refusal says, per language: the reader gets it in their language.
REFUSALS = {
    "en": {
        GAP: "does not exist in Europe/Paris",
        FOLD: "happens twice in Europe/Paris",
        PAST: "is in the past",
        NO_TIME: "has no time of day",
        AMBIGUOUS: "could be 3 April or 4 March",
    },
    "fr": {
        GAP: "n'existe pas dans le fuseau horaire Europe/Paris",
        FOLD: "existe deux fois dans le fuseau horaire Europe/Paris",
        PAST: "est déjà passé",
        NO_TIME: "ne comporte pas d'heure",
    },
    "de": {
        GAP: "gibt es in der Zeitzone Europe/Paris nicht",
        FOLD: "gibt es in der Zeitzone Europe/Paris zweimal",
        PAST: "liegt in der Vergangenheit",
        NO_TIME: "enthält keine Uhrzeit",
    },
}

# (language, what the sender types, its English equivalent or the instant if English has
# none, what a deadline becomes, what a start becomes: an instant or a refusal)
APRIL_3 = datetime(2026, 4, 3, 8, 0, tzinfo=UTC)  # 10:00 Paris (summer time)
END_OF = {d: datetime(2026, 3, d, 22, 59, 59, tzinfo=UTC) for d in (3, 5, 6, 9)}
TABLE: list[tuple[str, str, str | None, datetime | str, datetime | str]] = [
    ("fr", "demain 10h", "tomorrow 10:00", datetime(2026, 3, 3, 9, 0, tzinfo=UTC), "same"),
    ("fr", "demain 9h30", "tomorrow 09:30", datetime(2026, 3, 3, 8, 30, tzinfo=UTC), "same"),
    ("fr", "demain", "tomorrow", END_OF[3], NO_TIME),
    (
        "fr",
        "mardi prochain 14:00",
        "next Tuesday 14:00",
        datetime(2026, 3, 3, 13, tzinfo=UTC),
        "same",
    ),
    ("fr", "dans 2 heures", "in 2h", datetime(2026, 3, 2, 11, 17, tzinfo=UTC), "same"),
    ("fr", "dans 3 jours", "in 3 days", END_OF[5], datetime(2026, 3, 5, 9, 17, tzinfo=UTC)),
    ("fr", "lundi", "monday", END_OF[9], NO_TIME),
    ("fr", "vendredi", "friday", END_OF[6], NO_TIME),
    ("fr", "vendredi 10h", "friday 10:00", datetime(2026, 3, 6, 9, 0, tzinfo=UTC), "same"),
    (
        "fr",
        "le 3 décembre à 15h",
        "2026-12-03 15:00",
        datetime(2026, 12, 3, 14, tzinfo=UTC),
        "same",
    ),
    ("fr", "03/04/2026 10:00", None, APRIL_3, "same"),
    ("fr", "le 1er janvier 2026 10h", "2026-01-01 10:00", PAST, PAST),
    ("fr", "29 mars 2026 2h30", "2026-03-29 02:30", GAP, GAP),
    ("fr", "25 octobre 2026 2h30", "2026-10-25 02:30", FOLD, FOLD),
    ("fr", "demain midi", "tomorrow noon", datetime(2026, 3, 3, 11, tzinfo=UTC), "same"),
    ("fr", "tomorrow 09:30", "tomorrow 09:30", datetime(2026, 3, 3, 8, 30, tzinfo=UTC), "same"),
    ("de", "morgen 9 Uhr", "tomorrow 09:00", datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "same"),
    ("de", "morgen um 9:30", "tomorrow 09:30", datetime(2026, 3, 3, 8, 30, tzinfo=UTC), "same"),
    ("de", "morgen", "tomorrow", END_OF[3], NO_TIME),
    (
        "de",
        "nächsten Dienstag 14:00",
        "next Tuesday 14:00",
        datetime(2026, 3, 3, 13, tzinfo=UTC),
        "same",
    ),
    ("de", "übermorgen 8:30", "2026-03-04 08:30", datetime(2026, 3, 4, 7, 30, tzinfo=UTC), "same"),
    ("de", "in 2 Stunden", "in 2h", datetime(2026, 3, 2, 11, 17, tzinfo=UTC), "same"),
    ("de", "in 3 Tagen", "in 3 days", END_OF[5], datetime(2026, 3, 5, 9, 17, tzinfo=UTC)),
    ("de", "morgen Mittag", "tomorrow noon", datetime(2026, 3, 3, 11, tzinfo=UTC), "same"),
    ("de", "Freitag", "friday", END_OF[6], NO_TIME),
    ("de", "Freitag 10 Uhr", "friday 10:00", datetime(2026, 3, 6, 9, 0, tzinfo=UTC), "same"),
    ("de", "3. Dezember 15 Uhr", "2026-12-03 15:00", datetime(2026, 12, 3, 14, tzinfo=UTC), "same"),
    (
        "de",
        "am 3. Dezember um 15 Uhr",
        "2026-12-03 15:00",
        datetime(2026, 12, 3, 14, tzinfo=UTC),
        "same",
    ),
    ("de", "03.04.2026 10:00", None, APRIL_3, "same"),
    ("de", "03/04/2026 10:00", None, APRIL_3, "same"),
    ("de", "1. Januar 2026 10 Uhr", "2026-01-01 10:00", PAST, PAST),
    ("de", "29. März 2026 2:30", "2026-03-29 02:30", GAP, GAP),
    ("de", "25. Oktober 2026 2:30 Uhr", "2026-10-25 02:30", FOLD, FOLD),
    ("en", "03/04/2026 10:00", None, AMBIGUOUS, AMBIGUOUS),  # English does not settle it
]


def _read(kind: str, text: str) -> datetime | str:
    """What parse_due (deadline) or parse_when (start) makes of `text`: instant or refusal."""
    try:
        if kind == "deadline":
            return parse_due(text, PARIS, NOW).at
        return parse_when(text, PARIS, NOW).start
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize(("lang", "text", "english", "deadline", "start"), TABLE)
def test_a_time_means_what_its_english_equivalent_means(
    lang: str,
    text: str,
    english: str | None,
    deadline: datetime | str,
    start: datetime | str,
) -> None:
    for kind, expected in (("deadline", deadline), ("start", start)):
        expected = deadline if expected == "same" else expected
        with language(lang):
            got = _read(kind, text)
        if isinstance(expected, datetime):
            assert got == expected, (lang, kind, text, got)
        else:
            assert isinstance(got, str) and REFUSALS[lang][expected] in got, (lang, kind, got)
        if english is not None:
            in_english = _read(kind, english)
            if isinstance(expected, datetime):
                assert in_english == got, (kind, text, english)
            else:
                assert REFUSALS["en"][expected] in str(in_english), (kind, english, in_english)


@pytest.mark.parametrize(
    ("lang", "example"),
    [
        ("fr", "demain 9h30, mardi prochain 14h ou dans 2h"),
        ("de", "morgen 9:30, nächsten Dienstag 14 Uhr oder in 2 Stunden"),
    ],
)
def test_refusals_give_an_example_in_the_readers_language_that_reads(
    lang: str, example: str
) -> None:
    with language(lang):
        with pytest.raises(ValueError) as err:
            parse_when("x" * 101, PARIS, NOW)
        assert example in str(err.value)
        for each in example.replace(" ou ", ", ").replace(" oder ", ", ").split(", "):
            assert parse_when(each, PARIS, NOW).start > NOW, each
        with pytest.raises(ValueError) as err:
            parse_when("quelque part 10:00" if lang == "fr" else "irgendwann 10:00", PARIS, NOW)
        assert "2026-12-03 10:00 Europe/Berlin" in str(err.value)
        assert "I could not" not in str(err.value)


@pytest.mark.parametrize(
    ("lang", "text"), [("fr", "every Monday 10h"), ("de", "every Monday 10 Uhr")]
)
def test_a_repeat_takes_the_readers_clock_time(lang: str, text: str) -> None:
    """English repeat words (every Monday) are read in every language, with the reader's time."""
    with language(lang):
        when = parse_when(text, PARIS, NOW)
    assert when.rrule == "FREQ=WEEKLY;BYDAY=MO"
    assert when.start == parse_when("every Monday 10:00", PARIS, NOW).start


def test_durations_take_the_units_the_reader_is_shown() -> None:
    for text, minutes in (("1j", 1440), ("2 Std.", 120), ("1 Tg.", 1440), ("3 heures", 180)):
        assert parse_duration(text) == timedelta(minutes=minutes), text
    assert parse_duration("1h30m") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="'fortnights' is not a unit"):
        parse_duration("5 fortnights")


def test_the_ambiguous_date_question_stays_in_english() -> None:
    with pytest.raises(ValueError) as err:
        parse_due("03/04/2026", PARIS, NOW)
    assert str(err.value) == (
        "'03/04/2026' could be 3 April or 4 March. Write the date as YYYY-MM-DD, e.g. 2026-04-03."
    )


def test_french_and_german_words_do_not_make_a_time_of_the_text_after_it() -> None:
    """The `!remind` cut search tries the first words: a verb after the time is not a time."""
    with language("fr"):
        assert not _is_time("demain 10h appeler Paris")
        assert _is_time("demain 10h")
    with language("de"):
        assert not _is_time("morgen 9 Uhr Paris anrufen")
        assert _is_time("morgen 9 Uhr")


def _is_time(text: str) -> bool:
    return isinstance(_read("start", text), datetime)


def test_words_that_are_no_time_are_told_apart_from_a_refused_time() -> None:
    with language("fr"):
        with pytest.raises(UnreadableTime):
            parse_when("appeler Paris demain", PARIS, NOW)
        with pytest.raises(ValueError) as err:
            parse_when("demain", PARIS, NOW)
        assert not isinstance(err.value, UnreadableTime)


# -- shown -------------------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris


@pytest.mark.parametrize(
    ("lang", "instant", "full", "zones", "due_day", "due_time"),
    [
        (
            "en",
            "Mon 30 Nov 2026 10:00 CET",
            "Mon 30 Nov 2026 10:00 Europe/Paris",
            "(18:00 Asia/Tokyo; Sun 29 Nov 23:00 Pacific/Honolulu)",
            "2026-11-30 (Europe/Paris)",
            "2026-11-30 04:00",
        ),
        (
            "fr",
            "lun. 30 nov. 2026 10:00 CET",
            "lun. 30 nov. 2026 10:00 Europe/Paris",
            "(18:00 Asia/Tokyo; dim. 29 nov. 23:00 Pacific/Honolulu)",
            "30 nov. 2026 (Europe/Paris)",
            "30 nov. 2026 04:00",
        ),
        (
            "de",
            "Mo., 30. Nov. 2026 10:00 CET",
            "Mo., 30. Nov. 2026 10:00 Europe/Paris",
            "(18:00 Asia/Tokyo; So., 29. Nov. 23:00 Pacific/Honolulu)",
            "30. Nov. 2026 (Europe/Paris)",
            "30. Nov. 2026 04:00",
        ),
    ],
)
def test_dates_are_shown_in_the_readers_language_and_zone(
    lang: str, instant: str, full: str, zones: str, due_day: str, due_time: str
) -> None:
    with language(lang):
        assert show_instant(MOMENT, PARIS) == instant
        assert fmt(MOMENT, PARIS) == full
        assert (
            fmt_zones(MOMENT, PARIS, ["Asia/Tokyo", PARIS, "Pacific/Honolulu"]) == f"{full} {zones}"
        )
        day = Due(end_of_day(date(2026, 11, 30), PARIS), PARIS, True)
        assert show_due(day, "America/New_York") == due_day
        assert show_due(Due(MOMENT, PARIS, False), "America/New_York") == due_time


def test_each_english_pattern_renders_in_babel_as_strftime_does() -> None:
    """English keeps strftime (no CLDR data loaded); Babel would print the same thing."""
    from babel.dates import format_datetime

    for pattern, strftime in showing._ENGLISH.items():
        for days in range(0, 366, 17):
            moment = datetime(2026, 1, 1, 7, 5) + timedelta(days=days, hours=days % 13)
            assert format_datetime(moment, pattern, locale="en") == moment.strftime(strftime)


@pytest.mark.parametrize(
    ("lang", "weekly", "days", "weekdays", "fortnight"),
    [
        (
            "en",
            "every Monday, Wednesday",
            "every 3 days",
            "every weekday",
            "every 2 weeks on Monday",
        ),
        (
            "fr",
            "chaque lundi, mercredi",
            "tous les 3 jours",
            "chaque jour ouvré",
            "toutes les 2 semaines, le lundi",
        ),
        (
            "de",
            "jeden Montag, Mittwoch",
            "alle 3 Tage",
            "jeden Arbeitstag",
            "alle 2 Wochen am Montag",
        ),
    ],
)
def test_repeats_are_described_in_the_readers_language(
    lang: str, weekly: str, days: str, weekdays: str, fortnight: str
) -> None:
    with language(lang):
        assert describe_rule("FREQ=WEEKLY;BYDAY=MO,WE") == weekly
        assert describe_rule("FREQ=DAILY;INTERVAL=3") == days
        assert describe_rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR") == weekdays
        assert describe_rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO") == fortnight


def test_importing_the_module_loads_neither_babel_dates_nor_dateparser() -> None:
    """Memory budget: both are loaded on first use, never at start."""
    code = (
        "import sys, commands.time as t; "
        "assert 'babel.dates' not in sys.modules and 'dateparser' not in sys.modules, "
        "[m for m in sys.modules if m.startswith(('babel', 'dateparser'))]"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


# -- through the commands ---------------------------------------------------------------------

DEADLINES = {
    "liaison due=": '!request FR-PARIS Timing question due="{t}"',
    "action due=": '!actions add S-1 FR-PARIS due="{t}" -- agree the timing',
}
STARTS = {
    "meeting": "!meeting {t} -- Timing sync",
    "visit": "!visit {t} -- Timing visit",
    "reminder": "!remind {t} -- timing",
}
THROUGH_COMMANDS = [row for row in TABLE if row[0] != "en" and row[1] != "tomorrow 09:30"]


@pytest.fixture
async def world(core: BotCore) -> BotCore:
    await seed(core)
    await core.say(SEC, "!tz Europe/Paris", room_id=ROOM)
    core.clock.set(NOW)
    return core


async def _stored(core: BotCore, name: str) -> datetime | None:
    sql = {
        "liaison due=": "SELECT due_at FROM liaison_requests ORDER BY id DESC LIMIT 1",
        "action due=": "SELECT due_at FROM action_items WHERE id > 2 ORDER BY id DESC LIMIT 1",
    }.get(name, "SELECT start_at FROM schedule_items ORDER BY id DESC LIMIT 1")
    rows = await core.query(sql)
    return parse_utc(rows[0][0]) if rows else None


@pytest.mark.parametrize(("lang", "text", "english", "deadline", "start"), THROUGH_COMMANDS)
async def test_every_command_reads_the_senders_language_the_same_way(
    world: BotCore,
    lang: str,
    text: str,
    english: str | None,
    deadline: datetime | str,
    start: datetime | str,
) -> None:
    await world.say(SEC, f"!lang {lang}", room_id=ROOM)
    start = deadline if start == "same" else start
    for commands, expected in ((DEADLINES, deadline), (STARTS, start)):
        for name, template in commands.items():
            before = await _stored(world, name)
            sent = await world.say(SEC, template.format(t=text), room_id=ROOM)
            reply = sent[0].body if sent else ""
            after = await _stored(world, name)
            if isinstance(expected, str):
                assert REFUSALS[lang][expected] in reply, (name, text, reply)
                assert after == before, (name, text, "a refused time changed the store")
            else:
                assert after == expected, (name, text, reply)


@pytest.fixture
def dateparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    import dateparser

    real = dateparser.parse

    def counted(text: str, *args: Any, **kw: Any) -> Any:
        calls.append(text)
        if len(calls) > 200:
            raise AssertionError("dateparser called more than 200 times for one message")
        return real(text, *args, **kw)

    monkeypatch.setattr(dateparser, "parse", counted)
    return calls


@pytest.mark.parametrize(
    ("lang", "message", "start", "title"),
    [
        (
            "fr",
            "!remind demain 10h appeler Paris",
            datetime(2026, 3, 3, 9, tzinfo=UTC),
            "appeler Paris",
        ),
        (
            "fr",
            "!remind dans 2 heures rappeler Berlin",
            datetime(2026, 3, 2, 11, 17, tzinfo=UTC),
            "rappeler Berlin",
        ),
        (
            "de",
            "!remind morgen 9 Uhr Paris anrufen",
            datetime(2026, 3, 3, 8, tzinfo=UTC),
            "Paris anrufen",
        ),
        (
            "de",
            "!remind nächsten Dienstag 14:00 Bericht senden",
            datetime(2026, 3, 3, 13, tzinfo=UTC),
            "Bericht senden",
        ),
    ],
)
async def test_remind_finds_a_french_or_german_time_without_a_separator(
    world: BotCore, lang: str, message: str, start: datetime, title: str
) -> None:
    await world.say(SEC, f"!lang {lang}", room_id=ROOM)
    sent = await world.say(SEC, message, room_id=ROOM)
    rows = await world.query("SELECT start_at, title FROM schedule_items WHERE kind = 'R'")
    assert [(parse_utc(r[0]), r[1]) for r in rows] == [(start, title)], sent[0].body


@pytest.mark.parametrize("words", ["demain 10h ", "dans ", "nächsten Dienstag 9 Uhr "])
async def test_long_french_or_german_remind_calls_dateparser_a_bounded_number_of_times(
    world: BotCore, dateparser_calls: list[str], words: str
) -> None:
    await world.say(SEC, "!lang fr" if "10h" in words or "dans" in words else "!lang de")
    dateparser_calls.clear()
    body = ("!remind " + words * 1_000)[:4_000]
    await world.say(SEC, body, room_id=ROOM)
    assert len(dateparser_calls) <= 12
    assert all(len(text) <= MAX_WHEN_LENGTH for text in dateparser_calls)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "tomorrow 25:61"),
        ("en", "tomorrow 24:00"),
        ("en", "tomorrow 10:75"),
        ("fr", "demain 10h75"),
        ("de", "morgen 24:30"),
        ("en", "next Tuesday 23:60"),
    ],
)
def test_a_clock_time_that_does_not_exist_is_refused_not_dropped(lang: str, text: str) -> None:
    """dateparser ignored an impossible time of day and kept the day at the current time:
    `!meeting tomorrow 25:61` was scheduled for tomorrow at whatever time it was."""
    with language(lang), pytest.raises(ValueError) as refused:
        parse_when(text, "Pacific/Auckland", NOW)
    assert repr(text) in str(refused.value)
