"""Liaison requests end to end: the real bot, real Synapse, E2EE clients, real threads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from nio import Api, RoomSendResponse

from bot.app import STORE_FILE
from bot.store import Store
from commands.directory import store as directory
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm

pytestmark = pytest.mark.integration


async def seed_directory(bot: BotProcess, post: str, members: list[TestClient]) -> None:
    """Write the directory into the bot's store before it starts (no seed command yet)."""
    store = Store(bot.data_dir / STORE_FILE)
    await store.open()
    try:
        async with store.write() as db:
            await directory.set_post(
                db,
                post,
                datetime.now(UTC),
                name=post.title(),
                add=[member.user_id for member in members],
            )
    finally:
        await store.close()


async def wait_any(person: TestClient, predicate: Any, timeout: float = 30) -> tuple[str, Any]:
    """The first message from the bot in any of this person's rooms that matches."""

    def find() -> tuple[str, Any] | None:
        for room_id, ev in person.received:
            if ev.sender != person.user_id and predicate(ev):
                return room_id, ev
        return None

    return await person._wait_until(find, timeout, "matching message in any room")


async def react_encrypted(person: TestClient, room_id: str, target: str, key: str = "✅") -> str:
    """An encrypted reaction, as Element sends it.

    nio 0.26's room_send sends m.reaction in clear even in encrypted rooms, and the bot
    rightly ignores plaintext in an encrypted room; so encrypt it here by hand.
    """
    client = person.client
    await person.wait_room(room_id)
    room = client.rooms[room_id]
    if not room.members_synced:
        await client.joined_members(room_id)
    if client.should_query_keys:
        await client.keys_query()
    if client.olm.should_share_group_session(room_id):
        await client.share_group_session(room_id, ignore_unverified_devices=True)
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}}
    event_type, encrypted = client.encrypt(room_id, "m.reaction", content)
    method, path, data = Api.room_send(client.access_token, room_id, event_type, encrypted, uuid4())
    resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id)


def thread_of(event: Any) -> str | None:
    relates = (event.source.get("content") or {}).get("m.relates_to") or {}
    return relates.get("event_id") if relates.get("rel_type") == "m.thread" else None


def in_thread(root: str, text: str):
    return lambda ev: thread_of(ev) == root and text in ev.body


