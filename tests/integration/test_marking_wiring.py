"""Markings through the commands, over real E2EE on Synapse: a marked liaison request to a
post with an American member, and a marked action item in a summit room with one. The
American member's client receives nothing of either (not even the subject); the covered
people get it with the banner; the sender is told, by name, who was left out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import STORE_FILE
from bot.store import Store
from commands.directory import store as directory
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any

pytestmark = pytest.mark.integration

SETTINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
    "marking_groups": {"FVEY": ["USA", "GBR", "CAN", "AUS", "NZL"]},
}
BANNER = "RESTRICTED // REL TO FRA, DEU"


async def seed(
    bot: BotProcess,
    people: list[tuple[TestClient, str, str]],
    post: tuple[str, list[TestClient]] | None = None,
) -> None:
    """Nations (and roles) in the bot's directory before it starts, as the seed file would."""
    store = Store(bot.data_dir / STORE_FILE)
    await store.open()
    try:
        async with store.write() as db:
            now = datetime.now(UTC)
            for person, nation, roles in people:
                await directory.set_person(
                    db,
                    person.user_id,
                    now,
                    name=person.user_id.split(":")[0][1:],
                    nation=nation,
                    roles=[r for r in roles.split(",") if r],
                )
            if post is not None:
                code, members = post
                await directory.set_post(
                    db,
                    code,
                    now,
                    name=code.title(),
                    nation="DEU",
                    add=[member.user_id for member in members],
                )
    finally:
        await store.close()


async def nothing_reached(person: TestClient, bot: BotProcess, text: str, rooms: set[str]) -> None:
    """Nothing from the bot with this text, nothing undecryptable from the bot, no room the
    bot made. (What a person types into a shared room, the room sees: the bot cannot stop
    that, and docs/OPERATIONS.md says so.)"""
    await asyncio.sleep(3)  # anything late would have arrived by now
    assert not [e for _, e in person.received if e.sender == bot.user_id and text in e.body]
    assert not [e for _, e in person.undecryptable if e.sender == bot.user_id]
    assert set(person.client.rooms) == rooms
    assert not person.client.invited_rooms


async def test_marked_request_to_a_post_with_an_american_member(bot_factory, people) -> None:
    anna = await people("anna", auto_join=True)  # FRA, the requester
    franz = await people("franz", auto_join=True)  # FRA
    bernd = await people("bernd", auto_join=True)  # DEU
    uma = await people("uma", auto_join=True)  # USA
    everyone = [p.user_id for p in (anna, franz, bernd, uma)]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(
        bot,
        [(anna, "FRA", ""), (franz, "FRA", ""), (bernd, "DEU", ""), (uma, "USA", "")],
        ("DE-BERLIN", [franz, bernd, uma]),
    )
    await bot.astart()
    room_a = await open_dm(anna, bot)

    subject = "Convoy route north"
    await command(
        anna,
        room_a,
        f"!request DE-BERLIN {subject} -- via the pass marking=RESTRICTED rel=FRA,DEU",
        timeout=60,
    )
    # The covered members: the request with the banner first, in plain text and HTML.
    for person in (franz, bernd):
        _, root = await wait_any(person, lambda e: subject in e.body, timeout=60)
        assert root.decrypted and root.body.startswith(f"{BANNER}\nLR-1 · routine"), root.body
        assert root.formatted_body.startswith(f"<p><strong>{BANNER}</strong></p>")
    # The requester: told by name who was left out and why, in the request's thread.
    _, told = await wait_any(anna, lambda e: "I did not send LR-1" in e.body, timeout=60)
    assert told.body.startswith(BANNER) and uma.user_id in told.body
    assert "their nation (USA) is not in REL TO FRA, DEU" in told.body
    # The American member: nothing at all, not even a DM opened for it.
    await nothing_reached(uma, bot, subject, set())


async def test_marked_action_item_in_a_summit_room_with_an_american_member(
    bot_factory, people
) -> None:
    sam = await people("sam", auto_join=True)  # FRA, secretariat
    franz = await people("franz", auto_join=True)  # FRA, the owner
    uma = await people("uma", auto_join=True)  # USA, a member of the summit room
    everyone = [p.user_id for p in (sam, franz, uma)]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(bot, [(sam, "FRA", "secretariat"), (franz, "FRA", ""), (uma, "USA", "")])
    await bot.astart()
    room = await sam.create_encrypted_dm(bot.user_id, wait_joined=30)
    for other in (franz, uma):
        await sam.client.room_invite(room, other.user_id)
        await sam.wait_joined(room, other.user_id, timeout=30)
    # Not a sleep: once the bot answers the last to join, its sync has seen every join
    # (a stale member list under load would send the room content, keys to the others).
    await command(uma, room, "!ping", timeout=60)

    await command(sam, room, '!summit open "DefMin"', timeout=60)
    task = "brief the convoy escort"
    due = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    await command(
        sam,
        room,
        f"!actions add S-1 {franz.user_id} due={due} marking=RESTRICTED rel=FRA,DEU -- {task}",
        timeout=60,
    )
    # The room: a notice without the content, which the American member reads too.
    _, notice = await wait_any(uma, lambda e: "is not shown in this room" in e.body, timeout=60)
    assert notice.body.startswith(f"A-1 ({BANNER}) is not shown in this room")
    # The owner: the item by DM, with the banner.
    dm, owned = await wait_any(franz, lambda e: "You own A-1" in e.body, timeout=60)
    assert dm != room and owned.body.startswith(f"{BANNER}\n") and task in owned.body
    # The secretariat is told who was left out.
    _, told = await wait_any(sam, lambda e: "I did not send A-1" in e.body, timeout=60)
    assert uma.user_id in told.body and "their nation (USA)" in told.body
    await nothing_reached(uma, bot, task, {room})
    bot_events = [e.body for e in franz.messages(room) if e.sender == bot.user_id]
    assert bot_events and not [b for b in bot_events if task in b]
