"""No message body, password, pickle key, access token or other secret in the bot's log.

The bot runs at DEBUG (the harness default). Every body sent carries a unique marker that
would show up if any code path logged bodies: successful commands, refusals, unknown
commands, too-long input, plain chat, and a reply the bot composes from the user's text.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to
from tests.reliability.common import assert_logs_clean, record, secrets_of

pytestmark = pytest.mark.integration


async def test_no_body_or_secret_in_debug_logs(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id], settings={"max_command_length": 200}
    )
    room = await open_dm(alice, bot)
    m = [uuid.uuid4().hex for _ in range(8)]
    bodies = [
        f"!tz Marker/Zone-{m[0]}",  # refused: the reply quotes the text back
        f"!help Marker-{m[1]}",
        f"!cmd{m[2]}",  # unknown command
        f"!tz Europe/Paris x{m[3]}",  # unexpected extra word
        f"!show A-1 -- {m[4]}",
        f"!tz {m[5]}" + "y" * 300,  # too long
        f'!tz "{m[6]} <script>',  # unclosed quote
    ]
    for body in bodies:
        await command(alice, room, body)
    chat = await alice.send_text(room, f"just chatting {m[7]}")  # not a command: no reply
    await asyncio.sleep(2)
    assert not [e for e in alice.messages(room) if replied_to(e) == chat]
    assert await bot.astop() == 0
    scanned = assert_logs_clean(bot, m)
    secrets = secrets_of(bot)
    assert any("access_token" in name for name in secrets), "the token must be among the checked"
    record("log_hygiene", bodies=len(m), secrets_checked=len(secrets), log_lines=scanned)
