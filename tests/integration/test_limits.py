"""One rate limit for everything a person makes the bot do, over real E2EE on Synapse
(issue 22, finding 10): 90 edits of an applied command get at most a burst of answers and
one warning (they got 90 answers and none); 40 messages no key will open keep at most a
burst waiting and warn once; invitations stop at `max_rooms_per_inviter`
rooms per inviter, and the inviter is told once."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sqlite3
from uuid import uuid4

import pytest
from nio import RoomSendResponse
from nio.api import Api

from bot.app import STORE_FILE
from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration

BURST = 10


def outcomes(bot: BotProcess, replaces: str) -> list[str]:
    with sqlite3.connect(f"file:{bot.data_dir / STORE_FILE}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT outcome FROM handled_events WHERE replaces = ? OR outcome = 'rate_limited'",
            (replaces,),
        ).fetchall()
    return [r[0] for r in rows]


async def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


async def test_ninety_edits_get_a_burst_of_answers_and_one_warning(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id],
        settings={"rate_limit_burst": BURST, "rate_limit_per_minute": 1},
    )
    room = await open_dm(alice, bot)
    zone, done = await command(alice, room, "!tz Europe/Paris", timeout=30)
    assert "Europe/Paris" in done.body
    for n in range(90):
        await alice.send_edit(room, zone, f"!tz Asia/Tokyo {n}")
    # Every edit is in the ledger (answered, or over the limit) before anything is counted.
    await wait_until(lambda: len(outcomes(bot, zone)) >= 90, 180, "90 edits handled")
    seen = outcomes(bot, zone)
    answered = seen.count("edit_not_applied")
    assert answered + seen.count("rate_limited") == 90
    # The burst, less the invitation to the DM and the command, plus at most a token or
    # two refilled meanwhile (one a minute).
    assert BURST - 2 <= answered <= BURST
    # What the bot queued in reply to the command: its answer, the edits' answers and one
    # warning (before the fix: 90 answers and no warning) …
    assert queued(bot) == 1 + answered + 1
    # … and what Alice's client decrypted of it.
    replies = await alice.wait_for_messages(
        room, 1 + answered + 1, lambda e: replied_to(e) == zone, timeout=120
    )
    assert len([e for e in replies if "faster than I accept" in e.body]) == 1


def queued(bot: BotProcess) -> int:
    """Messages the bot has queued (a sent row keeps no content, so count them all)."""
    with sqlite3.connect(f"file:{bot.data_dir / STORE_FILE}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


async def test_invitations_stop_at_the_cap_per_inviter(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id], settings={"max_rooms_per_inviter": 2}
    )
    first = await open_dm(alice, bot)  # the first room on her invitation
    await command(alice, first, "!ping", timeout=30)
    dm = await alice.create_encrypted_dm(bot.user_id, wait_joined=30)  # her newest DM
    await command(alice, dm, "!ping", timeout=30)  # settled: the bot writes to her here
    declined = []
    for _ in range(2):
        room = await alice.create_encrypted_dm(bot.user_id)
        declined.append(room)
        await wait_until_left(alice, room, bot.user_id)
    # Told in her DM, once; a ping answered there after it shows nothing else was queued.
    told = await alice.wait_for_message(dm, lambda e: "max_rooms_per_inviter" in e.body, timeout=60)
    assert f"I declined your invitation to {declined[0]}" in told.body
    _, pong = await command(alice, dm, "!ping", timeout=30)
    assert pong.body == "pong"
    notices = [e for _r, e in alice.received if "max_rooms_per_inviter" in e.body]
    assert len(notices) == 1  # not once per declined invitation
    for room in declined:
        joined = await alice.client.joined_members(room)
        assert bot.user_id not in [m.user_id for m in joined.members]


async def wait_until_left(person, room_id: str, user_id: str) -> None:  # type: ignore[no-untyped-def]
    """Until the server shows `user_id` has left the room (declined its invitation)."""
    for _ in range(300):
        resp = await person.client.room_get_state_event(room_id, "m.room.member", user_id)
        if getattr(resp, "content", {}).get("membership") == "leave":
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{user_id} still in {room_id}")


async def send_unreadable(person, room_id: str) -> str:  # type: ignore[no-untyped-def]
    """An m.room.encrypted event under a Megolm session no one ever shared (a random ID):
    what a hostile or broken client can send without end, each one costing the bot key
    requests and, after a while, a notice."""
    client = person.client
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": client.olm.account.identity_keys["curve25519"],
        "device_id": client.device_id,
        "session_id": base64.b64encode(os.urandom(32)).decode().rstrip("="),
        "ciphertext": base64.b64encode(os.urandom(96)).decode().rstrip("="),
    }
    method, path, data = Api.room_send(
        str(client.access_token), room_id, "m.room.encrypted", content, uuid4()
    )
    resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id)


def refused_over_limit(bot: BotProcess) -> float:
    found = re.search(
        r'^attache_refused_events_total\{reason="rate_limited"\} (\S+)$', bot.metrics(), re.M
    )
    return float(found[1]) if found else 0.0


async def test_forty_unreadable_messages_hold_a_burst_and_warn_once(bot_factory, people) -> None:
    """Issue 22, finding 10, over real Synapse: messages no key will ever open draw on the
    one budget. Of 40, the bot keeps at most a burst waiting for their keys (each costs key
    requests and a notice), refuses the rest, and tells the sender once."""
    alice = await people("alice")
    bot: BotProcess = bot_factory(
        allowed_users=[alice.user_id],
        settings={
            "rate_limit_burst": BURST,
            "rate_limit_per_minute": 1,
            "undecryptable_give_up": 3600,  # kept waiting for the whole test
        },
    )
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping", timeout=30)  # the room key of her session is shared
    sent = [await send_unreadable(alice, room) for _ in range(40)]
    await wait_until(lambda: refused_over_limit(bot) >= 40 - BURST, 120, "the flood refused")
    warning = await alice.wait_for_message(
        room, lambda e: "faster than I accept" in e.body, timeout=60
    )
    assert replied_to(warning) in sent

    def held() -> int:
        return int(bot.query("SELECT COUNT(*) FROM kv WHERE key LIKE 'undecrypted:%'")[0][0])

    # Every one of the 40 is accounted for, once the last of the sync batch is handled (the
    # warning can arrive while the flood's tail is still being counted).
    await wait_until(lambda: held() + refused_over_limit(bot) >= 40, 60, "all 40 accounted")
    # The burst, less the invitation and the ping, plus a token refilled meanwhile at most.
    assert 1 <= held() <= BURST - 1, held()
    warnings = [e for _r, e in alice.received if "faster than I accept" in e.body]
    assert len(warnings) == 1
