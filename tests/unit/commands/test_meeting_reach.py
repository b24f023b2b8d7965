"""A meeting reaches its participants wherever it was created (commands/schedule/reach.py):
in a DM with the bot, in a post's room, in a summit's room. Each participant (a person, and
the members of a post) is told in their own DM, language and zone of the invitation, of each
change and of the cancellation; the reminders go to the post's or summit's room when the
meeting was made there, else to each person's DM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.harness.fakes import BotCore, FakeClock, Sent

ORGANISER = "@org:test"  # Europe/Paris, English
SAM = "@sam:test"  # America/New_York, French
BERND = "@bernd:test"  # DE-BERLIN's member, German
DM_ROOM = "!dm-org:test"
POST_ROOM = "!post-room:test"
SUMMIT_ROOM = "!summit-room:test"
NOW = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
START = datetime(2026, 12, 6, 17, 9, tzinfo=UTC)  # 18:09 in Paris


@pytest.fixture
async def world(tmp_path: Path) -> BotCore:
    clock = FakeClock()
    clock.set(NOW)
    core = await BotCore(tmp_path, clock, admins=["@admin:test"]).open()
    for room in (POST_ROOM, SUMMIT_ROOM):
        await core.bot_in_room(room)
    await core.dm_with(ORGANISER, DM_ROOM)
    for text in (
        f"!dir post DE-BERLIN members={BERND}",
        f"!dir post FR-DESK members={ORGANISER} room={POST_ROOM}",
        f'!summit open "Convoy summit" from=2026-12-20 room={SUMMIT_ROOM}',
    ):
        await core.say("@admin:test", text)
    await core.say(ORGANISER, "!tz Europe/Paris")
    await core.say(SAM, "!tz America/New_York")
    await core.say(SAM, "!lang fr")
    await core.say(BERND, "!lang de")
    return core


def to(sent: list[Sent], user: str) -> list[str]:
    return [m.body for m in sent if m.user_id == user and m.room_id is None]


def in_room(sent: list[Sent], room: str) -> list[Sent]:
    return [m for m in sent if m.room_id == room and m.user_id is None]


async def reminders(core: BotCore) -> list[Sent]:
    core.clock.set(START - timedelta(minutes=1))
    return await core.fire_due()


@pytest.mark.parametrize("room", [DM_ROOM, POST_ROOM, SUMMIT_ROOM], ids=["dm", "post", "summit"])
async def test_participants_are_invited_told_of_changes_and_of_the_cancellation(
    world: BotCore, room: str
) -> None:
    sent = await world.say(
        ORGANISER,
        f"!meeting 2026-12-06 18h09 lead=1m with=DE-BERLIN,{SAM} -- Point rapide convoi",
        room_id=room,
    )
    assert sent[0].room_id == room and sent[0].body.startswith("Scheduled M-1")
    # Sam reads French, in New York's zone; Bernd (DE-BERLIN's member) German.
    assert (
        to(sent, SAM) == [to(sent, SAM)[0]]
        and "vous a ajouté à M-1 : Point rapide convoi" in (to(sent, SAM)[0])
    )
    assert "12:09 America/New_York" in to(sent, SAM)[0]
    assert len(to(sent, BERND)) == 1 and "hat Sie zu M-1 hinzugefügt" in to(sent, BERND)[0]
    assert not to(sent, ORGANISER)  # the organiser has the reply

    sent = await world.say(ORGANISER, "!edit M-1 place=Room 3", room_id=room)
    assert "a modifié M-1" in to(sent, SAM)[0] and "Room 3" in to(sent, SAM)[0]
    assert "hat M-1 geändert" in to(sent, BERND)[0]

    sent = await world.say(ORGANISER, "!cancel M-1 -- moved", room_id=room)
    assert to(sent, SAM) and to(sent, BERND)
    assert "M-1" in to(sent, SAM)[0] and "moved" in to(sent, BERND)[0]


async def test_a_meeting_made_in_a_dm_reminds_each_participant_in_their_dm(
    world: BotCore,
) -> None:
    """The reported case: typed in the organiser's DM, only the organiser was reminded."""
    await world.say(
        ORGANISER,
        f"!meeting 2026-12-06 18h09 lead=1m with=DE-BERLIN,{SAM} -- Point rapide convoi",
        room_id=DM_ROOM,
    )
    fired = await reminders(world)
    assert not in_room(fired, DM_ROOM)
    assert len(to(fired, ORGANISER)) == 1 and "starts in 1m" in to(fired, ORGANISER)[0]
    assert len(to(fired, SAM)) == 1 and "commence dans 1 minute" in to(fired, SAM)[0]
    assert "12:09 America/New_York" in to(fired, SAM)[0]
    assert len(to(fired, BERND)) == 1 and "beginnt in 1 Minute" in to(fired, BERND)[0]


@pytest.mark.parametrize("room", [POST_ROOM, SUMMIT_ROOM], ids=["post", "summit"])
async def test_a_meeting_made_in_a_post_or_summit_room_reminds_in_that_room(
    world: BotCore, room: str
) -> None:
    await world.say(
        ORGANISER,
        f"!meeting 2026-12-06 18h09 lead=1m with=DE-BERLIN,{SAM} -- Point rapide convoi",
        room_id=room,
    )
    fired = await reminders(world)
    [reminder] = in_room(fired, room)
    assert set(reminder.content["m.mentions"]["user_ids"]) == {ORGANISER, SAM, BERND}
    assert not to(fired, SAM) and not to(fired, BERND)


async def test_to_dm_reminds_everyone_in_their_dm_even_from_a_post_room(world: BotCore) -> None:
    await world.say(
        ORGANISER, f"!meeting 2026-12-06 18h09 lead=1m with={SAM} to=dm -- Convoy", POST_ROOM
    )
    fired = await reminders(world)
    assert not in_room(fired, POST_ROOM)
    assert to(fired, ORGANISER) and to(fired, SAM)


async def test_someone_added_by_an_edit_is_invited_not_told_of_a_change(world: BotCore) -> None:
    await world.say(ORGANISER, "!meeting 2026-12-06 18h09 -- Convoy", room_id=DM_ROOM)
    sent = await world.say(ORGANISER, f"!edit M-1 with={SAM}", room_id=DM_ROOM)
    assert "vous a ajouté à M-1" in to(sent, SAM)[0]
