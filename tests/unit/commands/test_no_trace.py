"""No trace for those a marked object is not released to (issue 22, findings 5, 6 and 8).

Two worlds with the same directory and the same unmarked objects; in one, the marked
objects exist too (LR-1, M-1, V-1, S-2, A-1), each naming the American member of a post as
addressee, participant or owner, none released to him. Every command that names one of
them, sent by him in English, French or German, must be answered byte for byte as in the
world where the object was never made, and change nothing. Fake clock, SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.fakes import BotCore, FakeClock
from tests.unit.examples_world import snapshot

ADMIN = "@admin:test"
RQ = "@rq:test"  # French: requester, creator, secretariat
FR = "@fr:test"  # French member of DE-BERLIN
US = "@us:test"  # American member of DE-BERLIN: nothing marked below is released to him
DM_US = "!dm-us:test"
DM_FR = "!dm-fr:test"
ROOM = "!summit:test"  # S-1 (unmarked) lives here
ROOM2 = "!summit2:test"  # S-2 (marked) lives here
GROUP = "!group:test"  # a room with no summit and no post

DIRECTORY = (
    f"!dir person {RQ} nation=FRA role=secretariat",
    f"!dir person {FR} nation=FRA",
    f"!dir person {US} nation=USA role=secretariat",
    f"!dir post DE-BERLIN nation=DEU members={FR},{US}",
)
UNMARKED = (
    (RQ, '!summit open "Plenary" from=2026-03-10', ROOM),
    (RQ, "!request DE-BERLIN Parking -- where?", DM_FR),  # LR-1 in both worlds
)
MARKED = (
    (RQ, "!request DE-BERLIN Convoy route -- via the pass marking=RESTRICTED rel=FRA", DM_FR),
    (RQ, "!meeting 2026-03-05 10:00 with=DE-BERLIN marking=RESTRICTED rel=FRA -- Convoy", GROUP),
    (RQ, "!visit 2026-03-06 11:00 with=DE-BERLIN marking=RESTRICTED rel=FRA -- Depot", GROUP),
    (RQ, '!summit open "Closed door" from=2026-03-10 marking=RESTRICTED rel=FRA', ROOM2),
    (RQ, "!actions add S-1 DE-BERLIN due=2026-03-20 marking=RESTRICTED rel=FRA -- Escort", ROOM),
)
# Every command that names a marked object, as the American sends it (DM unless a room is
# given); in the world without the objects, the same IDs name nothing.
NAMING = [
    "!show LR-2",
    "!request LR-2",
    "!ack LR-2",
    "!reply LR-2 we have it",
    "!answer LR-2 -- done",
    "!decline LR-2 not our business",
    "!cancel LR-2 -- wrong post",
    "!close LR-2",
    "!edit LR-2 subject=x",
    "!show M-1",
    "!ics M-1",
    "!cancel M-1",
    "!edit M-1 place=Room 4",
    "!edit M-1 with=@us:test",
    "!show V-1",
    "!ics V-1",
    "!cancel V-1 -- no",
    "!edit V-1 start=2026-03-07 10:00",
    "!show S-2",
    "!edit S-2 name=Open",
    "!summit edit S-2 name=Open",
    "!summit close S-2",
    "!actions list S-2",
    "!actions export S-2 csv",
    "!actions add S-2 @us:test due=2026-03-20 -- mine",
    "!show A-1",
    "!edit A-1 due=2026-03-25",
    "!cancel A-1",
    "!actions done A-1",
    "!actions status A-1 in-progress",
    "!actions comment A-1 -- on it",
    "!actions reassign A-1 @us:test",
    # Listings and counts: nothing of the marked objects, not even a row left out.
    "!requests",
    "!requests all status=any",
    "!agenda 30",
    "!ics agenda 30",
    "!actions list",
    "!actions list mine status=all",
    "!summit list",
    "!show S-1",  # the unmarked summit: its counts leave A-1 out
]
IN_ROOMS = [
    ("!show A-1", ROOM),
    ("!actions done A-1", ROOM),
    ("!actions list", ROOM),
    ("!show S-2", ROOM2),
    ("!actions list S-2", ROOM2),
    ("!show LR-2", GROUP),
    ("!decline LR-2 not ours", GROUP),
]


async def _world(tmp: Path, lang: str, *, marked: bool) -> BotCore:
    clock = FakeClock()
    core = await BotCore(
        tmp,
        clock,
        admins=[ADMIN],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        max_marking="CONFIDENTIAL",
    ).open()
    for room in (ROOM, ROOM2, GROUP):
        await core.bot_in_room(room)
    await core.dm_with(US, DM_US)
    await core.dm_with(FR, DM_FR)
    for text in DIRECTORY:
        await _must(core, ADMIN, text, DM_US)
    for sender, text, room in UNMARKED + (MARKED if marked else ()):
        await _must(core, sender, text, room)
    await _must(core, US, f"!lang {lang}", DM_US)
    await core.new_messages()
    return core


async def _must(core: BotCore, sender: str, text: str, room: str) -> None:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])


@pytest.fixture
async def worlds(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    lang = request.param
    with_ = await _world(tmp_path / "with", lang, marked=True)
    without = await _world(tmp_path / "without", lang, marked=False)
    try:
        yield with_, without
    finally:
        await with_.close()
        await without.close()


async def _answer(core: BotCore, text: str, room: str, event_id: str) -> list[tuple[Any, ...]]:
    """What the command queued, as stored (target, full content with any marking)."""
    before = (await core.query("SELECT COALESCE(MAX(id), 0) FROM outbox"))[0][0]
    await core.say(US, text, room_id=room, event_id=event_id)
    rows = await core.query(
        "SELECT room_id, user_id, content, key FROM outbox WHERE id > ? ORDER BY id", before
    )
    outcome = await core.query("SELECT outcome FROM handled_events WHERE event_id = ?", event_id)
    return [tuple(outcome[0]), *(tuple(r) for r in rows)]


@pytest.mark.parametrize("worlds", ["en", "fr", "de"], indirect=True)
async def test_every_command_naming_a_marked_object_answers_as_for_a_missing_one(
    worlds: tuple[BotCore, BotCore],
) -> None:
    with_, without = worlds
    cases = [(text, DM_US) for text in NAMING] + IN_ROOMS
    differ = []
    for i, (text, room) in enumerate(cases):
        before = await snapshot(with_)
        hidden = await _answer(with_, text, room, f"$cmd{i}")
        missing = await _answer(without, text, room, f"$cmd{i}")
        if hidden != missing:
            differ.append((text, room, hidden, missing))
        assert await snapshot(with_) == before, f"{text} changed something"
    assert not differ, "\n\n".join(
        f"{t} in {r}:\n  marked:  {h}\n  missing: {m}" for t, r, h, m in differ
    )


@pytest.mark.parametrize("worlds", ["en", "fr", "de"], indirect=True)
async def test_thread_replies_and_reactions_on_a_marked_request_leave_no_trace(
    worlds: tuple[BotCore, BotCore],
) -> None:
    """His reply in the thread of a root he learned the event ID of, and his ✅ on it: ignored
    as on any event that is no request's, and nothing is relayed or changed."""
    with_, without = worlds
    await with_.mark_sent(f"LR-2:{FR}", "$root-fr")
    for core in (with_, without):
        await core.new_messages()
    for i, world in enumerate((with_, without)):
        before = await snapshot(world)
        await world.say(US, "not our business", room_id=DM_US, thread_root="$root-fr")
        await world.react(US, "$root-fr", room_id=DM_US)
        assert await world.new_messages() == [], i
        outcomes = await world.query(
            "SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 2"
        )
        assert [r[0] for r in outcomes] == ["ignored", "ignored"]
        assert await snapshot(world) == before
    status = await with_.query("SELECT status FROM liaison_requests WHERE id = 2")
    assert status[0][0] == "open"


