"""Visits, meetings and reminders in each reader's language: the organiser's replies in
theirs, each participant's DMs (invitation, reminders, cancellation) in their own, a room's
reminders in the room's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.harness.fakes import BotCore, Sent

ANNE = "@anne:test"  # French organiser, Europe/Paris
KLAUS = "@klaus:test"  # German participant, Europe/Berlin
ROOM = "!room:test"


@pytest.fixture
async def people(core: BotCore) -> BotCore:
    await core.say(ANNE, "!tz Europe/Paris")
    await core.say(ANNE, "!lang fr")
    await core.say(KLAUS, "!tz Europe/Berlin")
    await core.say(KLAUS, "!lang de")
    return core


def to(messages: list[Sent], user_id: str) -> list[str]:
    return [m.body for m in messages if m.user_id == user_id and m.room_id is None]


async def test_french_organiser_german_participant_each_in_their_language(
    people: BotCore,
) -> None:
    sent = await people.say(
        ANNE, "!meeting tomorrow 14:00 with=@klaus:test to=dm -- Revue budgétaire"
    )
    confirmation = sent[0].body
    assert confirmation.startswith("C'est noté, M-1 : Revue budgétaire")
    assert "Quand : " in confirmation
    assert "Avec : " in confirmation
    assert "Rappels : 1d, 1h, 15m avant" in confirmation
    assert "Modifiez-le avec !edit M-1 …, supprimez-le avec !cancel M-1." in confirmation
    (invitation,) = to(sent, KLAUS)
    assert invitation.startswith("@anne:test hat Sie zu M-1 hinzugefügt: Revue budgétaire")
    assert "Wann: " in invitation and "Erinnerungen: 1d, 1h, 15m vorher" in invitation

    # The reminder job: one DM each, in each person's language.
    people.clock.set(datetime(2026, 3, 2, 13, 0, 5, tzinfo=UTC))  # a day before 14:00 Paris
    fired = await people.fire_due()
    (anne,) = to(fired, ANNE)
    (klaus,) = to(fired, KLAUS)
    assert anne.startswith("⏰ M-1 Revue budgétaire commence dans 1 jour : ")
    assert klaus.startswith("⏰ M-1 Revue budgétaire beginnt in 1 Tag: ")
    assert not [m for m in fired if m.room_id is not None]

    people.clock.set(datetime(2026, 3, 3, 12, 45, 5, tzinfo=UTC))  # an hour and 15 min later
    fired = await people.fire_due()
    assert to(fired, ANNE)[0].startswith("⏰ M-1 Revue budgétaire commence dans 15 minutes : ")
    assert to(fired, KLAUS)[0].startswith("⏰ M-1 Revue budgétaire beginnt in 15 Minuten: ")


async def test_cancellation_reaches_each_participant_in_their_language(people: BotCore) -> None:
    await people.say(ANNE, "!meeting tomorrow 14:00 with=@klaus:test to=dm -- Revue")
    sent = await people.say(ANNE, "!cancel M-1 -- reporté")
    assert sent[0].body == "Annulation de M-1 : Revue — reporté"
    assert to(sent, KLAUS) == ["M-1 abgesagt: Revue — reporté"]
    (shown,) = await people.say(KLAUS, "!show M-1")
    assert shown.body.startswith("M-1 Besprechung (abgesagt): Revue")
    assert "Verlauf:" in shown.body
    # German cancels a meeting (absagen) but stops a reminder (abbrechen)
    await people.say(KLAUS, "!remind in 2h -- Paris anrufen")
    (stopped,) = await people.say(KLAUS, "!cancel R-1")
    assert stopped.body == "R-1 abgebrochen: Paris anrufen"


async def test_room_reminders_read_in_the_room_language_not_the_organiser(
    people: BotCore,
) -> None:
    await people.say(ANNE, "!meeting tomorrow 14:00 lead=1h with=@klaus:test -- Revue")
    await people.say(ANNE, "!meeting tomorrow 16:00 lead=1h with=@klaus:test -- Bilanz")
    people.clock.set(datetime(2026, 3, 3, 12, 0, 5, tzinfo=UTC))
    (english,) = await people.fire_due()
    assert english.room_id == ROOM and english.body.startswith("⏰ M-1 Revue starts in 1h: ")

    async with people.store.write() as db:
        await db.execute(
            "INSERT INTO posts (code, room_id, language, created_at) VALUES (?, ?, ?, ?)",
            ("DE-BERLIN", ROOM, "de", "2026-01-01T00:00:00+00:00"),
        )  # the room becomes a German post's: what goes to it from now on reads German
    people.clock.set(datetime(2026, 3, 3, 14, 0, 5, tzinfo=UTC))
    (german,) = await people.fire_due()
    assert german.body.startswith("⏰ M-2 Bilanz beginnt in 1 Stunde: ")


@pytest.mark.parametrize(
    ("who", "command", "message", "example"),
    [
        (ANNE, "!agenda 900", "jours : indiquez un nombre de 1 à 90.", "!agenda 14"),
        (KLAUS, "!agenda 900", "Tage: Geben Sie eine Zahl von 1 bis 90 an.", "!agenda 14"),
        (
            ANNE,
            "!meeting tomorrow 10:00 repeat=FREQ=MINUTELY -- x",
            "le FREQ de la règle doit être DAILY, WEEKLY, MONTHLY, YEARLY ou HOURLY ; "
            "écrivez par exemple repeat=every Monday",
            "!meeting ",
        ),
        (
            KLAUS,
            "!meeting tomorrow 10:00 repeat=FREQ=MINUTELY -- x",
            "FREQ muss in der Regel DAILY, WEEKLY, MONTHLY, YEARLY oder HOURLY sein; "
            "schreiben Sie z. B. repeat=every Monday",
            "!meeting ",
        ),
    ],
)
async def test_schedule_errors_in_the_sender_language_with_their_example(
    people: BotCore, who: str, command: str, message: str, example: str
) -> None:
    (reply,) = await people.say(who, command)
    assert reply.body.startswith(message)
    label = {ANNE: "Exemple : ", KLAUS: "Beispiel: "}[who]
    assert f"\n{label}{example}" in reply.body
    assert await people.count("schedule_items") == 0


async def test_english_readers_still_read_english(core: BotCore) -> None:
    (reply,) = await core.say(ANNE, "!meeting tomorrow 10:00 to=everyone -- x")
    assert reply.body.startswith("to= takes here or dm.")
    sent = await core.say(ANNE, "!meeting tomorrow 14:00 with=@klaus:test to=dm -- Review")
    assert sent[0].body.startswith("Scheduled M-1: Review")
    assert to(sent, KLAUS)[0].startswith("@anne:test added you to M-1: Review")
