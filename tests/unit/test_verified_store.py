"""The verified-identity store API (commands/verified.py) on SQLite and PostgreSQL: a
verification belongs to the key it names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commands.verified import (
    HOW_CONSOLE,
    HOW_SAS,
    NotThePinnedKey,
    is_verified_admin,
    mark_verified,
    verification_of,
    verifications_of,
)
from tests.harness.fakes import BotCore

ADMIN = "@admin:test"
ALICE = "@alice:test"
OLD = "A" * 43
NEW = "B" * 43
OTHER = "C" * 43
AT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


async def pin(core: BotCore, user: str, key: str, pending: str | None = None) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, pending_key) "
            "VALUES (?, ?, 'then', 'first sight', ?)",
            (user, key, pending),
        )


async def verify(core: BotCore, user: str, key: str, by: str = ADMIN, how: str = HOW_SAS) -> None:
    async with core.store.write() as db:
        await mark_verified(db, user, key, by, how, at=AT, settings=core.settings)


async def level(core: BotCore, user: str) -> object:
    return await verification_of(core.store.reader, user, core.settings)


async def test_a_pinned_key_is_tofu_until_verified(core: BotCore) -> None:
    await pin(core, ALICE, OLD)
    assert await level(core, ALICE) is None
    await verify(core, ALICE, OLD)
    verified = await verification_of(core.store.reader, ALICE, core.settings)
    assert verified is not None
    assert (verified.master_key, verified.by, verified.at, verified.how) == (
        OLD,
        ADMIN,
        AT,
        HOW_SAS,
    )
    assert await verifications_of(core.store.reader, [ALICE, ADMIN], core.settings) == {
        ALICE: verified
    }
    audit = await core.query("SELECT actor, action, object, detail FROM audit")
    assert [tuple(r) for r in audit] == [(ADMIN, "trust.verify", ALICE, f"master key {OLD} (sas)")]


async def test_a_changed_identity_loses_the_verification_and_it_returns_with_the_key(
    core: BotCore,
) -> None:
    await pin(core, ALICE, OLD)
    await verify(core, ALICE, OLD)
    async with core.store.write() as db:
        await db.execute("UPDATE identities SET pending_key = ? WHERE user_id = ?", (NEW, ALICE))
    assert await level(core, ALICE) is None
    async with core.store.write() as db:  # the server shows the verified key again
        await db.execute("UPDATE identities SET pending_key = NULL WHERE user_id = ?", (ALICE,))
    assert await level(core, ALICE) is not None


async def test_an_approved_new_key_does_not_inherit_the_verification(core: BotCore) -> None:
    await pin(core, ALICE, OLD, pending=NEW)
    await verify(core, ALICE, OLD)
    await core.say(ADMIN, f"!trust approve {ALICE} {NEW}")
    assert (await core.query("SELECT master_key FROM identities"))[0][0] == NEW
    assert await level(core, ALICE) is None


async def test_verifying_the_waiting_key_approves_it(core: BotCore) -> None:
    await pin(core, ALICE, OLD, pending=NEW)
    await verify(core, ALICE, NEW)
    rows = await core.query("SELECT master_key, pending_key, pinned_by FROM identities")
    assert tuple(rows[0]) == (NEW, None, ADMIN)
    verified = await level(core, ALICE)
    assert verified is not None and verified.master_key == NEW  # type: ignore[attr-defined]


async def test_another_key_is_refused_and_changes_nothing(core: BotCore) -> None:
    await pin(core, ALICE, OLD, pending=NEW)
    with pytest.raises(NotThePinnedKey):
        await verify(core, ALICE, OTHER)
    rows = await core.query("SELECT master_key, pending_key, verified_key FROM identities")
    assert tuple(rows[0]) == (OLD, NEW, None)
    assert await core.count("audit") == 0


async def test_nothing_pinned_yet_pins_the_verified_key(core: BotCore) -> None:
    await verify(core, ADMIN, OLD, by="console", how=HOW_CONSOLE)
    assert await is_verified_admin(core.store.reader, ADMIN, core.settings)
    assert not await is_verified_admin(core.store.reader, ALICE, core.settings)
    await pin(core, ALICE, NEW)
    await verify(core, ALICE, NEW)
    assert not await is_verified_admin(core.store.reader, ALICE, core.settings)  # not an admin


async def test_configured_pins_are_verified_never_replaced(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, trust_mode="strict", trusted_identities={ALICE: OLD}).open()
    try:
        with pytest.raises(NotThePinnedKey):
            await verify(core, ALICE, NEW)
        with pytest.raises(NotThePinnedKey):  # strict: nobody else can be trusted at all
            await verify(core, ADMIN, NEW)
        assert await core.count("identities") == 0
        await verify(core, ALICE, OLD)
        assert await level(core, ALICE) is not None
    finally:
        await core.close()
    # The operator changes the configured key: the verification was of the old one.
    core = await BotCore(tmp_path, trust_mode="strict", trusted_identities={ALICE: NEW}).open()
    try:
        assert await level(core, ALICE) is None
    finally:
        await core.close()
