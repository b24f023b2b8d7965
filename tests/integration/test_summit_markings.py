"""A summit's marking combined with its items', over real E2EE on Synapse (issue 22's last
edge): widening a summit shows the German it newly covers none of what was written about
an item while the summit held it to France, and a message about an item queued for him
(he has not joined his DM yet) is not delivered once the summit is narrowed to France."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any
from tests.integration.test_marking_wiring import seed

pytestmark = pytest.mark.integration

SETTINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}
TASK = "brief the convoy escort"
FRENCH_ONLY = "the escort leaves from Metz at dawn"
LATER = "briefing booked for Tuesday"


async def _summit_room(bot_factory: Any, people: Any, *, bernd_joins: bool) -> tuple[Any, ...]:
    """Sam (FRA, secretariat) and Franz (FRA) in a summit room with the bot; Bernd (DEU)
    in the directory, not in the room."""
    sam = await people("sam", auto_join=True)
    franz = await people("franz", auto_join=True)
    bernd = await people("bernd", auto_join=bernd_joins)
    everyone = [sam.user_id, franz.user_id, bernd.user_id]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(sam, "FRA", "secretariat"), (franz, "FRA", ""), (bernd, "DEU", "")])
    await bot.astart()
    room = await franz.create_encrypted_dm(bot.user_id, wait_joined=30)
    await franz.client.room_invite(room, sam.user_id)
    await franz.wait_joined(room, sam.user_id, timeout=30)
    return bot, sam, franz, bernd, room


def _due() -> str:
    return (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")


async def test_widening_a_summit_hides_its_items_earlier_history_from_the_newly_covered(
    bot_factory, people
) -> None:
    bot, sam, franz, bernd, room = await _summit_room(bot_factory, people, bernd_joins=True)
    await command(sam, room, '!summit open "DefMin" marking=RESTRICTED rel=FRA', timeout=60)
    # The item's own marking is wider than its summit's: France alone reads it for now.
    _, added = await command(
        sam,
        room,
        f"!actions add S-1 {franz.user_id} due={_due()} marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        timeout=60,
    )
    assert "added" in added.body, added.body
    await command(franz, room, f"!actions comment A-1 -- {FRENCH_ONLY}", timeout=60)

    dm = await open_dm(bernd, bot)
    _, hidden = await command(bernd, dm, "!show A-1", timeout=60)
    assert TASK not in hidden.body and FRENCH_ONLY not in hidden.body, hidden.body
    await command(sam, room, "!summit edit S-1 rel=FRA,DEU", timeout=60)
    await command(sam, room, f"!edit A-1 owner={bernd.user_id}", timeout=60)
    await command(sam, room, f"!actions comment A-1 -- {LATER}", timeout=60)

    _, shown = await command(bernd, dm, "!show A-1", timeout=60)
    assert "A-1" in shown.body and LATER in shown.body, shown.body
    assert FRENCH_ONLY not in shown.body, shown.body
    assert "history entries are not shown here (their marking)." in shown.body
    assert not [e for _, e in bernd.received if FRENCH_ONLY in e.body]
    # Sam, covered all along, reads it all in his own DM.
    sam_dm = await open_dm(sam, bot)
    _, full = await command(sam, sam_dm, "!show A-1", timeout=60)
    assert FRENCH_ONLY in full.body and LATER in full.body and "not shown" not in full.body


async def test_a_queued_message_about_an_item_follows_its_summits_new_marking(
    bot_factory, people
) -> None:
    _bot, sam, franz, bernd, room = await _summit_room(bot_factory, people, bernd_joins=False)
    await command(sam, room, '!summit open "DefMin" marking=RESTRICTED rel=FRA,DEU', timeout=60)
    _, added = await command(
        sam, room, f"!actions add S-1 {franz.user_id} due={_due()} -- {TASK}", timeout=60
    )
    assert "added" in added.body and "REL TO FRA, DEU" in added.body, added.body
    # Given to Bernd: the bot invites him to a DM and holds his notice until he joins.
    await command(sam, room, f"!edit A-1 owner={bernd.user_id}", timeout=60)
    invited = await bernd.wait_invited(timeout=60)
    # Given back to Franz, then the summit narrowed to France, before Bernd joins: the item
    # keeps its own REL TO FRA, DEU; its summit's marking now excludes him.
    await command(sam, room, f"!edit A-1 owner={franz.user_id}", timeout=60)
    _, narrowed = await command(sam, room, "!summit edit S-1 rel=FRA", timeout=60)
    assert "S-1 changed" in narrowed.body, narrowed.body
    await bernd.join(invited, timeout=30)

    def outcome() -> bool | None:
        told = [e for _, e in sam.received if "I did not send A-1" in e.body]
        return bool(told or [e for _, e in bernd.received if TASK in e.body]) or None

    with contextlib.suppress(TimeoutError):
        await sam._wait_until(outcome, 90, "the notice's fate")
    await asyncio.sleep(3)
    assert not [e.body for _, e in bernd.received if TASK in e.body]
    # Sam is told, in his DM, that it did not go to Bernd, and why.
    where, told = await wait_any(sam, lambda e: "I did not send A-1" in e.body, timeout=30)
    assert where != room and bernd.user_id in told.body and "(DEU)" in told.body, told.body
