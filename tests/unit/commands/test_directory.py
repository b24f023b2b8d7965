"""Directory: commands, seed file (idempotent, checked whole), helpers other domains use."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from actions_fixtures import ADMIN, DM, say_ok

from commands.directory.service import people_of, people_of_each, post_members, resolve_target
from commands.directory.store import load_seed
from commands.errors import UserError
from tests.harness.fakes import BotCore

SEED = """
posts:
  - code: fr-paris
    name: French DATT, Paris
    room: "!paris:test"
    members: ["@alice:test", "@bob:test"]
  - code: NATO-HQ-DATT
people:
  - id: "@alice:test"
    name: Alice Martin
    roles: [attache, secretariat]
    post: FR-PARIS
    timezone: Europe/Paris
  - id: "@carol:test"
    post: NATO-HQ-DATT
"""


async def tables(core: BotCore) -> list:
    out = []
    for sql in (
        "SELECT user_id, display_name, roles, timezone, post FROM people ORDER BY user_id",
        "SELECT code, name, room_id FROM posts ORDER BY code",
        "SELECT post, user_id FROM post_members ORDER BY post, user_id",
    ):
        out.append([tuple(r) for r in await core.query(sql)])
    return out


async def test_seed_loads_and_is_idempotent(core: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED)
    async with core.store.write() as db:
        result = await load_seed(db, path, core.clock.now())
    assert (result.posts, result.people) == (2, 2)
    first = await tables(core)
    assert ("@alice:test", "Alice Martin", "attache,secretariat", "Europe/Paris", "FR-PARIS") in (
        first[0]
    )
    assert first[2] == [
        ("FR-PARIS", "@alice:test"),
        ("FR-PARIS", "@bob:test"),
        ("NATO-HQ-DATT", "@carol:test"),
    ]
    core.clock.advance(hours=1)
    async with core.store.write() as db:
        await load_seed(db, path, core.clock.now())
    assert await tables(core) == first
    body = (await core.say("@alice:test", "!whois", room_id=DM))[0].body
    assert "secretariat" in body and "FR-PARIS" in body and "Europe/Paris" in body


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("posts: [{code: 'A-7'}]", "posts[0].code"),
        ("people: [{id: 'alice'}]", "people[0].id"),
        ("people: [{id: '@a:test', roles: [king]}]", "people[0].roles"),
        ("people: [{id: '@a:test', post: NOPE}]", "no post NOPE"),
        ("people: [{id: '@a:test', timezone: Mars/Base}]", "people[0].timezone"),
        ("[1, 2]", "must be a mapping"),
    ],
)
async def test_bad_seed_names_the_entry_and_writes_nothing(
    core: BotCore, tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        async with core.store.write() as db:
            await load_seed(db, path, core.clock.now())
    assert await core.count("people") == 0 and await core.count("posts") == 0


async def test_dir_commands_and_helpers(core: BotCore) -> None:
    await say_ok(core, ADMIN, '!dir post FR-PARIS name="Paris DATT" members=@a:test,@b:test', DM)
    await core.bot_in_room("!p:test")
    await say_ok(core, ADMIN, "!dir post FR-PARIS remove=@b:test add=@c:test room=!p:test", DM)
    await say_ok(core, ADMIN, '!dir person @d:test role=secretariat post=FR-PARIS name="D D"', DM)
    body = (await core.say(ADMIN, "!dir show FR-PARIS", room_id=DM))[0].body
    assert "people: @a:test, @c:test, D D (@d:test)" in body and "room: !p:test" in body
    async with core.store.write() as db:
        assert await post_members(db, "fr-paris") == ["@a:test", "@c:test", "@d:test"]
        assert await resolve_target(db, "FR-PARIS") == ("post", ["@a:test", "@c:test", "@d:test"])
        assert await resolve_target(db, "@z:test") == ("person", ["@z:test"])
        with pytest.raises(UserError, match="No post XX-YY"):
            await resolve_target(db, "XX-YY")
        with pytest.raises(UserError, match="neither a Matrix ID"):
            await resolve_target(db, "hello world")
    # Moving a person to another post moves their membership.
    await say_ok(core, ADMIN, "!dir post NATO-HQ", DM)
    await say_ok(core, ADMIN, "!dir person @d:test post=NATO-HQ", DM)
    rows = await core.query("SELECT post FROM post_members WHERE user_id = '@d:test'")
    assert [r[0] for r in rows] == ["NATO-HQ"]
    body = (await core.say(ADMIN, "!dir person @e:test post=NOWHERE", room_id=DM))[0].body
    assert "No post NOWHERE" in body and await core.count("people") == 4
    body = (await core.say(ADMIN, "!dir person @e:test role=emperor", room_id=DM))[0].body
    assert "is not a role" in body and "Example:" in body
    assert "Posts" in (await core.say(ADMIN, "!dir list", room_id=DM))[0].body


@pytest.mark.parametrize("encrypted", [False, None])
async def test_post_room_must_be_an_encrypted_room_of_the_bot(core: BotCore, encrypted) -> None:
    """An unencrypted room (or one the bot is not in) is refused when set; nothing changes."""
    await say_ok(core, ADMIN, '!dir post FR-PARIS name="Paris DATT" members=@a:test', DM)
    if encrypted is not None:
        await core.bot_in_room("!plain:test", encrypted=encrypted)
    [reply] = await core.say(ADMIN, "!dir post FR-PARIS room=!plain:test", room_id=DM)
    assert ("not end-to-end encrypted" if encrypted is False else "I am not in room") in reply.body
    assert "Example: !dir post FR-PARIS room=" in reply.body
    assert [r[0] for r in await core.query("SELECT room_id FROM posts")] == [None]


async def test_people_of_each_is_people_of_for_every_list_in_one_query(core: BotCore) -> None:
    """An export's answered items: each list's people as people_of gives them (people as
    named first, then their posts' members, no one twice), with one query for all lists."""
    await say_ok(core, ADMIN, '!dir post FR-PARIS name="Paris" members=@z:test,@a:test', DM)
    await say_ok(core, ADMIN, '!dir post DE-BERLIN name="Berlin" members=@a:test,@m:test', DM)
    lists = [
        ["fr-paris"],
        ["@m:test", "DE-BERLIN", "FR-PARIS"],
        ["@q:test", "@a:test"],
        [],
        ["NO-SUCH-POST", "@b:test"],
        ["DE-BERLIN"],
    ]
    async with core.store.write() as db:
        one_by_one = [await people_of(db, targets) for targets in lists]
        together = await people_of_each(db, lists)
        if isinstance(db, aiosqlite.Connection):  # the query count, where the driver traces
            statements: list[str] = []
            await db.set_trace_callback(statements.append)
            await people_of_each(db, lists)
            await db.set_trace_callback(None)
            assert len(statements) == 1
    assert together == one_by_one
    assert together[1] == ["@m:test", "@a:test", "@z:test"]
    assert together[0] == ["@a:test", "@z:test"]
