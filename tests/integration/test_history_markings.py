"""Widening an item's releasability over real E2EE on Synapse (issue 22, finding 11b): the
German newly covered by `rel=FRA,DEU` reads, in his DM, the item and what was written
about it since, and none of what was written while it was for France alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_marking_wiring import seed

pytestmark = pytest.mark.integration

SETTINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}
FRENCH_ONLY = "the escort leaves from Metz at dawn"
LATER = "briefing booked for Tuesday"


async def test_widening_rel_hides_the_earlier_history_from_the_newly_covered(
    bot_factory, people
) -> None:
    sam = await people("sam", auto_join=True)  # FRA, secretariat
    franz = await people("franz", auto_join=True)  # FRA
    bernd = await people("bernd", auto_join=True)  # DEU
    everyone = [sam.user_id, franz.user_id, bernd.user_id]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(sam, "FRA", "secretariat"), (franz, "FRA", ""), (bernd, "DEU", "")])
    await bot.astart()
    room = await franz.create_encrypted_dm(bot.user_id, wait_joined=30)
    await franz.client.room_invite(room, sam.user_id)
    await franz.wait_joined(room, sam.user_id, timeout=30)
    await command(sam, room, '!summit open "DefMin"', timeout=60)
    due = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    _, added = await command(
        sam,
        room,
        f"!actions add S-1 {franz.user_id} due={due} marking=RESTRICTED rel=FRA -- escort",
        timeout=60,
    )
    assert "added" in added.body, added.body
    await command(franz, room, f"!actions comment A-1 -- {FRENCH_ONLY}", timeout=60)

    dm = await open_dm(bernd, bot)
    await command(bernd, dm, "!ping", timeout=60)
    await command(sam, room, "!edit A-1 rel=FRA,DEU", timeout=60)
    await command(sam, room, f"!edit A-1 owner={bernd.user_id}", timeout=60)
    await command(sam, room, f"!actions comment A-1 -- {LATER}", timeout=60)

    _, shown = await command(bernd, dm, "!show A-1", timeout=60)
    assert "A-1" in shown.body and LATER in shown.body, shown.body
    assert FRENCH_ONLY not in shown.body
    assert "history entries are not shown here (their marking)." in shown.body
    # Nothing else he can read carries it either.
    assert not [e for _, e in bernd.received if FRENCH_ONLY in e.body]
    # Sam, covered all along, reads it all in his own DM.
    sam_dm = await open_dm(sam, bot)
    _, full = await command(sam, sam_dm, "!show A-1", timeout=60)
    assert FRENCH_ONLY in full.body and LATER in full.body and "not shown" not in full.body
