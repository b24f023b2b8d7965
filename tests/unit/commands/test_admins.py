"""Admins come from the configuration only: the directory cannot grant or keep 'admin'."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import Store
from bot.store.migrations import MIGRATIONS
from commands.context import Context
from commands.directory.store import load_seed
from commands.liaison.store import liaison_admins
from commands.people import load_person
from tests.harness.fakes import BotCore

ADMIN = "@admin:test"  # the only admin in the unit settings
EVE = "@eve:test"


async def test_dir_person_cannot_grant_admin(core: BotCore) -> None:
    sent = await core.say(ADMIN, f"!dir person {EVE} role=secretariat,admin")
    assert "admins are set in the bot's configuration" in sent[0].body
    assert "ATTACHE_ADMINS" in sent[0].body
    assert await core.count("people") == 0
    await core.say(ADMIN, f"!dir person {EVE} role=secretariat")
    assert [tuple(r) for r in await core.query("SELECT roles FROM people")] == [("secretariat",)]


async def test_seed_cannot_grant_admin(core: BotCore, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(f'people:\n  - id: "{EVE}"\n    roles: [admin]\n')
    with pytest.raises(ValueError, match="configuration"):
        async with core.store.write() as db:
            await load_seed(db, path, core.clock.now())
    assert await core.count("people") == 0


async def test_stored_admin_role_grants_nothing(core: BotCore) -> None:
    """A row written by an older version (or by hand) does not make an admin."""
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO people (user_id, roles, updated_at) VALUES (?, 'admin', 'then')", (EVE,)
        )
        person = await load_person(db, EVE, core.settings)
        ctx = Context(db=db, settings=core.settings, registry=core.registry, now=core.clock.now())
        assert await liaison_admins(ctx) == [ADMIN]
    assert "admin" not in person.roles and not person.has_role("secretariat")
    sent = await core.say(EVE, "!dir list")
    assert "is for admin only" in sent[0].body


async def test_migration_strips_stored_admin_roles(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Store(path, migrations=MIGRATIONS[:6])
    await old.open()
    async with old.write() as db:
        await db.executemany(
            "INSERT INTO people (user_id, roles, updated_at) VALUES (?, ?, 'then')",
            [(EVE, "admin"), ("@sec:test", "admin,secretariat"), ("@a:test", "attache")],
        )
    await old.close()
    new = Store(path)
    await new.open()
    try:
        async with new.reader.execute("SELECT user_id, roles FROM people ORDER BY user_id") as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
    finally:
        await new.close()
    assert rows == [("@a:test", "attache"), (EVE, ""), ("@sec:test", "secretariat")]
