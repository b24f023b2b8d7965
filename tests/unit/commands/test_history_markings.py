"""History under the marking in force when it was written (issue 22, finding 11b): widening
an object's releasability does not show its new readers what was written before they were
covered; narrowing keeps what the remaining readers were already covered for; an entry
whose marking is not known is shown to no one; migration 022 fills in what it can know
(fake clock, real store on each backend)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store, sqlite_path
from bot.store.migrations import MIGRATIONS
from bot.store.postgres import PgStore
from tests.harness.fakes import BotCore, FakeClock
from tests.unit.commands.test_marking_wiring import (
    ADMIN,
    DE,
    FR,
    SEC,
    SUMMIT_ROOM,
    TASK,
    ok,
    summit,
)

SECRET_WORDS = "the convoy leaves from Metz at dawn"
NARROW = json.dumps({"level": "RESTRICTED", "rel": ["FRA"]})
WIDE = json.dumps({"level": "RESTRICTED", "rel": ["FRA", "DEU"]})


@pytest.fixture
async def mcore(tmp_path: Path, clock: FakeClock, store_url: str) -> AsyncIterator[BotCore]:
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=store_url,
        admins=[ADMIN],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        max_marking="CONFIDENTIAL",
    ).open()
    try:
        yield bot
    finally:
        await bot.close()


async def show(core: BotCore, who: str, what: str, room: str) -> str:
    sent = await core.say(who, f"!show {what}", room_id=room)
    return "\n".join(m.body for m in sent if m.user_id in (None, who) or m.room_id == room)


async def item_widened(core: BotCore) -> None:
    """A-1, RESTRICTED // REL TO FRA with a French comment, then widened to FRA, DEU (its text
    changed in the same edit), given to a German owner and commented on again."""
    await summit(core)
    await ok(
        core,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(core, FR, f"!actions comment A-1 -- {SECRET_WORDS}", SUMMIT_ROOM)
    await ok(core, SEC, "!edit A-1 rel=FRA,DEU text=brief the escort", SUMMIT_ROOM)
    await ok(core, SEC, f"!edit A-1 owner={DE}", SUMMIT_ROOM)
    await ok(core, SEC, "!actions comment A-1 -- briefing booked for Tuesday", SUMMIT_ROOM)


async def test_widening_shows_the_newly_covered_only_what_came_after(mcore: BotCore) -> None:
    await item_widened(mcore)
    await mcore.dm_with(DE, "!dm-de:test")
    seen = await show(mcore, DE, "A-1", "!dm-de:test")
    assert "briefing booked for Tuesday" in seen
    # The creation, the comment and the re-marking edit (its old text, and the old marking)
    # were written while the item was released to France alone.
    assert SECRET_WORDS not in seen and TASK not in seen
    assert "4 history entries are not shown here (their marking)." in seen
    # The French secretariat was covered all along: everything, and no note.
    await mcore.dm_with(SEC, "!dm-sec:test")
    seen = await show(mcore, SEC, "A-1", "!dm-sec:test")
    assert SECRET_WORDS in seen and "briefing booked for Tuesday" in seen
    assert "not shown here" not in seen


async def test_in_a_room_an_entry_must_cover_everyone_the_object_now_reaches(
    mcore: BotCore,
) -> None:
    """The answer in a room goes to every member the item is released to now (a German
    among them): what was written for France alone stays out, even for a French asker."""
    await item_widened(mcore)
    seen = await show(mcore, SEC, "A-1", SUMMIT_ROOM)
    assert "briefing booked for Tuesday" in seen and SECRET_WORDS not in seen
    assert "4 history entries are not shown here (their marking)." in seen


async def test_narrowing_keeps_what_the_remaining_readers_were_covered_for(
    mcore: BotCore,
) -> None:
    await summit(mcore)
    await ok(
        mcore,
        SEC,
        f"!actions add S-1 {FR} due=2026-03-20 marking=RESTRICTED rel=FRA,DEU -- {TASK}",
        SUMMIT_ROOM,
    )
    await ok(mcore, FR, f"!actions comment A-1 -- {SECRET_WORDS}", SUMMIT_ROOM)
    await ok(mcore, SEC, "!edit A-1 rel=FRA", SUMMIT_ROOM)
    seen = await show(mcore, SEC, "A-1", SUMMIT_ROOM)
    assert SECRET_WORDS in seen and "not shown here" not in seen


async def test_an_entry_of_unknown_marking_is_shown_to_no_one(mcore: BotCore) -> None:
    await item_widened(mcore)
    async with mcore.store.write() as db:
        await db.execute(
            "UPDATE history SET marking = NULL WHERE object = 'A-1' AND detail = ?",
            ("briefing booked for Tuesday",),
        )
    await mcore.dm_with(SEC, "!dm-sec:test")
    seen = await show(mcore, SEC, "A-1", "!dm-sec:test")
    assert "briefing booked for Tuesday" not in seen and SECRET_WORDS in seen
    assert "1 history entry is not shown here (its marking)." in seen


async def test_a_widened_meeting_hides_its_earlier_steps_from_the_new_participant(
    mcore: BotCore,
) -> None:
    await summit(mcore)
    await ok(
        mcore,
        FR,
        f"!meeting 2026-03-05 10:00 with={FR} marking=RESTRICTED rel=FRA -- Escort planning",
        SUMMIT_ROOM,
    )
    await ok(mcore, FR, f"!edit M-1 rel=FRA,DEU with={FR},{DE}", SUMMIT_ROOM)
    await ok(mcore, FR, "!edit M-1 place=Berlin", SUMMIT_ROOM)
    await mcore.dm_with(DE, "!dm-de:test")
    seen = await show(mcore, DE, "M-1", "!dm-de:test")
    assert "place" in seen and "2 history entries are not shown here (their marking)." in seen
    await mcore.dm_with(FR, "!dm-fr:test")
    assert "not shown here" not in await show(mcore, FR, "M-1", "!dm-fr:test")


async def test_entries_record_the_marking_in_force(mcore: BotCore) -> None:
    await item_widened(mcore)
    rows = await mcore.query("SELECT action, marking FROM history WHERE object = 'A-1' ORDER BY id")
    got = [(r[0], json.loads(r[1])["rel"]) for r in rows]
    assert got == [
        ("created", ["FRA"]),
        ("comment", ["FRA"]),
        ("text", ["FRA"]),  # the re-marking edit: the stricter of before and after
        ("marking", ["FRA"]),
        ("owner", ["FRA", "DEU"]),
        ("comment", ["FRA", "DEU"]),
    ]


# -- migration 022 ---------------------------------------------------------------------------


def _store(url: str, migrations: tuple = MIGRATIONS) -> Store:
    path = sqlite_path(url)
    return Store(path, migrations=migrations) if path else PgStore(url, migrations)  # type: ignore[return-value]


async def test_022_keeps_what_it_knows_and_leaves_the_rest_unknown(database_url: str) -> None:
    at = "2026-03-02T09:00:00+00:00"
    old = _store(database_url, MIGRATIONS[:21])
    await old.open()
    async with old.write() as db:
        await db.execute(
            "INSERT INTO summits (id, name, room_id, timezone, created_by, created_at) "
            "VALUES (1, 'S', '!r:test', 'UTC', '@s:test', ?)",
            (at,),
        )
        for number, marking in ((7, NARROW), (8, WIDE)):
            await db.execute(
                "INSERT INTO action_items (id, summit_id, text, owner_kind, owner, due_at, "
                "due_zone, created_by, created_at, updated_at, marking) "
                "VALUES (?, 1, 't', 'person', '@o:test', ?, 'UTC', '@s:test', ?, ?, ?)",
                (number, at, at, at, marking),
            )
        await db.execute(
            "INSERT INTO liaison_requests (id, requester, target, subject, precedence, "
            "created_at, updated_at) VALUES (3, '@a:test', 'FR-PARIS', 's', 'routine', ?, ?)",
            (at, at),
        )
        await db.execute(
            "INSERT INTO schedule_items (kind, number, title, start_at, timezone, creator, "
            "created_at, updated_at, marking) VALUES ('M', 2, 'm', ?, 'UTC', '@a:test', ?, ?, ?)",
            (at, at, at, WIDE),
        )
        steps = [
            ("A-7", "created", None),  # never re-marked: its marking now held all along
            ("A-7", "comment", "x"),
            ("A-8", "created", None),  # widened by the step below: before it, not known
            ("A-8", "comment", "y"),
            ("A-8", "marking", None),
            ("A-8", "comment", "z"),  # after the widening: the marking now
            ("LR-3", "created", None),  # unmarked
            ("M-2", "create", "Tue"),
            ("M-2", "edit", "rel, with"),
            ("M-2", "edit", "place"),
            ("A-99", "created", None),  # its object is gone: not known
        ]
        for obj, action, detail in steps:
            await db.execute(
                "INSERT INTO history (object, at, actor, action, detail) "
                "VALUES (?, ?, '@a:test', ?, ?)",
                (obj, at, action, detail),
            )
    await old.close()
    new = _store(database_url)
    await new.open()
    try:
        async with new.reader.execute(
            "SELECT object, action, marking FROM history ORDER BY id"
        ) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
    finally:
        await new.close()
    assert rows == [
        ("A-7", "created", NARROW),
        ("A-7", "comment", NARROW),
        ("A-8", "created", None),
        ("A-8", "comment", None),
        ("A-8", "marking", None),
        ("A-8", "comment", WIDE),
        ("LR-3", "created", ""),
        ("M-2", "create", None),
        ("M-2", "edit", None),
        ("M-2", "edit", WIDE),
        ("A-99", "created", None),
    ]
