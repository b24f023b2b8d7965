"""Replays against real Synapse: one Megolm ciphertext sent twice acts once, across restarts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from nio import Api, RoomSendResponse

from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration


def outcome(bot: BotProcess, event_id: str) -> str | None:
    rows = bot.query("SELECT outcome FROM handled_events WHERE event_id = ?", event_id)
    return str(rows[0][0]) if rows else None


async def wait_outcome(bot: BotProcess, event_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = outcome(bot, event_id)
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bot never recorded {event_id}\n{bot.log_tail()}")


async def put_encrypted(person: TestClient, room_id: str, content: dict[str, Any], txn: str) -> str:
    """PUT an already encrypted content as-is: the same ciphertext under a new event ID."""
    client = person.client
    assert client.access_token
    method, path, data = Api.room_send(
        client.access_token, room_id, "m.room.encrypted", content, txn
    )
    resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id)


@pytest.mark.usefixtures("store_backend")  # PostgreSQL parity
async def test_same_ciphertext_twice_has_one_effect_also_after_a_restart(
    bot_factory, people
) -> None:
    alice: TestClient = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")  # the bot holds alice's room key now
    # Encrypt once with alice's own outbound group session, then send that content twice.
    kind, content = alice.client.encrypt(
        room, "m.room.message", {"msgtype": "m.text", "body": "!tz Asia/Tokyo"}
    )
    assert kind == "m.room.encrypted"
    first = await put_encrypted(alice, room, content, "replay-1")
    reply = await alice.wait_for_message(room, lambda e: replied_to(e) == first, timeout=30)
    assert "Asia/Tokyo" in reply.body
    second = await put_encrypted(alice, room, content, "replay-2")
    assert second != first
    assert await wait_outcome(bot, second) == "replay"

    await bot.astop()
    await bot.astart()
    third = await put_encrypted(alice, room, content, "replay-3")
    assert await wait_outcome(bot, third) == "replay"
    # A fresh message still works after the restart, and nothing answered the copies.
    await command(alice, room, "!ping", timeout=30)
    answered = {replied_to(e) for e in alice.messages(room) if e.sender == bot.user_id}
    assert first in answered and second not in answered and third not in answered
    audits = bot.query("SELECT count(*) FROM audit WHERE action = 'tz.set'")[0][0]
    handled = bot.query("SELECT count(*) FROM handled_events WHERE command = 'tz'")[0]
    assert audits == 1 and handled[0] == 1  # one effect
    log = bot.log_text()
    assert log.count("a replay of " + first) == 2
    assert "Asia/Tokyo" not in log  # refusals are logged without the message body
