"""A restart resumes from the saved sync token with the rooms the store keeps
(bot/room_list.py), over real E2EE on Synapse: a DM quiet since the bot stopped is written
to and read by its person, and a plain room is still known as plain (nothing written in it).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration

REFUSAL = "only work in end-to-end encrypted rooms"


async def test_after_a_restart_quiet_rooms_are_known_as_they_were(
    bot_factory, people, synapse
) -> None:
    anna = await people("anna", auto_join=True)
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[anna.user_id, bob.user_id])
    room_a = await open_dm(anna, bot)
    room_b = await open_dm(bob, bot)
    await command(bob, room_b, "!ping", timeout=60)
    plain = await anna.create_plain_room(bot.user_id, wait_joined=30)
    await command(anna, room_a, "!ping", timeout=60)  # the plain room's join is synced

    await bot.astop()
    before = len(bot.log_text())
    await bot.astart(timeout=120)
    assert "resuming with" in bot.log_text()[before:]  # no full-state sync this time

    # Bob's DM has had no event since the token: the bot writes to it, encrypted.
    _, reply = await command(anna, room_a, f"!request {bob.user_id} Fuel -- 200 t at Ramstein")
    assert reply.body.startswith("LR-1"), reply.body
    root = await bob.wait_for_message(room_b, lambda e: e.body.startswith("LR-1"), timeout=90)
    assert root.decrypted and "200 t at Ramstein" in root.body

    # The plain room is still plain to the bot: the refusal comes in Anna's encrypted DM.
    await anna.send_text(plain, "!ping")

    def refusal() -> Any:
        found = [(r, e) for r, e in anna.received if e.sender == bot.user_id and REFUSAL in e.body]
        return found or None

    [(dm, note)] = await anna._wait_until(refusal, 90, "the refusal in a DM")
    assert dm == room_a and note.decrypted
    stored = synapse.room_messages_as_admin(plain)
    assert not [e for e in stored if e["sender"] == bot.user_id and e["type"] != "m.room.member"]
