"""Repeats in the reader's words: "tous les lundis 10h", "alle 2 Wochen 9 Uhr", "täglich",
read as the same rule as their English, and every repeat the bot shows a reader (describe_rule)
is read back as the same rule when that reader types it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.i18n import language
from commands.time import describe_rule, parse_when, recurrence_rule
from tests.harness.fakes import BotCore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARIS = "Europe/Paris"


@pytest.mark.parametrize(
    ("lang", "text", "english"),
    [
        ("fr", "tous les lundis 10h", "every Monday 10:00"),
        ("fr", "chaque lundi et jeudi 9h30", "every Monday and Thursday 09:30"),
        ("fr", "toutes les 2 semaines 9h", "every 2 weeks 09:00"),
        ("fr", "tous les jours ouvrés 8h", "every weekday 08:00"),
        ("fr", "chaque jour 8:30", "every day 08:30"),
        ("fr", "quotidien 8h", "every day 08:00"),
        ("de", "jeden Montag 10 Uhr", "every Monday 10:00"),
        ("de", "jeden Montag und Donnerstag 9:30", "every Monday and Thursday 09:30"),
        ("de", "alle 2 Wochen 9 Uhr", "every 2 weeks 09:00"),
        ("de", "jeden Arbeitstag 8 Uhr", "every weekday 08:00"),
        ("de", "werktags 8 Uhr", "every weekday 08:00"),
        ("de", "täglich 8:30", "every day 08:30"),
    ],
)
def test_a_repeat_in_the_readers_words_is_its_english(lang: str, text: str, english: str) -> None:
    expected = parse_when(english, PARIS, NOW)
    with language(lang):
        when = parse_when(text, PARIS, NOW)
    assert (when.start, when.rrule) == (expected.start, expected.rrule)


RULES = [
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;BYDAY=MO,WE",
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    "FREQ=MONTHLY",
    "FREQ=YEARLY;INTERVAL=2",
]


@pytest.mark.parametrize("lang", ["en", "fr", "de"])
@pytest.mark.parametrize("rule", RULES)
def test_what_the_bot_shows_a_reader_reads_back_as_the_same_rule(lang: str, rule: str) -> None:
    with language(lang):
        shown = describe_rule(rule)
        assert shown != rule  # a reading, not the raw rule
        assert recurrence_rule(shown) == rule, shown


def test_a_repeat_that_is_not_one_is_refused_in_the_readers_language() -> None:
    with language("fr"), pytest.raises(ValueError) as err:
        recurrence_rule("tous les blablas")
    assert "blablas" in str(err.value) and "is not a repeat" not in str(err.value)


async def test_commands_take_repeats_in_the_senders_words(core: BotCore) -> None:
    await core.say("@anna:test", "!lang fr")
    (reply,) = await core.say("@anna:test", "!meeting tous les lundis 10h -- Point hebdomadaire")
    assert reply.body.startswith("C'est noté, M-1 : Point hebdomadaire"), reply.body
    assert "chaque lundi" in reply.body
    await core.say("@bernd:test", "!lang de")
    (reply,) = await core.say(
        "@bernd:test", "!meeting morgen 9 Uhr repeat=wöchentlich -- Jour fixe"
    )
    assert "M-2" in reply.body and "jede Woche" in reply.body, reply.body
    rows = await core.query("SELECT kind, number, rrule FROM schedule_items ORDER BY number")
    assert [tuple(r) for r in rows] == [("M", 1, "FREQ=WEEKLY;BYDAY=MO"), ("M", 2, "FREQ=WEEKLY")]
