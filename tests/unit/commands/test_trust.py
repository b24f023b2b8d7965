"""!trust approve names the key it approves; !trust list shows whole keys."""

from __future__ import annotations

from pathlib import Path

from commands.fingerprints import fingerprint
from tests.harness.fakes import BotCore

ADMIN = "@admin:test"
ALICE = "@alice:test"
OLD = "A" * 43
NEW = "0hFyV0mW8sbDLw3iZC1bkFhe8XWz5Fr4cDTfUOPfbKo"
OTHER = "B" * 43


async def pending(core: BotCore, new: str | None = NEW) -> None:
    async with core.store.write() as db:
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, pinned_by, pending_key, "
            "pending_since) VALUES (?, ?, 'then', 'first sight', ?, 'now')",
            (ALICE, OLD, new),
        )


async def master_key(core: BotCore) -> str:
    return str((await core.query("SELECT master_key FROM identities"))[0][0])


async def test_approve_without_the_key_is_refused_with_an_example(core: BotCore) -> None:
    await pending(core)
    sent = await core.say(ADMIN, f"!trust approve {ALICE}")
    # Made for this directory: nobody else is in it, so the admin names themself.
    assert "Example: !trust approve @admin:test 0hFy V0mW" in sent[0].body
    assert await master_key(core) == OLD


async def test_approve_with_another_key_approves_nothing(core: BotCore) -> None:
    await pending(core)
    sent = await core.say(ADMIN, f"!trust approve {ALICE} {OTHER}")
    assert "not the one waiting" in sent[0].body and "Nothing was approved" in sent[0].body
    short = await core.say(ADMIN, f"!trust approve {ALICE} {NEW[:8]}")
    assert "not a full master key" in short[0].body
    assert await master_key(core) == OLD
    assert await core.count("audit") == 0


async def test_approve_takes_the_key_in_groups_of_four(core: BotCore) -> None:
    await pending(core)
    sent = await core.say(ADMIN, f"!trust approve {ALICE} {fingerprint(NEW)}")
    assert "Approved" in sent[0].body and fingerprint(NEW) in sent[0].body
    assert await master_key(core) == NEW
    again = await core.say(ADMIN, f"!trust approve {ALICE} {NEW}")
    assert "no changed identity waiting" in again[0].body


async def test_list_shows_whole_keys_in_groups(core: BotCore) -> None:
    await pending(core)
    sent = await core.say(ADMIN, "!trust list")
    assert fingerprint(OLD) in sent[0].body and fingerprint(NEW) in sent[0].body


async def test_approve_in_strict_mode_points_to_the_configuration(tmp_path: Path) -> None:
    core = await BotCore(tmp_path, trust_mode="strict").open()
    try:
        await pending(core)
        sent = await core.say(ADMIN, f"!trust approve {ALICE} {NEW}")
        assert "strict trust mode" in sent[0].body and "trusted_identities" in sent[0].body
        assert await master_key(core) == OLD
    finally:
        await core.close()
