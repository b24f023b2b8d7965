"""An item's effective marking is its own combined with its summit's (issue 22's last edge):
its history is written under it and judged by it, and what the outbox sends about the item
follows it as it stands at send time. Widening a summit therefore shows its items' newly
covered readers nothing written before they were covered; narrowing it stops what is
already queued (fake clock, real store and outbox on each backend)."""

from __future__ import annotations

import json

from bot.store.migrations import MIGRATIONS
from commands.markings import Policy
from tests.harness.fakes import BotCore, FakeTransport
from tests.unit.commands.test_history_markings import (
    NARROW,
    SECRET_WORDS,
    WIDE,
    _store,
    mcore,
    show,
)
from tests.unit.commands.test_marking_wiring import DE, FR, SEC, SUMMIT_ROOM, TASK, ok, summit

__all__ = ["mcore"]  # the fixture: three levels, ceiling CONFIDENTIAL

AFTER = "briefing booked for Tuesday"


async def item_wider_than_its_summit(core: BotCore) -> None:
    """S-1 RESTRICTED // REL TO FRA; A-1 marked REL TO FRA, DEU on its own (so France
    alone while its summit says so), commented on by the French owner, then the summit
    widened to FRA, DEU, the item given to a German owner and commented on again."""
    await summit(core, "marking=RESTRICTED rel=FRA")
    await ok(
        core,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(core, FR, f"!actions comment A-1 -- {SECRET_WORDS}", SUMMIT_ROOM)
    await ok(core, SEC, "!summit edit S-1 rel=FRA,DEU", SUMMIT_ROOM)
    await ok(core, SEC, f"!edit A-1 owner={DE}", SUMMIT_ROOM)
    await ok(core, SEC, f"!actions comment A-1 -- {AFTER}", SUMMIT_ROOM)


async def test_widening_a_summit_shows_the_newly_covered_only_what_came_after(
    mcore: BotCore,
) -> None:
    await item_wider_than_its_summit(mcore)
    await mcore.dm_with(DE, "!dm-de:test")
    seen = await show(mcore, DE, "A-1", "!dm-de:test")
    assert AFTER in seen
    # The creation and the French comment were written while the summit held it to France.
    assert SECRET_WORDS not in seen
    assert "2 history entries are not shown here (their marking)." in seen
    await mcore.dm_with(SEC, "!dm-sec:test")
    seen = await show(mcore, SEC, "A-1", "!dm-sec:test")
    assert SECRET_WORDS in seen and AFTER in seen and "not shown here" not in seen


async def test_in_the_summit_room_the_earlier_entries_stay_out(mcore: BotCore) -> None:
    """The room's answer reaches the German member now covered: written for France alone,
    the French comment stays out even when a French person asks there."""
    await item_wider_than_its_summit(mcore)
    seen = await show(mcore, SEC, "A-1", SUMMIT_ROOM)
    assert AFTER in seen and SECRET_WORDS not in seen


async def test_entries_are_written_under_the_items_marking_combined_with_its_summits(
    mcore: BotCore,
) -> None:
    await item_wider_than_its_summit(mcore)
    rows = await mcore.query("SELECT action, marking FROM history WHERE object = 'A-1' ORDER BY id")
    assert [(r[0], json.loads(r[1])["rel"]) for r in rows] == [
        ("created", ["FRA"]),
        ("comment", ["FRA"]),
        ("owner", ["FRA", "DEU"]),
        ("comment", ["FRA", "DEU"]),
    ]


async def test_the_item_shows_its_effective_marking(mcore: BotCore) -> None:
    await summit(mcore, "marking=RESTRICTED rel=FRA")
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await mcore.dm_with(SEC, "!dm-sec:test")
    seen = await show(mcore, SEC, "A-1", "!dm-sec:test")
    assert "RESTRICTED // REL TO FRA\n" in seen + "\n" and "REL TO FRA, DEU" not in seen


async def test_a_queued_row_about_an_item_follows_its_summits_marking_when_sent(
    mcore: BotCore,
) -> None:
    """`!show A-1` answered in the summit room while both were REL TO FRA, DEU; the summit
    is narrowed to France before the answer leaves: the German member gets none of it."""
    await summit(mcore, "marking=RESTRICTED rel=FRA,DEU")
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, SEC, "!show A-1", SUMMIT_ROOM)
    async with mcore.store.write() as db:  # the summit re-marked before the rows leave
        await db.execute(
            "UPDATE summits SET marking = ? WHERE id = 1",
            (json.dumps({"level": "RESTRICTED", "rel": ["FRA"]}),),
        )
    transport = FakeTransport({SUMMIT_ROOM: [SEC, FR, DE]})
    await mcore.drain_outbox(transport, policy=Policy.from_settings(mcore.settings))
    got = [json.dumps(c) for c in transport.received_by(DE)]
    assert got, "the room gets the notice that the item is not shown there"
    assert not [c for c in got if TASK in c]
    assert [c for c in (json.dumps(c) for c in transport.received_by(FR)) if TASK in c]


