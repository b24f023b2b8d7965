"""Delivery to a person over real E2EE on Synapse: never plaintext, never to outsiders, and
a DM that is left or rejected is replaced or reported, not written into unread."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import open_store
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import in_thread, wait_any

pytestmark = pytest.mark.integration


def _from(events: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("sender") == sender]


async def test_stolen_token_plain_dm_never_gets_plaintext(
    bot_factory, people, synapse, store_dir
) -> None:
    anna = await people("anna", auto_join=True)
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[anna.user_id, bob.user_id])
    # A thief with a second login of Bob's account invites the bot to an UNENCRYPTED
    # "direct chat", before Bob ever talks to the bot.
    thief = await TestClient.create(
        synapse, bob.user, store_dir / "thief", new_device=True, cross_sign=False
    )
    try:
        plain = await thief.create_plain_room(bot.user_id, wait_joined=20)
        await asyncio.sleep(1)  # the bot's next sync has the room's state
        room_a = await open_dm(anna, bot)
        _, reply = await command(anna, room_a, f"!request {bob.user_id} Fuel -- 200 t at Ramstein")
        assert reply.body.startswith("LR-1"), reply.body
        room, root = await wait_any(bob, lambda e: e.body.startswith("LR-1 · routine"))
        assert room != plain
        assert root.decrypted and "200 t at Ramstein" in root.body
        assert bob.client.rooms[room].encrypted
        stored = synapse.room_messages_as_admin(plain)
        assert not [e for e in stored if e["type"] == "m.room.message"], stored
        # The bot joined (a state event) and wrote nothing there, encrypted or not.
        assert not [e for e in _from(stored, bot.user_id) if "state_key" not in e], stored
    finally:
        await thief.close()


async def test_outsider_in_room_gets_no_keys_and_admins_are_told_once(bot_factory, people) -> None:
    alice = await people("alice", auto_join=True)
    ops = await people("ops", auto_join=True)
    mallory = await people("mallory", auto_join=True)  # cross-signed, but not allow-listed
    bot: BotProcess = bot_factory(allowed_users=[alice.user_id], admins=[ops.user_id])
    room = await alice.create_encrypted_dm(bot.user_id, wait_joined=20)
    await alice.client.room_invite(room, mallory.user_id)
    await alice.wait_joined(room, mallory.user_id, timeout=20)
    for _ in range(2):
        _, reply = await command(alice, room, "!ping", timeout=30)
        assert reply.body == "pong"
        await mallory._wait_until(
            lambda r=reply: any(e.event_id == r.event_id for _, e in mallory.undecryptable) or None,
            20,
            "the bot's reply to reach mallory (undecryptable)",
        )
        assert not any(e.event_id == reply.event_id for _, e in mallory.received)
    _, notice = await wait_any(ops, lambda e: "not on the allow-list" in e.body)
    assert mallory.user_id in notice.body and room in notice.body
    await asyncio.sleep(2)
    notices = [e for _, e in ops.received if "not on the allow-list" in e.body]
    assert len(notices) == 1


@pytest.mark.usefixtures("store_backend")  # PostgreSQL parity
async def test_left_dm_is_replaced_and_rejected_invite_is_reported(bot_factory, people) -> None:
    anna = await people("anna", auto_join=True)
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(
        allowed_users=[anna.user_id, bob.user_id],
        settings={"liaison_escalation_seconds": {"immediate": 8}},
    )
    room_a = await open_dm(anna, bot)
    old = await open_dm(bob, bot)
    _, confirm = await command(bob, old, "!remind in 25s -- check the fuel")
    assert confirm.body.startswith("Scheduled R-1"), confirm.body
    await bob.client.room_leave(old)  # Bob tidies Element
    await asyncio.sleep(2)

    _, root_a = await command(
        anna, room_a, f"!request {bob.user_id} Fuel for the C-130 precedence=immediate"
    )
    new, root_b = await wait_any(bob, lambda e: e.body.startswith("LR-1 · immediate"))
    assert new != old and root_b.decrypted
    # a relay from Anna's thread
    await anna.send(
        room_a,
        {
            "msgtype": "m.text",
            "body": "Please confirm by noon.",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root_a.event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root_a.event_id},
            },
        },
    )
    relay = await bob.wait_for_message(new, lambda e: "Please confirm by noon." in e.body, 30)
    assert relay.decrypted
    nudge = await bob.wait_for_message(new, in_thread(root_b.event_id, "Reminder: LR-1"), 40)
    assert nudge.decrypted
    reminder = await bob.wait_for_message(new, lambda e: "Reminder R-1" in e.body, 40)
    assert reminder.decrypted and "check the fuel" in reminder.body
    assert not [e for e in bob.messages(old) if e.sender == bot.user_id and "LR-1" in e.body]

    # Bob leaves the new DM too, and this time declines the bot's invitation.
    bob.auto_join = False
    await bob.client.room_leave(new)
    await asyncio.sleep(2)
    await anna.send(
        room_a,
        {
            "msgtype": "m.text",
            "body": "Anything?",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root_a.event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root_a.event_id},
            },
        },
    )
    invited = await bob.wait_invited(timeout=30)
    await bob.client.room_leave(invited)  # reject
    told = await anna.wait_for_message(
        room_a, in_thread(root_a.event_id, "I could not deliver LR-1 to"), 40
    )
    assert bob.user_id in told.body and "declined" in told.body
    _, shown = await command(anna, room_a, "!request LR-1")
    assert "undeliverable" in shown.body and "declined" in shown.body
    assert not [e for _, e in bob.received if "Anything?" in e.body]
    # Nothing stays marked sent into a room Bob is not in.
    store = open_store(bot.store_url())
    await store.open()
    try:
        async with store.reader.execute(
            "SELECT room_id, error FROM outbox WHERE user_id = ? AND state = 'sent' "
            "AND room_id IN (?, ?, ?)",
            (bob.user_id, old, invited, new),
        ) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
    finally:
        await store.close()
    assert all(room == new for room, _ in rows), rows


def _thread_reply(root: str, body: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }


@pytest.mark.usefixtures("store_backend")  # PostgreSQL parity
async def test_thread_started_in_a_left_dm_goes_on_in_the_new_one(bot_factory, people) -> None:
    anna = await people("anna", auto_join=True)
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[anna.user_id, bob.user_id])
    room_a = await open_dm(anna, bot)
    old = await open_dm(bob, bot)
    _, root_a = await command(anna, room_a, f"!request {bob.user_id} Overflight -- for Tuesday")
    room, _ = await wait_any(bob, lambda e: e.body.startswith("LR-1 · routine"))
    assert room == old
    await bob.client.room_leave(old)
    await asyncio.sleep(2)
    await anna.send(room_a, _thread_reply(root_a.event_id, "Route via Malta."))
    new, relay = await wait_any(bob, lambda e: "Route via Malta." in e.body)
    assert new != old and relay.decrypted
    # Bob answers in the thread of what reached him: it is still LR-1, and Anna gets it.
    await bob.send(new, _thread_reply(relay.event_id, "Approved for Tuesday."))
    answer = await anna.wait_for_message(
        room_a, in_thread(root_a.event_id, "Approved for Tuesday."), 30
    )
    assert answer.decrypted
    # and the next message to Bob continues that thread in the new DM
    await anna.send(room_a, _thread_reply(root_a.event_id, "Thanks."))
    thanks = await bob.wait_for_message(new, lambda e: "Thanks." in e.body, 30)
    assert in_thread(relay.event_id, "Thanks.")(thanks)


async def test_request_to_a_deactivated_account_is_reported(bot_factory, people, synapse) -> None:
    anna = await people("anna", auto_join=True)
    bob = await people("bob", auto_join=True)
    bot: BotProcess = bot_factory(allowed_users=[anna.user_id, bob.user_id])
    room_a = await open_dm(anna, bot)
    await open_dm(bob, bot)
    await bob.close()
    synapse.deactivate(bob.user_id)  # the account is gone (it leaves every room)
    await asyncio.sleep(2)
    _, root_a = await command(anna, room_a, f"!request {bob.user_id} Fuel -- 200 t")
    told = await anna.wait_for_message(
        room_a, in_thread(root_a.event_id, "I could not deliver LR-1 to"), 60
    )
    assert bob.user_id in told.body and "account gone" in told.body
    _, shown = await command(anna, room_a, "!request LR-1")
    assert "undeliverable" in shown.body
    # no DM was made for the dead account, and nothing is marked sent to it
    store = open_store(bot.store_url())
    await store.open()
    try:
        async with store.reader.execute(
            "SELECT (SELECT COUNT(*) FROM dm_rooms WHERE user_id = ?), "
            "(SELECT COUNT(*) FROM outbox WHERE user_id = ? AND state = 'sent')",
            (bob.user_id, bob.user_id),
        ) as cur:
            assert tuple(await cur.fetchone()) == (0, 0)
    finally:
        await store.close()
