"""Room keys right after a restart, over real E2EE on Synapse: every member of every room
reads the first messages the bot sends after it starts again.

A restart is when the bot's view of others' identities is empty and its sync reports
device-list changes in bulk (rooms it joins at start, DMs it opens for queued messages, the
people who join them): each one makes the bot judge those people's devices again while it
is sending. A verdict lost between "refreshed" and "read" once blacklisted an allow-listed
member's device for one send and rotated the room's session twice (notes: keys-restart).
Each round here stops the bot, leaves it commands and a new room to join while it is down,
starts it, and requires every member's client to decrypt every message the bot sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, replied_to
from tests.integration.test_marking_wiring import seed

pytestmark = pytest.mark.integration

MARKINGS = {  # both set explicitly, as an operator with markings does
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}
ROUNDS = 4


def from_bot(person: TestClient, bot: BotProcess, room_id: str) -> list[Any]:
    return [e for r, e in person.received if r == room_id and e.sender == bot.user_id]


def unread_from_bot(person: TestClient, bot: BotProcess) -> set[str]:
    """Session IDs of the bot's messages this person could not read, on arrival or since."""
    read = {e.event_id for _, e in person.late_decrypted}
    return {
        e.session_id
        for _, e in person.undecryptable
        if e.sender == bot.user_id and e.event_id not in read
    }


async def room_with(owner: TestClient, bot: BotProcess, others: list[TestClient]) -> str:
    """An encrypted room the owner makes with the bot invited and the others joined."""
    room = await owner.create_encrypted_dm(bot.user_id)
    for other in others:
        await owner.client.room_invite(room, other.user_id)
        await owner.wait_joined(room, other.user_id, timeout=30)
    return room


@pytest.mark.parametrize("markings", [False, True], ids=["plain", "markings"])
async def test_every_member_reads_the_first_messages_after_each_restart(
    bot_factory, people, markings: bool
) -> None:
    anne = await people("anne", auto_join=True)
    bernd = await people("bernd", auto_join=True)
    carl = await people("carl", auto_join=True)
    everyone = [anne, bernd, carl]
    bot: BotProcess = bot_factory(
        start=False,
        allowed_users=[p.user_id for p in everyone],
        settings=MARKINGS if markings else {},
    )
    if markings:
        await seed(bot, [(anne, "FRA", "secretariat"), (bernd, "FRA", ""), (carl, "FRA", "")])
    await bot.astart()
    # Rooms of three and of two, each already carrying a room key of the bot's from before.
    rooms: dict[str, list[TestClient]] = {}
    for owner, others in ((anne, [bernd, carl]), (bernd, [anne]), (carl, [anne, bernd])):
        room = await room_with(owner, bot, others)
        await owner.wait_joined(room, bot.user_id, timeout=30)
        rooms[room] = [owner, *others]
        await command(owner, room, "!ping", timeout=60)
    if markings:  # each room a summit's room, so a marked item can be added there
        for n, room in enumerate(rooms, 1):
            _, opened = await command(anne, room, f'!summit open "Round table {n}"', timeout=60)
            assert f"S-{n}" in opened.body, opened.body

    for round_ in range(ROUNDS):
        await bot.astop()
        # While the bot is down: a command in every room (answered as soon as it starts,
        # all at once) and a new room to join at start (a device-list change for everyone).
        asked: dict[str, str] = {}  # room -> the command the bot answers there first
        for n, (room, members) in enumerate(rooms.items(), 1):
            if markings and n <= 3:  # a marked item, added by the secretariat
                due = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
                body = (
                    f"!actions add S-{n} {anne.user_id} due={due} marking=RESTRICTED rel=FRA "
                    f"-- round {round_} item"
                )
                asked[room] = await anne.send_text(room, body)
            else:
                asked[room] = await members[round_ % len(members)].send_text(room, "!ping")
        owner = everyone[round_ % 3]
        new_room = await room_with(owner, bot, everyone[: round_ % 3])
        await bot.astart()
        await owner.wait_joined(new_room, bot.user_id, timeout=60)
        rooms[new_room] = [owner, *everyone[: round_ % 3]]
        asked[new_room], _ = await command(owner, new_room, "!ping", timeout=60)

        # Every member reads the bot's answer in every room: the first message the bot sent
        # there after this restart. A room key that never reaches a member times this out.
        for room, event_id in asked.items():
            for member in rooms[room]:

                def answered(m: TestClient = member, r: str = room, e: str = event_id) -> Any:
                    return next((x for x in from_bot(m, bot, r) if replied_to(x) == e), None)

                answer = await member._wait_until(
                    answered, 90, f"round {round_}: the bot's answer in {room}"
                )
                assert "pong" in answer.body or "added" in answer.body, answer.body
        for member in everyone:
            assert not unread_from_bot(member, bot), (round_, member.user_id)
