"""No trace for those a marked object is not released to, over real E2EE on Synapse
(issue 22, findings 5 and 6).

The American member of a post is an addressee of a request marked REL TO FRA. Before the
request exists, she sends `!show`, `!decline`, `!answer` and `!reply` for its ID from her
DM; after it exists, she sends them again: each reply is byte for byte the one she got when
there was no such request, nothing is relayed to anyone, and the request is still open.
In a room, the requester's listing shows the request's ID and marking, nothing else of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from nio import RoomCreateResponse, RoomPreset

from tests.harness.bot import BotProcess
from tests.harness.clients import ENCRYPTION_STATE
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any
from tests.integration.test_marking_wiring import SETTINGS, nothing_reached, seed

pytestmark = pytest.mark.integration

SUBJECT = "Convoy route north"
NAMING = (
    "!show LR-1",
    "!request LR-1",
    "!decline LR-1 not our business",
    "!answer LR-1 -- the pass is closed",
    "!reply LR-1 we have it",
)


def shown(event: Any) -> tuple[str, str | None]:
    """What a client shows of a reply: its text and its HTML."""
    content = event.source.get("content") or {}
    return content.get("body", ""), content.get("formatted_body")


async def test_the_uncovered_addressee_gets_the_no_such_answer_and_changes_nothing(
    bot_factory, people
) -> None:
    anna = await people("anna", auto_join=True)  # FRA, the requester
    franz = await people("franz", auto_join=True)  # FRA, DE-BERLIN
    uma = await people("uma", auto_join=True)  # USA, DE-BERLIN
    everyone = [p.user_id for p in (anna, franz, uma)]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(
        bot,
        [(anna, "FRA", ""), (franz, "FRA", ""), (uma, "USA", "")],
        ("DE-BERLIN", [franz, uma]),
    )
    await bot.astart()
    dm_uma = await open_dm(uma, bot)
    before = {}
    for text in NAMING:
        _, reply = await command(uma, dm_uma, text, timeout=60)
        before[text] = shown(reply)
    assert before["!show LR-1"][0].startswith("No such request: LR-1.")

    dm_anna = await open_dm(anna, bot)
    await command(
        anna,
        dm_anna,
        f"!request DE-BERLIN {SUBJECT} -- via the pass marking=RESTRICTED rel=FRA",
        timeout=60,
    )
    await wait_any(franz, lambda e: SUBJECT in e.body, timeout=60)  # it exists, and went out

    for text in NAMING:
        _, reply = await command(uma, dm_uma, text, timeout=60)
        assert shown(reply) == before[text], text
    # Nothing she wrote reached anyone, and the request is still open.
    for person in (anna, franz):
        got = [e.body for _, e in person.received if e.sender == bot.user_id]
        assert not [b for b in got if "not our business" in b or "we have it" in b], got
        assert not [b for b in got if "the pass is closed" in b], got
    _, show = await command(anna, dm_anna, "!show LR-1", timeout=60)
    assert "LR-1 · open · routine" in show.body and SUBJECT in show.body
    await nothing_reached(uma, bot, SUBJECT, {dm_uma})


async def test_a_room_listing_shows_a_marked_request_as_id_and_marking_only(
    bot_factory, people
) -> None:
    anna = await people("anna", auto_join=True)  # FRA, the requester
    franz = await people("franz", auto_join=True)  # FRA, DE-BERLIN
    uma = await people("uma", auto_join=True)  # USA, in the room where anna lists
    everyone = [p.user_id for p in (anna, franz, uma)]
    bot: BotProcess = bot_factory(start=False, allowed_users=everyone, settings=SETTINGS)
    await seed(
        bot,
        [(anna, "FRA", ""), (franz, "FRA", ""), (uma, "USA", "")],
        ("DE-BERLIN", [franz]),
    )
    await bot.astart()
    dm_anna = await open_dm(anna, bot)
    await command(
        anna,
        dm_anna,
        f"!request DE-BERLIN {SUBJECT} -- via the pass marking=RESTRICTED rel=FRA",
        timeout=60,
    )
    await command(anna, dm_anna, "!request DE-BERLIN Parking -- where?", timeout=60)
    # A group room (not anyone's DM with the bot), the bot and the American member in it.
    made = await anna.client.room_create(
        invite=[bot.user_id, uma.user_id],
        preset=RoomPreset.private_chat,
        initial_state=[ENCRYPTION_STATE],
    )
    assert isinstance(made, RoomCreateResponse), made
    room = made.room_id
    await anna.wait_room(room)
    for member in (bot.user_id, uma.user_id):
        await anna.wait_joined(room, member, timeout=30)
    await command(uma, room, "!ping", timeout=60)  # the bot has seen her join

    _, listing = await command(anna, room, "!requests", timeout=60)
    seen = await uma.wait_for_message(room, lambda e: e.event_id == listing.event_id, timeout=60)
    for event in (listing, seen):
        row = next(line for line in event.body.splitlines() if line.startswith("LR-1"))
        assert "RESTRICTED // REL TO FRA" in row, row
        for leak in (SUBJECT, "DE-BERLIN", "routine", "open", "out"):
            assert leak not in row, (leak, row)
        assert "Parking" in event.body  # the unmarked one, in full
