"""Who in a room may read a row, decided when it is sent (bot/recipients.py), in process: the
outbox runs for real on a real store; the homeserver is the fake transport (issue 22)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.outbox.queue import enqueue
from bot.recipients import MEMBERS_MAX_AGE, Recipients
from bot.send_error import SendError
from commands.context import OutMessage, utc_iso
from commands.ids import ObjectId
from commands.markings import Marking, Policy, Subject
from commands.markings.current import markings_now
from tests.harness.fakes import BotCore, FakeTransport, make_settings
from tests.unit.test_outbox_markings import (
    ALICE,
    BANNER,
    FRANZ,
    POLICY,
    POST,
    RESTRICTED,
    SECRET_SUBJECT,
    UMA,
    marked,
    open_core,
    run,
    told_privately,
)

OLD_DM = "!dm-alice-before"


@pytest.fixture
async def core(tmp_path):
    bot = await open_core(tmp_path)
    yield bot
    await bot.close()


ORIGIN = {"user_id": ALICE, "room_id": POST, "reply_to": "$cmd", "thread_root": None}


async def set_marking(core: BotCore, lr: int, marking: Marking | None) -> None:
    async with core.store.write() as db:
        await db.execute(
            "UPDATE liaison_requests SET marking = ? WHERE id = ?", (Marking.column(marking), lr)
        )


async def test_a_reply_in_a_dm_that_gained_a_member_goes_to_a_new_dm(core: BotCore) -> None:
    """Rendered for Alice (her DM when queued: her clearance); someone was invited since."""
    await core.dm_with(ALICE, OLD_DM)
    transport = FakeTransport({OLD_DM: [ALICE, UMA]})
    await run(core, transport, [OutMessage(body="clearance: RESTRICTED", room_id=OLD_DM)])
    assert not [c for room, c in transport.sent if room == OLD_DM]
    [(room, content)] = transport.sent
    assert room == transport.dms[ALICE] != OLD_DM
    assert content["body"].endswith("\nclearance: RESTRICTED")
    assert "someone else is now" in content["body"]


async def test_a_reply_in_a_dm_still_alone_is_sent_there(core: BotCore) -> None:
    await core.dm_with(ALICE, OLD_DM)
    transport = FakeTransport({OLD_DM: [ALICE]})
    await run(core, transport, [OutMessage(body="clearance: RESTRICTED", room_id=OLD_DM)])
    assert [(r, c["body"]) for r, c in transport.sent] == [(OLD_DM, "clearance: RESTRICTED")]


async def test_a_dm_row_never_goes_to_a_dm_someone_joined(core: BotCore) -> None:
    """The stored DM is checked against the server's members, not only nio's view."""

    class Lagging(FakeTransport):
        async def dm_problem(self, room_id: str, user_id: str) -> str | None:
            return None  # nio has not seen the third member yet

    await core.dm_with(FRANZ, OLD_DM)
    transport = Lagging({OLD_DM: [FRANZ, UMA]})
    await run(core, transport, [marked(SECRET_SUBJECT, user_id=FRANZ, origin=ORIGIN)])
    assert not anything_in(transport, OLD_DM)
    assert [r for r, _ in transport.sent] == [transport.dms[FRANZ]]


def anything_in(transport: FakeTransport, room_id: str) -> bool:
    return any(r == room_id for r, _ in transport.sent)


async def test_a_queued_row_follows_its_objects_marking_when_sent(core: BotCore) -> None:
    """Queued REL TO FRA, DEU for Franz (DEU); re-marked REL TO FRA before it leaves."""
    async with core.store.write() as db:
        msg = marked(f"LR-4: {SECRET_SUBJECT}", user_id=FRANZ, origin=ORIGIN)
        await enqueue(db, [msg], utc_iso(core.clock.now()))
    await set_marking(core, 4, Marking("RESTRICTED", ("FRA",)))
    transport = FakeTransport()
    await core.drain_outbox(transport, policy=POLICY)
    assert not transport.received_by(FRANZ)
    assert told_privately(transport) == [
        "RESTRICTED // REL TO FRA: I did not send LR-4 to Franz (@franz:test): their nation "
        "(DEU) is not in REL TO FRA."
    ]


async def test_an_unmarked_queued_row_marked_since_is_routed_by_the_marking(core: BotCore) -> None:
    await set_marking(core, 4, None)
    async with core.store.write() as db:
        msg = OutMessage(body=f"LR-4: {SECRET_SUBJECT}", room_id=POST, about="LR-4", origin=ORIGIN)
        await enqueue(db, [msg], utc_iso(core.clock.now()))
    await set_marking(core, 4, RESTRICTED)
    transport = FakeTransport({POST: [ALICE, UMA]})
    await core.drain_outbox(transport, policy=POLICY)
    in_room = [c["body"] for r, c in transport.sent if r == POST]
    assert in_room == [
        f"LR-4 ({BANNER}) is not shown in this room: it is not releasable to everyone here. "
        "The people it is releasable to get it by direct message."
    ]
    assert not [c for c in transport.received_by(UMA) if SECRET_SUBJECT in json.dumps(c)]


async def test_a_row_about_an_object_not_in_the_store_goes_to_nobody(core: BotCore) -> None:
    transport = FakeTransport({POST: [ALICE]})
    msg = OutMessage(body="x", room_id=POST, marking=RESTRICTED, about="LR-99", origin=ORIGIN)
    await run(core, transport, [msg])
    assert transport.sent == []
    [(state, error)] = await core.query("SELECT state, error FROM outbox")
    assert state == "failed" and "withheld" in error
    [(detail,)] = await core.query("SELECT detail FROM audit WHERE action = 'marking.withheld'")
    assert "LR-99 not found" in detail
    assert core.metrics.marking_withheld._value.get() == 1


async def test_a_room_that_is_a_dm_now_gets_no_notice(core: BotCore) -> None:
    """A room of the bot and one person not covered: nothing, not even the notice."""
    transport = FakeTransport({POST: [UMA]})
    await run(core, transport, [marked(SECRET_SUBJECT, room_id=POST, origin=ORIGIN)])
    assert not anything_in(transport, POST)
    assert [t for t in told_privately(transport) if "Uma" in t]


async def test_members_are_cached_and_forgotten_on_a_membership_event(core: BotCore) -> None:
    calls: list[str] = []

    class Counting(FakeTransport):
        async def room_members(self, room_id: str) -> list[str]:
            calls.append(room_id)
            return await super().room_members(room_id)

    transport = Counting({POST: [ALICE]})
    recipients = Recipients(core.store, transport, core.clock, POLICY)
    assert await recipients.members(POST) == [ALICE]
    transport.members[POST] = [ALICE, UMA]
    assert await recipients.members(POST) == [ALICE]  # cached
    recipients.forget(POST)  # the sync loop saw a membership event
    assert await recipients.members(POST) == [ALICE, UMA]
    core.clock.advance(seconds=MEMBERS_MAX_AGE + 1)
    await recipients.members(POST)
    assert calls == [POST, POST, POST]


def test_a_removed_level_ranks_above_every_known_one() -> None:
    """A file holding a CONFIDENTIAL item after CONFIDENTIAL was removed: the combined
    marking is CONFIDENTIAL, which covers nobody (it was RESTRICTED before: issue 22, 4)."""
    policy = Policy(levels=("UNCLASSIFIED", "RESTRICTED"))
    combined = policy.combine([Marking("RESTRICTED", ("FRA",)), Marking("CONFIDENTIAL", ("FRA",))])
    assert combined == Marking("CONFIDENTIAL", ("FRA",))
    reason = policy.exclusion(combined, Subject("@f:test", "FRA", "RESTRICTED"))
    assert reason == "CONFIDENTIAL is not one of this system's levels any more"
    assert policy.stricter(Marking("RESTRICTED", ("FRA",)), combined)


def test_the_banner_form_comes_from_the_settings(tmp_path) -> None:
    mark = Marking("RESTRICTED", ("FRA", "DEU"))
    try:
        Policy.from_settings(make_settings(tmp_path, marking_banner="{level} / REL {rel}"))
        assert mark.banner == mark.shown() == "RESTRICTED / REL FRA, DEU"
        assert Marking("RESTRICTED").banner == "RESTRICTED"
    finally:
        Policy.from_settings(make_settings(tmp_path))
    assert mark.banner == "RESTRICTED // REL TO FRA, DEU"
    for bad in ("{level} only", "{level} {rel} {x}", "{level}\n{rel}"):
        with pytest.raises(ValidationError):
            make_settings(tmp_path, marking_banner=bad)


async def test_a_dm_whose_members_cannot_be_read_is_replaced(core: BotCore) -> None:
    """The bot already left it (the person left): never a failure, a new DM."""

    class Left(FakeTransport):
        async def dm_problem(self, room_id: str, user_id: str) -> str | None:
            return None

        async def room_members(self, room_id: str) -> list[str]:
            if room_id == OLD_DM:
                raise SendError("members unreadable (403)", permanent=True)
            return await super().room_members(room_id)

    await core.dm_with(FRANZ, OLD_DM)
    transport = Left()
    await run(core, transport, [OutMessage(body="hello", user_id=FRANZ)])
    assert [(r, c["body"]) for r, c in transport.sent] == [(transport.dms[FRANZ], "hello")]


async def test_a_file_holding_many_objects_reads_their_markings_a_kind_at_a_time(
    core: BotCore,
) -> None:
    """An agenda's file holds up to a thousand objects: their markings now are read in a few
    queries, each object's effective marking (an item with its summit's), the ones not in the
    store reported missing, all in the order the row names them."""
    now = utc_iso(core.clock.now())
    async with core.store.write() as db:
        for n in range(100, 1300):
            marking = Marking.column(RESTRICTED) if n == 777 else None
            await db.execute(
                "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
                "created_at, updated_at, marking) "
                "VALUES (?, ?, 'FR-PARIS', 's', 'routine', ?, ?, ?)",
                (n, ALICE, now, now, marking),
            )
        await db.execute(
            "UPDATE summits SET marking = ? WHERE id = 1",
            (Marking.column(Marking("RESTRICTED", ("FRA", "DEU", "USA"))),),
        )
    named = ["LR-5000", "A-2", *(f"LR-{n}" for n in range(1299, 99, -1)), "LR-4", "A-99", "S-1"]
    statements: list[str] = []
    await core.store.reader.set_trace_callback(statements.append)
    try:
        found, missing = await markings_now(
            core.store.reader, [ObjectId.parse(t) for t in [*named, "LR-4"]], POLICY
        )
    finally:
        await core.store.reader.set_trace_callback(None)
    assert missing == ["LR-5000", "A-99"]
    assert list(found) == [t for t in named if t not in missing]
    assert found["LR-777"] == found["LR-4"] == RESTRICTED
    assert [t for t, m in found.items() if m is None and t.startswith("LR-")] == [
        f"LR-{n}" for n in range(1299, 99, -1) if n != 777
    ]
    # The item's own CONFIDENTIAL // REL TO DEU with its summit's REL TO FRA, DEU, USA.
    assert found["A-2"] == Marking("CONFIDENTIAL", ("DEU",))
    assert found["S-1"] == Marking("RESTRICTED", ("FRA", "DEU", "USA"))
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 5