async def test_request_to_a_post_threads_acks_relays_and_closes(
    bot_factory, people, synapse
) -> None:
    a, b, c, d = [await people(n, auto_join=True) for n in ("anna", "bernd", "clara", "dora")]
    bot: BotProcess = bot_factory(start=False, allowed_users=[p.user_id for p in (a, b, c, d)])
    await seed_directory(bot, "DE-BERLIN", [b, c])
    await bot.astart()
    room_a = await open_dm(a, bot)

    started = time.perf_counter()
    _, reply = await command(a, room_a, "!request DE-BERLIN Visit of the CHOD -- programme?")
    # Anna asked in her own DM with the bot: the confirmation is her thread's root.
    assert reply.body.startswith("LR-1 · routine · from") and "to DE-BERLIN" in reply.body
    # People are shown by name (Synapse's default is the localpart) with the ID beside it.
    sent_to = next(line for line in reply.body.splitlines() if line.startswith("Sent to: "))
    assert b.user_id in sent_to and c.user_id in sent_to

    # Both members of the post get the request as a thread root in their DM with the bot.
    roots: dict[str, tuple[str, str]] = {}
    for person in (b, c):
        room, root = await wait_any(person, lambda e: e.body.startswith("LR-1 · routine"))
        assert root.decrypted and "Subject: Visit of the CHOD" in root.body
        assert "programme?" in root.body and thread_of(root) is None
        roots[person.user_id] = (room, root.event_id)
    delivered_ms = (time.perf_counter() - started) * 1000
    dm_a, root_a = room_a, reply

    # Clara acknowledges with a ✅ reaction on her root: Anna and Bernd hear it in their threads.
    room_c, root_c = roots[c.user_id]
    await react_encrypted(c, room_c, root_c)
    acked = in_thread(root_a.event_id, "LR-1 acknowledged by")
    _, note = await wait_any(a, acked)
    assert note.decrypted and c.user_id in note.body
    assert f'href="https://matrix.to/#/{c.user_id}"' in note.source["content"]["formatted_body"]
    room_b, root_b = roots[b.user_id]
    await b.wait_for_message(room_b, in_thread(root_b, "LR-1 acknowledged by"), timeout=30)
    # Clara herself sees that her reaction worked, in the thread she reacted in.
    mine = await c.wait_for_message(
        room_c, in_thread(root_c, "LR-1 acknowledged by your ✅"), timeout=30
    )
    assert mine.decrypted

    # Bernd answers in his thread; Anna receives it, attributed, in hers.
    await b.send(
        room_b,
        {
            "msgtype": "m.text",
            "body": "Dates: 12-14 May.",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root_b,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root_b},
            },
        },
    )
    _, relay = await wait_any(a, in_thread(root_a.event_id, "Dates: 12-14 May."))
    head, _, _ = relay.body.partition(", DE-BERLIN on LR-1")
    assert relay.decrypted and b.user_id in head and "\n" not in head
    assert relay.source["content"]["m.relates_to"]["rel_type"] == "m.thread"
    await c.wait_for_message(room_c, in_thread(root_c, "Dates: 12-14 May."), timeout=30)

    # Anna closes it; both addressees hear it in their threads.
    _, closed = await command(a, room_a, "!close LR-1 -- thanks")
    assert closed.body == "LR-1 closed."
    for person, (room, root) in ((b, roots[b.user_id]), (c, roots[c.user_id])):
        await person.wait_for_message(room, in_thread(root, "LR-1 closed by"), timeout=30)

    # Dora is no party: for her the request does not exist.
    room_d = await open_dm(d, bot)
    for text in ("!request LR-1", "!show LR-1", "!reply LR-1 hello"):
        _, refused = await command(d, room_d, text)
        assert refused.body.startswith("No such request: LR-1.")
    _, shown = await command(a, room_a, "!request LR-1")
    assert shown.body.startswith("LR-1 · closed · routine") and "ack → acknowledged" in shown.body

    # The server holds only ciphertext in the threads' rooms.
    for room in (dm_a, room_b, room_c):
        stored = await synapse.aroom_messages_as_admin(room)
        assert {e["type"] for e in stored if "state_key" not in e} == {"m.room.encrypted"}
    print(f"\nLR-1 delivered to both addressees in {delivered_ms:.0f} ms")


async def test_unacknowledged_request_is_escalated_for_real(bot_factory, people) -> None:
    a, b, admin = [await people(n, auto_join=True) for n in ("anna", "bernd", "ops")]
    bot: BotProcess = bot_factory(
        allowed_users=[a.user_id, b.user_id],
        admins=[admin.user_id],
        settings={"liaison_escalation_seconds": {"immediate": 4}},
    )
    room_a = await open_dm(a, bot)
    started = time.monotonic()
    _, reply = await command(
        a, room_a, f"!request {b.user_id} Fuel for the C-130 precedence=immediate"
    )
    assert reply.body.startswith("LR-1 · immediate")
    room_b, root_b = await wait_any(b, lambda e: e.body.startswith("LR-1 · immediate"))
    dm_a, root_a = room_a, reply

    reminder_b = await b.wait_for_message(
        room_b, in_thread(root_b.event_id, "Reminder: LR-1 (immediate)"), timeout=30
    )
    assert time.monotonic() - started >= 3.9  # not before the configured 4 s
    assert "not acknowledged after 4 s" in reminder_b.body
    assert b.user_id in reminder_b.source["content"]["m.mentions"]["user_ids"]
    await a.wait_for_message(
        dm_a, in_thread(root_a.event_id, "LR-1 is not acknowledged after 4 s"), timeout=30
    )
    # The second miss goes to the admins too, once.
    _, escalation = await wait_any(admin, lambda e: e.body.startswith("Escalation: LR-1"))
    assert "after 8 s and 2 reminders" in escalation.body
    await a.wait_for_message(dm_a, in_thread(root_a.event_id, "The admins are told."), timeout=30)
    reminders = [e for e in b.messages(room_b) if "Reminder: LR-1" in e.body]
    assert len(reminders) == 2
