"""The E2EE core against a real Synapse: replies, allow-list, restarts, lock, bursts."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.integration.conftest import command, open_dm, replied_to

pytestmark = pytest.mark.integration


async def test_ping_in_encrypted_dm_gets_encrypted_reply(bot_factory, people, synapse) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    _, reply = await command(alice, room, "!ping")
    assert reply.body == "pong"
    assert reply.sender == bot.user_id
    assert reply.decrypted, "the reply must have been end-to-end encrypted"
    # The server itself holds only ciphertext for every message in the room.
    stored = await synapse.aroom_messages_as_admin(room)
    messages = [e for e in stored if "state_key" not in e]
    assert messages and {e["type"] for e in messages} == {"m.room.encrypted"}
    # Round trip of !ping, median of 20, for the record (not a timed assertion).
    rtts = []
    for _ in range(20):
        started = time.perf_counter()
        await command(alice, room, "!ping")
        rtts.append((time.perf_counter() - started) * 1000)
    print(f"\n!ping round trip over E2EE: median {statistics.median(rtts):.1f} ms (n=20)")


async def test_sender_not_allowed_gets_no_join_and_no_reply(bot_factory, people) -> None:
    alice = await people("alice")
    mallory = await people("mallory")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await mallory.create_encrypted_dm(bot.user_id)
    with pytest.raises(TimeoutError):
        await mallory.wait_joined(room, bot.user_id, timeout=6)
    # An allowed user's room next to it works, so the silence above was the allow-list.
    ok_room = await open_dm(alice, bot)
    _, reply = await command(alice, ok_room, "!ping")
    assert reply.body == "pong"
    assert "invite_not_allowed" in bot.metrics()


async def test_messages_from_unlisted_member_are_ignored(bot_factory, people) -> None:
    """Mallory in a room the bot joined (invited by alice) gets no answer."""
    alice = await people("alice")
    mallory = await people("mallory", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    await alice.client.room_invite(room, mallory.user_id)
    await alice.wait_joined(room, mallory.user_id, timeout=20)
    ignored = await mallory.send_text(room, "!ping")
    _, reply = await command(alice, room, "!ping")
    assert reply.body == "pong"
    await asyncio.sleep(1)
    assert not [e for e in mallory.messages(room) if replied_to(e) == ignored]


async def test_unencrypted_room_gets_one_refusal(bot_factory, people, synapse) -> None:
    """Told once, in an encrypted DM: the bot never writes into the plain room itself."""
    alice = await people("alice", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await alice.create_plain_room(bot.user_id, wait_joined=20)
    await alice.send_text(room, "!ping")

    def refusal() -> Any:
        found = [
            (r, e)
            for r, e in alice.received
            if e.sender == bot.user_id and "only work in end-to-end encrypted rooms" in e.body
        ]
        return found or None

    [(dm, note)] = await alice._wait_until(refusal, 30, "the refusal in a DM")
    assert dm != room and note.decrypted and room in note.body
    await alice.send_text(room, "!help")
    await alice.send_text(room, "!ping")
    await asyncio.sleep(3)
    assert len(refusal() or []) == 1
    stored = synapse.room_messages_as_admin(room)
    assert not [e for e in stored if e["sender"] == bot.user_id and e["type"] != "m.room.member"]


async def test_malformed_command_gets_usage_and_example(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    room = await open_dm(alice, bot)
    _, reply = await command(alice, room, "!tz Not/AZone")
    assert "not an IANA time zone" in reply.body
    assert "Usage: !tz" in reply.body and "Example: !tz Europe/Paris" in reply.body
    _, unknown = await command(alice, room, "!pnig")
    assert "Unknown command !pnig" in unknown.body
    # user text is escaped in the HTML part, never markup
    _, evil = await command(alice, room, "!tz <b>x</b>")
    html = evil.source["content"].get("formatted_body", "")
    assert "<b>x</b>" not in html and "&lt;b&gt;" in html


async def test_restart_keeps_device_and_answers_missed_command_once(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    device = bot.device_id
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")
    assert await bot.astop() == 0, bot.log_tail()
    missed = await alice.send_text(room, "!ping")
    await bot.astart()
    assert bot.device_id == device
    await alice.wait_for_message(room, lambda e: replied_to(e) == missed, timeout=30)
    # A second restart must not answer it again.
    await bot.astop()
    await bot.astart()
    _, later = await command(alice, room, "!ping")
    answers = [e for e in alice.messages(room) if replied_to(e) == missed]
    assert len(answers) == 1
    assert later.body == "pong"
    assert "logout" not in bot.log_text().lower()


async def test_second_process_on_same_data_dir_refuses(bot_factory, people) -> None:
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id])
    second = await asyncio.to_thread(bot.spawn)
    code = await asyncio.to_thread(second.wait, 60)
    assert code == 1
    assert "another attache-bot" in bot.log_text()
    room = await open_dm(alice, bot)
    _, reply = await command(alice, room, "!ping")  # the first one is unharmed
    assert reply.body == "pong"


async def test_burst_of_500_commands_from_10_users_is_answered_in_full(
    bot_factory, people, synapse
) -> None:
    users = [await people(f"burst{i}") for i in range(10)]
    bot: BotProcess = bot_factory(
        allowed_users=[u.user_id for u in users], settings={"rate_limit_burst": 100}
    )
    rooms = await asyncio.gather(*(open_dm(u, bot, timeout=40) for u in users))

    async def fire(user, room) -> list[str]:
        return list(await asyncio.gather(*(user.send_text(room, "!ping") for _ in range(50))))

    sent = await asyncio.gather(*(fire(u, r) for u, r in zip(users, rooms, strict=True)))

    async def collect(user, room, ids: list[str]) -> int:
        wanted = set(ids)
        await user.wait_for_messages(
            room, len(wanted), lambda e: replied_to(e) in wanted, timeout=180
        )
        answered = [replied_to(e) for e in user.messages(room) if replied_to(e) in wanted]
        assert len(answered) == len(set(answered)), "a command was answered twice"
        return len(set(answered))

    counts = await asyncio.gather(
        *(collect(u, r, ids) for u, r, ids in zip(users, rooms, sent, strict=True))
    )
    assert sum(counts) == 500


async def test_commands_beyond_a_limited_sync_gap_are_all_answered(bot_factory, people) -> None:
    """150 commands while the bot is down: the sync comes back `limited`; none is skipped."""
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], settings={"rate_limit_burst": 200})
    room = await open_dm(alice, bot)
    await command(alice, room, "!ping")
    await bot.astop()
    ids = [await alice.send_text(room, "!ping") for _ in range(150)]
    await bot.astart()
    wanted = set(ids)
    await alice.wait_for_messages(room, 150, lambda e: replied_to(e) in wanted, timeout=120)
    answered = [replied_to(e) for e in alice.messages(room) if replied_to(e) in wanted]
    assert sorted(answered) == sorted(ids)
    assert "backfilled" in bot.log_text()


async def test_element_mention_pill_in_a_command_is_read_as_the_matrix_id(
    bot_factory, people
) -> None:
    """Element puts a display name in the plain body and the ID in a matrix.to link; the
    pill counts because its text is the name the bot knows for that ID (bot/pills.py)."""
    alice = await people("alice")
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], admins=[alice.user_id])
    room = await open_dm(alice, bot)
    target = "@bob-pill:localhost"
    await command(alice, room, f'!dir person {target} name="Bob Pill"')
    event_id = await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": "!whois Bob Pill",
            "format": "org.matrix.custom.html",
            "formatted_body": f'!whois <a href="https://matrix.to/#/{target}">Bob Pill</a>',
            "m.mentions": {"user_ids": [target]},
        },
    )
    reply = await alice.wait_for_message(room, lambda e: replied_to(e) == event_id, timeout=20)
    assert reply.body.startswith(f"person: {target}")
