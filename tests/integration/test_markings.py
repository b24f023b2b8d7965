"""Markings over real E2EE on Synapse, at the outbox: a marked message queued for a room with
an uncovered member never reaches that member's client (not even the subject, not even as
ciphertext); the covered members get it by DM with the banner, and the sender is told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.outbox.queue import enqueue
from bot.store import open_store
from commands.context import OutMessage, utc_iso
from commands.directory import store as directory
from commands.markings import Marking
from tests.harness.bot import BotProcess
from tests.integration.conftest import command
from tests.integration.test_liaison import wait_any

pytestmark = pytest.mark.integration

SUBJECT = "Convoy route through the northern pass"
BANNER = "RESTRICTED // REL TO FRA, DEU"


@pytest.mark.usefixtures("store_backend")  # PostgreSQL parity
async def test_room_with_an_american_member_gets_only_the_notice(bot_factory, people) -> None:
    anne = await people("anne", auto_join=True)  # FRA
    bernd = await people("bernd", auto_join=True)  # DEU
    uma = await people("uma", auto_join=True)  # USA
    everyone = [anne.user_id, bernd.user_id, uma.user_id]
    bot: BotProcess = bot_factory(
        allowed_users=everyone,
        settings={
            "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
            "max_marking": "RESTRICTED",
            "marking_groups": {"FVEY": ["USA", "GBR", "CAN", "AUS", "NZL"]},
        },
    )
    post = await anne.create_encrypted_dm(bot.user_id, wait_joined=30)
    for other in (bernd, uma):
        await anne.client.room_invite(post, other.user_id)
        await anne.wait_joined(post, other.user_id, timeout=30)
    # Not a sleep: once the bot answers the last to join, its sync has seen every join
    # (a stale member list under load would send the room content, keys to the others).
    await command(uma, post, "!ping", timeout=60)

    store = open_store(bot.store_url())
    await store.open()
    try:
        async with store.write() as db:
            for person, nation in ((anne, "FRA"), (bernd, "DEU"), (uma, "USA")):
                await directory.set_person(
                    db,
                    person.user_id,
                    datetime.now(UTC),
                    name=person.user_id.split(":")[0][1:],
                    nation=nation,
                )
            now = utc_iso(datetime.now(UTC))
            # The request the message is about: the outbox routes a row by its object's
            # marking as it is when the row is sent.
            await db.execute(
                "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
                "created_at, updated_at, marking) VALUES (9, ?, 'DE-BERLIN', ?, 'routine', ?, "
                "?, ?)",
                (
                    anne.user_id,
                    SUBJECT,
                    now,
                    now,
                    Marking.column(Marking("RESTRICTED", ("FRA", "DEU"))),
                ),
            )
            await enqueue(
                db,
                [
                    OutMessage(
                        body=f"LR-9 · priority: {SUBJECT}",
                        html=f"<p><b>LR-9</b> · priority: {SUBJECT}</p>",
                        room_id=post,
                        marking=Marking("RESTRICTED", ("FRA", "DEU")),
                        about="LR-9",
                        origin={"user_id": anne.user_id, "room_id": post, "object": "LR-9"},
                    )
                ],
                now,
            )
    finally:
        await store.close()

    # The covered members: a DM with the banner first, in plain text and HTML.
    for person in (anne, bernd):
        room, got = await wait_any(person, lambda e: SUBJECT in e.body, timeout=60)
        assert room != post
        assert got.decrypted and got.body.startswith(f"{BANNER}\n"), got.body
        assert got.formatted_body.startswith(f"<p><strong>{BANNER}</strong></p>")
    # The room: the one-line notice, which the American member reads too.
    _, notice = await wait_any(uma, lambda e: "is not shown in this room" in e.body, timeout=60)
    assert notice.body.startswith(f"LR-9 ({BANNER}) is not shown in this room")
    # The sender: told, by name, who was left out and why, in her DM, never in the room.
    told_in, told = await wait_any(anne, lambda e: "I did not send LR-9" in e.body, timeout=60)
    assert uma.user_id in told.body and "their nation (USA) is not in REL TO FRA, DEU" in told.body
    assert told_in != post

    await asyncio.sleep(3)  # anything late would have arrived by now
    # Nothing of it reached the American member: no message with the subject, nothing
    # undecryptable from the bot, no DM (the bot invited her nowhere).
    assert not [e for _, e in uma.received if SUBJECT in e.body]
    assert not [e for _, e in uma.undecryptable if e.sender == bot.user_id]
    assert set(uma.client.rooms) == {post}
    assert not uma.client.invited_rooms
    # In the shared room everyone saw the same bot events: the notice only.
    bot_events = [e.body for e in anne.messages(post) if e.sender == bot.user_id]
    assert [e.body for e in uma.messages(post) if e.sender == bot.user_id] == bot_events
    assert not [b for b in bot_events if SUBJECT in b]
