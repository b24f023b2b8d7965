"""A fresh store with a directory and, on demand, the objects an example names (A-7, LR-3).

Used by the every-example test: an example is "accepted" when the person it is meant for
(an admin, the addressee of a request, the owner of an item) can send it as shown.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import datetime, timedelta
from pathlib import Path

from tests.harness.fakes import BotCore, FakeClock

ADMIN = "@admin:test"
BERLIN = "@bob:example.org"  # DE-BERLIN's member: the addressee of every seeded request
PARIS = "@paris:example.org"  # FR-PARIS's member: owner of every seeded action item
ACTORS = (ADMIN, BERLIN, PARIS)
ROOM = "!room:test"
BOT_ROOM = "!encrypted-room:example.org"  # the room examples name in room=
DIRECTORY = (
    f'!dir post FR-PARIS name="Paris DATT" members={PARIS}',
    f'!dir post DE-BERLIN name="Berlin DATT" members={BERLIN}',
    '!dir post NATO-HQ-DATT name="NATO HQ"',
    '!dir person @alice:example.org name="Alice Martin"',
    '!dir person @anna:example.org name="Anna Berg"',
    "!dir person @a:example.org",
    "!dir person @b:example.org",
    # Actors have a nation: a marked example is refused to a creator it would not cover.
    f"!dir person {ADMIN} nation=FRA",
    f"!dir person {PARIS} nation=FRA",
    f"!dir person {BERLIN} nation=DEU",
)
# A directory with none of the names the docs and examples use (FR-PARIS, @alice…): an
# example shown here must have been made from this directory to be accepted.
NORTH = "@kit:far.test"  # XX-NORTH's member
SOUTH = "@lou:far.test"  # YY-SOUTH's member
ELSEWHERE_ACTORS = (ADMIN, NORTH, SOUTH)
ELSEWHERE = (
    f'!dir post XX-NORTH name="North desk" members={NORTH}',
    f'!dir post YY-SOUTH name="South desk" members={SOUTH}',
    '!dir person @mo:far.test name="Mo Ray"',
    f"!dir person {ADMIN} nation=FRA",
    f"!dir person {NORTH} nation=FRA",
    f"!dir person {SOUTH} nation=DEU",
)
_IDS = re.compile(r"\b(LR|[SAMVR])-(\d{1,4})\b")


def _makers(now: datetime, owner: str = "FR-PARIS", to: str = "DE-BERLIN") -> dict[str, str]:
    day = (now + timedelta(days=20)).strftime("%Y-%m-%d")
    return {
        "S": f'!summit open "Summit" from={day}',
        "A": f"!actions add S-1 {owner} due={day} -- an item",
        "M": f"!meeting {day} 10:00 with={owner} -- a meeting",  # a participant answers
        "V": f"!visit {day} 11:00 with={owner} -- a visit",
        "R": f"!remind {day} 12:00 -- a reminder",
        "LR": f"!request {to} A subject -- a body",
    }


async def world(
    tmp: Path, now: datetime, lang: str = "en", directory: tuple[str, ...] = DIRECTORY
) -> BotCore:
    """The directory; with `lang`, every actor reads (and writes) that language.

    Made by chat commands once per process for each (moment, language, directory), then
    copied: an example needs a fresh world of its own, and the copy costs 8 ms where the
    commands cost 50–70.
    """
    key = (now, lang, directory)
    if key not in _MADE:
        made = Path(tempfile.mkdtemp(prefix="examples-world-"))
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        core = await reopen(made, now, directory == DIRECTORY)
        for text in directory:
            await must(core, ADMIN, text)
        if lang != "en":
            for actor in ELSEWHERE_ACTORS if directory == ELSEWHERE else ACTORS:
                await must(core, actor, f"!lang {lang}")
        await core.close()
        _MADE[key] = made
    shutil.copytree(_MADE[key], tmp, dirs_exist_ok=True)
    core = await reopen(tmp, now, directory == DIRECTORY)
    await core.new_messages()  # the making's answers: read, as `must` read them
    return core


_MADE: dict[tuple[datetime, str, tuple[str, ...]], Path] = {}


async def reopen(tmp: Path, now: datetime, docs_directory: bool = False) -> BotCore:
    """The bot on the store in `tmp` (a new one, or a copy of a world's) at `now`."""
    clock = FakeClock()
    clock.set(now)
    core = await BotCore(
        tmp,
        clock,
        allowed_servers=["test", "example.org", "far.test"],
        admins=[ADMIN],
        marking_levels=["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL"],
        marking_groups={"FVEY": ["USA", "GBR", "CAN", "AUS", "NZL"]},
    ).open()
    await core.bot_in_room(BOT_ROOM)  # the encrypted room the bot is in, as sync saw it
    await verified_admin(core)
    core.dispatcher.invoker.docs_directory = docs_directory  # type: ignore[attr-defined]
    return core


async def verified_admin(core: BotCore) -> None:
    """The admin writes from their DM with the bot, their identity verified, and VF-3's
    emoji are waiting for them (`!verify confirm VF-3`)."""
    at = core.clock.now().isoformat()
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO dm_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (ADMIN, ROOM),
        )
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, verified_key, "
            "verified_by, verified_at, verified_how) VALUES (?, 'K', ?, 'test', 'K', "
            "'console', ?, 'console') ON CONFLICT DO NOTHING",
            (ADMIN, at, at),
        )
    core.verifier.waiting[3] = {ADMIN}


