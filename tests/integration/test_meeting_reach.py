"""A meeting typed in the organiser's DM reaches its participants over real E2EE: each is
invited in their own DM (a person, and a post's member) and reminded there, not only the
organiser (issue 29: only the organiser was reminded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import seed_directory, wait_any

pytestmark = pytest.mark.integration


async def test_a_meeting_made_in_a_dm_invites_and_reminds_each_participant(
    bot_factory, people
) -> None:
    organiser = await people("org")
    sam = await people("sam", auto_join=True)
    bernd = await people("bernd", auto_join=True)
    bot: BotProcess = bot_factory(
        start=False,
        allowed_users=[organiser.user_id, sam.user_id, bernd.user_id],
        settings={"timezone": "UTC"},
    )
    await seed_directory(bot, "DE-BERLIN", [bernd])
    await bot.astart()
    room = await open_dm(organiser, bot)
    start = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")
    _sent, reply = await command(
        organiser,
        room,
        f"!meeting {start} lead=1m with=DE-BERLIN,{sam.user_id} -- Point rapide convoi",
    )
    assert reply.body.startswith("Scheduled M-1: Point rapide convoi"), reply.body
    for person in (sam, bernd):
        _room, invite = await wait_any(person, lambda e: "added you to M-1" in e.body)
        assert invite.decrypted and "Point rapide convoi" in invite.body
    # The reminder, one minute before: to the organiser and to each participant's DM.
    for person in (organiser, sam, bernd):
        where, reminder = await wait_any(
            person, lambda e: e.body.startswith("⏰ M-1 Point rapide convoi"), timeout=120
        )
        assert reminder.decrypted
        if person is organiser:
            assert where == room
        else:
            assert where != room  # their own DM with the bot, not the organiser's
