"""A message the bot cannot decrypt yet is not forgotten across a restart.

Alice's client withholds the room key from the bot's device (blacklists it), so her
command stays undecryptable for the bot. The bot is stopped while waiting for the key; after
the restart it still knows the message, keeps trying, and when the wait runs out it tells
Alice, once, that it could not act on it. Without the stored note the message would be
silently lost: the sync token had already moved past it.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to
from tests.reliability.common import read_store

pytestmark = pytest.mark.integration


async def test_undecryptable_message_survives_a_restart_and_is_answered_once(
    bot_factory, people
) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id], settings={"undecryptable_give_up": 5}
    )
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")  # keys known both ways
    for device in alice.client.device_store.active_user_devices(bot.user_id):
        alice.client.blacklist_device(device)
    alice.client.invalidate_outbound_session(room)
    hidden = await alice.send_text(room, "!tz Europe/Paris")

    def noted() -> bool:
        rows = read_store(bot, "SELECT 1 FROM kv WHERE key = ?", f"undecrypted:{hidden}")
        return bool(rows)

    for _ in range(100):
        if await asyncio.to_thread(noted):
            break
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(noted), "the bot did not note the undecryptable message"
    assert await bot.astop() == 0
    await bot.astart()
    notice = await alice.wait_for_message(room, lambda e: replied_to(e) == hidden, timeout=40)
    assert "could not decrypt a message you sent" in notice.body
    await asyncio.sleep(2)
    assert len([e for e in alice.messages(room) if replied_to(e) == hidden]) == 1
    assert "undecrypted at the last stop" in bot.log_text()
    assert await bot.astop() == 0
    assert read_store(bot, "SELECT COUNT(*) FROM kv WHERE key LIKE 'undecrypted:%'") == [(0,)]
    assert read_store(bot, "SELECT timezone FROM people") == []  # nothing was acted on