_COUNT = {
    "S": "SELECT COUNT(*) FROM summits",
    "A": "SELECT COUNT(*) FROM action_items",
    "LR": "SELECT COUNT(*) FROM liaison_requests",
    **{k: f"SELECT COUNT(*) FROM schedule_items WHERE kind = '{k}'" for k in "MVR"},
}


async def seed_for(core: BotCore, example: str, elsewhere: bool = False) -> None:
    """Create objects of each kind the example names, up to the number it names."""
    wanted: dict[str, int] = {}
    for kind, number in _IDS.findall(example):
        wanted[kind] = max(wanted.get(kind, 0), int(number))
    if "A" in wanted:
        wanted["S"] = max(wanted.get("S", 0), 1)
    makers = (
        _makers(core.clock.now(), "XX-NORTH", "YY-SOUTH")
        if elsewhere
        else _makers(core.clock.now())
    )
    for kind in ("S", "A", "M", "V", "R", "LR"):
        [(made,)] = await core.query(_COUNT[kind])
        for _ in range(wanted.get(kind, 0) - int(str(made))):
            await must(core, ADMIN, makers[kind])


async def must(core: BotCore, sender: str, text: str) -> None:
    sent = await core.say(sender, text, room_id=ROOM)
    assert await last_outcome(core) == "ok", (text, [m.body for m in sent])


async def last_outcome(core: BotCore) -> str:
    rows = await core.query("SELECT outcome FROM handled_events ORDER BY rowid DESC LIMIT 1")
    return str(rows[0][0])


async def prepared(
    tmp: Path, now: datetime, example: str, lang: str = "en"
) -> AsyncIterator[tuple[BotCore, str]]:
    """Fresh worlds for an example, one per (actor, state of the request it names).

    A request example is tried on a fresh request and on one its addressee acknowledged
    (`!close` needs the latter, `!ack` the former).
    """
    states = ("open", "acknowledged") if "LR-" in example else ("open",)
    for i, (actor, state) in enumerate((a, s) for s in states for a in ACTORS):
        core = await world(tmp / f"{i}", now, lang)
        try:
            await seed_for(core, example)
            if state == "acknowledged":
                for number in sorted({int(n) for k, n in _IDS.findall(example) if k == "LR"}):
                    await must(core, BERLIN, f"!ack LR-{number}")
            yield core, actor
        finally:
            await core.close()


async def accepted(
    tmp: Path, now: datetime, example: str, lang: str = "en"
) -> tuple[bool, list[str]]:
    """Whether one of the actors (reading `lang`) can send the example as shown; the replies
    otherwise."""
    replies: list[str] = []
    async with aclosing(prepared(tmp, now, example, lang)) as worlds:  # closes the store on return
        async for core, actor in worlds:
            sent = await core.say(actor, example, room_id=ROOM)
            if await last_outcome(core) == "ok":
                return True, []
            replies += [f"{actor}: {m.body}" for m in sent]
    return False, replies


async def accepted_elsewhere(
    tmp: Path, now: datetime, example: str, actor: str, lang: str = "en", base: Path | None = None
) -> tuple[bool, list[str]]:
    """Whether `actor` (reading `lang`) can send the example as shown, in the directory with
    none of the docs' names (request examples also on a request its addressee acknowledged);
    with `base`, on a copy of that world's store (closed), where the example was shown."""
    replies: list[str] = []
    for state in ("open", "acknowledged") if "LR-" in example else ("open",):
        if base is None:
            core = await world(tmp / state, now, lang, ELSEWHERE)
        else:
            shutil.copytree(base, tmp / state)
            core = await reopen(tmp / state, now)
        try:
            await seed_for(core, example, elsewhere=True)
            if state == "acknowledged":
                for number in sorted({int(n) for k, n in _IDS.findall(example) if k == "LR"}):
                    await must(core, SOUTH, f"!ack LR-{number}")
            sent = await core.say(actor, example, room_id=ROOM)
            if await last_outcome(core) == "ok":
                return True, []
            replies += [f"{actor}: {m.body}" for m in sent]
        finally:
            await core.close()
    return False, replies


_NOT_STATE = {"outbox", "handled_events", "audit", "kv", "schema_version", "sqlite_sequence"}


async def snapshot(core: BotCore) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table that holds state a command may change."""
    tables = await core.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    out = {}
    for (name,) in tables:
        if name not in _NOT_STATE:
            out[name] = [tuple(r) for r in await core.query(f"SELECT * FROM {name}")]
    return out
