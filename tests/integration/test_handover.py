"""A hand-over at rotation over real E2EE on Synapse: three people and a post.

Olga (FR-PARIS) rotates out and Nina takes over; Carl (DE-BERLIN, an admin) deals with Olga
on two requests and a meeting, and runs the hand-over. Nina receives one message with what
she now holds (the marked request she may not read stays with Olga), Olga her summary, Carl
the result (with why the marked request stayed) and, as a counterpart, one message naming
his new contact; then his reply on a request Olga made reaches Nina in her own DM, never
Olga.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import open_store
from commands.directory import store as directory
from tests.harness.bot import BotProcess
from tests.harness.clients import TestClient
from tests.integration.conftest import command, open_dm
from tests.integration.test_liaison import wait_any

pytestmark = pytest.mark.integration

MARKINGS = {
    "marking_levels": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
    "max_marking": "RESTRICTED",
}


async def seed(bot: BotProcess, olga: TestClient, nina: TestClient, carl: TestClient) -> None:
    """The directory, written before the bot starts: two posts, three people."""
    store = open_store(bot.store_url())
    await store.open()
    now = datetime.now(UTC)
    try:
        async with store.write() as db:
            await directory.set_post(db, "FR-PARIS", now, name="Paris DATT", add=[olga.user_id])
            await directory.set_post(db, "DE-BERLIN", now, name="Berlin DATT", add=[carl.user_id])
            for who, name, nation, clearance in (
                (olga, "Olga", "FRA", None),
                (nina, "Nina", "FRA", "UNCLASSIFIED"),  # not cleared for RESTRICTED
                (carl, "Carl", "DEU", None),
            ):
                await directory.set_person(
                    db, who.user_id, now, name=name, nation=nation, clearance=clearance
                )
    finally:
        await store.close()


def from_bot(person: TestClient, bot: BotProcess, text: str) -> list[str]:
    return [e.body for _room, e in person.received if e.sender == bot.user_id and text in e.body]


async def test_a_hand_over_with_three_people_and_a_post(bot_factory, people) -> None:
    olga, nina, carl = [await people(n, auto_join=True) for n in ("olga", "nina", "carl")]
    bot: BotProcess = bot_factory(
        start=False,
        allowed_users=[p.user_id for p in (olga, nina, carl)],
        admins=[carl.user_id],
        settings=MARKINGS,
    )
    await seed(bot, olga, nina, carl)
    await bot.astart()
    room_o = await open_dm(olga, bot)
    room_c = await open_dm(carl, bot)

    day = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    for person, room, text in (
        (olga, room_o, "!request DE-BERLIN Visit of the CHOD -- dates?"),
        (carl, room_c, "!request FR-PARIS Port call -- which berth?"),
        (olga, room_o, "!request DE-BERLIN Convoy route -- marking=RESTRICTED rel=FRA,DEU"),
        (olga, room_o, f"!meeting {day} 10:00 with={carl.user_id} -- Attachés' lunch"),
    ):
        _event, reply = await command(person, room, text, timeout=60)
        assert reply.decrypted and not reply.body.startswith(("Usage", "Something")), reply.body

    # Carl, an admin, hands over Olga's desk, with a note for Nina.
    _event, done = await command(
        carl, room_c, f"!dir handover {olga.user_id} {nina.user_id} -- Welcome to Paris", 60
    )
    assert done.decrypted and done.body.startswith("H-1: handed over from Olga"), done.body
    moved, _sep, stays = done.body.partition("Stays with")
    for oid in ("LR-1 — requester", "LR-2 — addressee", "M-1 — organiser"):
        assert oid in moved, done.body
    assert "Post: FR-PARIS" in moved and "LR-3" not in moved
    # The marked request stays with Olga, and the admin is told why.
    reason = "LR-3 — requester: Convoy route (their clearance does not cover RESTRICTED)"
    assert reason in stays, done.body
    assert "1 other person was told" in done.body
    assert "!dir handover undo H-1" in done.body

    # Olga: her summary, in her DM; what stays is hers, why is not said to her.
    _room_o, summary = await wait_any(olga, lambda e: "handed over what you held" in e.body, 60)
    # It names the marked request: the outbox put its banner first.
    banner = "RESTRICTED // REL TO FRA, DEU"
    assert summary.decrypted and summary.body.startswith(f"{banner}\nCarl"), summary.body
    assert "No longer yours:" in summary.body and "LR-1 — requester" in summary.body
    assert "LR-3 — requester: Convoy route (not releasable to them)" in summary.body
    assert "clearance" not in summary.body

    # Nina: one message with what she now holds, and the note.
    _room_n, held = await wait_any(nina, lambda e: "You now hold what Olga" in e.body, 60)
    assert held.decrypted
    for line in (
        "LR-1 — requester: Visit of the CHOD",
        "LR-2 — addressee: Port call",
        "M-1 — organiser: Attachés' lunch",
        "Post: FR-PARIS",
        "Welcome to Paris",
    ):
        assert line in held.body, held.body
    assert "LR-3" not in held.body and "Convoy" not in held.body

    # Carl: one message, for the three things he deals with Olga on.
    _room, told = await wait_any(carl, lambda e: "your contact is now Nina" in e.body, 60)
    assert told.decrypted and nina.user_id in told.body
    assert all(oid in told.body for oid in ("LR-1", "LR-2", "M-1")), told.body
    assert "LR-3" not in told.body

    # Carl replies on LR-1: it reaches Nina, in her DM with the bot, and not Olga.
    _event, relayed = await command(carl, room_c, "!reply LR-1 Dates: 12-14 May.", 60)
    assert relayed.body == "Relayed on LR-1."
    _room_r, relay = await wait_any(nina, lambda e: "Dates: 12-14 May." in e.body, 60)
    assert relay.decrypted and "Carl" in relay.body
    # Nina's hand-over message came first in her DM: still exactly one; Carl's likewise
    # (his command's answer came after it in the same room).
    assert len(from_bot(nina, bot, "You now hold")) == 1
    assert len(from_bot(carl, bot, "your contact is now")) == 1
    # Olga has her summary, once, and nothing of the relay.
    assert not from_bot(olga, bot, "Dates: 12-14 May.")
    assert len(from_bot(olga, bot, "handed over what you held")) == 1

    # The store agrees: LR-1 is Nina's, the post is Nina's, LR-3 is Olga's.
    rows = bot.query("SELECT id, requester FROM liaison_requests ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [
        (1, nina.user_id),
        (2, carl.user_id),
        (3, olga.user_id),
    ]
    members = bot.query("SELECT user_id FROM post_members WHERE post = 'FR-PARIS'")
    assert [r[0] for r in members] == [nina.user_id]
