"""A reply, thread reply or reaction counts only in the room of the event it points at.

Matrix relations (`m.in_reply_to`, `m.thread`, `m.annotation`) name an event ID and nothing
stops a client from naming an event of another room. The bot looks the event up in its
outbox; found in another room, it is not the message the person answered: a reaction
elsewhere acknowledged a request and put the confirmation (its ID, its requester) in a
room of people who are no party to it, and a thread reply elsewhere told a non-party that
the request exists ("You are not a party to LR-1"), where the README promises the answer
an ID that was never used gets.
"""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from nio import Api, RoomSendResponse

from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import react_encrypted, wait_any

pytestmark = pytest.mark.integration

SUBJECT = "Escort for the Wellington convoy"


async def send_hidden_relation(
    person: TestClient, room_id: str, content: dict, event_type: str = "m.room.message"
) -> str:
    """An event whose `m.relates_to` is only inside the ciphertext: the homeserver, which
    refuses a relation to another room's event in the clear, cannot see it there."""
    client = person.client
    await person.send_text(room_id, "…")  # a session shared with the room's devices
    event_type_out, encrypted = client.encrypt(room_id, event_type, content)
    encrypted.pop("m.relates_to", None)
    method, path, data = Api.room_send(
        str(client.access_token), room_id, event_type_out, encrypted, uuid4()
    )
    resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id)


async def test_relations_to_another_rooms_event_change_nothing_and_say_nothing(
    bot_factory, people
) -> None:
    zoe = await people("zoe")  # admin
    hanna = await people("hanna", auto_join=True)  # NL-DEN-HAAG, German
    piotr = await people("piotr")  # PL-WARSZAWA, French
    giulia = await people("giulia", auto_join=True)  # no party to the request
    bot = bot_factory(
        allowed_users=[hanna.user_id, piotr.user_id, giulia.user_id], admins=[zoe.user_id]
    )
    zr = await open_dm(zoe, bot)
    for line in (
        f"!dir post NL-DEN-HAAG members={hanna.user_id} lang=de",
        f"!dir person {hanna.user_id} role=attache post=NL-DEN-HAAG tz=Pacific/Auckland lang=de",
        f"!dir person {piotr.user_id} role=attache tz=America/St_Johns lang=fr",
    ):
        await command(zoe, zr, line, timeout=60)
    pr = await open_dm(piotr, bot)
    await open_dm(hanna, bot)
    gr = await open_dm(giulia, bot)
    await command(piotr, pr, f"!request NL-DEN-HAAG {SUBJECT} -- Vehicles on the 12th?")
    hanna_dm, root = await wait_any(hanna, lambda e: SUBJECT in e.body, timeout=60)

    # A room Hanna shares with Giulia and the bot.
    shared = await hanna.create_encrypted_dm(bot.user_id, wait_joined=30)
    await hanna.client.room_invite(shared, giulia.user_id)
    await hanna.wait_joined(shared, giulia.user_id, timeout=30)
    await command(giulia, shared, "!ping", timeout=60)  # the bot has seen everyone join

    # Hanna's ✅ in the shared room, on the request's root in her DM; a thread reply and a
    # rich reply there pointing at it; Giulia's thread reply in her own DM pointing at it.
    await send_hidden_relation(
        hanna,
        shared,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root.event_id, "key": "✅"}},
        "m.reaction",
    )
    await send_hidden_relation(
        hanna,
        shared,
        {
            "msgtype": "m.text",
            "body": "Zwei Fahrzeuge am 12.",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root.event_id},
        },
    )
    await hanna.send_text(shared, "Und ein Motorrad.", reply_to=root.event_id)
    await send_hidden_relation(
        giulia,
        gr,
        {
            "msgtype": "m.text",
            "body": "Can I see it?",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root.event_id},
        },
    )
    # Then commands, answered in order after the above: the request is still open and
    # nothing was relayed; Giulia is told what anyone is told for an ID never used.
    _, still = await command(piotr, pr, "!show LR-1", timeout=60)
    assert "Zwei Fahrzeuge" not in still.body and "Motorrad" not in still.body, still.body
    assert "acknowledged" not in still.body.lower() and "quitt" not in still.body, still.body
    await command(giulia, shared, "!ping", timeout=60)
    await command(giulia, gr, "!ping", timeout=60)
    await asyncio.sleep(2)

    from_bot = [e.body for rid, e in giulia.received if e.sender == bot.user_id]
    assert not [b for b in from_bot if "LR-1" in b or SUBJECT in b], from_bot
    in_shared = [e.body for e in hanna.messages(shared) if e.sender == bot.user_id]
    assert not [b for b in in_shared if "LR-1" in b], in_shared
    # In her own DM, the same ✅ still acknowledges (the room it was sent to).
    await react_encrypted(hanna, hanna_dm, root.event_id)
    await wait_any(piotr, lambda e: "LR-1 prise en compte par" in e.body, timeout=60)
