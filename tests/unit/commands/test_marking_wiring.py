"""Markings wired into the domains: directory nations and clearances, marking=/rel= options,
the ceiling, room defaults, listings and exports (fake clock, real store on each backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from commands.directory.store import load_seed
from tests.harness.fakes import BotCore, FakeClock

ADMIN = "@admin:test"
DM = "!dm:test"
FR = "@fr:test"
DE = "@de:test"
US = "@us:test"
POST_ROOM = "!paris:test"


@pytest.fixture
async def mcore(tmp_path: Path, clock: FakeClock, database_url: str) -> AsyncIterator[BotCore]:
    """A deployment with three levels (ceiling RESTRICTED) and a group."""
    bot = await BotCore(
        tmp_path,
        clock,
        database_url=database_url,
        admins=[ADMIN],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"],
        max_marking="CONFIDENTIAL",
        marking_groups={"FVEY": ["USA", "GBR", "CAN", "AUS", "NZL"]},
    ).open()
    try:
        yield bot
    finally:
        await bot.close()


async def ok(core: BotCore, sender: str, text: str, room: str = DM) -> list:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "ok", (text, [m.body for m in sent])
    return sent


async def refused(core: BotCore, sender: str, text: str, room: str = DM) -> str:
    sent = await core.say(sender, text, room_id=room)
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    assert rows[0][0] == "user_error", (text, [m.body for m in sent])
    return sent[-1].body


# -- directory -----------------------------------------------------------------------------


async def test_dir_person_nation_and_clearance_shown_by_whois(mcore: BotCore) -> None:
    await ok(mcore, ADMIN, f"!dir person {FR} nation=fra clearance=restricted")
    body = (await mcore.say(FR, "!whois", room_id=DM))[0].body
    assert "nation: FRA (France)" in body and "clearance: RESTRICTED" in body
    rows = await mcore.query("SELECT nation, clearance FROM people WHERE user_id = ?", FR)
    assert tuple(rows[0]) == ("FRA", "RESTRICTED")
    # A clearance above the ceiling is what the person holds: allowed.
    await ok(mcore, ADMIN, f"!dir person {FR} clearance=SECRET")
    await ok(mcore, ADMIN, f"!dir person {FR} nation=- clearance=-")
    rows = await mcore.query("SELECT nation, clearance FROM people WHERE user_id = ?", FR)
    assert tuple(rows[0]) == (None, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"!dir person {FR} nation=FR", "for France write FRA"),
        (f"!dir person {FR} nation=FRANCE", "ISO 3166-1 alpha-3"),
        (f"!dir person {FR} clearance=COSMIC", "is not a marking level here"),
        ("!dir post FR-PARIS nation=XXX", "ISO 3166-1 alpha-3"),
    ],
)
async def test_dir_bad_nation_or_clearance_is_refused_and_nothing_changes(
    mcore: BotCore, text: str, says: str
) -> None:
    body = await refused(mcore, ADMIN, text)
    assert says in body and "Example:" in body
    assert await mcore.count("people") == 0 and await mcore.count("posts") == 0


async def test_dir_post_nation_and_default_marking(mcore: BotCore) -> None:
    await ok(mcore, ADMIN, "!dir post DE-BERLIN nation=DEU marking=RESTRICTED rel=DEU,FRA")
    body = (await mcore.say(ADMIN, "!whois DE-BERLIN", room_id=DM))[0].body
    assert "nation: DEU (Germany)" in body
    assert "default marking: RESTRICTED // REL TO DEU, FRA" in body
    body = await refused(mcore, ADMIN, "!dir post DE-BERLIN marking=SECRET rel=DEU")
    assert "at most CONFIDENTIAL" in body
    await ok(mcore, ADMIN, "!dir post DE-BERLIN marking=-")
    assert "default marking: -" in (await mcore.say(ADMIN, "!whois DE-BERLIN", room_id=DM))[0].body


async def test_seed_carries_nation_and_clearance(mcore: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "posts:\n  - code: FR-PARIS\n    nation: fra\n    members: ['@fr:test']\n"
        "people:\n  - id: '@fr:test'\n    nation: FRA\n    clearance: restricted\n"
    )
    async with mcore.store.write() as db:
        await load_seed(db, path, mcore.clock.now(), levels=["UNCLASSIFIED", "RESTRICTED"])
    assert [tuple(r) for r in await mcore.query("SELECT nation FROM posts")] == [("FRA",)]
    rows = await mcore.query("SELECT nation, clearance FROM people")
    assert [tuple(r) for r in rows] == [("FRA", "RESTRICTED")]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("people: [{id: '@a:test', nation: FR}]", r"people\[0\].nation"),
        ("posts: [{code: FR-PARIS, nation: Frankreich}]", r"posts\[0\].nation"),
        ("people: [{id: '@a:test', clearance: COSMIC}]", r"people\[0\].clearance"),
    ],
)
async def test_bad_seed_nation_or_clearance_names_the_entry(
    mcore: BotCore, tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        async with mcore.store.write() as db:
            await load_seed(db, path, mcore.clock.now(), levels=["UNCLASSIFIED", "RESTRICTED"])
    assert await mcore.count("people") == 0 and await mcore.count("posts") == 0