# -- migration 023 ---------------------------------------------------------------------------


async def test_023_combines_what_it_can_and_leaves_the_rest_unknown(database_url: str) -> None:
    early, late, later = (f"2026-03-0{d}T09:00:00+00:00" for d in (2, 3, 4))
    old = _store(database_url, MIGRATIONS[:22])
    await old.open()
    async with old.write() as db:
        # S-1 REL TO FRA never re-marked; S-2 REL TO FRA, re-marked (rel) on the 3rd;
        # S-3 unmarked.
        for number, marking in ((1, NARROW), (2, NARROW), (3, None)):
            await db.execute(
                "INSERT INTO summits (id, name, room_id, timezone, created_by, created_at, "
                "marking) VALUES (?, 'S', '!r:test', 'UTC', '@s:test', ?, ?)",
                (number, early, marking),
            )
        await db.execute(
            "INSERT INTO audit (at, actor, action, object, detail) "
            "VALUES (?, '@s:test', 'summit.edit', 'S-2', 'name,rel')",
            (late,),
        )
        items = ((1, 1, WIDE), (2, 1, NARROW), (3, 1, None), (4, 2, NARROW), (5, 3, WIDE))
        for number, summit_id, marking in items:
            await db.execute(
                "INSERT INTO action_items (id, summit_id, text, owner_kind, owner, due_at, "
                "due_zone, created_by, created_at, updated_at, marking) "
                "VALUES (?, ?, 't', 'person', '@o:test', ?, 'UTC', '@s:test', ?, ?, ?)",
                (number, summit_id, early, early, early, marking),
            )
        steps = [
            ("A-1", early, WIDE),  # wider than its summit: two markings to combine
            ("A-2", early, NARROW),  # the same as its summit's: kept
            ("A-3", early, ""),  # unmarked item: its summit's
            ("A-3", early, None),  # not known stays not known
            ("A-4", early, NARROW),  # its summit re-marked since: not known
            ("A-4", later, NARROW),  # after the re-marking: kept
            ("A-5", early, WIDE),  # an unmarked summit: the item's own
            ("A-99", early, WIDE),  # its item is gone
            ("LR-3", early, ""),  # not an item
        ]
        for obj, at, marking in steps:
            await db.execute(
                "INSERT INTO history (object, at, actor, action, marking) "
                "VALUES (?, ?, '@a:test', 'comment', ?)",
                (obj, at, marking),
            )
    await old.close()
    new = _store(database_url)
    await new.open()
    try:
        async with new.reader.execute("SELECT object, marking FROM history ORDER BY id") as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
    finally:
        await new.close()
    assert rows == [
        ("A-1", None),
        ("A-2", NARROW),
        ("A-3", NARROW),
        ("A-3", None),
        ("A-4", None),
        ("A-4", NARROW),
        ("A-5", WIDE),
        ("A-99", None),
        ("LR-3", ""),
    ]


async def test_re_marking_an_item_tells_no_one_its_summit_already_excludes(
    mcore: BotCore,
) -> None:
    """Bernd (DEU) owned A-1 and commented on it; it went back to France and its summit was
    narrowed to France: for him it is gone. Narrowing the item's own marking afterwards
    tells him nothing (not even that it was re-marked)."""
    await summit(mcore, "marking=RESTRICTED rel=FRA,DEU")
    await ok(mcore, SEC, f"!actions add S-1 {DE} due=2026-03-20 -- {TASK}", SUMMIT_ROOM)
    await mcore.dm_with(DE, "!dm-de:test")
    await ok(mcore, DE, "!actions comment A-1 -- on it", "!dm-de:test")
    await ok(mcore, SEC, f"!edit A-1 owner={FR}", SUMMIT_ROOM)
    await ok(mcore, SEC, "!summit edit S-1 rel=FRA", SUMMIT_ROOM)
    sent = await ok(mcore, SEC, "!edit A-1 rel=FRA", SUMMIT_ROOM)
    assert not [m for m in sent if m.user_id == DE or m.room_id == "!dm-de:test"], sent