@pytest.mark.parametrize("worlds", ["en"], indirect=True)
async def test_the_covered_see_it_and_a_room_lists_a_marked_row_as_id_and_marking_only(
    worlds: tuple[BotCore, BotCore],
) -> None:
    with_, _without = worlds
    # The French member is covered: the same command works for him (the rule is not "nobody").
    sent = await with_.say(FR, "!show LR-2", room_id=DM_FR)
    assert "Convoy route" in sent[0].body
    # In a room, the requester's listing shows LR-2's ID and marking, nothing else of it.
    sent = await with_.say(RQ, "!requests", room_id=GROUP)
    body = sent[0].body
    line = next(x for x in body.splitlines() if "LR-2" in x)
    assert "RESTRICTED // REL TO FRA" in line
    for leak in ("Convoy", "DE-BERLIN", "routine", "open", "out"):
        assert leak not in line, (leak, line)
    assert "Parking" in body  # the unmarked one in full
    sent = await with_.say(RQ, "!actions list", room_id=ROOM)
    line = next(x for x in sent[0].body.splitlines() if "A-1" in x)
    for leak in ("Escort", "DE-BERLIN", "2026", "open", "S-1 "):
        assert leak not in line, (leak, line)
    sent = await with_.say(RQ, "!agenda 30", room_id=GROUP)
    line = next(x for x in sent[0].body.splitlines() if "M-1" in x)
    assert "Convoy" not in line and "10:00" not in line and "RESTRICTED" in line
